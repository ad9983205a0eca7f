"""Connecting SCORM Cloud from Settings, and its postbacks: stored, authenticated, processed (respx)."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import respx
from litestar import Litestar

from appserver import csrf_of, login_link_token, serving
from scormhub.app import create_app
from scormhub.domain.model import EngineKind
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.jobs.postbacks import process_inbox
from scormhub.settings import Settings

CLOUD = "https://cloud.test/api/v2"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scorm_cloud"


@pytest.fixture
def cloud_settings(settings: Settings) -> Settings:
    # Plain http: an https public URL makes cookies Secure, which the in-process client would not send.
    return dataclasses.replace(settings, scorm_cloud_api_url=CLOUD, public_url="http://hub.example.com")


@pytest.fixture
async def cloud_admin(db: str, cloud_settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Litestar]]:
    app = create_app(cloud_settings)
    async with serving(app) as client:
        await client.get(f"/login/{await login_link_token()}")
        await client.get("/app/settings")
        yield client, app


def mock_cloud(router: respx.MockRouter, *, ping_status: int = 200) -> dict[str, respx.Route]:
    return {
        "ping": router.get(f"{CLOUD}/ping").mock(
            return_value=httpx.Response(
                ping_status,
                json={"apiMessage": "pong", "currentTime": "2026-11-22T12:00:00Z"}
                if ping_status == 200
                else {"error": "Authorization Required."},
            )
        ),
        "config": router.post(f"{CLOUD}/appManagement/configuration").mock(return_value=httpx.Response(204)),
        "test": router.post(f"{CLOUD}/registrations/postBackTest").mock(return_value=httpx.Response(204)),
    }


async def connect(client: httpx.AsyncClient, app_id: str, secret: str) -> httpx.Response:
    return await client.post(
        "/app/settings/scorm-cloud",
        data={"_csrf_token": csrf_of(client), "app_id": app_id, "secret_key": secret},
        follow_redirects=True,
    )


async def stored_account(app: Litestar):  # type: ignore[no-untyped-def]
    async with PiccoloUnitOfWork() as uow:
        workspace = await uow.workspaces.get_standalone()
        assert workspace is not None
        return workspace, await uow.engine_accounts.get(workspace.id)


async def test_connecting_verifies_the_keys_configures_postbacks_and_stores_the_secret_encrypted(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],
) -> None:
    client, app = cloud_admin
    with respx.mock(assert_all_called=True) as router:
        routes = mock_cloud(router)
        page = await connect(client, "  APP123 ", "s3cret-key-value")

    workspace, account = await stored_account(app)
    assert "Connected. New courses are imported into SCORM Cloud" in page.text
    assert "spaces before or after it" in page.text
    assert account is not None
    assert account.app_id == "APP123"
    assert "s3cret-key-value" not in account.secret_key_enc
    assert app.state.deps.cipher.decrypt(account.secret_key_enc) == "s3cret-key-value"
    assert workspace.engine is EngineKind.SCORM_CLOUD
    sent = json.loads(routes["config"].calls.last.request.content)
    settings = {s["settingId"]: s["value"] for s in sent["settings"]}
    assert (
        settings["ApiRollupRegistrationPostBackUrl"]
        == f"http://hub.example.com/hooks/scorm-cloud/{workspace.id}"
    )
    assert settings["ApiRollupRegistrationAuthType"].lower() == "httpbasic"
    auth = routes["ping"].calls.last.request.headers["authorization"]
    assert base64.b64decode(auth.split()[1]).decode() == "APP123:s3cret-key-value"


async def test_wrong_keys_are_refused_with_a_clear_message_and_nothing_is_saved(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],
) -> None:
    client, app = cloud_admin
    with respx.mock(assert_all_called=False) as router:
        mock_cloud(router, ping_status=401)
        page = await connect(client, "APP123", "wrong")

    workspace, account = await stored_account(app)
    assert "SCORM Cloud rejected this App ID / Secret Key" in page.text
    assert "wrong" not in page.text.split("Secret Key</label>")[0][-200:]
    assert account is None
    assert workspace.engine is EngineKind.BUILTIN


async def test_scorm_cloud_down_during_connect_saves_nothing_and_says_so(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],
) -> None:
    client, app = cloud_admin
    with respx.mock() as router:
        router.get(f"{CLOUD}/ping").mock(side_effect=httpx.ConnectError("refused"))
        page = await connect(client, "APP123", "secret")

    _, account = await stored_account(app)
    # One plain sentence saying what to check, not "(SCORM Cloud could not be reached (ConnectError).)."
    assert "SCORM Cloud could not be reached. Check this server" in page.text
    assert "Nothing was saved." in page.text
    assert "ConnectError" not in page.text
    assert ".)" not in page.text
    assert account is None


async def connected(client: httpx.AsyncClient, app: Litestar):  # type: ignore[no-untyped-def]
    with respx.mock() as router:
        mock_cloud(router)
        await connect(client, "APP123", "secret")
    workspace, account = await stored_account(app)
    password = app.state.deps.cipher.decrypt(account.postback_password_enc)
    return workspace, account.postback_user, password


async def inbox_count() -> int:
    from scormhub.integrations.db.tables import InboxRow

    return int(await InboxRow.count())


async def test_a_form_postback_with_the_right_credentials_is_stored_and_queued(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],
) -> None:
    client, app = cloud_admin
    workspace, user, password = await connected(client, app)
    body = urlencode({"data": json.dumps({"id": "reg-1"}), "userName": user, "password": password})

    response = await client.post(
        f"/hooks/scorm-cloud/{workspace.id}",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded; charset=UTF-8"},
    )

    assert response.status_code == 200
    assert await inbox_count() == 1


async def test_a_json_postback_with_basic_auth_is_stored(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],
) -> None:
    client, app = cloud_admin
    workspace, user, password = await connected(client, app)

    response = await client.post(
        f"/hooks/scorm-cloud/{workspace.id}", json={"id": "reg-1"}, auth=(user, password)
    )

    assert response.status_code == 200
    assert await inbox_count() == 1


@pytest.mark.parametrize("password", ["wrong", ""])
async def test_a_postback_with_wrong_credentials_is_refused_and_not_stored(
    cloud_admin: tuple[httpx.AsyncClient, Litestar], password: str
) -> None:
    client, app = cloud_admin
    workspace, user, _ = await connected(client, app)

    response = await client.post(
        f"/hooks/scorm-cloud/{workspace.id}", json={"id": "reg-1"}, auth=(user, password)
    )

    assert response.status_code == 401
    assert await inbox_count() == 0


async def test_a_postback_for_an_unknown_workspace_is_a_404(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],
) -> None:
    client, _ = cloud_admin

    response = await client.post(
        "/hooks/scorm-cloud/00000000-0000-0000-0000-000000000000", json={"id": "reg-1"}, auth=("a", "b")
    )

    assert response.status_code == 404


async def test_a_malformed_postback_is_still_acknowledged_stored_and_marked_unreadable(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],
) -> None:
    client, app = cloud_admin
    workspace, user, password = await connected(client, app)

    response = await client.post(
        f"/hooks/scorm-cloud/{workspace.id}",
        content=b"{not json",
        auth=(user, password),
        headers={"content-type": "application/json"},
    )
    from scormhub.integrations.db.tables import InboxRow

    result = await process_inbox({"deps": app.state.deps}, workspace_id=str(workspace.id))
    row = await InboxRow.select().first()
    assert response.status_code == 200
    assert result == {"processed": 1}
    assert row["outcome"].startswith("unreadable")


async def test_a_huge_postback_is_refused_without_storing_it(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],
) -> None:
    client, app = cloud_admin
    workspace, user, password = await connected(client, app)

    response = await client.post(
        f"/hooks/scorm-cloud/{workspace.id}",
        content=b"x" * (2 * 1024 * 1024),
        auth=(user, password),
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 413
    assert await inbox_count() == 0


async def test_a_huge_postback_sent_without_a_length_is_refused_without_storing_it(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],
) -> None:
    client, app = cloud_admin
    workspace, user, password = await connected(client, app)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):  # 40 x 64 KiB = 2.5 MiB, announced by no Content-Length
            yield b"x" * 65536

    response = await client.post(
        f"/hooks/scorm-cloud/{workspace.id}",
        content=chunks(),
        auth=(user, password),
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 413
    assert "at most 1 MiB" in response.text
    assert await inbox_count() == 0


async def test_a_postback_cut_off_by_the_client_is_not_stored(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],
) -> None:
    client, app = cloud_admin
    workspace, user, password = await connected(client, app)
    basic = base64.b64encode(f"{user}:{password}".encode())
    messages = [
        {"type": "http.request", "body": b'{"id": "reg', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return messages.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    path = f"/hooks/scorm-cloud/{workspace.id}"
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"hub.example.com"), (b"authorization", b"Basic " + basic)],
        "client": ("127.0.0.1", 5000), "server": ("hub.example.com", 80), "state": {},
    }  # fmt: skip
    await app(scope, receive, send)  # type: ignore[arg-type]

    assert sent == []  # nobody left to answer
    assert await inbox_count() == 0


async def test_the_postback_url_takes_only_posts(cloud_admin: tuple[httpx.AsyncClient, Litestar]) -> None:
    client, app = cloud_admin
    workspace, _, _ = await connected(client, app)

    response = await client.get(f"/hooks/scorm-cloud/{workspace.id}")

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert await inbox_count() == 0


@pytest.mark.parametrize("rest", ["not-a-workspace", "{id}/extra", "", "{id}x"])
async def test_a_postback_to_a_path_that_names_no_workspace_is_a_404(
    cloud_admin: tuple[httpx.AsyncClient, Litestar], rest: str
) -> None:
    client, app = cloud_admin
    workspace, user, password = await connected(client, app)

    response = await client.post(
        "/hooks/scorm-cloud/" + rest.format(id=workspace.id), json={"id": "x"}, auth=(user, password)
    )

    assert response.status_code == 404
    assert await inbox_count() == 0


async def test_a_postback_answer_is_plain_text_with_the_security_headers_and_one_log_line(
    cloud_admin: tuple[httpx.AsyncClient, Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    client, app = cloud_admin
    workspace, user, password = await connected(client, app)

    with caplog.at_level("INFO", logger="scormhub.request"):
        response = await client.post(
            f"/hooks/scorm-cloud/{workspace.id}", json={"id": "reg-1"}, auth=(user, password)
        )

    assert response.status_code == 200
    assert response.text == "ok"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors" in response.headers["content-security-policy"]
    assert response.headers["server-timing"].startswith("app;dur=")
    lines = [r.getMessage() for r in caplog.records if r.name == "scormhub.request"]
    assert len(lines) == 1
    assert lines[0].startswith(f"POST /hooks/scorm-cloud/{workspace.id} 200 ")
    assert lines[0].endswith(f"workspace={workspace.id}")
    assert password not in lines[0]


async def test_a_postback_never_redirects(cloud_admin: tuple[httpx.AsyncClient, Litestar]) -> None:
    client, app = cloud_admin
    workspace, user, password = await connected(client, app)

    response = await client.post(
        f"/hooks/scorm-cloud/{workspace.id}/", json={"id": "x"}, auth=(user, password)
    )

    assert not 300 <= response.status_code < 400


async def test_disconnecting_removes_the_postback_and_returns_to_the_builtin_player(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],
) -> None:
    client, app = cloud_admin
    await connected(client, app)
    with respx.mock() as router:
        deletes = router.delete(url__regex=rf"{CLOUD}/appManagement/configuration/.*").mock(
            return_value=httpx.Response(204)
        )
        page = await client.post(
            "/app/settings/scorm-cloud/disconnect",
            data={"_csrf_token": csrf_of(client)},
            follow_redirects=True,
        )

    workspace, account = await stored_account(app)
    assert "Disconnected." in page.text
    assert deletes.called
    assert account is None
    assert workspace.engine is EngineKind.BUILTIN


async def test_one_drain_job_processes_a_burst_of_stored_postbacks(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],
) -> None:
    client, app = cloud_admin
    workspace, user, password = await connected(client, app)
    for n in range(5):
        await client.post(
            f"/hooks/scorm-cloud/{workspace.id}", json={"id": f"not-ours-{n}"}, auth=(user, password)
        )

    result = await process_inbox({"deps": app.state.deps}, workspace_id=str(workspace.id))
    again = await process_inbox({"deps": app.state.deps}, workspace_id=str(workspace.id))

    from scormhub.integrations.db.tables import InboxRow

    assert result == {"processed": 5}
    assert again == {"processed": 0}
    assert await InboxRow.count().where(InboxRow.processed_at.is_null()) == 0


async def test_new_postback_credentials_work_at_once_after_reconnecting(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],
) -> None:
    client, app = cloud_admin
    workspace, old_user, old_password = await connected(client, app)
    await client.post(f"/hooks/scorm-cloud/{workspace.id}", json={"id": "x"}, auth=(old_user, old_password))
    _, new_user, new_password = await connected(client, app)  # Connect again: new generated credentials

    response = await client.post(
        f"/hooks/scorm-cloud/{workspace.id}", json={"id": "x"}, auth=(new_user, new_password)
    )

    assert (new_user, new_password) != (old_user, old_password)
    assert response.status_code == 200


async def test_a_postback_stored_while_a_drain_runs_in_its_interval_is_not_left_behind(
    cloud_admin: tuple[httpx.AsyncClient, Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import time
    from types import SimpleNamespace

    from scormhub.domain import postbacks
    from scormhub.integrations.db.inbox import PiccoloInboxRepository
    from waits import DEADLINE_S

    client, app = cloud_admin
    workspace, user, password = await connected(client, app)
    # The drain's clock is moved by hand: its interval ends when the postback is stored, not whenever a
    # loaded machine gets there.
    now = time.time()
    monkeypatch.setattr(postbacks, "time", SimpleNamespace(time=lambda: now))
    found_nothing = asyncio.Event()
    read = PiccoloInboxRepository.unprocessed_items

    async def reading(self: PiccoloInboxRepository, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        items = await read(self, *args, **kwargs)  # type: ignore[arg-type]
        if not items:
            found_nothing.set()
        return items

    monkeypatch.setattr(PiccoloInboxRepository, "unprocessed_items", reading)
    drain = asyncio.create_task(
        process_inbox({"deps": app.state.deps}, workspace_id=str(workspace.id), settle_at=now + 0.3)
    )
    # The drain has found nothing yet and waits for its interval to end.
    await asyncio.wait_for(found_nothing.wait(), DEADLINE_S)
    await client.post(f"/hooks/scorm-cloud/{workspace.id}", json={"id": "late"}, auth=(user, password))
    now += 1.0  # the interval ends

    assert await drain == {"processed": 1}


async def test_a_drain_reads_on_from_its_last_round_and_still_finds_a_late_straggler(
    cloud_admin: tuple[httpx.AsyncClient, Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rounds after the first start where the last one ended (a scan from the oldest row walks every row
    processed since the last VACUUM); a postback stamped before that point but committed during the
    drain is found by the full look that ends it."""
    from datetime import UTC, datetime, timedelta

    from scormhub.domain import postbacks
    from scormhub.integrations import inbox
    from scormhub.integrations.db.inbox import PiccoloInboxRepository
    from scormhub.integrations.db.tables import InboxRow

    client, app = cloud_admin
    workspace, user, password = await connected(client, app)
    for n in range(7):
        await client.post(
            f"/hooks/scorm-cloud/{workspace.id}", json={"id": f"not-ours-{n}"}, auth=(user, password)
        )
    monkeypatch.setattr(postbacks, "DRAIN_BATCH", 3)
    starts: list[datetime | None] = []
    read = PiccoloInboxRepository.unprocessed_items

    async def recording(self: PiccoloInboxRepository, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        starts.append(kwargs.get("received_from"))  # type: ignore[arg-type]
        if len(starts) == 2:  # during the drain: a postback stamped an hour ago becomes visible
            await inbox.PostbackInbox().store(
                workspace_id=workspace.id,
                source="scorm_cloud",
                content_type="application/json",
                body='{"id": "straggler"}',
                received_at=datetime.now(UTC) - timedelta(hours=1),
            )
        return await read(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(PiccoloInboxRepository, "unprocessed_items", recording)

    result = await process_inbox({"deps": app.state.deps}, workspace_id=str(workspace.id))

    assert result == {"processed": 8}
    assert await InboxRow.count().where(InboxRow.processed_at.is_null()) == 0
    assert starts[0] is None
    assert all(start is not None for start in starts[1:3]), starts
    assert None in starts[3:], "a full look before the drain stops"


# --- the test postback ------------------------------------------------------------------------------


def scorm_cloud_sending_test_postbacks(
    app: Litestar, answers: list[int]
) -> Callable[[httpx.Request], Awaitable[httpx.Response]]:
    """`POST /registrations/postBackTest` as SCORM Cloud serves it: it posts dummy registration data at
    once to the URL it is given, with HTTP Basic credentials and a JSON body (authType httpbasic), and
    answers 204. What our endpoint answered is kept in `answers`."""

    async def send(request: httpx.Request) -> httpx.Response:
        schema = json.loads(request.content)
        assert schema["authType"].lower() == "httpbasic"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as cloud_sender:
            delivered = await cloud_sender.post(
                schema["url"],
                json={"id": "test-registration", "registrationCompletion": "COMPLETED"},
                auth=(schema["userName"], schema["password"]),
            )
        answers.append(delivered.status_code)
        return httpx.Response(204)

    return send


async def test_the_test_postback_reaches_the_app_is_recognised_and_connect_shows_it(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],
) -> None:
    client, app = cloud_admin
    answers: list[int] = []
    with respx.mock(assert_all_called=True) as router:
        routes = mock_cloud(router)
        routes["test"].mock(side_effect=scorm_cloud_sending_test_postbacks(app, answers))
        page = await connect(client, "APP123", "s3cret-key-value")

    _, account = await stored_account(app)
    assert answers == [200], "the test postback was accepted with the credentials SCORM Cloud was given"
    assert "SCORM Cloud's test postback reached SCORM Hub" in page.text
    assert account is not None
    assert account.postback_checked_at is not None
    assert await inbox_count() == 0, "dummy data is not a learner's result"
    later = await client.get("/app/settings")
    assert "Test postback received" in later.text


async def test_a_test_postback_that_never_arrives_is_reported_with_what_to_check(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],
) -> None:
    client, app = cloud_admin
    with respx.mock(assert_all_called=True) as router:
        mock_cloud(router)  # SCORM Cloud answers 204 but cannot reach us: nothing arrives
        page = await connect(client, "APP123", "s3cret-key-value")

    workspace, account = await stored_account(app)
    assert account is not None
    assert workspace.engine is EngineKind.SCORM_CLOUD
    assert account.postback_checked_at is None
    assert "test postback did not reach SCORM Hub" in page.text
    assert f"http://hub.example.com/hooks/scorm-cloud/{workspace.id}" in page.text
    assert "SCORMHUB_PUBLIC_URL" in page.text
    assert "No test postback has reached SCORM Hub yet" in (await client.get("/app/settings")).text


async def test_a_test_postback_scorm_cloud_refuses_to_send_still_connects_and_says_why(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],
) -> None:
    client, app = cloud_admin
    with respx.mock(assert_all_called=True) as router:
        routes = mock_cloud(router)
        routes["test"].mock(
            return_value=httpx.Response(400, json={"message": "The postback URL is not reachable."})
        )
        page = await connect(client, "APP123", "s3cret-key-value")

    workspace, account = await stored_account(app)
    assert account is not None
    assert workspace.engine is EngineKind.SCORM_CLOUD
    assert "test postback did not reach SCORM Hub" in page.text
    assert "The postback URL is not reachable." in page.text
