"""Course versions over HTTP, both engines: a new version is imported and becomes current, the same zip
again is recognised, learners stay on their version or restart by the policy chosen, each plays its own
version's files, and SCORM Cloud receives the version as a new version of the same course."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from uuid import UUID

import httpx
import respx
from litestar import Litestar
from test_player_tracking import GOLF_12, PASSED_12, commit, current, enroll, launch, ready_course
from test_scorm_cloud_connect import CLOUD, cloud_admin, cloud_settings  # noqa: F401 - fixtures
from test_scorm_cloud_journey import cloud_enrollment, fixture, uploaded_zip

from appserver import CONTENT, csrf_of
from scormhub.domain.model import Course, CourseVersion
from scormhub.domain.scorm.cmi import Completion
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.jobs.versions import import_course_version

MARKER = b"<!-- version two of the launch page -->"


def golf_edited(marker: bytes = MARKER) -> bytes:
    """The Golf package with its launch page changed: another version of the same course."""
    out = io.BytesIO()
    with zipfile.ZipFile(GOLF_12) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "shared/launchpage.html":
                data = data.replace(b"<head>", b"<head>" + marker, 1)
            target.writestr(info, data)
    return out.getvalue()


async def upload_version(
    admin: httpx.AsyncClient, course: Course, content: bytes, policy: str = "never"
) -> httpx.Response:
    await admin.get(f"/app/courses/{course.id}")
    return await admin.post(
        f"/app/courses/{course.id}/versions",
        data={"_csrf_token": csrf_of(admin), "policy": policy},
        files={"package": ("golf.zip", content, "application/zip")},
    )


async def versions_of(course: Course) -> list[CourseVersion]:
    async with PiccoloUnitOfWork() as uow:
        return await uow.course_versions.list_for_course(course.workspace_id, course.id)


async def imported(app: Litestar, course: Course) -> Course:
    """Run the import job of the newest version; return the course as it is now."""
    newest = (await versions_of(course))[0]
    await import_course_version(
        {"deps": app.state.deps}, workspace_id=str(course.workspace_id), version_id=str(newest.id)
    )
    async with PiccoloUnitOfWork() as uow:
        found = await uow.courses.get(course.workspace_id, course.id)
    assert found is not None
    return found


async def launch_page(admin: httpx.AsyncClient, token: str) -> bytes:
    config = await launch(admin, token)
    response = await admin.get(CONTENT + config["launch"])
    assert response.status_code == 200
    return response.content


async def test_a_new_version_becomes_current_and_learners_stay_on_theirs(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app, GOLF_12)
    ada = await enroll(course, "ada@example.com")
    config = await launch(admin, ada.launch_token)
    await commit(admin, config, {"core": {"lesson_status": "incomplete", "lesson_location": "p3"}})

    # The same zip again is recognised: nothing is added.
    same = await upload_version(admin, course, Path(GOLF_12).read_bytes())
    assert same.status_code == 303
    page = await admin.get(same.headers["location"])
    assert "already the current one" in page.text
    assert [v.number for v in await versions_of(course)] == [1]

    added = await upload_version(admin, course, golf_edited())
    assert added.status_code == 303
    assert [(v.number, v.status) for v in await versions_of(course)] == [(2, "processing"), (1, "ready")]
    course = await imported(app, course)
    assert course.version == 2

    # Ada stays on version 1 with her progress; a new learner gets version 2. Each plays their own files.
    assert (await current(ada)).course_version == 1
    assert MARKER not in await launch_page(admin, ada.launch_token)
    bob = await enroll(course, "bob@example.com")
    assert (await current(bob)).course_version == 2
    assert MARKER in await launch_page(admin, bob.launch_token)

    page = await admin.get(f"/app/courses/{course.id}")
    assert "Upload new version" in page.text
    rows = page.text.split('id="versions"', 1)[1]
    v2 = rows.split('data-version="2"', 1)[1].split("</tr>", 1)[0]
    v1 = rows.split('data-version="1"', 1)[1].split("</tr>", 1)[0]
    assert "current" in v2
    assert '<td class="version-learners">1</td>' in v2
    assert '<td class="version-learners">1</td>' in v1


async def test_restart_incomplete_moves_unfinished_learners_to_the_new_version_from_the_start(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app, GOLF_12)
    ada, zoe = await enroll(course, "ada@example.com"), await enroll(course, "zoe@example.com")
    config = await launch(admin, ada.launch_token)
    await commit(admin, config, {"core": {"lesson_status": "incomplete", "lesson_location": "p3"}})
    done = await launch(admin, zoe.launch_token)
    await commit(admin, done, PASSED_12, final=True)
    assert (await current(zoe)).completion is Completion.COMPLETED

    assert (await upload_version(admin, course, golf_edited(), "restart_incomplete")).status_code == 303
    course = await imported(app, course)

    moved, stayed = await current(ada), await current(zoe)
    assert (moved.course_version, moved.completion) == (2, Completion.NOT_STARTED)
    assert (stayed.course_version, stayed.completion) == (1, Completion.COMPLETED)
    resumed = await launch(admin, ada.launch_token)
    assert resumed["resume"]["core"].get("lesson_location", "") == ""  # she starts from the beginning
    assert MARKER in await launch_page(admin, ada.launch_token)

    # A second run of the job moves nobody twice.
    again = await import_course_version(
        {"deps": app.state.deps},
        workspace_id=str(course.workspace_id),
        version_id=str((await versions_of(course))[0].id),
    )
    assert again["moved"] == 0


async def test_a_bad_version_upload_says_what_to_fix_and_changes_nothing(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course = await ready_course(admin, app, GOLF_12)
    refused = await upload_version(admin, course, b"not a zip at all")
    assert refused.status_code == 422
    assert "be used yet" in refused.text
    bad_policy = await upload_version(admin, course, golf_edited(), "sometimes")
    assert bad_policy.status_code == 400
    assert "Choose what happens to learners" in bad_policy.text
    assert [v.number for v in await versions_of(course)] == [1]
    other = await admin.post(
        f"/app/courses/{UUID(int=1)}/versions",
        data={"_csrf_token": csrf_of(admin)},
        files={"package": ("golf.zip", golf_edited(), "application/zip")},
    )
    assert other.status_code == 404


async def test_scorm_cloud_gets_the_version_as_a_new_version_of_the_same_course(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],  # noqa: F811 - the fixture
) -> None:
    client, app = cloud_admin
    with respx.mock(assert_all_called=False) as router:
        enrollment = await cloud_enrollment(client, app, router)
        async with PiccoloUnitOfWork() as uow:
            course = await uow.courses.get(enrollment.workspace_id, enrollment.course_id)
        assert course is not None
        upload = router.post(f"{CLOUD}/courses/importJobs/upload").mock(
            return_value=httpx.Response(200, json=fixture("import_job_started.json"))
        )
        reset = router.delete(f"{CLOUD}/registrations/{enrollment.id}/progress").mock(
            return_value=httpx.Response(204)
        )
        added = await upload_version(client, course, golf_edited(), "restart_all")
        assert added.status_code == 303
        course = await imported(app, course)

    assert course.version == 2
    sent = upload.calls.last.request
    assert sent.url.params["courseId"] == str(course.id)
    assert sent.url.params["mayCreateNewVersion"] == "true"
    assert MARKER in uploaded_zip(sent).read("shared/launchpage.html")  # the new package
    assert reset.call_count == 1
    assert (await current(enrollment)).course_version == 2


async def test_the_same_zip_name_uploaded_again_is_offered_as_a_new_version(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    first = await ready_course(admin, app, GOLF_12)
    ada = await enroll(first, "ada@example.com")
    await admin.get("/app/courses")
    uploaded = await admin.post(
        "/app/courses",
        data={"_csrf_token": csrf_of(admin)},
        files={"package": (GOLF_12.name, golf_edited(), "application/zip")},
    )
    second_page = await admin.get(uploaded.headers["location"])
    assert f"Is this a new version of “{first.title}”?" in second_page.text
    second_id = uploaded.headers["location"].rsplit("/", 1)[1]

    adopted = await admin.post(
        f"/app/courses/{second_id}/as-version-of/{first.id}",
        data={"_csrf_token": csrf_of(admin), "policy": "restart_incomplete"},
    )
    assert adopted.status_code == 303
    assert adopted.headers["location"] == f"/app/courses/{first.id}"
    assert (await admin.get(f"/app/courses/{second_id}")).status_code == 404  # no second course
    course = await imported(app, first)
    assert course.version == 2
    assert (await current(ada)).course_version == 2  # she had not completed
    assert MARKER in await launch_page(admin, ada.launch_token)
