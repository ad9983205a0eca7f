"""The standalone workspace and its one-time login links."""

from __future__ import annotations

from fakes.system import FakeClock
from fakes.uow import FakeStore, FakeUnitOfWork

from scormhub.domain.model import EngineKind, PlanMode, WorkspaceKind
from scormhub.domain.workspaces import (
    ensure_standalone_workspace,
    hash_login_token,
    issue_login_token,
    redeem_login_token,
)


async def test_first_start_creates_one_standalone_trial_workspace_on_the_builtin_engine() -> None:
    store, clock = FakeStore(), FakeClock()

    workspace, created = await ensure_standalone_workspace(uow=FakeUnitOfWork(store), clock=clock)
    again, created_again = await ensure_standalone_workspace(uow=FakeUnitOfWork(store), clock=clock)

    assert created
    assert not created_again
    assert again == workspace
    assert list(store.workspaces) == [workspace.id]
    assert workspace.kind is WorkspaceKind.STANDALONE
    assert workspace.plan is PlanMode.TRIAL
    assert workspace.registration_limit == 10
    assert workspace.engine is EngineKind.BUILTIN


async def test_a_login_link_opens_the_workspace_once() -> None:
    store, clock = FakeStore(), FakeClock()
    workspace, _ = await ensure_standalone_workspace(uow=FakeUnitOfWork(store), clock=clock)
    token = await issue_login_token(workspace.id, uow=FakeUnitOfWork(store), clock=clock)

    first = await redeem_login_token(token, uow=FakeUnitOfWork(store), clock=clock)
    second = await redeem_login_token(token, uow=FakeUnitOfWork(store), clock=clock)

    assert first == workspace
    assert second is None


async def test_a_login_link_stops_working_after_24_hours() -> None:
    store, clock = FakeStore(), FakeClock()
    workspace, _ = await ensure_standalone_workspace(uow=FakeUnitOfWork(store), clock=clock)
    token = await issue_login_token(workspace.id, uow=FakeUnitOfWork(store), clock=clock)

    clock.advance(hours=24, seconds=1)

    assert await redeem_login_token(token, uow=FakeUnitOfWork(store), clock=clock) is None


async def test_only_a_digest_of_the_login_token_is_stored() -> None:
    store, clock = FakeStore(), FakeClock()
    workspace, _ = await ensure_standalone_workspace(uow=FakeUnitOfWork(store), clock=clock)
    token = await issue_login_token(workspace.id, uow=FakeUnitOfWork(store), clock=clock)

    assert token not in store.login_tokens
    assert list(store.login_tokens) == [hash_login_token(token)]


async def test_a_made_up_token_opens_nothing() -> None:
    store, clock = FakeStore(), FakeClock()
    await ensure_standalone_workspace(uow=FakeUnitOfWork(store), clock=clock)

    assert await redeem_login_token("not-a-real-token", uow=FakeUnitOfWork(store), clock=clock) is None
