"""A workspace's delivery-engine account (its SCORM Cloud application and postback check) in PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from scormhub.domain.model import EngineAccount
from scormhub.integrations.db.tables import EngineAccountRow


class PiccoloEngineAccountRepository:
    async def get(self, workspace_id: UUID) -> EngineAccount | None:
        row = await EngineAccountRow.select().where(EngineAccountRow.workspace_id == workspace_id).first()
        if row is None:
            return None
        return EngineAccount(
            workspace_id=row["workspace_id"],
            app_id=row["app_id"],
            secret_key_enc=row["secret_key_enc"],
            postback_user=row["postback_user"],
            postback_password_enc=row["postback_password_enc"],
            connected_at=row["connected_at"],
            postback_checked_at=row["postback_checked_at"],
        )

    async def save(self, account: EngineAccount) -> None:
        await EngineAccountRow.raw(
            "INSERT INTO engine_account (workspace_id, app_id, secret_key_enc, postback_user, "
            "postback_password_enc, connected_at, postback_checked_at) VALUES ({}, {}, {}, {}, {}, {}, {}) "
            "ON CONFLICT (workspace_id) DO UPDATE SET app_id = EXCLUDED.app_id, "
            "secret_key_enc = EXCLUDED.secret_key_enc, postback_user = EXCLUDED.postback_user, "
            "postback_password_enc = EXCLUDED.postback_password_enc, connected_at = EXCLUDED.connected_at, "
            "postback_checked_at = EXCLUDED.postback_checked_at",
            account.workspace_id,
            account.app_id,
            account.secret_key_enc,
            account.postback_user,
            account.postback_password_enc,
            account.connected_at,
            account.postback_checked_at,
        )

    async def mark_postback_checked(self, workspace_id: UUID, at: datetime) -> None:
        await EngineAccountRow.update({EngineAccountRow.postback_checked_at: at}).where(
            EngineAccountRow.workspace_id == workspace_id
        )

    async def delete(self, workspace_id: UUID) -> None:
        await EngineAccountRow.delete().where(EngineAccountRow.workspace_id == workspace_id)

    async def workspaces(self) -> list[UUID]:
        rows = await EngineAccountRow.select(EngineAccountRow.workspace_id)
        return [row["workspace_id"] for row in rows]
