"""HighLevel workflow actions over HTTP: enroll a contact, send the enrollment link, the course dropdown.

Bodies are shaped as the reference shows them (workflows §2, §4); HighLevel's API is the stateful fake.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import respx
from fake_highlevel import FakeHighLevel
from litestar import Litestar
from workflow_world import (
    API,
    KEY_HEADER,
    LOCATION,
    OTHER_LOCATION,
    action_body,
    add_course,
    install,
    workflow_settings,
    workspace_of,
)

from appserver import serving
from scormhub.app import create_app
from scormhub.bootstrap import Deps
from scormhub.domain.model import CourseStatus
from scormhub.settings import Settings

ENROLL = "/hooks/highlevel/actions/enroll"
BRANCHES = [
    {"id": "8f0c-enrolled", "name": "Enrolled", "fields": []},
    {"id": "8f0c-already", "name": "Already enrolled", "fields": []},
    {"id": "8f0c-failed", "name": "Failed", "fields": []},
]


@pytest.fixture
def app(db: str, settings: Settings) -> Litestar:
    return create_app(workflow_settings(settings))


@pytest.fixture
def fake(respx_mock: respx.MockRouter) -> FakeHighLevel:
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


async def enrollments(db: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db)
    try:
        return list(await conn.fetch("SELECT * FROM enrollment ORDER BY created_at"))
    finally:
        await conn.close()


async def post(client: httpx.AsyncClient, body: Any, path: str = ENROLL, **headers: str) -> httpx.Response:
    return await client.post(path, json=body, headers={**KEY_HEADER, **headers})


@respx.mock(assert_all_called=False)
async def test_the_enroll_action_enrolls_the_contact_and_answers_the_documented_fields(
    client: httpx.AsyncClient, deps: Deps, db: str
) -> None:
    course = await add_course(deps, await workspace_of(deps), "Excel 101")

    answer = await post(client, action_body(course.id, branches=BRANCHES))

    assert answer.status_code == 200
    body = answer.json()
    [row] = await enrollments(db)
    assert body == {
        "status": "enrolled",
        "enrollmentId": str(row["id"]),
        "launchUrl": f"http://testserver.local/play/{row['launch_token']}",
        "alreadyEnrolled": False,
        "branchId": "8f0c-enrolled",
    }
    assert (row["contact_id"], row["learner_email"], row["learner_name"]) == (
        "CON1",
        "ann@example.com",
        "Ann Lee",
    )


@respx.mock(assert_all_called=False)
async def test_a_retried_execution_finds_the_first_enrollment_instead_of_enrolling_twice(
    client: httpx.AsyncClient, deps: Deps, db: str
) -> None:
    course = await add_course(deps, await workspace_of(deps), "Excel 101")
    first = (await post(client, action_body(course.id, branches=BRANCHES))).json()

    again = (await post(client, action_body(course.id, branches=BRANCHES))).json()

    assert again["status"] == "already_enrolled"
    assert again["alreadyEnrolled"] is True
    assert again["enrollmentId"] == first["enrollmentId"]
    assert again["launchUrl"] == first["launchUrl"]
    assert again["branchId"] == "8f0c-already"
    assert len(await enrollments(db)) == 1


@respx.mock(assert_all_called=False)
async def test_two_concurrent_executions_enroll_once(client: httpx.AsyncClient, deps: Deps, db: str) -> None:
    course = await add_course(deps, await workspace_of(deps), "Excel 101")

    answers = await asyncio.gather(*(post(client, action_body(course.id)) for _ in range(2)))

    assert sorted(a.json()["status"] for a in answers) == ["already_enrolled", "enrolled"]
    assert len({a.json()["enrollmentId"] for a in answers}) == 1
    assert len(await enrollments(db)) == 1


@respx.mock(assert_all_called=False)
@pytest.mark.parametrize("headers", [{}, {"X-ScormHub-Action-Key": "wrong"}, {"X-ScormHub-Action-Key": ""}])
async def test_a_call_without_the_right_secret_header_is_refused_and_enrolls_nobody(
    client: httpx.AsyncClient, deps: Deps, db: str, headers: dict[str, str]
) -> None:
    course = await add_course(deps, await workspace_of(deps), "Excel 101")

    answer = await client.post(ENROLL, json=action_body(course.id), headers=headers)

    assert answer.status_code == 401
    assert "x-scormhub-action-key" in answer.json()["error"]
    assert await enrollments(db) == []


@respx.mock(assert_all_called=False)
async def test_a_location_that_uninstalled_or_never_installed_is_refused(
    client: httpx.AsyncClient, deps: Deps, db: str
) -> None:
    other = await deps.highlevel_connections.install_location(
        location_id=OTHER_LOCATION, company_id=None, grant=None
    )
    course = await add_course(deps, other.id, "Their course")
    await deps.highlevel_connections.uninstall_location(OTHER_LOCATION)

    uninstalled = await post(client, action_body(course.id, location=OTHER_LOCATION))
    unknown = await post(client, action_body(course.id, location="neverInstalled"))
    no_location = await post(client, {"data": {"courseId": str(course.id)}, "extras": {}})

    assert uninstalled.status_code == 403
    assert "not installed in this location" in uninstalled.json()["error"]
    assert unknown.status_code == 403
    assert no_location.status_code == 400
    assert await enrollments(db) == []


@respx.mock(assert_all_called=False)
async def test_a_course_of_another_location_or_not_ready_is_a_failed_outcome_with_its_branch(
    client: httpx.AsyncClient, deps: Deps, db: str
) -> None:
    other = await deps.highlevel_connections.install_location(
        location_id=OTHER_LOCATION, company_id=None, grant=None
    )
    theirs = await add_course(deps, other.id, "Their course")
    processing = await add_course(deps, await workspace_of(deps), "Draft", status=CourseStatus.PROCESSING)

    for course in (theirs, processing):
        answer = await post(client, action_body(course.id, branches=BRANCHES))
        assert answer.status_code == 200
        assert answer.json()["status"] == "failed"
        assert "not Ready" in answer.json()["error"]
        assert answer.json()["branchId"] == "8f0c-failed"
    unknown = (await post(client, action_body("not-a-course-id"))).json()
    assert unknown["status"] == "failed"
    assert "Choose a course" in unknown["error"]
    assert await enrollments(db) == []


@respx.mock(assert_all_called=False)
@pytest.mark.parametrize("email", ["not-an-email", "ann@", "a" * 300 + "@example.com"])
async def test_an_invalid_email_is_a_failed_outcome_that_says_what_to_fix(
    client: httpx.AsyncClient, deps: Deps, db: str, email: str
) -> None:
    course = await add_course(deps, await workspace_of(deps), "Excel 101")

    answer = (await post(client, action_body(course.id, email=email))).json()

    assert answer["status"] == "failed"
    assert "email address like name@example.com" in answer["error"]
    assert await enrollments(db) == []


@respx.mock(assert_all_called=False)
async def test_unknown_fields_are_ignored_and_named_in_the_answer(
    client: httpx.AsyncClient, deps: Deps, db: str
) -> None:
    course = await add_course(deps, await workspace_of(deps), "Excel 101")

    answer = (await post(client, action_body(course.id, phone="+1555", favouriteColour="teal"))).json()

    assert answer["status"] == "enrolled"
    assert answer["ignoredFields"] == ["favouriteColour", "phone"]
    assert len(await enrollments(db)) == 1


@respx.mock(assert_all_called=False)
async def test_empty_or_unfilled_merge_fields_fall_back_on_the_contact_in_highlevel(
    client: httpx.AsyncClient, fake: FakeHighLevel, deps: Deps, db: str
) -> None:
    course = await add_course(deps, await workspace_of(deps), "Excel 101")
    grace = fake.add_contact("Grace", "Hopper", "grace@example.com")

    answer = await post(
        client,
        action_body(course.id, contact=grace["id"], email="{{contact.email}}", firstName="", lastName=""),
    )

    assert answer.json()["status"] == "enrolled"
    [row] = await enrollments(db)
    assert (row["learner_email"], row["learner_name"]) == ("grace@example.com", "Grace Hopper")


@respx.mock(assert_all_called=False)
async def test_the_plan_limit_is_a_failed_outcome_with_the_plan_message(
    client: httpx.AsyncClient, deps: Deps, db: str
) -> None:
    course = await add_course(deps, await workspace_of(deps), "Excel 101")
    for n in range(10):
        enrolled = await post(client, action_body(course.id, contact=f"C{n}", email=f"p{n}@example.com"))
        assert enrolled.json()["status"] == "enrolled"

    refused = (await post(client, action_body(course.id, contact="C10", email="p10@example.com"))).json()

    assert refused["status"] == "failed"
    assert "trial plan, which allows 10 active registrations" in refused["error"]
    assert len(await enrollments(db)) == 10


@respx.mock(assert_all_called=False)
async def test_a_body_that_is_not_an_action_call_is_a_400(client: httpx.AsyncClient) -> None:
    not_json = await client.post(
        ENROLL, content=b"{nope", headers={**KEY_HEADER, "content-type": "application/json"}
    )
    a_list = await post(client, [1, 2])

    assert not_json.status_code == 400
    assert a_list.status_code == 400
    assert "JSON object" in a_list.json()["error"]


@respx.mock(assert_all_called=False)
async def test_the_flat_body_with_ids_in_the_query_is_understood_too(
    client: httpx.AsyncClient, deps: Deps, db: str
) -> None:
    course = await add_course(deps, await workspace_of(deps), "Excel 101")
    body = {
        "courseId": str(course.id),
        "email": "ann@example.com",
        "firstName": "Ann",
        "isMarketplaceAction": True,
    }

    answer = await client.post(
        ENROLL,
        json=body,
        params={"locationId": LOCATION, "contactId": "CON9", "workflowId": "WF"},
        headers=KEY_HEADER,
    )

    assert answer.json()["status"] == "enrolled"
    [row] = await enrollments(db)
    assert row["contact_id"] == "CON9"


@respx.mock(assert_all_called=False)
async def test_the_course_dropdown_lists_only_this_locations_ready_courses(
    client: httpx.AsyncClient, deps: Deps
) -> None:
    mine = await workspace_of(deps)
    excel = await add_course(deps, mine, "Excel 101")
    safety = await add_course(deps, mine, "Safety 2026")
    await add_course(deps, mine, "Draft", status=CourseStatus.PROCESSING)
    other = await deps.highlevel_connections.install_location(
        location_id=OTHER_LOCATION, company_id=None, grant=None
    )
    await add_course(deps, other.id, "Their course")
    form = {
        "data": {"email": "{{contact.email}}"},
        "extras": {"locationId": LOCATION, "contactId": "CON", "workflowId": "WF"},
        "meta": {"key": "scorm_enroll_contact", "version": "1.0"},
    }

    fields = (await post(client, form, "/hooks/highlevel/actions/courses")).json()
    filters = (await post(client, form, "/hooks/highlevel/triggers/courses")).json()

    options = [
        {"label": "Excel 101", "value": str(excel.id)},
        {"label": "Safety 2026", "value": str(safety.id)},
    ]
    assert fields == {
        "inputs": [
            {
                "section": "Course",
                "fields": [
                    {
                        "field": "courseId",
                        "title": "Course",
                        "fieldType": "select",
                        "required": True,
                        "options": options,
                    }
                ],
            }
        ]
    }
    assert filters["filters"][0]["field"] == "course.id"
    assert filters["filters"][0]["options"] == options


@respx.mock(assert_all_called=False)
async def test_the_send_link_action_answers_the_courses_self_enrollment_link(
    client: httpx.AsyncClient, deps: Deps
) -> None:
    course = await add_course(deps, await workspace_of(deps), "Excel 101")
    body = {
        "data": {"courseId": str(course.id), "email": "ann@example.com"},
        "extras": {"locationId": LOCATION, "contactId": "CON", "workflowId": "WF"},
        "meta": {"key": "scorm_send_enrollment_link", "version": "1.0"},
    }

    answer = (await post(client, body, "/hooks/highlevel/actions/enrollment-link")).json()
    link = answer["enrollmentLink"]

    assert answer["status"] == "ok"
    assert link == f"http://testserver.local/enroll/{course.self_enroll_token}"
    assert (await client.get(link.removeprefix("http://testserver.local"))).status_code == 200
