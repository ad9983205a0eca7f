"""HighLevel workflow triggers over HTTP: subscriptions as HighLevel sends them (workflows §6), and events
fired to their targetUrl through the CRM outbox (§7), with HighLevel's side mocked by respx."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import respx
from fake_highlevel import FakeHighLevel
from litestar import Litestar
from movable_clock import MovableClock
from workflow_world import (
    API,
    KEY_HEADER,
    LOCATION,
    TARGET_PREFIX,
    action_body,
    add_course,
    install,
    subscription_body,
    workflow_settings,
    workspace_of,
)

from appserver import serving
from scormhub.app import create_app
from scormhub.bootstrap import Deps, build_deps
from scormhub.domain import sync
from scormhub.domain.model import RegistrationProgress
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.jobs.sync import push_to_crm
from scormhub.settings import Settings

SUBSCRIBE = "/hooks/highlevel/triggers"
ENROLL = "/hooks/highlevel/actions/enroll"


@pytest.fixture
def app(db: str, settings: Settings) -> Litestar:
    chosen = workflow_settings(settings)
    return create_app(chosen, build_deps(chosen, clock=MovableClock()))


@pytest.fixture
def target(respx_mock: respx.MockRouter) -> respx.Route:
    # Mounted before the fake: the fake answers every other call under the API's address.
    return respx_mock.post(url__startswith=TARGET_PREFIX).mock(return_value=httpx.Response(200, json={}))


@pytest.fixture
def fake(respx_mock: respx.MockRouter, target: respx.Route) -> FakeHighLevel:
    fake = FakeHighLevel(API)
    fake.mount(respx_mock)
    return fake


@pytest.fixture
async def client(app: Litestar, fake: FakeHighLevel) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app) as test_client:
        await install(test_client)
        yield test_client


@pytest.fixture
def deps(app: Litestar) -> Deps:
    found: Deps = app.state.deps
    return found


async def rows(db: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def subscribe(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post(SUBSCRIBE, json=body, headers=KEY_HEADER)


async def push(deps: Deps) -> dict[str, Any]:
    return await push_to_crm({"deps": deps}, workspace_id=str(await workspace_of(deps)))


def fired(target: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in target.calls]


def course_filter(course_id: Any) -> list[dict[str, Any]]:
    return [
        {
            "field": "course.id",
            "id": "course.id",
            "operator": "==",
            "title": "Course",
            "type": "select",
            "value": str(course_id),
        }
    ]


# --- subscriptions ---------------------------------------------------------------------------------------


@respx.mock(assert_all_called=False)
async def test_created_updated_and_deleted_subscriptions_are_kept_as_highlevel_says(
    client: httpx.AsyncClient, db: str
) -> None:
    created = await subscribe(client, subscription_body("TRG1"))
    updated = await subscribe(
        client, subscription_body("TRG1", event_type="UPDATED", filters=course_filter("c-1"))
    )
    [row] = await rows(db, "SELECT * FROM trigger_subscription")
    assert created.json() == {"success": True, "status": "created"}
    assert updated.json() == {"success": True, "status": "updated"}
    assert (row["location_id"], row["workflow_id"], row["company_id"], row["version"]) == (
        LOCATION,
        "WF1",
        "ocQHyuzHvysMo5N5VsXc",
        "1.0",
    )
    assert json.loads(row["filters"])[0]["value"] == "c-1"
    assert row["active"] is True

    deleted = await subscribe(client, subscription_body("TRG1", event_type="DELETED"))
    twice = await subscribe(client, subscription_body("TRG1", event_type="DELETED"))
    never = await subscribe(client, subscription_body("TRG-unknown", event_type="DELETED"))

    assert deleted.json() == {"success": True, "status": "deleted"}
    assert twice.json() == {"success": True, "status": "already deleted"}
    assert never.json() == {"success": True, "status": "already deleted"}
    [row] = await rows(db, "SELECT active FROM trigger_subscription")
    assert row["active"] is False


@respx.mock(assert_all_called=False)
@pytest.mark.parametrize(
    ("target_url", "reason"),
    [
        (f"http://hl.test/workflows-marketplace/triggers/execute/{LOCATION}/T", "https://"),
        ("https://evil.example/workflows-marketplace/triggers/execute/x", "must start with"),
        ("https://127.0.0.1/workflows-marketplace/triggers/execute/x", "must start with"),
        ("https://169.254.169.254/latest/meta-data", "must start with"),
        (f"https://hl.test@10.0.0.1/workflows-marketplace/triggers/execute/{LOCATION}", "must start with"),
        (f"{TARGET_PREFIX}../../oauth/token", "must start with"),
        ("", "https://"),
    ],
)
async def test_a_target_url_that_is_not_highlevels_trigger_endpoint_is_refused(
    client: httpx.AsyncClient, db: str, target_url: str, reason: str
) -> None:
    answer = await subscribe(client, subscription_body("TRG1", target_url=target_url))

    assert answer.status_code == 400
    assert reason in answer.json()["error"]
    assert await rows(db, "SELECT id FROM trigger_subscription") == []


@respx.mock(assert_all_called=False)
async def test_an_unknown_trigger_key_or_bad_shape_is_a_clear_400(client: httpx.AsyncClient, db: str) -> None:
    unknown = await subscribe(client, subscription_body("TRG1", key="scorm_course_started"))
    no_data = await subscribe(client, {"meta": {}, "extras": {"locationId": LOCATION}})
    bad_type = await subscribe(client, subscription_body("TRG1", event_type="PAUSED"))
    no_key = await client.post(SUBSCRIBE, json=subscription_body("TRG1"))

    assert unknown.status_code == 400
    assert "Unknown trigger key 'scorm_course_started'" in unknown.json()["error"]
    assert "scorm_course_completed" in unknown.json()["error"]
    assert no_data.status_code == 400
    assert bad_type.status_code == 400
    assert no_key.status_code == 401
    assert await rows(db, "SELECT id FROM trigger_subscription") == []


@respx.mock(assert_all_called=False)
async def test_a_subscription_for_a_location_without_an_installation_is_refused(
    client: httpx.AsyncClient, db: str
) -> None:
    answer = await subscribe(client, subscription_body("TRG1", location="neverInstalled"))

    assert answer.status_code == 403
    assert await rows(db, "SELECT id FROM trigger_subscription") == []


# --- firing -------------------------------------------------------------------------------------------------


@respx.mock(assert_all_called=False)
async def test_learner_enrolled_fires_once_to_each_matching_subscription_with_the_declared_payload(
    client: httpx.AsyncClient, deps: Deps, db: str, target: respx.Route
) -> None:
    workspace = await workspace_of(deps)
    excel = await add_course(deps, workspace, "Excel 101")
    safety = await add_course(deps, workspace, "Safety 2026")
    await subscribe(
        client, subscription_body("T-excel", key="scorm_learner_enrolled", filters=course_filter(excel.id))
    )
    await subscribe(client, subscription_body("T-any", key="scorm_learner_enrolled"))
    await subscribe(client, subscription_body("T-done", key="scorm_course_completed"))

    enrolled = (await client.post(ENROLL, json=action_body(excel.id), headers=KEY_HEADER)).json()
    await client.post(
        ENROLL, json=action_body(safety.id, contact="CON2", email="bo@example.com"), headers=KEY_HEADER
    )
    first = await push(deps)
    again = await push(deps)

    assert (first["sent"], first["failed"]) == (3, 0)
    assert again["sent"] == 0
    calls = {call.request.url.path.rsplit("/", 1)[1]: call.request for call in target.calls}
    assert sorted(c.request.url.path.rsplit("/", 1)[1] for c in target.calls) == ["T-any", "T-any", "T-excel"]
    request = calls["T-excel"]
    assert request.headers["Authorization"].startswith("Bearer access-")
    assert request.headers["Version"] == "2021-07-28"
    body = json.loads(request.content)
    assert body["event"] == "learner_enrolled"
    assert body["eventId"].startswith("evt_")
    assert (body["locationId"], body["contactId"]) == (LOCATION, "CON1")
    assert body["contact"] == {"email": "ann@example.com", "firstName": "Ann", "lastName": "Lee"}
    assert body["course"] == {"id": str(excel.id), "title": "Excel 101"}
    assert body["enrollment"]["id"] == enrolled["enrollmentId"]
    assert (body["enrollment"]["status"], body["enrollment"]["passed"]) == ("not_started", None)


async def complete(deps: Deps, enrollment_id: str, *, success: Success, score: float, at: datetime) -> None:
    """The engine reports progress, as SCORM Cloud's postbacks feed it through sync_enrollment."""
    await sync.sync_enrollment(
        await workspace_of(deps),
        uuid.UUID(enrollment_id),
        uow=deps.uow(),
        jobs=deps.jobs,
        clock=deps.clock,
        progress=RegistrationProgress(
            updated_at=at,
            completion=Completion.COMPLETED,
            success=success,
            score_percent=score,
            score_raw=score,
            total_seconds=90,
            attempts=1,
            first_access_at=at,
            last_access_at=at,
            completed_at=at,
        ),
    )


