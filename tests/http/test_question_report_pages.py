"""The question report over HTTP: answers from the built-in player's commits, and from SCORM Cloud's runtime
interactions (respx, reference-shaped); the CSV and XLSX exports."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace

import httpx
import respx
from litestar import Litestar
from test_player_tracking import GOLF_12, commit, enroll, launch, ready_course
from test_scorm_cloud_connect import CLOUD, cloud_admin, cloud_settings  # noqa: F401 - fixtures
from test_scorm_cloud_journey import cloud_enrollment, fixture

from scormhub.domain.scorm.cmi import Completion
from scormhub.integrations.db.uow import PiccoloUnitOfWork

CORRECT = {"pattern": "b"}


def quiz(*answers: tuple[str, str, str]) -> dict[str, object]:
    """A SCORM 1.2 commit that records interactions (question id, response, result)."""
    return {
        "core": {"lesson_status": "incomplete", "session_time": "0000:00:30.00"},
        "interactions": [
            {
                "id": q,
                "type": "choice",
                "student_response": r,
                "result": res,
                "correct_responses": [{"pattern": "b"}],
            }
            for q, r, res in answers
        ],
    }


async def test_the_built_in_players_answers_make_the_question_report_and_its_exports(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app, GOLF_12)
    ada, bob, cy = [await enroll(course, f"{n}@example.com") for n in ("ada", "bob", "cy")]
    for who, answers in (
        (ada, [("q_holes", "b", "correct"), ("q_par", "4", "correct")]),
        (bob, [("q_holes", "a", "wrong"), ("q_holes", "c", "wrong")]),  # answered twice: the last counts
        (cy, [("q_holes", "c", "wrong")]),
    ):
        config = await launch(admin, who.launch_token)
        assert (await commit(admin, config, quiz(*answers))).status_code == 200

    page = await admin.get(f"/app/courses/{course.id}/questions")
    assert page.status_code == 200
    assert 'data-question="q_holes"' in page.text
    holes = page.text.split('data-question="q_holes"', 1)[1].split("</tr>", 1)[0]
    assert "33.3%" in holes  # 1 of 3 learners
    assert "c (2)" in holes
    assert "a (1)" not in holes  # Bob's first try was replaced by his latest answer
    assert f'/app/courses/{course.id}/questions"' in (await admin.get(f"/app/courses/{course.id}")).text

    csv_file = await admin.get(f"/app/courses/{course.id}/questions.csv")
    assert csv_file.status_code == 200
    assert csv_file.headers["content-type"].startswith("text/csv")
    text = csv_file.content.decode("utf-8-sig")
    assert "q_holes,choice,,3,1,33.3,c (2)" in text
    assert "ada@example.com,q_par,4,correct" in text

    xlsx_file = await admin.get(f"/app/courses/{course.id}/questions.xlsx")
    assert xlsx_file.status_code == 200
    with zipfile.ZipFile(io.BytesIO(xlsx_file.content)) as book:
        names = book.namelist()
        shared = book.read("xl/sharedStrings.xml").decode()
    assert "xl/worksheets/sheet2.xml" in names
    assert "q_holes" in shared
    assert "ada@example.com" in shared


async def test_an_empty_report_says_how_questions_appear(admin: httpx.AsyncClient, app: Litestar) -> None:
    course = await ready_course(admin, app, GOLF_12)
    page = await admin.get(f"/app/courses/{course.id}/questions")
    assert page.status_code == 200
    assert "No answers yet" in page.text


async def test_scorm_clouds_runtime_interactions_make_the_question_report(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],  # noqa: F811 - the fixture
) -> None:
    client, app = cloud_admin
    with respx.mock(assert_all_called=False) as router:
        enrollment = await cloud_enrollment(client, app, router)
        async with PiccoloUnitOfWork() as uow:
            await uow.enrollments.save(replace(enrollment, completion=Completion.COMPLETED))
            await uow.commit()
        progress = router.get(f"{CLOUD}/registrations/{enrollment.id}").mock(
            return_value=httpx.Response(200, json=fixture("registration_with_interactions.json"))
        )
        page = await client.get(f"/app/courses/{enrollment.course_id}/questions")

    assert page.status_code == 200
    sent = progress.calls.last.request
    assert sent.url.params["includeInteractionsAndObjectives"] == "true"
    assert sent.url.params["includeRuntime"] == "true"
    assert sent.url.params["includeChildResults"] == "true"
    first = page.text.split('data-question="Question1_1"', 1)[1].split("</tr>", 1)[0]
    assert "0.0%" in first
    assert "c (1)" in first
    assert "How many holes?" in first
    second = page.text.split('data-question="Question2_1"', 1)[1].split("</tr>", 1)[0]
    assert "100.0%" in second


async def test_a_registration_scorm_cloud_cannot_read_is_named_not_fatal(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],  # noqa: F811 - the fixture
) -> None:
    client, app = cloud_admin
    with respx.mock(assert_all_called=False) as router:
        enrollment = await cloud_enrollment(client, app, router)
        async with PiccoloUnitOfWork() as uow:
            await uow.enrollments.save(replace(enrollment, completion=Completion.IN_PROGRESS))
            await uow.commit()
        router.get(f"{CLOUD}/registrations/{enrollment.id}").mock(
            return_value=httpx.Response(404, json=fixture("error_404.json"))
        )
        page = await client.get(f"/app/courses/{enrollment.course_id}/questions")
    assert page.status_code == 200
    assert "could not be read from SCORM Cloud" in page.text
    assert enrollment.learner_name in page.text
