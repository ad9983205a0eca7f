"""The Piccolo unit of work and repositories: the only place where rows become domain objects."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from scormhub.domain.model import (
    CrmKind,
    EngineKind,
    LoginToken,
    PlanMode,
    Workspace,
    WorkspaceKind,
)
from scormhub.integrations.db.database import engine
from scormhub.integrations.db.tables import LoginTokenRow, WorkspaceRow


def _workspace(row: dict[str, Any]) -> Workspace:
    return Workspace(
        id=row["id"],
        name=row["name"],
        kind=WorkspaceKind(row["kind"]),
        plan=PlanMode(row["plan"]),
        engine=EngineKind(row["engine"]),
        crm=CrmKind(row["crm"]),
        created_at=row["created_at"],
        crm_location_id=row["crm_location_id"],
    )


class PiccoloWorkspaceRepository:
    async def get(self, workspace_id: UUID) -> Workspace | None:
        row = await WorkspaceRow.select().where(WorkspaceRow.id == workspace_id).first()
        return _workspace(row) if row else None

    async def get_standalone(self) -> Workspace | None:
        # Two processes starting at once must not both create "the" standalone workspace:
        # a transaction-scoped advisory lock serialises the check-then-create.
        await WorkspaceRow.raw("SELECT pg_advisory_xact_lock(hashtext('scormhub:standalone-workspace'))")
        row = (
            await WorkspaceRow.select()
            .where(WorkspaceRow.kind == WorkspaceKind.STANDALONE.value)
            .order_by(WorkspaceRow.created_at)
            .first()
        )
        return _workspace(row) if row else None

    async def add(self, workspace: Workspace) -> None:
        await WorkspaceRow.insert(
            WorkspaceRow(
                id=workspace.id,
                name=workspace.name,
                kind=workspace.kind.value,
                plan=workspace.plan.value,
                engine=workspace.engine.value,
                crm=workspace.crm.value,
                crm_location_id=workspace.crm_location_id,
                created_at=workspace.created_at,
            )
        )


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
        rows = await LoginTokenRow.raw(
            "SELECT token_hash, workspace_id, expires_at, used_at FROM login_token "
            "WHERE token_hash = {} FOR UPDATE",
            token_hash,
        )
        if not rows:
            return None
        row = rows[0]
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


class PiccoloUnitOfWork:
    """A Piccolo transaction: queries inside the block share it through Piccolo's contextvar."""

    def __init__(self) -> None:
        self.workspaces = PiccoloWorkspaceRepository()
        self.login_tokens = PiccoloLoginTokenRepository()
        self._transaction: Any = None
        self._committed = False

    async def __aenter__(self) -> Self:
        # allow_nested=False: a use case owns its transaction; nesting would hide a commit.
        self._transaction = engine().transaction(allow_nested=False)
        await self._transaction.__aenter__()
        self._committed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        transaction, self._transaction = self._transaction, None
        if not self._committed and exc is None and not transaction._rolled_back:
            # Nothing is kept unless the use case said commit.
            await transaction.rollback()
        await transaction.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        await self._transaction.commit()
        self._committed = True

    async def rollback(self) -> None:
        await self._transaction.rollback()