@respx.mock(assert_all_called=False)
async def test_a_completion_fires_completed_and_passed_with_status_score_and_result_once(
    client: httpx.AsyncClient, deps: Deps, db: str, target: respx.Route
) -> None:
    course = await add_course(deps, await workspace_of(deps), "Excel 101")
    for key in ("scorm_course_completed", "scorm_course_passed", "scorm_course_failed"):
        await subscribe(client, subscription_body(f"T-{key}", key=key))
    enrolled = (await client.post(ENROLL, json=action_body(course.id), headers=KEY_HEADER)).json()
    at = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)

    await complete(deps, enrolled["enrollmentId"], success=Success.PASSED, score=87, at=at)
    await complete(
        deps, enrolled["enrollmentId"], success=Success.PASSED, score=87, at=at + timedelta(seconds=1)
    )
    await push(deps)
    await push(deps)

    events = sorted(fired(target), key=lambda b: b["event"])
    assert [b["event"] for b in events] == ["course_completed", "course_passed"]
    for body in events:
        assert body["enrollment"] == {
            "id": enrolled["enrollmentId"],
            "status": "completed",
            "result": "passed",
            "score": 87,
            "passed": True,
            "completedAt": "2026-09-01T10:00:00Z",
        }


@respx.mock(assert_all_called=False)
async def test_highlevel_answering_401_gets_a_refreshed_token_and_one_retry(
    client: httpx.AsyncClient, deps: Deps, db: str, fake: FakeHighLevel, target: respx.Route
) -> None:
    course = await add_course(deps, await workspace_of(deps), "Excel 101")
    await subscribe(client, subscription_body("T1", key="scorm_learner_enrolled"))
    target.side_effect = [httpx.Response(401, json={"message": "Invalid JWT"}), httpx.Response(200, json={})]
    exchanges = fake.exchanges

    await client.post(ENROLL, json=action_body(course.id), headers=KEY_HEADER)
    result = await push(deps)

    assert result["sent"] == 1
    assert fake.exchanges == exchanges + 1
    first, second = (call.request.headers["Authorization"] for call in target.calls)
    assert first != second
    [write] = await rows(db, "SELECT status FROM outbox WHERE kind = 'trigger'")
    assert write["status"] == "sent"


