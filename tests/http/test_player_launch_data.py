"""What a SCO finds in its data model when the player opens it, and how a multi-SCO SCORM 1.2 course
rolls up: every SCO visited completes the course, attempts count launches of the course."""

from __future__ import annotations

import zipfile
from datetime import timedelta
from pathlib import Path

import httpx
from litestar import Litestar
from movable_clock import MovableClock
from test_player_tracking import commit, current, enroll, launch, ready_course, sco_state

from appserver import CONTENT
from scormhub.domain.scorm.cmi import Completion, Success
from shared_packages import PACKAGES

VALID = PACKAGES / "valid"
MINIMUM_CALLS_12 = VALID / "RuntimeMinimumCalls_SCORM12.zip"
ASSETS_ONLY_12 = VALID / "ContentPackagingOneFilePerSCO_SCORM12.zip"
ADVANCED_2004 = VALID / "RunTimeAdvancedCalls_SCORM20043rdEdition.zip"

CP12 = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"
ADLCP12 = "http://www.adlnet.org/xsd/adlcp_rootv1p2"

# What scorm-again sends at LMSFinish for a SCO that set nothing, with the settings the page gives it
# (autoCompleteLessonStatus): the LMS's "completed", and no session time.
FINISHED_WITHOUT_STATUS = {"core": {"lesson_status": "completed", "session_time": "00:00:00", "exit": ""}}


def scorm12_package(folder: Path, *, inner: str) -> Path:
    """One SCO whose <item> carries `inner` (adlcp:* launch data)."""
    manifest = (
        f'<manifest identifier="m" version="1" xmlns="{CP12}" xmlns:adlcp="{ADLCP12}">'
        "<metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>"
        '<organizations default="org"><organization identifier="org"><title>Launch data</title>'
        f'<item identifier="lesson" identifierref="res"><title>Lesson</title>{inner}</item>'
        "</organization></organizations><resources>"
        '<resource identifier="res" type="webcontent" adlcp:scormtype="sco" href="index.html">'
        '<file href="index.html"/></resource></resources></manifest>'
    )
    path = folder / "launch_data.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("imsmanifest.xml", manifest)
        zf.writestr("index.html", "<html>lesson</html>")
    return path


async def test_a_scorm12_sco_starts_with_the_learner_credit_launch_data_mastery_and_time_limit(
    admin: httpx.AsyncClient, app: Litestar, tmp_path: Path
) -> None:
    package = scorm12_package(
        tmp_path,
        inner=(
            "<adlcp:datafromlms>level=2;lang=en</adlcp:datafromlms>"
            "<adlcp:masteryscore>80</adlcp:masteryscore>"
            "<adlcp:maxtimeallowed>00:30:00</adlcp:maxtimeallowed>"
            "<adlcp:timelimitaction>exit,message</adlcp:timelimitaction>"
        ),
    )
    enrollment = await enroll(await ready_course(admin, app, package), "ada@example.com")

    config = await launch(admin, enrollment.launch_token)

    cmi = config["resume"]
    assert cmi["core"]["student_id"] == enrollment.contact_id
    assert cmi["core"]["student_name"] == "Lovelace, Ada"
    assert (cmi["core"]["credit"], cmi["core"]["lesson_mode"], cmi["core"]["entry"]) == (
        "credit",
        "normal",
        "ab-initio",
    )
    assert cmi["launch_data"] == "level=2;lang=en"
    assert cmi["student_data"] == {
        "mastery_score": "80",
        "max_time_allowed": "00:30:00",
        "time_limit_action": "exit,message",
    }
    assert config["apiSettings"]["autoCompleteLessonStatus"] is True


async def test_a_scorm12_sco_that_finishes_with_a_score_and_no_status_is_judged_by_its_mastery_score(
    admin: httpx.AsyncClient, app: Litestar, tmp_path: Path
) -> None:
    package = scorm12_package(tmp_path, inner="<adlcp:masteryscore>80</adlcp:masteryscore>")
    enrollment = await enroll(await ready_course(admin, app, package), "ada@example.com")
    config = await launch(admin, enrollment.launch_token)

    # A player that left the status as the SCO found it ("not attempted"): the server decides.
    reply = await commit(
        admin, config, {"core": {"lesson_status": "not attempted", "score": {"raw": "65"}}}, final=True
    )

    assert reply.status_code == 200
    row = await current(enrollment)
    assert (row.completion, row.success) == (Completion.COMPLETED, Success.FAILED)


