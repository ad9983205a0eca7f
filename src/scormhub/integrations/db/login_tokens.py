"""One-time sign-in link tokens in PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from scormhub.domain.model import LoginToken
from scormhub.integrations.db.tables import LoginTokenRow


class PiccoloLoginTokenRepository:
    async def add(self, token: LoginToken) -> None:
        await LoginTokenRow.insert(
            LoginTokenRow(
                token_hash=token.token_hash,
                workspace_id=token.workspace_id,
                expires_at=token.expires_at,
                used_at=token.used_at,
            )
        )

    async def get_for_update(self, token_hash: str) -> LoginToken | None:
        row = (
            await LoginTokenRow.select()
            .where(LoginTokenRow.token_hash == token_hash)
            .lock_rows("UPDATE")
            .first()
        )
        if row is None:
            return None
        return LoginToken(
            token_hash=row["token_hash"],
            workspace_id=row["workspace_id"],
            expires_at=row["expires_at"],
            used_at=row["used_at"],
        )

    async def mark_used(self, token_hash: str, used_at: datetime) -> None:
        await LoginTokenRow.update({LoginTokenRow.used_at: used_at}).where(
            LoginTokenRow.token_hash == token_hash
        )
