"""Settings → Webhooks over HTTP: endpoints behind the SSRF guard, signed deliveries a Standard Webhooks
receiver verifies, retries with backoff, redirects not followed, timeouts, and the delivery log."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
import respx
from litestar import Litestar
from movable_clock import MovableClock
from standardwebhooks import Webhook
from workflow_world import add_course

from scormhub.app import create_app
from scormhub.bootstrap import Deps, build_deps
from scormhub.domain.enrollments import enroll_contact
from scormhub.integrations.webhooks import HttpWebhookSender
from scormhub.jobs.webhooks import deliver_webhooks
from scormhub.settings import Settings

PUBLIC_IP = "93.184.216.34"
RECEIVER = f"https://{PUBLIC_IP}/hooks/scorm"
ENDPOINT_URL = "https://hooks.example.com/hooks/scorm"
PAGE = "/app/settings/webhooks"


class Resolver:
    """DNS as the test says: every name resolves to `address` (public unless a test changes it)."""

    def __init__(self) -> None:
        self.address = PUBLIC_IP

    async def __call__(self, host: str, port: int) -> list[str]:
        if host == "nowhere.invalid":
            raise OSError("no such host")
        return ["127.0.0.1"] if host == "localhost" else [self.address]


@pytest.fixture
def resolver() -> Resolver:
    return Resolver()


@pytest.fixture
def app(db: str, settings: Settings, resolver: Resolver) -> Litestar:
    deps = replace(build_deps(settings, clock=MovableClock()), webhooks=HttpWebhookSender(resolve=resolver))
    return create_app(settings, deps)


@pytest.fixture
def deps(app: Litestar) -> Deps:
    found: Deps = app.state.deps
    return found


async def csrf(admin: httpx.AsyncClient, path: str = PAGE) -> str:
    page = await admin.get(path)
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


async def add_endpoint(
    admin: httpx.AsyncClient, url: str = ENDPOINT_URL, events: tuple[str, ...] = ()
) -> httpx.Response:
    chosen = events or (
        "course_completed",
        "course_passed",
        "course_failed",
        "learner_enrolled",
        "certificate_issued",
    )
    return await admin.post(PAGE, data={"_csrf_token": await csrf(admin), "url": url, "events": list(chosen)})


def secret_from(page: httpx.Response) -> str:
    match = re.search(r'<code class="secret">(whsec_[^<]+)</code>', page.text)
    assert match, "the new endpoint's secret is shown once"
    return match.group(1)


async def rows(db: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def workspace_id(deps: Deps) -> UUID:
    async with deps.uow() as uow:
        workspace = await uow.workspaces.get_standalone()
    assert workspace is not None
    return workspace.id


async def deliver(deps: Deps) -> dict[str, Any]:
    return await deliver_webhooks({"deps": deps}, workspace_id=str(await workspace_id(deps)))


def receiver(
    secret: str, received: list[dict[str, Any]], status: int = 200
) -> Callable[[httpx.Request], httpx.Response]:
    """A test receiver that verifies each delivery with the Standard Webhooks library."""

    def receive(request: httpx.Request) -> httpx.Response:
        assert request.headers["host"] == "hooks.example.com"
        verified = Webhook(secret).verify(request.content, dict(request.headers))
        received.append({"payload": verified, "id": request.headers["webhook-id"]})
        return httpx.Response(status, text="thanks")

    return receive


async def test_an_endpoint_is_added_with_a_secret_shown_once_and_kept_encrypted(
    admin: httpx.AsyncClient, db: str
) -> None:
    added = await add_endpoint(admin)

    secret = secret_from(added)
    [row] = await rows(db, "SELECT url, events, secret_enc FROM webhook_endpoint")
    assert row["url"] == ENDPOINT_URL
    assert len(json.loads(row["events"])) == 5
    assert secret not in row["secret_enc"]
    again = await admin.get(PAGE)
    assert ENDPOINT_URL in again.text
    assert secret not in again.text


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "must start with https://"),
        ("https://localhost/x", "private or local network address"),
        ("https://user:pw@hooks.example.com/x", "user name or password"),
        ("https://nowhere.invalid/x", "could not be found"),
        ("not a url", "https://"),
    ],
)
async def test_an_endpoint_url_the_guard_refuses_is_not_stored_and_the_page_says_why(
    admin: httpx.AsyncClient, db: str, url: str, reason: str
) -> None:
    refused = await add_endpoint(admin, url)
    page = await admin.get(refused.headers["location"]) if refused.status_code == 303 else refused

    assert reason in page.text
    assert await rows(db, "SELECT id FROM webhook_endpoint") == []


async def test_a_private_address_is_refused(admin: httpx.AsyncClient, db: str, resolver: Resolver) -> None:
    resolver.address = "10.0.0.5"

    refused = await add_endpoint(admin)

    page = await admin.get(refused.headers["location"])
    assert "private or local network address" in page.text
    assert await rows(db, "SELECT id FROM webhook_endpoint") == []


async def test_choosing_no_event_is_refused(admin: httpx.AsyncClient, db: str) -> None:
    refused = await admin.post(PAGE, data={"_csrf_token": await csrf(admin), "url": ENDPOINT_URL})

    assert "Choose at least one event" in (await admin.get(refused.headers["location"])).text
    assert await rows(db, "SELECT id FROM webhook_endpoint") == []


@respx.mock(assert_all_called=False)
async def test_the_test_event_is_signed_so_a_standard_webhooks_receiver_verifies_it(
    admin: httpx.AsyncClient, deps: Deps, db: str, respx_mock: respx.MockRouter
) -> None:
    received: list[dict[str, Any]] = []
    secret = secret_from(await add_endpoint(admin))
    respx_mock.post(RECEIVER).mock(side_effect=receiver(secret, received))
    [endpoint] = await rows(db, "SELECT id FROM webhook_endpoint")

    await admin.post(f"{PAGE}/{endpoint['id']}/test", data={"_csrf_token": await csrf(admin)})
    result = await deliver(deps)

    assert result == {"sent": 1, "retrying": 0, "failed": 0}
    [delivery] = received
    assert delivery["payload"]["event"] == "test"
    log = (await admin.get(PAGE)).text
    assert "HTTP 200" in log
    assert "Sent" in log


@respx.mock(assert_all_called=False)
async def test_an_enrollment_reaches_the_endpoint_once_with_the_event_payload(
    admin: httpx.AsyncClient, deps: Deps, db: str, respx_mock: respx.MockRouter
) -> None:
    received: list[dict[str, Any]] = []
    secret = secret_from(await add_endpoint(admin, events=("learner_enrolled",)))
    respx_mock.post(RECEIVER).mock(side_effect=receiver(secret, received))
    workspace = await workspace_id(deps)
    course = await add_course(deps, workspace, "Excel 101")
    book = await deps.crm.contact_book(workspace)
    ann = await book.upsert_contact(first_name="Ann", last_name="Lee", email="ann@example.com")

    result = await enroll_contact(
        workspace, course.id, ann.id, uow=deps.uow(), contacts=book, clock=deps.clock
    )
    await enroll_contact(workspace, course.id, ann.id, uow=deps.uow(), contacts=book, clock=deps.clock)
    await deliver(deps)
    await deliver(deps)

    [delivery] = received
    payload = delivery["payload"]
    assert payload["event"] == "learner_enrolled"
    assert payload["contact"] == {"email": "ann@example.com", "firstName": "Ann", "lastName": "Lee"}
    assert payload["course"] == {"id": str(course.id), "title": "Excel 101"}
    assert payload["enrollment"]["id"] == str(result.enrollment.id)
    assert delivery["id"] == payload["eventId"]


@respx.mock(assert_all_called=False)
async def test_an_endpoint_answering_500_is_retried_with_backoff_and_shown_then_delivered(
    admin: httpx.AsyncClient, app: Litestar, deps: Deps, db: str, respx_mock: respx.MockRouter
) -> None:
    received: list[dict[str, Any]] = []
    secret = secret_from(await add_endpoint(admin))
    route = respx_mock.post(RECEIVER)
    route.side_effect = [httpx.Response(500, text="database down"), receiver(secret, received)]
    [endpoint] = await rows(db, "SELECT id FROM webhook_endpoint")
    await admin.post(f"{PAGE}/{endpoint['id']}/test", data={"_csrf_token": await csrf(admin)})

    first = await deliver(deps)
    log = (await admin.get(PAGE)).text
    early = await deliver(deps)
    clock = app.state.deps.clock
    assert isinstance(clock, MovableClock)
    clock.offset += timedelta(seconds=3)  # past the first backoff (1-2 s), within the receiver's tolerance
    later = await deliver(deps)

    assert first["retrying"] == 1
    assert "HTTP 500" in log
    assert "database down" in log
    assert "Retrying (try 1 of 12)" in log
    assert early == {"sent": 0, "retrying": 0, "failed": 0}, "not before its backoff"
    assert later["sent"] == 1
    assert len(received) == 1
    [row] = await rows(db, "SELECT status, attempts FROM webhook_delivery")
    assert (row["status"], row["attempts"]) == ("sent", 2)


@respx.mock(assert_all_called=False)
async def test_a_redirecting_endpoint_is_not_followed_and_fails_with_a_retry_button(
    admin: httpx.AsyncClient, deps: Deps, db: str, respx_mock: respx.MockRouter
) -> None:
    await add_endpoint(admin)
    respx_mock.post(RECEIVER).mock(
        return_value=httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/meta-data"})
    )
    elsewhere = respx_mock.route(host="169.254.169.254").mock(return_value=httpx.Response(200))
    [endpoint] = await rows(db, "SELECT id FROM webhook_endpoint")
    await admin.post(f"{PAGE}/{endpoint['id']}/test", data={"_csrf_token": await csrf(admin)})

    result = await deliver(deps)

    assert result["failed"] == 1
    assert not elsewhere.called
    log = (await admin.get(PAGE)).text
    assert "redirects are not followed" in log
    assert "/app/settings/webhooks/deliveries/" in log  # the Retry button
    [row] = await rows(db, "SELECT id FROM webhook_delivery")
    retried = await admin.post(
        f"{PAGE}/deliveries/{row['id']}/retry", data={"_csrf_token": await csrf(admin)}
    )
    assert retried.status_code == 303
    [again] = await rows(db, "SELECT status FROM webhook_delivery")
    assert again["status"] == "pending"


@respx.mock(assert_all_called=False)
async def test_an_endpoint_that_hangs_times_out_and_is_retried(
    admin: httpx.AsyncClient, deps: Deps, db: str, respx_mock: respx.MockRouter
) -> None:
    await add_endpoint(admin)
    respx_mock.post(RECEIVER).mock(side_effect=httpx.ReadTimeout("no answer"))
    [endpoint] = await rows(db, "SELECT id FROM webhook_endpoint")
    await admin.post(f"{PAGE}/{endpoint['id']}/test", data={"_csrf_token": await csrf(admin)})

    result = await deliver(deps)

    assert result["retrying"] == 1
    [row] = await rows(db, "SELECT status, last_error FROM webhook_delivery")
    assert row["status"] == "pending"
    assert "did not answer within 10 s" in row["last_error"]


@respx.mock(assert_all_called=False)
async def test_a_name_that_turns_private_after_saving_is_not_called(
    admin: httpx.AsyncClient, deps: Deps, db: str, respx_mock: respx.MockRouter, resolver: Resolver
) -> None:
    await add_endpoint(admin)
    route = respx_mock.post(url__regex=r"https://.*").mock(return_value=httpx.Response(200))
    [endpoint] = await rows(db, "SELECT id FROM webhook_endpoint")
    await admin.post(f"{PAGE}/{endpoint['id']}/test", data={"_csrf_token": await csrf(admin)})
    resolver.address = "192.168.1.10"

    result = await deliver(deps)

    assert result["failed"] == 1
    assert not route.called
    [row] = await rows(db, "SELECT last_error FROM webhook_delivery")
    assert "private or local network address" in row["last_error"]


async def test_deleting_an_endpoint_removes_it_and_its_log(admin: httpx.AsyncClient, db: str) -> None:
    await add_endpoint(admin)
    [endpoint] = await rows(db, "SELECT id FROM webhook_endpoint")

    deleted = await admin.post(f"{PAGE}/{endpoint['id']}/delete", data={"_csrf_token": await csrf(admin)})
    assert "Endpoint deleted" in (await admin.get(deleted.headers["location"])).text
    twice = await admin.post(f"{PAGE}/{endpoint['id']}/delete", data={"_csrf_token": await csrf(admin)})
    assert twice.status_code == 404
    assert await rows(db, "SELECT id FROM webhook_endpoint") == []
