"""The built-in player's tracking over HTTP: launch, commit, resume, bad values, finished attempts, tabs."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from litestar import Litestar
from movable_clock import MovableClock

from appserver import CONTENT, csrf_of
from scormhub.domain import enrollments as cases
from scormhub.domain.model import Course, Enrollment
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.domain.scorm.state import ScoState
from scormhub.integrations.clock import SystemClock
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.local_crm import LocalContactBook
from scormhub.jobs.courses import import_course
from shared_packages import PACKAGES

GOLF_12 = PACKAGES / "valid" / "RuntimeBasicCalls_SCORM12.zip"
GOLF_2004 = PACKAGES / "valid" / "RuntimeBasicCalls_SCORM20043rdEdition.zip"

PASSED_12 = {
    "core": {
        "lesson_status": "passed",
        "score": {"raw": "85", "min": "0", "max": "100"},
        "session_time": "0000:01:30.00",
        "exit": "",
    },
    "suspend_data": "abc",
}
PASSED_2004 = {
    "completion_status": "completed",
    "success_status": "passed",
    "score": {"scaled": "0.85", "raw": "85"},
    "session_time": "PT1M30S",
}


# --- helpers ------------------------------------------------------------------------------------------


async def ready_course(admin: httpx.AsyncClient, app: Litestar, package: Path) -> Course:
    await admin.get("/app/courses")
    response = await admin.post(
        "/app/courses",
        data={"_csrf_token": csrf_of(admin)},
        files={"package": (package.name, package.read_bytes(), "application/zip")},
    )
    assert response.status_code == 303, response.text
    course_id = response.headers["location"].rsplit("/", 1)[1]
    async with PiccoloUnitOfWork() as uow:
        workspace = await uow.workspaces.get_standalone()
    assert workspace is not None
    await import_course({"deps": app.state.deps}, workspace_id=str(workspace.id), course_id=course_id)
    async with PiccoloUnitOfWork() as uow:
        course = await uow.courses.get(workspace.id, UUID(course_id))
    assert course is not None
    assert course.status.value == "ready"
    return course


async def enrolled(
    admin: httpx.AsyncClient, app: Litestar, package: Path, email: str = "ada@example.com"
) -> Enrollment:
    course = await ready_course(admin, app, package)
    return await enroll(course, email)


async def enroll(course: Course, email: str) -> Enrollment:
    book = LocalContactBook(course.workspace_id)
    contact = await book.upsert_contact(first_name="Ada", last_name="Lovelace", email=email)
    result = await cases.enroll_contact(
        course.workspace_id,
        course.id,
        contact.id,
        uow=PiccoloUnitOfWork(),
        contacts=book,
        clock=SystemClock(),
    )
    return result.enrollment


async def launch(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    """GET /play/{token} like a browser tab and return its player-config."""
    page = await client.get(f"{CONTENT}/play/{token}")
    assert page.status_code == 200, page.text
    found = re.search(r'<script type="application/json" id="player-config">(.*?)</script>', page.text, re.S)
    assert found, page.text
    config: dict[str, Any] = json.loads(found.group(1))
    return config


async def commit(
    client: httpx.AsyncClient, config: dict[str, Any], cmi: object, *, final: bool = False
) -> httpx.Response:
    url = config["commitUrl"] + ("&final=true" if final else "")
    return await client.post(url, json=cmi)


async def current(enrollment: Enrollment) -> Enrollment:
    async with PiccoloUnitOfWork() as uow:
        row = await uow.enrollments.get(enrollment.workspace_id, enrollment.id)
    assert row is not None
    return row


async def sco_state(enrollment: Enrollment) -> dict[str, ScoState]:
    async with PiccoloUnitOfWork() as uow:
        return await uow.sco_states.for_enrollment(enrollment.id)


# --- completing a course -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("package", "cmi"), [(GOLF_12, PASSED_12), (GOLF_2004, PASSED_2004)], ids=["1.2", "2004"]
)
async def test_a_learner_who_passes_shows_as_completed_and_passed_with_score_time_and_one_attempt(
    admin: httpx.AsyncClient, app: Litestar, package: Path, cmi: dict[str, Any], clock: MovableClock
) -> None:
    enrollment = await enrolled(admin, app, package)

    config = await launch(admin, enrollment.launch_token)
    clock.offset = timedelta(minutes=2)  # the learner spends time in the course
    reply = await commit(admin, config, cmi, final=True)
    table = await admin.get(
        f"/app/courses/{enrollment.course_id}/enrollments", headers={"HX-Request": "true"}
    )

    assert reply.status_code == 200
    assert reply.json() == {"result": True, "errorCode": 0, "rejected": []}
    row = await current(enrollment)
    assert row.completion is Completion.COMPLETED
    assert row.success is Success.PASSED
    assert row.score_raw == 85
    assert row.score_percent == pytest.approx(85)
    assert row.total_seconds == pytest.approx(90)
    assert row.attempts == 1
    assert row.first_access_at is not None
    assert row.last_access_at is not None
    assert row.completed_at is not None
    assert "Completed" in table.text
    assert '<span class="result result-passed" data-field="result">Passed</span>' in table.text
    assert '<span class="primary-text" data-field="score">85%</span>' in table.text
    assert '(<span data-field="raw">85.0</span>)' in table.text
    assert '<span data-field="time">1m 30s</span>' in table.text
    assert '<span data-field="attempts">1</span> attempt<' in table.text


async def test_the_exit_page_says_progress_is_saved_and_shows_the_result(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enrolled(admin, app, GOLF_12)
    config = await launch(admin, enrollment.launch_token)
    await commit(admin, config, PASSED_12, final=True)

    page = await admin.get(config["exitUrl"])

    assert page.status_code == 200
    assert "Your progress is saved" in page.text
    assert "Completed" in page.text
    assert "Passed" in page.text
    assert "85%" in page.text


@pytest.mark.parametrize(
    ("package", "suspend", "entry_of"),
    [
        (
            GOLF_12,
            {
                "core": {
                    "lesson_status": "incomplete",
                    "lesson_location": "page-3",
                    "exit": "suspend",
                    "session_time": "0000:00:40.00",
                },
                "suspend_data": "q1=a;q2=c",
            },
            lambda resume: resume["core"]["entry"],
        ),
        (
            GOLF_2004,
            {
                "completion_status": "incomplete",
                "location": "page-3",
                "exit": "suspend",
                "session_time": "PT40S",
                "suspend_data": "q1=a;q2=c",
            },
            lambda resume: resume["entry"],
        ),
    ],
    ids=["1.2", "2004"],
)
async def test_a_learner_who_suspends_resumes_where_they_left_off(
    admin: httpx.AsyncClient, app: Litestar, package: Path, suspend: dict[str, Any], entry_of: Any
) -> None:
    enrollment = await enrolled(admin, app, package)
    first = await launch(admin, enrollment.launch_token)

    reply = await commit(admin, first, suspend, final=True)
    second = await launch(admin, enrollment.launch_token)

    assert reply.status_code == 200
    assert entry_of(first["resume"]) == "ab-initio"
    assert entry_of(second["resume"]) == "resume"
    assert second["resume"]["suspend_data"] == "q1=a;q2=c"
    assert "page-3" in json.dumps(second["resume"])
    assert second["commitUrl"] != first["commitUrl"], "every launch is a new session"
    row = await current(enrollment)
    assert row.completion is Completion.IN_PROGRESS
    assert row.attempts == 1, "a resumed attempt is the same attempt"


# --- bad values --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("package", "cmi", "rejected_element"),
    [
        (
            GOLF_12,
            {"core": {"lesson_status": "incomplete", "score": {"raw": "150"}, "lesson_location": "p2"}},
            "cmi.core.score.raw",
        ),
        (
            GOLF_12,
            {"core": {"lesson_status": "incomplete", "session_time": "1:30", "lesson_location": "p2"}},
            "cmi.core.session_time",
        ),
        (
            GOLF_2004,
            {"completion_status": "incomplete", "score": {"scaled": "1.5"}, "location": "p2"},
            "cmi.score.scaled",
        ),
        (
            GOLF_2004,
            {"completion_status": "incomplete", "session_time": "90 seconds", "location": "p2"},
            "cmi.session_time",
        ),
    ],
    ids=["1.2 raw=150", "1.2 malformed time", "2004 scaled=1.5", "2004 malformed time"],
)
async def test_values_outside_the_data_model_are_rejected_and_not_stored_while_the_rest_is_kept(
    admin: httpx.AsyncClient, app: Litestar, package: Path, cmi: dict[str, Any], rejected_element: str
) -> None:
    enrollment = await enrolled(admin, app, package)
    config = await launch(admin, enrollment.launch_token)

    reply = await commit(admin, config, cmi)

    assert reply.status_code == 200
    assert [r.split(":")[0] for r in reply.json()["rejected"]] == [rejected_element]
    [state] = (await sco_state(enrollment)).values()
    assert state.location == "p2", "the valid part of the commit is kept"
    assert state.completion is Completion.IN_PROGRESS
    assert state.score_raw is None
    assert state.score_scaled is None
    assert state.session_seconds_total == 0
    row = await current(enrollment)
    assert row.score_raw is None
    assert row.score_percent is None
    assert row.total_seconds == 0


async def test_a_commit_that_is_not_a_json_object_is_refused(admin: httpx.AsyncClient, app: Litestar) -> None:
    enrollment = await enrolled(admin, app, GOLF_12)
    config = await launch(admin, enrollment.launch_token)

    not_json = await admin.post(
        config["commitUrl"], content=b"{core: nope", headers={"content-type": "application/json"}
    )
    a_list = await commit(admin, config, ["core"])

    assert not_json.status_code == 400
    assert not_json.json()["result"] is False
    assert a_list.status_code == 400
    [state] = (await sco_state(enrollment)).values()
    assert state.cmi == {}


async def test_a_commit_for_a_finished_attempt_is_refused_with_409_and_changes_nothing(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enrolled(admin, app, GOLF_2004)
    config = await launch(admin, enrollment.launch_token)
    await commit(admin, config, PASSED_2004, final=True)
    before, state_before = await current(enrollment), await sco_state(enrollment)

    late = await commit(
        admin,
        config,
        {"completion_status": "incomplete", "success_status": "failed", "score": {"scaled": "0.1"}},
    )

    assert late.status_code == 409
    assert late.json()["result"] is False
    assert await current(enrollment) == before
    assert await sco_state(enrollment) == state_before


async def test_a_late_copy_of_a_suspended_session_is_accepted_and_dropped(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enrolled(admin, app, GOLF_2004)
    config = await launch(admin, enrollment.launch_token)
    await commit(
        admin,
        config,
        {"completion_status": "incomplete", "exit": "suspend", "location": "page-3"},
        final=True,
    )
    before, state_before = await current(enrollment), await sco_state(enrollment)

    beacon = await commit(admin, config, {"completion_status": "incomplete", "location": "page-1"})

    assert beacon.status_code == 200
    assert beacon.json()["result"] is True
    assert await current(enrollment) == before
    assert await sco_state(enrollment) == state_before


async def test_a_made_up_launch_token_is_a_404_for_the_player_and_its_commits(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enrolled(admin, app, GOLF_12)
    config = await launch(admin, enrollment.launch_token)
    made_up = "x" * 43

    player = await admin.get(f"{CONTENT}/play/{made_up}")
    forged = await admin.post(config["commitUrl"].replace(enrollment.launch_token, made_up), json=PASSED_12)

    assert player.status_code == 404
    assert forged.status_code == 404
    assert (await current(enrollment)).completion is Completion.NOT_STARTED


async def test_a_commit_naming_a_sco_the_course_does_not_have_is_a_404_and_stores_nothing(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enrolled(admin, app, GOLF_12)
    config = await launch(admin, enrollment.launch_token)
    url = re.sub(r"sco=[^&]+", "sco=no-such-sco", config["commitUrl"])

    stray = await admin.post(url, json=PASSED_12)

    assert stray.status_code == 404
    assert (await current(enrollment)).completion is Completion.NOT_STARTED
    assert set(await sco_state(enrollment)) != {"no-such-sco"}


# --- two tabs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("package", "times"),
    [
        (
            GOLF_12,
            lambda s: {
                "core": {"lesson_status": "incomplete", "session_time": f"0000:{s // 60:02d}:{s % 60:02d}"}
            },
        ),
        (GOLF_2004, lambda s: {"completion_status": "incomplete", "session_time": f"PT{s}S"}),
    ],
    ids=["1.2", "2004"],
)
async def test_two_tabs_committing_alternately_count_each_sessions_time_once(
    admin: httpx.AsyncClient, app: Litestar, package: Path, times: Any, clock: MovableClock
) -> None:
    enrollment = await enrolled(admin, app, package)
    tab_a = await launch(admin, enrollment.launch_token)
    tab_b = await launch(admin, enrollment.launch_token)
    assert tab_a["commitUrl"] != tab_b["commitUrl"]
    clock.offset = timedelta(minutes=5)

    for config, seconds in ((tab_a, 60), (tab_b, 30), (tab_a, 90), (tab_b, 45), (tab_a, 90)):
        reply = await commit(admin, config, times(seconds))
        assert reply.status_code == 200, reply.text

    row = await current(enrollment)
    assert row.total_seconds == pytest.approx(90 + 45)
    assert row.attempts == 1
    assert row.completion is Completion.IN_PROGRESS


# --- time ---------------------------------------------------------------------------------------------


async def test_invented_sessions_claiming_thousands_of_hours_record_only_the_time_the_course_was_open(
    admin: httpx.AsyncClient, app: Litestar, clock: MovableClock
) -> None:
    enrollment = await enrolled(admin, app, GOLF_12)
    opened_at = clock.now()
    config = await launch(admin, enrollment.launch_token)
    clock.offset = timedelta(minutes=10)
    forged = {"core": {"lesson_status": "incomplete", "session_time": "9999:59:59.99"}}

    replies = []
    for n in range(110):
        url = re.sub(r"session=[^&]+", f"session=invented-{n}", config["commitUrl"])
        replies.append((await admin.post(url, json=forged)).status_code)
    own = await commit(admin, config, forged)

    assert replies == [200] * 110
    assert own.status_code == 200
    row = await current(enrollment)
    assert row.completion is Completion.IN_PROGRESS, "the progress in those commits is kept"
    # The clock is the real one moved 10 minutes on, so the course was open 10 minutes plus the time the
    # commits themselves took (seconds on a busy machine): never the hours the commits claim.
    open_seconds = (clock.now() - opened_at).total_seconds()
    assert 10 * 60 <= open_seconds < 3600
    assert 0 < row.total_seconds <= open_seconds
