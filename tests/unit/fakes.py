"""In-memory fakes of the ports: they keep state so tests assert outcomes, not calls."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self
from uuid import UUID

from scormhub.domain.model import LoginToken, Workspace, WorkspaceKind


class FakeClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


class FakeStore:
    """The 'database' shared by every FakeUnitOfWork made from it."""

    def __init__(self) -> None:
        self.workspaces: dict[UUID, Workspace] = {}
        self.login_tokens: dict[str, LoginToken] = {}


class FakeWorkspaceRepository:
    def __init__(self, staged: dict[UUID, Workspace]) -> None:
        self.staged = staged

    async def get(self, workspace_id: UUID) -> Workspace | None:
        return self.staged.get(workspace_id)

    async def get_standalone(self) -> Workspace | None:
        return next((w for w in self.staged.values() if w.kind is WorkspaceKind.STANDALONE), None)

    async def add(self, workspace: Workspace) -> None:
        self.staged[workspace.id] = workspace


class FakeLoginTokenRepository:
    def __init__(self, staged: dict[str, LoginToken]) -> None:
        self.staged = staged

    async def add(self, token: LoginToken) -> None:
        self.staged[token.token_hash] = token

    async def get_for_update(self, token_hash: str) -> LoginToken | None:
        return self.staged.get(token_hash)

    async def mark_used(self, token_hash: str, used_at: datetime) -> None:
        self.staged[token_hash] = replace(self.staged[token_hash], used_at=used_at)


class FakeUnitOfWork:
    """Stages changes in copies and publishes them to the store only on commit."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.committed = False

    async def __aenter__(self) -> Self:
        self.workspaces = FakeWorkspaceRepository(dict(self.store.workspaces))
        self.login_tokens = FakeLoginTokenRepository(dict(self.store.login_tokens))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def commit(self) -> None:
        self.store.workspaces = dict(self.workspaces.staged)
        self.store.login_tokens = dict(self.login_tokens.staged)
        self.committed = True

    async def rollback(self) -> None:
        self.committed = False