@respx.mock(assert_all_called=False)
@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(404, json={"message": "Not found"}),
        httpx.Response(410, json={}),
        httpx.Response(400, json={"message": "trigger with id: T1 inactive"}),
    ],
)
async def test_a_gone_subscription_fails_the_write_and_stops_firing(
    client: httpx.AsyncClient, deps: Deps, db: str, target: respx.Route, answer: httpx.Response
) -> None:
    course = await add_course(deps, await workspace_of(deps), "Excel 101")
    await subscribe(client, subscription_body("T1", key="scorm_learner_enrolled"))
    target.return_value = answer

    await client.post(ENROLL, json=action_body(course.id), headers=KEY_HEADER)
    result = await push(deps)
    await client.post(
        ENROLL, json=action_body(course.id, contact="CON2", email="bo@example.com"), headers=KEY_HEADER
    )
    await push(deps)

    assert result["failed"] == 1
    [write] = await rows(db, "SELECT status, last_error FROM outbox WHERE kind = 'trigger'")
    assert write["status"] == "failed"
    assert "will not fire again" in write["last_error"]
    [subscription] = await rows(db, "SELECT active FROM trigger_subscription")
    assert subscription["active"] is False
    assert len(target.calls) == 1


@respx.mock(assert_all_called=False)
@pytest.mark.parametrize("status", [429, 500, 503])
async def test_429_and_5xx_are_retried_later_and_then_delivered_once(
    client: httpx.AsyncClient, app: Litestar, deps: Deps, db: str, target: respx.Route, status: int
) -> None:
    course = await add_course(deps, await workspace_of(deps), "Excel 101")
    await subscribe(client, subscription_body("T1", key="scorm_learner_enrolled"))
    target.side_effect = [
        httpx.Response(status, json={"message": "busy"}, headers={"Retry-After": "1"}),
        httpx.Response(200, json={}),
    ]

    await client.post(ENROLL, json=action_body(course.id), headers=KEY_HEADER)
    first = await push(deps)
    [waiting] = await rows(db, "SELECT status, attempts, last_error FROM outbox WHERE kind = 'trigger'")
    clock = app.state.deps.clock
    assert isinstance(clock, MovableClock)
    clock.offset += timedelta(minutes=20)
    second = await push(deps)

    assert first["retrying"] == 1
    assert (waiting["status"], waiting["attempts"]) == ("pending", 1)
    assert waiting["last_error"]
    assert second["sent"] == 1
    assert len(target.calls) == 2
    [write] = await rows(db, "SELECT status FROM outbox WHERE kind = 'trigger'")
    assert write["status"] == "sent"


@respx.mock(assert_all_called=False)
async def test_a_failed_trigger_write_can_be_retried_from_the_sync_log(
    client: httpx.AsyncClient, deps: Deps, db: str, target: respx.Route
) -> None:
    course = await add_course(deps, await workspace_of(deps), "Excel 101")
    await subscribe(client, subscription_body("T1", key="scorm_learner_enrolled"))
    target.side_effect = [httpx.Response(422, json={"message": "bad payload"}), httpx.Response(200, json={})]
    await client.post(ENROLL, json=action_body(course.id), headers=KEY_HEADER)
    await push(deps)
    [failed] = await rows(db, "SELECT id, status, last_error FROM outbox WHERE kind = 'trigger'")
    assert failed["status"] == "failed"
    assert "bad payload" in failed["last_error"]

    await sync.retry_write(
        await workspace_of(deps), failed["id"], uow=deps.uow(), jobs=deps.jobs, clock=deps.clock
    )
    await push(deps)

    [write] = await rows(db, "SELECT status FROM outbox WHERE kind = 'trigger'")
    assert write["status"] == "sent"
    assert len(target.calls) == 2
