"""Use cases for workspaces and standalone admin access."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from scormhub.domain.model import (
    CrmKind,
    EngineKind,
    LoginToken,
    PlanMode,
    Workspace,
    WorkspaceKind,
)
from scormhub.domain.ports import Clock, UnitOfWork

LOGIN_LINK_LIFETIME = timedelta(hours=24)


async def ensure_standalone_workspace(*, uow: UnitOfWork, clock: Clock) -> tuple[Workspace, bool]:
    """Return the standalone workspace, creating it on first start. The flag says whether it is new."""
    async with uow:
        existing = await uow.workspaces.get_standalone()
        if existing is not None:
            return existing, False
        workspace = Workspace(
            id=uuid.uuid4(),
            name="My workspace",
            kind=WorkspaceKind.STANDALONE,
            plan=PlanMode.TRIAL,
            engine=EngineKind.BUILTIN,
            crm=CrmKind.LOCAL,
            created_at=clock.now(),
        )
        await uow.workspaces.add(workspace)
        await uow.commit()
        return workspace, True


def hash_login_token(token: str) -> str:
    # Only a digest is stored, so a leaked database cannot be replayed into a session.
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_login_token(workspace_id: uuid.UUID, *, uow: UnitOfWork, clock: Clock) -> str:
    """Mint a one-time login link token for the workspace's admin (shown once, like Jupyter's)."""
    token = secrets.token_urlsafe(32)
    async with uow:
        await uow.login_tokens.add(
            LoginToken(
                token_hash=hash_login_token(token),
                workspace_id=workspace_id,
                expires_at=clock.now() + LOGIN_LINK_LIFETIME,
            )
        )
        await uow.commit()
    return token


async def redeem_login_token(token: str, *, uow: UnitOfWork, clock: Clock) -> Workspace | None:
    """Spend a login token: the first redemption gets the workspace, every later one gets None."""
    now = clock.now()
    async with uow:
        stored = await uow.login_tokens.get_for_update(hash_login_token(token))
        if stored is None or not stored.usable_at(now):
            return None
        workspace = await uow.workspaces.get(stored.workspace_id)
        if workspace is None:
            return None
        await uow.login_tokens.mark_used(stored.token_hash, now)
        await uow.commit()
        return workspace
