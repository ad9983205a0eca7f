"""connect_scorm_cloud and disconnect_scorm_cloud on in-memory fakes: what is saved, and what is left as it
was, when SCORM Cloud accepts, refuses or fails at each step. tests/http/test_scorm_cloud_connect.py
drives the same use cases through the settings page, on PostgreSQL and a respx SCORM Cloud."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fakes.engines import FakeEngineConnection
from fakes.system import FakeCipher, FakeClock
from fakes.uow import FakeStore, FakeUnitOfWork

from scormhub.domain.contacts import InvalidInput
from scormhub.domain.engine_accounts import (
    TEST_POSTBACK_QUERY,
    ConnectResult,
    connect_scorm_cloud,
    disconnect_scorm_cloud,
)
from scormhub.domain.errors import EngineUnavailable, InvalidCredentials, NotFound
from scormhub.domain.model import (
    CrmKind,
    EngineAccount,
    EngineKind,
    PlanMode,
    PostbackTarget,
    Workspace,
    WorkspaceKind,
)

POSTBACK_URL = "https://hub.example.com/hooks/scorm-cloud/ws"


class World:
    """A workspace on the built-in player, and the SCORM Cloud accounts Connect opens connections to."""

    def __init__(self, **connection: Any) -> None:
        self.clock = FakeClock()
        self.store = FakeStore()
        self.cipher = FakeCipher()
        self.connection_options = connection
        self.connections: list[FakeEngineConnection] = []
        self.workspace = Workspace(
            id=uuid.uuid4(),
            name="Agency",
            kind=WorkspaceKind.STANDALONE,
            plan=PlanMode.LIVE,
            engine=EngineKind.BUILTIN,
            crm=CrmKind.LOCAL,
            created_at=self.clock.now(),
        )
        self.store.workspaces[self.workspace.id] = self.workspace

    def connect(self, app_id: str, secret_key: str) -> FakeEngineConnection:
        connection = FakeEngineConnection(app_id, secret_key, **self.connection_options)
        self.connections.append(connection)
        return connection

    async def postback_endpoint(self, target: PostbackTarget) -> None:
        """What the postback route does with a test postback carrying the stored credentials."""
        async with FakeUnitOfWork(self.store) as uow:
            account = await uow.engine_accounts.get(self.workspace.id)
            assert account is not None
            assert target.username == account.postback_user
            assert target.password == self.cipher.decrypt(account.postback_password_enc)
            await uow.engine_accounts.mark_postback_checked(self.workspace.id, self.clock.now())
            await uow.commit()

    async def connect_with(
        self, app_id: str = "APP1", secret_key: str = "s3cret", workspace_id: uuid.UUID | None = None
    ) -> ConnectResult:
        return await connect_scorm_cloud(
            workspace_id or self.workspace.id,
            app_id=app_id,
            secret_key=secret_key,
            uow=FakeUnitOfWork(self.store),
            connect=self.connect,
            cipher=self.cipher,
            postback_url=POSTBACK_URL,
            clock=self.clock,
        )

    @property
    def account(self) -> EngineAccount | None:
        return self.store.engine_accounts.get(self.workspace.id)

    @property
    def engine(self) -> EngineKind:
        return self.store.workspaces[self.workspace.id].engine


def arriving() -> World:
    world = World()
    world.connection_options["on_test_postback"] = world.postback_endpoint
    return world


async def test_working_credentials_are_saved_encrypted_and_new_courses_go_to_scorm_cloud() -> None:
    world = arriving()

    result = await world.connect_with()

    [connection] = world.connections
    assert (connection.app_id, connection.secret_key, connection.pinged) == ("APP1", "s3cret", 1)
    assert world.account == result.account
    assert result.account.app_id == "APP1"
    assert result.account.secret_key_enc != "s3cret"
    assert world.cipher.decrypt(result.account.secret_key_enc) == "s3cret"
    assert connection.postback is not None
    assert connection.postback.url == POSTBACK_URL
    assert result.account.postback_user == connection.postback.username
    assert world.cipher.decrypt(result.account.postback_password_enc) == connection.postback.password
    assert world.engine is EngineKind.SCORM_CLOUD
    assert [t.url for t in connection.test_postbacks] == [f"{POSTBACK_URL}?{TEST_POSTBACK_QUERY}"]
    assert result.account.postback_checked_at == world.clock.now()
    assert (result.notes, result.postback_problem) == ((), None)


async def test_spaces_around_pasted_credentials_are_removed_and_the_admin_is_told() -> None:
    world = arriving()

    result = await world.connect_with(app_id=" APP1 ", secret_key="s3cret\n")

    assert (world.connections[0].app_id, world.connections[0].secret_key) == ("APP1", "s3cret")
    assert result.notes == (
        "The App ID had spaces before or after it; SCORM Hub removed them.",
        "The Secret Key had spaces before or after it; SCORM Hub removed them.",
    )


@pytest.mark.parametrize(
    ("app_id", "secret_key", "field"),
    [("", "s3cret", "app_id"), ("  ", "s3cret", "app_id"), ("APP1", "s3 cret", "secret_key")],
)
async def test_blank_or_spaced_credentials_are_refused_before_scorm_cloud_is_asked(
    app_id: str, secret_key: str, field: str
) -> None:
    world = arriving()

    with pytest.raises(InvalidInput) as refused:
        await world.connect_with(app_id=app_id, secret_key=secret_key)

    assert refused.value.field == field
    assert world.connections == []
    assert world.account is None


@pytest.mark.parametrize(
    "failure",
    [
        {"ping_error": InvalidCredentials("SCORM Cloud did not accept this App ID and Secret Key.")},
        {"ping_error": EngineUnavailable("SCORM Cloud is not answering")},
        {"configure_error": EngineUnavailable("SCORM Cloud is not answering")},
    ],
    ids=["credentials refused", "down when checked", "down when configured"],
)
async def test_a_connect_that_fails_before_saving_leaves_the_previous_connection_as_it_was(
    failure: dict[str, Exception],
) -> None:
    world = arriving()
    before = (await world.connect_with(app_id="OLD", secret_key="old-secret")).account
    world.connection_options.update(failure)

    with pytest.raises((InvalidCredentials, EngineUnavailable)):
        await world.connect_with(app_id="NEW", secret_key="new-secret")

    assert world.account == before
    assert world.engine is EngineKind.SCORM_CLOUD
    assert world.connections[-1].test_postbacks == []


async def test_credentials_scorm_cloud_refuses_change_nothing_on_a_new_workspace() -> None:
    world = World(ping_error=InvalidCredentials("no"))

    with pytest.raises(InvalidCredentials):
        await world.connect_with()

    assert world.connections[0].postback is None  # its postbacks are never pointed at us
    assert world.account is None
    assert world.engine is EngineKind.BUILTIN


async def test_a_test_postback_that_never_arrives_keeps_the_connection_and_says_what_to_check() -> None:
    world = World()  # SCORM Cloud sends it, but nothing reaches the endpoint

    result = await world.connect_with()

    assert world.account == result.account
    assert result.account.postback_checked_at is None
    assert world.engine is EngineKind.SCORM_CLOUD
    assert result.postback_problem is not None
    assert f"did not reach SCORM Hub at {POSTBACK_URL}." in result.postback_problem
    assert "SCORMHUB_PUBLIC_URL" in result.postback_problem


async def test_a_test_postback_scorm_cloud_could_not_send_gives_its_reason_and_keeps_the_connection() -> None:
    world = World(test_error=EngineUnavailable("timed out"))

    result = await world.connect_with()

    assert world.account == result.account
    assert f"did not reach SCORM Hub at {POSTBACK_URL} (timed out)." in (result.postback_problem or "")


async def test_connecting_again_replaces_the_credentials_and_checks_the_postback_afresh() -> None:
    world = arriving()
    first = await world.connect_with()
    world.connection_options.pop("on_test_postback")
    world.clock.advance(minutes=5)

    second = await world.connect_with(app_id="APP2", secret_key="other")

    assert world.account == second.account
    assert second.account.app_id == "APP2"
    assert second.account.postback_user != first.account.postback_user
    assert second.account.connected_at == world.clock.now()
    assert second.account.postback_checked_at is None  # the check made for the old credentials is gone
    assert second.postback_problem is not None


async def test_connecting_a_workspace_that_does_not_exist_saves_nothing() -> None:
    world = arriving()

    with pytest.raises(NotFound):
        await world.connect_with(workspace_id=uuid.uuid4())

    assert world.store.engine_accounts == {}


async def test_disconnecting_stops_postbacks_and_forgets_the_credentials() -> None:
    world = arriving()
    await world.connect_with()

    await disconnect_scorm_cloud(
        world.workspace.id, uow=FakeUnitOfWork(world.store), connect=world.connect, cipher=world.cipher
    )

    assert world.connections[-1].secret_key == "s3cret"
    assert world.connections[-1].postback is None
    assert world.account is None
    assert world.engine is EngineKind.BUILTIN


@pytest.mark.parametrize(
    "failure", [InvalidCredentials("revoked"), EngineUnavailable("down"), NotFound("app")], ids=str
)
async def test_a_scorm_cloud_that_cannot_stop_postbacks_does_not_keep_an_admin_from_disconnecting(
    failure: Exception,
) -> None:
    world = arriving()
    await world.connect_with()
    world.connection_options["remove_error"] = failure

    await disconnect_scorm_cloud(
        world.workspace.id, uow=FakeUnitOfWork(world.store), connect=world.connect, cipher=world.cipher
    )

    assert world.account is None
    assert world.engine is EngineKind.BUILTIN
