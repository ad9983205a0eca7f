"""Enroll and learn over HTTP: contact book, enrolling from a course page, self-enrollment, plan limits."""

from __future__ import annotations

import asyncio
import html
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
from scormhub.domain.billing.plans import set_operator_plan
from scormhub.domain.model import TRIAL_REGISTRATION_LIMIT, Course, Enrollment, PlanMode, Workspace
from scormhub.integrations.clock import SystemClock
from scormhub.integrations.db.tables import ContactRow
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.local_crm import LocalContactBook
from scormhub.jobs.courses import import_course
from scormhub.routes.learn import (
    ENROLL_PER_COURSE_PER_HOUR,
    ENROLL_PER_COURSE_PER_MINUTE,
    ENROLL_PER_IP_PER_HOUR,
    ENROLL_PER_IP_PER_MINUTE,
)
from shared_packages import PACKAGES

GOLF_12 = PACKAGES / "valid" / "RuntimeBasicCalls_SCORM12.zip"
GOLF_2004 = PACKAGES / "valid" / "RuntimeBasicCalls_SCORM20043rdEdition.zip"
HX = {"HX-Request": "true"}


# --- helpers ------------------------------------------------------------------------------------------


async def upload(admin: httpx.AsyncClient, package: Path) -> str:
    await admin.get("/app/courses")
    response = await admin.post(
        "/app/courses",
        data={"_csrf_token": csrf_of(admin)},
        files={"package": (package.name, package.read_bytes(), "application/zip")},
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


async def ready_course(admin: httpx.AsyncClient, app: Litestar, package: Path = GOLF_12) -> Course:
    course_url = await upload(admin, package)
    deps = app.state.deps
    workspace = await standalone()
    course_id = course_url.rsplit("/", 1)[1]
    await import_course({"deps": deps}, workspace_id=str(workspace.id), course_id=course_id)
    async with PiccoloUnitOfWork() as uow:
        course = await uow.courses.get(workspace.id, UUID(course_id))
    assert course is not None
    assert course.status.value == "ready"
    return course


async def standalone() -> Workspace:
    async with PiccoloUnitOfWork() as uow:
        workspace = await uow.workspaces.get_standalone()
    assert workspace is not None
    return workspace


async def enroll_directly(course: Course, first: str, last: str, email: str) -> Enrollment:
    book = LocalContactBook(course.workspace_id)
    contact = await book.upsert_contact(first_name=first, last_name=last, email=email)
    result = await cases.enroll_contact(
        course.workspace_id,
        course.id,
        contact.id,
        uow=PiccoloUnitOfWork(),
        contacts=book,
        clock=SystemClock(),
    )
    return result.enrollment


async def fill_seats(course: Course, count: int) -> list[Enrollment]:
    return [await enroll_directly(course, "Seat", f"Holder{i}", f"seat{i}@example.com") for i in range(count)]


async def enrollments_of(course: Course) -> list[Enrollment]:
    async with PiccoloUnitOfWork() as uow:
        return await uow.enrollments.list_for_course(course.workspace_id, course.id, limit=1000)


async def used_seats() -> int:
    workspace = await standalone()
    async with PiccoloUnitOfWork() as uow:
        return await uow.enrollments.count_for_workspace(workspace.id)


async def post_form(
    client: httpx.AsyncClient, url: str, data: dict[str, str], **kw: object
) -> httpx.Response:
    return await client.post(url, data={"_csrf_token": csrf_of(client), **data}, **kw)  # type: ignore[arg-type]


async def self_enroll(
    client: httpx.AsyncClient, token: str, first: str, last: str, email: str
) -> httpx.Response:
    await client.get(f"/enroll/{token}")
    return await post_form(
        client, f"/enroll/{token}", {"first_name": first, "last_name": last, "email": email}
    )


def client_from(app: Litestar, source: httpx.AsyncClient, ip: str) -> httpx.AsyncClient:
    """Another browser at another address, holding the same CSRF cookie (the app is already running)."""
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    other = httpx.AsyncClient(transport=transport, base_url="http://testserver.local")
    other.cookies.set("csrftoken", csrf_of(source))
    return other


# --- the contact book ---------------------------------------------------------------------------------


async def test_adding_a_contact_opens_its_page_and_the_same_email_again_says_who_has_it(
    admin: httpx.AsyncClient,
) -> None:
    await admin.get("/app/contacts")
    first = await post_form(
        admin, "/app/contacts", {"first_name": " Ada ", "last_name": "Lovelace", "email": "Ada@Example.COM"}
    )
    again = await post_form(
        admin, "/app/contacts", {"first_name": "Someone", "last_name": "Else", "email": "ada@example.com "}
    )

    assert first.status_code == 303
    assert again.status_code == 409
    assert "Ada Lovelace already has the email ada@example.com." in again.text
    assert f'<a href="{first.headers["location"]}">Open Ada Lovelace</a>' in again.text
    assert 'value="Someone"' in again.text  # the form is kept, to correct the email
    page = await admin.get(first.headers["location"])
    assert "<h1>Ada Lovelace</h1>" in page.text
    assert "ada@example.com" in page.text
    assert "Not enrolled in any course." in page.text
    assert await ContactRow.count() == 1


async def test_a_contact_with_a_bad_email_is_refused_with_a_message_and_the_form_kept(
    admin: httpx.AsyncClient,
) -> None:
    await admin.get("/app/contacts")
    response = await post_form(
        admin, "/app/contacts", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada-at-example"}
    )

    assert response.status_code == 422
    assert "Enter an email address like name@example.com." in response.text
    assert 'value="Ada"' in response.text
    assert await ContactRow.count() == 0


async def test_searching_contacts_finds_by_name_or_email_and_htmx_gets_only_the_rows(
    admin: httpx.AsyncClient,
) -> None:
    workspace = await standalone()
    book = LocalContactBook(workspace.id)
    await book.upsert_contact(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    await book.upsert_contact(first_name="Grace", last_name="Hopper", email="grace@navy.example")

    page = await admin.get("/app/contacts", params={"q": "love"})
    by_email = await admin.get("/app/contacts", params={"q": "NAVY"}, headers=HX)
    nothing = await admin.get("/app/contacts", params={"q": "100%_"}, headers=HX)

    assert "Ada Lovelace" in page.text
    assert "Grace Hopper" not in page.text
    assert "<html" in page.text
    assert "Grace Hopper" in by_email.text
    assert "Ada Lovelace" not in by_email.text
    assert "<html" not in by_email.text
    assert by_email.headers["vary"] == "HX-Request"
    assert "No contact matches" in nothing.text


async def test_a_contact_page_shows_its_tags_notes_and_enrollments(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    enrollment = await enroll_directly(course, "Ada", "Lovelace", "ada@example.com")
    contact_id = UUID(enrollment.contact_id)
    book = LocalContactBook(course.workspace_id)
    await book.add_tags(str(contact_id), ["scorm_completed", "vip"])
    await book.add_note(str(contact_id), "Finished the golf course <quickly>", idempotency_key="note-1")

    page = await admin.get(f"/app/contacts/{contact_id}")
    listing = await admin.get("/app/contacts")

    assert page.status_code == 200
    assert '<span class="badge">vip</span>' in page.text
    assert "Finished the golf course &lt;quickly&gt;" in page.text
    assert f'href="/app/courses/{course.id}">Golf Explained - Run-time Basic Calls</a>' in page.text
    assert "Not Started" in page.text
    assert '<span class="badge">scorm_completed</span>' in listing.text


async def test_an_unknown_or_malformed_contact_id_is_a_404(admin: httpx.AsyncClient) -> None:
    assert (await admin.get(f"/app/contacts/{UUID(int=7)}")).status_code == 404
    assert (await admin.get("/app/contacts/not-a-uuid")).status_code == 404


# --- enrolling from the course page ------------------------------------------------------------------


async def test_type_ahead_search_on_the_course_page_offers_enroll_buttons_with_and_without_htmx(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    book = LocalContactBook(course.workspace_id)
    ada = await book.upsert_contact(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    await book.upsert_contact(first_name="Grace", last_name="Hopper", email="grace@example.com")

    partial = await admin.get(f"/app/courses/{course.id}/contacts", params={"q": "ada"}, headers=HX)
    full = await admin.get(f"/app/courses/{course.id}/contacts", params={"q": "ada"})
    none = await admin.get(f"/app/courses/{course.id}/contacts", params={"q": "zzz"}, headers=HX)

    assert "Ada Lovelace" in partial.text
    assert "Grace Hopper" not in partial.text
    assert f'name="contact_id" value="{ada.id}"' in partial.text
    assert "<html" not in partial.text
    assert "<html" in full.text
    assert f'value="{ada.id}"' in full.text
    assert 'id="enrolled"' in full.text, "the plain form lands on the course page, table included"
    assert "No contact matches “zzz”" in none.text


async def test_enrolling_from_search_updates_the_table_in_place_and_twice_is_a_no_op(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    book = LocalContactBook(course.workspace_id)
    ada = await book.upsert_contact(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    await admin.get(f"/app/courses/{course.id}")

    first = await post_form(
        admin, f"/app/courses/{course.id}/enrollments", {"contact_id": ada.id}, headers=HX
    )
    second = await post_form(
        admin, f"/app/courses/{course.id}/enrollments", {"contact_id": ada.id}, headers=HX
    )

    assert first.status_code == 200
    assert 'id="enrolled"' in first.text
    assert "<html" not in first.text
    assert "Ada Lovelace is enrolled." in first.text
    assert '<span class="muted small break">ada@example.com</span>' in first.text
    assert "Not Started" in first.text
    assert "Ada Lovelace was already enrolled." in second.text
    assert 'Enrolled <span class="muted">(1)</span>' in second.text
    assert len(await enrollments_of(course)) == 1


async def test_enrolling_without_javascript_redirects_back_with_a_notice(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    await admin.get(f"/app/courses/{course.id}")

    response = await post_form(
        admin,
        f"/app/courses/{course.id}/enrollments",
        {"first_name": "Grace", "last_name": "Hopper", "email": "Grace@Example.com"},
    )
    page = await admin.get(response.headers["location"])

    assert response.status_code == 303
    assert "Grace Hopper is enrolled." in page.text
    assert '<span class="muted small break">grace@example.com</span>' in page.text
    [enrollment] = await enrollments_of(course)
    assert enrollment.learner_name == "Grace Hopper"


async def test_enrolling_with_a_bad_email_says_why_and_enrolls_nobody(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    await admin.get(f"/app/courses/{course.id}")

    response = await post_form(
        admin,
        f"/app/courses/{course.id}/enrollments",
        {"first_name": "Grace", "last_name": "Hopper", "email": "grace@"},
        headers=HX,
    )

    assert "Enter an email address like name@example.com." in response.text
    assert await enrollments_of(course) == []


async def test_the_enrolled_table_shows_every_column_and_pages_by_25(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    await set_operator_plan(
        course.workspace_id, PlanMode.LIVE, None, uow=PiccoloUnitOfWork(), clock=SystemClock()
    )
    await fill_seats(course, 27)

    page_one = await admin.get(f"/app/courses/{course.id}")
    page_two = await admin.get(f"/app/courses/{course.id}/enrollments", params={"page": "2"}, headers=HX)
    no_js = await admin.get(f"/app/courses/{course.id}/enrollments", params={"page": "2"})

    # Fewer, richer columns: result beside progress, time and attempts under the score, first access
    # under the last; each header sorts.
    for header in ("Learner", "Progress", "Score", "Last active", "Completed"):
        assert re.search(
            rf'<th scope="col" aria-sort="[a-z]+">\s*<a class="sort"[^>]*>{header}<svg', page_one.text
        )
    assert page_one.text.count(" attempts</span>") == 25
    assert page_one.text.count('<details class="row-menu">') == 25
    assert page_one.text.count(">Launch</a>") == 25
    assert "Page 1 of 2" in page_one.text
    assert page_two.text.count(">Launch</a>") == 2
    assert "Page 2 of 2" in page_two.text
    assert no_js.status_code == 303
    assert no_js.headers["location"].endswith("?page=2")
    assert (await admin.get(no_js.headers["location"])).text.count(">Launch</a>") == 2


async def test_launch_from_the_table_opens_that_enrollments_player_and_nothing_else(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    other = await ready_course(admin, app, GOLF_2004)
    enrollment = await enroll_directly(course, "Ada", "Lovelace", "ada@example.com")

    launch = await admin.get(f"/app/courses/{course.id}/enrollments/{enrollment.id}/launch")
    wrong_course = await admin.get(f"/app/courses/{other.id}/enrollments/{enrollment.id}/launch")
    player = await admin.get(launch.headers["location"], follow_redirects=True)

    assert launch.status_code == 303
    assert launch.headers["location"] == f"/play/{enrollment.launch_token}"
    assert wrong_course.status_code == 404
    assert player.status_code == 200
    assert f"/play/{enrollment.launch_token}/commit" in player.text


async def test_launch_tokens_are_long_and_distinct_and_a_made_up_one_is_a_404(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    seats = await fill_seats(course, 3)

    tokens = {e.launch_token for e in seats}
    made_up = await admin.get(CONTENT + "/play/" + "A" * 43)
    made_up_content = await admin.get(CONTENT + "/play/" + "A" * 43 + "/content/shared/launchpage.html")

    assert len(tokens) == 3
    assert all(len(t) >= 43 for t in tokens), "256 bits, URL-safe"
    assert made_up.status_code == 404
    assert made_up_content.status_code == 404


async def test_content_urls_of_one_enrollment_cannot_reach_another_courses_files(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course_a = await ready_course(admin, app, GOLF_12)
    course_b = await ready_course(admin, app, GOLF_2004)
    in_a = await enroll_directly(course_a, "Ada", "Lovelace", "ada@example.com")
    in_b = await enroll_directly(course_b, "Ada", "Lovelace", "ada@example.com")
    b_only = "adlcp_v1p3.xsd"  # only the 2004 package has it

    own = await admin.get(f"{CONTENT}/play/{in_a.launch_token}/content/shared/launchpage.html")
    b_own = await admin.get(f"{CONTENT}/play/{in_b.launch_token}/content/{b_only}")
    attempts = [
        f"{CONTENT}/play/{in_a.launch_token}/content/{b_only}",
        f"{CONTENT}/play/{in_a.launch_token}/content/../{course_b.id}/{b_only}",
        f"{CONTENT}/play/{in_a.launch_token}/content/%2e%2e/{course_b.id}/{b_only}",
        f"{CONTENT}/play/{in_a.launch_token}/content/..%2f{course_b.id}%2f{b_only}",
    ]

    assert own.status_code == 200
    assert b_own.status_code == 200
    for url in attempts:
        assert (await admin.get(url)).status_code == 404, url


# --- self-enrollment -----------------------------------------------------------------------------------


async def test_self_enrollment_enrolls_and_launches_at_once(admin: httpx.AsyncClient, app: Litestar) -> None:
    course = await ready_course(admin, app)
    client = admin
    client.cookies.delete("scormhub_session")  # the learner has no account

    form = await client.get(f"/enroll/{course.self_enroll_token}")
    response = await self_enroll(client, course.self_enroll_token, "Ada", "Lovelace", "ada@example.com")

    assert form.status_code == 200
    assert "Golf Explained - Run-time Basic Calls" in form.text
    assert response.status_code == 303
    [enrollment] = await enrollments_of(course)
    assert response.headers["location"] == f"/play/{enrollment.launch_token}"
    assert enrollment.self_enrolled
    assert enrollment.learner_email == "ada@example.com"
    player = await client.get(response.headers["location"], follow_redirects=True)
    assert player.status_code == 200
    assert 'id="player-config"' in player.text


async def test_the_same_email_on_the_same_course_resumes_the_same_enrollment(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)

    first = await self_enroll(admin, course.self_enroll_token, "Ada", "Lovelace", "ada@example.com")
    again = await self_enroll(admin, course.self_enroll_token, "A.", "L.", "  ADA@example.com ")

    assert first.status_code == again.status_code == 303
    assert again.headers["location"] == first.headers["location"]
    [enrollment] = await enrollments_of(course)
    assert enrollment.learner_name == "Ada Lovelace", "a public form does not rewrite someone's record"


PLAY_URL = re.compile(r"^/play/[A-Za-z0-9_-]{43}$")


def player_config(page: httpx.Response) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="player-config">(.*?)</script>', page.text, re.S)
    assert found, page.text
    config: dict[str, Any] = json.loads(found.group(1))
    return config


async def test_knowing_a_learners_email_neither_opens_their_session_nor_changes_their_result(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    victim = await self_enroll(admin, course.self_enroll_token, "Ada", "Lovelace", "ada@example.com")
    own = player_config(await admin.get(victim.headers["location"], follow_redirects=True))
    passed = {"core": {"lesson_status": "passed", "score": {"raw": "95"}, "exit": ""}, "suspend_data": "p9"}
    assert (await admin.post(own["commitUrl"] + "&final=true", json=passed)).status_code == 200

    async with client_from(app, admin, "203.0.113.66") as attacker:
        taken = await self_enroll(attacker, course.self_enroll_token, "Eve", "Mallory", "ADA@Example.com")
        page = await attacker.get(taken.headers["location"], follow_redirects=True)
        config = player_config(page)
        failed = {"core": {"lesson_status": "failed", "score": {"raw": "3"}, "exit": ""}}
        forged = await attacker.post(config["commitUrl"] + "&final=true", json=failed)
        exit_page = await attacker.get(config["exitUrl"])
        certificate = await attacker.get(f"{taken.headers['location']}/certificate")
    back = await self_enroll(admin, course.self_enroll_token, "Ada", "Lovelace", "ada@example.com")

    [enrollment] = await enrollments_of(course)
    assert taken.status_code == 303
    assert PLAY_URL.match(taken.headers["location"])
    assert taken.headers["location"] != victim.headers["location"]
    assert page.status_code == 200
    assert "p9" not in page.text, "nothing of the learner's shows"
    assert "95" not in json.dumps(config)
    assert forged.status_code == 200, "the review player behaves like any other"
    assert "Passed" not in exit_page.text
    assert "95" not in exit_page.text
    assert certificate.status_code == 404
    assert (enrollment.success.value, enrollment.score_percent) == ("passed", 95.0)
    assert enrollment.learner_name == "Ada Lovelace"
    assert back.headers["location"] == victim.headers["location"], "the learner's own browser resumes"


async def test_the_answer_does_not_tell_whether_an_email_is_enrolled(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    await enroll_directly(course, "Ada", "Lovelace", "ada@example.com")

    async with client_from(app, admin, "203.0.113.70") as prober:
        enrolled = await self_enroll(prober, course.self_enroll_token, "Eve", "M", "ada@example.com")
    async with client_from(app, admin, "203.0.113.71") as prober:
        stranger = await self_enroll(prober, course.self_enroll_token, "Eve", "M", "nobody@example.com")
    await fill_seats(course, TRIAL_REGISTRATION_LIMIT - 2)
    async with client_from(app, admin, "203.0.113.72") as prober:
        full_enrolled = await self_enroll(prober, course.self_enroll_token, "Eve", "M", "ada@example.com")
    async with client_from(app, admin, "203.0.113.73") as prober:
        full_stranger = await self_enroll(prober, course.self_enroll_token, "Eve", "M", "late@example.com")

    def shape(response: httpx.Response) -> tuple[object, ...]:
        cookie = response.headers.get("set-cookie", "")
        return (
            response.status_code,
            PLAY_URL.sub("/play/TOKEN", response.headers.get("location", "")),
            re.sub(r"=[A-Za-z0-9_-]{43};", "=TOKEN;", cookie),
            response.text,
        )

    assert enrolled.status_code == 303
    assert shape(enrolled) == shape(stranger)
    assert full_enrolled.status_code == 403
    assert shape(full_enrolled) == shape(full_stranger)
    assert await used_seats() == TRIAL_REGISTRATION_LIMIT


async def test_an_unknown_or_unready_course_link_says_course_not_available(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    processing_url = await upload(admin, GOLF_12)
    workspace = await standalone()
    async with PiccoloUnitOfWork() as uow:
        processing = await uow.courses.get(workspace.id, UUID(processing_url.rsplit("/", 1)[1]))
    assert processing is not None

    unknown_get = await admin.get("/enroll/no-such-course-token")
    unready_get = await admin.get(f"/enroll/{processing.self_enroll_token}")
    unknown_post = await post_form(
        admin,
        "/enroll/no-such-course-token",
        {"first_name": "Ada", "last_name": "L", "email": "a@example.com"},
    )
    unready_bad_input = await post_form(
        admin, f"/enroll/{processing.self_enroll_token}", {"first_name": "", "last_name": "", "email": "x"}
    )

    for response in (unknown_get, unready_get, unknown_post, unready_bad_input):
        assert response.status_code == 404
        assert "Course not available" in response.text
    assert await used_seats() == 0


@pytest.mark.parametrize(
    ("first", "last", "email", "message"),
    [
        ("Ada", "Lovelace", "not-an-email", "Enter an email address like name@example.com."),
        ("Ada", "Lovelace", "", "Enter an email address."),
        ("   ", "Lovelace", "ada@example.com", "Enter a first name."),
        ("Ada", "", "ada@example.com", "Enter a last name."),
        ("A" * 10_240, "Lovelace", "ada@example.com", "The first name is too long"),
        ("Ada\u0000", "Lovelace", "ada@example.com", "characters that can&#39;t be shown"),
    ],
)
async def test_self_enrollment_with_bad_input_explains_and_enrolls_nobody(
    admin: httpx.AsyncClient, app: Litestar, first: str, last: str, email: str, message: str
) -> None:
    course = await ready_course(admin, app)

    response = await self_enroll(admin, course.self_enroll_token, first, last, email)

    assert response.status_code == 422
    assert message in response.text
    assert await used_seats() == 0
    assert await ContactRow.count() == 0


async def test_html_in_names_is_shown_escaped_on_every_page(admin: httpx.AsyncClient, app: Litestar) -> None:
    course = await ready_course(admin, app)
    evil_first, evil_last = "<script>alert(1)</script>", '<img src=x onerror="alert(2)">'

    response = await self_enroll(admin, course.self_enroll_token, evil_first, evil_last, "evil@example.com")
    [enrollment] = await enrollments_of(course)
    pages = {
        "course page": await admin.get(f"/app/courses/{course.id}"),
        "enrolled table": await admin.get(f"/app/courses/{course.id}/enrollments", headers=HX),
        "contacts page": await admin.get("/app/contacts"),
        "contact page": await admin.get(f"/app/contacts/{enrollment.contact_id}"),
        "search": await admin.get(f"/app/courses/{course.id}/contacts", params={"q": "evil"}, headers=HX),
        "exit page": await admin.get(f"{response.headers['location']}/exit"),
    }

    assert response.status_code == 303
    for where, page in pages.items():
        assert page.status_code == 200, where
        assert "<script>alert(1)</script>" not in page.text, where
        assert "<img src=x" not in page.text, where
    for where in ("course page", "enrolled table", "contacts page", "contact page", "search"):
        assert html.escape(evil_first, quote=False) in pages[where].text.replace("&#34;", '"'), where


async def test_a_class_of_forty_behind_one_office_address_all_enroll_within_a_minute(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    await admin.get("/app/settings")
    # The operator lifts the trial's 10 (`scormhub plan set live`).
    await set_operator_plan(
        course.workspace_id, PlanMode.LIVE, None, uow=PiccoloUnitOfWork(), clock=SystemClock()
    )
    await admin.get(f"/enroll/{course.self_enroll_token}")

    statuses = []
    for i in range(40):
        async with client_from(app, admin, "203.0.113.40") as learner:
            response = await post_form(
                learner,
                f"/enroll/{course.self_enroll_token}",
                {"first_name": "Pupil", "last_name": str(i), "email": f"pupil{i}@example.com"},
            )
            statuses.append(response.status_code)

    assert statuses == [303] * 40
    assert len(await enrollments_of(course)) == 40


async def test_self_enrollment_is_limited_per_address(
    admin: httpx.AsyncClient, app: Litestar, clock: MovableClock
) -> None:
    course = await ready_course(admin, app)
    await admin.get(f"/enroll/{course.self_enroll_token}")
    url = f"/enroll/{course.self_enroll_token}"
    bad = {"first_name": "A", "last_name": "B", "email": "nope"}

    minute = [(await post_form(admin, url, bad)).status_code for _ in range(ENROLL_PER_IP_PER_MINUTE)]
    blocked = await post_form(admin, url, {"first_name": "A", "last_name": "B", "email": "ok@example.com"})
    async with client_from(app, admin, "203.0.113.9") as elsewhere:
        other_address = await post_form(elsewhere, url, {**bad, "email": "ok@example.com"})
    # A script that keeps going minute after minute runs into the hourly budget.
    answered = len(minute)
    for step in range(1, 10):
        clock.offset = timedelta(minutes=step)
        for _ in range(ENROLL_PER_IP_PER_MINUTE):
            if (await post_form(admin, url, bad)).status_code != 422:
                break
            answered += 1
    clock.offset = timedelta(minutes=59)
    still_blocked = await post_form(admin, url, bad)
    clock.offset = timedelta(minutes=61)
    reopened = await post_form(admin, url, bad)

    assert minute == [422] * ENROLL_PER_IP_PER_MINUTE
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.text
    assert other_address.status_code == 303, "another address has its own budget"
    assert answered == ENROLL_PER_IP_PER_HOUR
    assert still_blocked.status_code == 429
    assert reopened.status_code == 422
    assert await used_seats() == 1


async def test_self_enrollment_is_limited_per_course(
    admin: httpx.AsyncClient, app: Litestar, clock: MovableClock
) -> None:
    course = await ready_course(admin, app)
    other = await ready_course(admin, app, GOLF_2004)
    await admin.get(f"/enroll/{course.self_enroll_token}")
    bad = {"first_name": "A", "last_name": "B", "email": "nope"}

    async def from_many_addresses(count: int, token: str, start: int = 0) -> list[int]:
        answers = []
        for i in range(start, start + count):
            async with client_from(app, admin, f"198.51.{i // 40}.{i % 40 + 1}") as learner:
                answers.append((await post_form(learner, f"/enroll/{token}", bad)).status_code)
        return answers

    first_minute = await from_many_addresses(ENROLL_PER_COURSE_PER_MINUTE + 1, course.self_enroll_token)
    other_course = await from_many_addresses(1, other.self_enroll_token, start=5000)
    later: list[int] = []
    for step in range(1, 10):
        clock.offset = timedelta(minutes=step)
        later += await from_many_addresses(ENROLL_PER_COURSE_PER_MINUTE, course.self_enroll_token, step * 200)

    assert first_minute[:-1] == [422] * ENROLL_PER_COURSE_PER_MINUTE
    assert first_minute[-1] == 429
    assert other_course == [422], "another course has its own budget"
    assert ENROLL_PER_COURSE_PER_MINUTE + later.count(422) == ENROLL_PER_COURSE_PER_HOUR
    assert later[-1] == 429


# --- plan limits -------------------------------------------------------------------------------------


async def test_a_full_trial_blocks_admin_enrollment_with_a_clear_message(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    await fill_seats(course, TRIAL_REGISTRATION_LIMIT)
    await admin.get(f"/app/courses/{course.id}")

    blocked = await post_form(
        admin,
        f"/app/courses/{course.id}/enrollments",
        {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"},
        headers=HX,
    )

    assert "trial plan, which allows 10 active registrations" in blocked.text
    assert "Trial: 10 of 10 registrations used" in blocked.text
    assert "Grace Hopper" not in blocked.text
    assert await used_seats() == TRIAL_REGISTRATION_LIMIT


async def test_a_full_trial_closes_self_enrollment_but_enrolled_learners_still_get_in(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    ada = await self_enroll(admin, course.self_enroll_token, "Ada", "Lovelace", "ada@example.com")
    seats = await fill_seats(course, TRIAL_REGISTRATION_LIMIT - 1)

    newcomer = await self_enroll(admin, course.self_enroll_token, "Grace", "Hopper", "grace@example.com")
    returning = await self_enroll(admin, course.self_enroll_token, "Ada", "Lovelace", "ADA@example.com")
    unproven = await self_enroll(admin, course.self_enroll_token, "Seat", "Holder3", "SEAT3@example.com")

    assert newcomer.status_code == 403
    assert "Enrollment is closed for now" in newcomer.text
    assert returning.status_code == 303, "the browser that enrolled gets back in"
    assert returning.headers["location"] == ada.headers["location"]
    assert (unproven.status_code, unproven.text) == (newcomer.status_code, newcomer.text)
    assert (await admin.get(f"{CONTENT}/play/{seats[3].launch_token}")).status_code == 200, (
        "their own link works"
    )
    assert await used_seats() == TRIAL_REGISTRATION_LIMIT


async def test_settings_show_usage_and_the_operator_going_live_lifts_the_limit(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    await fill_seats(course, 7)

    trial = await admin.get("/app/settings")
    await fill_seats(course, TRIAL_REGISTRATION_LIMIT)
    refused = await self_enroll(admin, course.self_enroll_token, "Grace", "Hopper", "grace@example.com")
    await set_operator_plan(
        course.workspace_id, PlanMode.LIVE, None, uow=PiccoloUnitOfWork(), clock=SystemClock()
    )
    accepted = await self_enroll(admin, course.self_enroll_token, "Grace", "Hopper", "grace@example.com")
    live = await admin.get("/app/settings")

    assert "<strong>7 of 10</strong> in use" in trial.text
    assert refused.status_code == 403
    assert "scormhub plan set live" in trial.text, (
        "standalone: the operator decides, no button pretends to bill"
    )
    assert 'action="/app/settings/go-live"' not in trial.text
    assert accepted.status_code == 303
    assert "11 active · no limit" in live.text
    assert await used_seats() == 11


async def test_removing_an_enrollment_frees_a_seat(admin: httpx.AsyncClient, app: Litestar) -> None:
    course = await ready_course(admin, app)
    seats = await fill_seats(course, TRIAL_REGISTRATION_LIMIT)
    await admin.get(f"/app/courses/{course.id}")

    removed = await post_form(
        admin, f"/app/courses/{course.id}/enrollments/{seats[0].id}/delete", {}, headers=HX
    )
    joined = await self_enroll(admin, course.self_enroll_token, "Grace", "Hopper", "grace@example.com")

    assert "Seat Holder0 was removed from this course." in removed.text
    assert "Trial: 9 of 10 registrations used" in removed.text
    assert joined.status_code == 303
    assert (await admin.get(f"{CONTENT}/play/{seats[0].launch_token}")).status_code == 404, (
        "the old link is dead"
    )
    assert await used_seats() == TRIAL_REGISTRATION_LIMIT


async def test_twenty_concurrent_self_enrollments_for_the_last_seat_admit_exactly_one(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app)
    await fill_seats(course, TRIAL_REGISTRATION_LIMIT - 1)
    await admin.get(f"/enroll/{course.self_enroll_token}")
    url = f"/enroll/{course.self_enroll_token}"

    async def attempt(i: int) -> int:
        async with client_from(app, admin, f"192.0.2.{i + 1}") as learner:
            response = await post_form(
                learner, url, {"first_name": "Racer", "last_name": str(i), "email": f"racer{i}@example.com"}
            )
            return response.status_code

    statuses = await asyncio.gather(*(attempt(i) for i in range(20)))

    assert sorted(statuses) == [303] + [403] * 19
    assert await used_seats() == TRIAL_REGISTRATION_LIMIT