async def test_a_suspended_sco_resumes_with_entry_resume_and_a_finished_one_does_not(
    admin: httpx.AsyncClient, app: Litestar, tmp_path: Path
) -> None:
    package = scorm12_package(tmp_path, inner="")
    enrollment = await enroll(await ready_course(admin, app, package), "ada@example.com")

    first = await launch(admin, enrollment.launch_token)
    await commit(admin, first, {"core": {"lesson_status": "incomplete", "exit": "suspend"}}, final=True)
    second = await launch(admin, enrollment.launch_token)
    await commit(admin, second, {"core": {"lesson_status": "incomplete", "exit": ""}}, final=True)
    third = await launch(admin, enrollment.launch_token)

    assert first["resume"]["core"]["entry"] == "ab-initio"
    assert second["resume"]["core"]["entry"] == "resume"
    assert third["resume"]["core"]["entry"] == ""
    assert third["resume"]["core"]["student_name"] == "Lovelace, Ada"


async def test_a_scorm2004_sco_starts_with_the_learner_its_passing_score_and_its_objectives(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enroll(await ready_course(admin, app, ADVANCED_2004), "ada@example.com")

    cmi = (await launch(admin, enrollment.launch_token))["resume"]

    assert (cmi["learner_id"], cmi["learner_name"]) == (enrollment.contact_id, "Lovelace, Ada")
    assert (cmi["credit"], cmi["mode"], cmi["entry"]) == ("credit", "normal", "ab-initio")
    assert cmi["scaled_passing_score"] == "0.8"
    ids = [record["id"] for record in cmi["objectives"].values()]
    assert ids[:2] == ["PRIMARYOBJ", "obj_etiquette"]
    assert len(ids) == len(set(ids))


async def test_the_minimum_calls_course_completes_once_every_sco_has_been_visited(
    admin: httpx.AsyncClient, app: Litestar, clock: MovableClock
) -> None:
    course = await ready_course(admin, app, MINIMUM_CALLS_12)
    enrollment = await enroll(course, "ada@example.com")
    assert len(course.scos) == 18

    statuses = []
    for number, sco in enumerate(course.scos):
        # The learner opens the course, then moves through its contents (links name the SCO).
        config = await launch(
            admin, enrollment.launch_token + ("" if number == 0 else f"?sco={sco.identifier}")
        )
        clock.offset += timedelta(minutes=1)
        reply = await commit(admin, config, FINISHED_WITHOUT_STATUS, final=True)
        assert reply.status_code == 200
        statuses.append((await current(enrollment)).completion)

    row = await current(enrollment)
    assert statuses[:-1] == [Completion.IN_PROGRESS] * 17
    assert row.completion is Completion.COMPLETED
    assert row.completed_at is not None
    assert 17 * 60 <= row.total_seconds <= 18 * 60 + 30, "each SCO counts the minute it was open"
    assert row.attempts == 1

    await launch(admin, enrollment.launch_token)  # the learner comes back another day
    assert (await current(enrollment)).attempts == 2


async def test_a_course_of_assets_completes_once_each_page_has_been_opened(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app, ASSETS_ONLY_12)
    enrollment = await enroll(course, "ada@example.com")

    for sco in course.scos:
        await launch(admin, f"{enrollment.launch_token}?sco={sco.identifier}")

    assert {s.scorm_type for s in course.scos} == {"asset"}
    assert (await current(enrollment)).completion is Completion.COMPLETED


async def test_a_link_to_a_part_the_course_does_not_have_says_so_and_opens_nothing(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enroll(await ready_course(admin, app, MINIMUM_CALLS_12), "ada@example.com")

    page = await admin.get(f"{CONTENT}/play/{enrollment.launch_token}", params={"sco": "unknown"})

    assert page.status_code == 404
    assert "This part of the course does not exist" in page.text
    assert f'href="/play/{enrollment.launch_token}"' in page.text
    assert await sco_state(enrollment) == {}
    assert (await current(enrollment)).completion is Completion.NOT_STARTED


async def test_an_imported_course_keeps_its_whole_outline_for_the_player(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app, VALID / "SequencingRandomTest_SCORM20043rdEdition.zip")

    tree = course.organization
    assert tree is not None
    assert [i.identifier for i in tree.items] == ["content_wrapper", "posttest_item"]
    assert tree.items[0].visible is False
    assert [i.identifier for i in tree.launchables()] == [s.identifier for s in course.scos]
    hidden_test = tree.find("test_1")
    assert hidden_test is not None
    assert (hidden_test.visible, hidden_test.sequencing_idref, hidden_test.hide_lms_ui) == (
        False,
        "test_sequencing_rules",
        ("suspendAll",),
    )
    assert "test_sequencing_rules" in tree.sequencing_collection
    assert tree.sequencing_xml is not None
