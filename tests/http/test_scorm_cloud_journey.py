"""The whole SCORM Cloud journey over HTTP, SCORM Cloud faked by respx with reference-shaped fixtures:
connect → upload → Ready → enroll → launch link → postback (both formats) → Completed/Passed → CRM outbox.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path
from urllib.parse import urlencode

import httpx
import respx
from litestar import Litestar
from multipart import MultipartParser
from test_scorm_cloud_connect import CLOUD, cloud_admin, cloud_settings, connected  # noqa: F401 - fixtures

from appserver import CONTENT, csrf_of
from scormhub.domain.model import EngineKind, Enrollment
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.integrations.db.tables import OutboxRow
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.jobs.courses import import_course
from scormhub.jobs.postbacks import process_inbox
from scormhub.jobs.sync import sync_enrollment
from shared_packages import PACKAGES, zipped_as_a_folder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scorm_cloud"
GOLF = PACKAGES / "valid" / "RuntimeBasicCalls_SCORM12.zip"


def fixture(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((FIXTURES / name).read_text())


def uploaded_zip(request: httpx.Request) -> zipfile.ZipFile:
    """The package inside the multipart body SCORM Cloud received."""
    boundary = request.headers["content-type"].split("boundary=", 1)[1]
    (part,) = [p for p in MultipartParser(io.BytesIO(request.content), boundary) if p.name == "file"]
    return zipfile.ZipFile(io.BytesIO(part.raw))


async def test_a_learner_completes_a_course_delivered_by_scorm_cloud_and_the_crm_hears_about_it(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],  # noqa: F811 - the fixture
) -> None:
    client, app = cloud_admin
    deps = app.state.deps
    workspace, user, password = await connected(client, app)
    assert workspace.engine is EngineKind.SCORM_CLOUD

    with respx.mock(assert_all_called=False) as router:
        upload = router.post(f"{CLOUD}/courses/importJobs/upload").mock(
            return_value=httpx.Response(200, json=fixture("import_job_started.json"))
        )
        router.get(f"{CLOUD}/courses/importJobs/4a1b2c3d-import-job").mock(
            return_value=httpx.Response(200, json=fixture("import_job_complete.json"))
        )
        await client.get("/app/courses")
        uploaded = await client.post(
            "/app/courses",
            data={"_csrf_token": csrf_of(client)},
            files={"package": (GOLF.name, GOLF.read_bytes(), "application/zip")},
        )
        course_id = uploaded.headers["location"].rsplit("/", 1)[1]
        await import_course({"deps": deps}, workspace_id=str(workspace.id), course_id=course_id)

        async with PiccoloUnitOfWork() as uow:
            course = await uow.courses.get(workspace.id, uuid.UUID(course_id))
        assert course is not None
        assert course.status.value == "ready"
        assert course.engine is EngineKind.SCORM_CLOUD
        assert upload.calls.last.request.url.params["courseId"] == course_id

        create = router.post(f"{CLOUD}/registrations").mock(return_value=httpx.Response(204))
        enrolled = await client.post(
            f"/app/courses/{course_id}/enrollments",
            data={
                "_csrf_token": csrf_of(client),
                "first_name": "Zoë",
                "last_name": "Ångström",
                "email": "zoe@example.com",
            },
        )
        assert enrolled.status_code == 303
        body = json.loads(create.calls.last.request.content)
        assert body["courseId"] == course_id
        assert body["learner"]["firstName"] == "Zoë"
        registration_id = body["registrationId"]

        link = router.post(f"{CLOUD}/registrations/{registration_id}/launchLink").mock(
            return_value=httpx.Response(200, json=fixture("launch_link.json"))
        )
        async with PiccoloUnitOfWork() as uow:
            enrollment = await uow.enrollments.get(workspace.id, uuid.UUID(registration_id))
        assert enrollment is not None
        launch = await client.get(f"{CONTENT}/play/{enrollment.launch_token}")
        assert launch.status_code == 303
        assert launch.headers["location"] == fixture("launch_link.json")["launchLink"]
        assert json.loads(link.calls.last.request.content)["redirectOnExitUrl"].endswith(
            f"/play/{enrollment.launch_token}/exit"
        )

        completed = fixture("registration_completed.json") | {"id": registration_id}
        router.get(f"{CLOUD}/registrations/{registration_id}").mock(
            return_value=httpx.Response(200, json=completed)
        )
        form = await client.post(
            f"/hooks/scorm-cloud/{workspace.id}",
            content=urlencode({"data": json.dumps(completed), "userName": user, "password": password}),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        basic = await client.post(f"/hooks/scorm-cloud/{workspace.id}", json=completed, auth=(user, password))
        assert (form.status_code, basic.status_code) == (200, 200)

        drained = await process_inbox({"deps": deps}, workspace_id=str(workspace.id))
        assert drained == {"processed": 2}

    async with PiccoloUnitOfWork() as uow:
        done = await uow.enrollments.get(workspace.id, enrollment.id)
    assert done is not None
    assert done.completion is Completion.COMPLETED
    assert done.success is Success.PASSED
    assert done.score_percent == 85.0
    assert done.total_seconds == 1234.5
    kinds = sorted(row["kind"] for row in await OutboxRow.select(OutboxRow.kind))
    assert kinds == ["add_tags", "note", "training_record"], "two postbacks, one set of CRM writes"


async def test_a_registration_deleted_in_scorm_cloud_fails_that_sync_without_crashing_it(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],  # noqa: F811 - the fixture
) -> None:
    client, app = cloud_admin
    deps = app.state.deps
    with respx.mock(assert_all_called=False) as router:
        enrollment = await cloud_enrollment(client, app, router)
        workspace_id = enrollment.workspace_id
        router.get(f"{CLOUD}/registrations/{enrollment.id}").mock(
            return_value=httpx.Response(404, json=fixture("error_404.json"))
        )
        result = await sync_enrollment(
            {"deps": deps},
            workspace_id=str(workspace_id),
            enrollment_id=str(enrollment.id),
            run_id=None,
        )

    assert "no longer" in result["missing"] or result["missing"]


# A course imported into SCORM Cloud and one learner enrolled in it (the exit-page tests use it too).
async def cloud_enrollment(client: httpx.AsyncClient, app: Litestar, router: respx.MockRouter) -> Enrollment:
    workspace, _, _ = await connected(client, app)
    router.post(f"{CLOUD}/courses/importJobs/upload").mock(
        return_value=httpx.Response(200, json=fixture("import_job_started.json"))
    )
    router.get(f"{CLOUD}/courses/importJobs/4a1b2c3d-import-job").mock(
        return_value=httpx.Response(200, json=fixture("import_job_complete.json"))
    )
    router.post(f"{CLOUD}/registrations").mock(return_value=httpx.Response(204))
    await client.get("/app/courses")
    uploaded = await client.post(
        "/app/courses",
        data={"_csrf_token": csrf_of(client)},
        files={"package": (GOLF.name, GOLF.read_bytes(), "application/zip")},
    )
    course_id = uploaded.headers["location"].rsplit("/", 1)[1]
    await import_course({"deps": app.state.deps}, workspace_id=str(workspace.id), course_id=course_id)
    await client.post(
        f"/app/courses/{course_id}/enrollments",
        data={
            "_csrf_token": csrf_of(client),
            "first_name": "Zoë",
            "last_name": "A",
            "email": "zoe@example.com",
        },
    )
    async with PiccoloUnitOfWork() as uow:
        (enrollment,) = await uow.enrollments.list_for_course(workspace.id, uuid.UUID(course_id))
    return enrollment


async def upload_to_cloud(
    client: httpx.AsyncClient, router: respx.MockRouter, *, upload_response: httpx.Response
) -> str:
    router.post(f"{CLOUD}/courses/importJobs/upload").mock(return_value=upload_response)
    await client.get("/app/courses")
    uploaded = await client.post(
        "/app/courses",
        data={"_csrf_token": csrf_of(client)},
        files={"package": (GOLF.name, GOLF.read_bytes(), "application/zip")},
    )
    return uploaded.headers["location"].rsplit("/", 1)[1]


async def test_an_import_that_scorm_cloud_ends_in_error_shows_its_message(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],  # noqa: F811 - the fixture
) -> None:
    client, app = cloud_admin
    workspace, _, _ = await connected(client, app)
    with respx.mock(assert_all_called=False) as router:
        course_id = await upload_to_cloud(
            client, router, upload_response=httpx.Response(200, json=fixture("import_job_started.json"))
        )
        router.get(f"{CLOUD}/courses/importJobs/4a1b2c3d-import-job").mock(
            return_value=httpx.Response(200, json=fixture("import_job_error.json"))
        )
        await import_course({"deps": app.state.deps}, workspace_id=str(workspace.id), course_id=course_id)

    page = await client.get(f"/app/courses/{course_id}")
    assert "Import failed" in page.text
    assert "No imsmanifest.xml file was found at the root of the package." in page.text


async def test_scorm_clouds_storage_limit_is_named_as_the_scorm_cloud_plan(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],  # noqa: F811 - the fixture
) -> None:
    client, app = cloud_admin
    workspace, _, _ = await connected(client, app)
    with respx.mock(assert_all_called=False) as router:
        course_id = await upload_to_cloud(
            client, router, upload_response=httpx.Response(403, json=fixture("error_403_storage_limit.json"))
        )
        await import_course({"deps": app.state.deps}, workspace_id=str(workspace.id), course_id=course_id)

    page = await client.get(f"/app/courses/{course_id}")
    assert "Import failed" in page.text
    assert "SCORM Cloud" in page.text
    assert "100 MB" in page.text


async def test_scorm_clouds_registration_limit_blocks_the_enrollment_and_says_whose_limit_it_is(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],  # noqa: F811 - the fixture
) -> None:
    client, app = cloud_admin
    workspace, _, _ = await connected(client, app)
    with respx.mock(assert_all_called=False) as router:
        course_id = await upload_to_cloud(
            client, router, upload_response=httpx.Response(200, json=fixture("import_job_started.json"))
        )
        router.get(f"{CLOUD}/courses/importJobs/4a1b2c3d-import-job").mock(
            return_value=httpx.Response(200, json=fixture("import_job_complete.json"))
        )
        await import_course({"deps": app.state.deps}, workspace_id=str(workspace.id), course_id=course_id)
        router.post(f"{CLOUD}/registrations").mock(
            return_value=httpx.Response(400, json=fixture("error_400_registration_limit.json"))
        )
        router.head(url__regex=rf"{CLOUD}/registrations/.*").mock(return_value=httpx.Response(404))
        page = await client.post(
            f"/app/courses/{course_id}/enrollments",
            data={
                "_csrf_token": csrf_of(client),
                "first_name": "A",
                "last_name": "B",
                "email": "a@example.com",
            },
            follow_redirects=True,
        )

    async with PiccoloUnitOfWork() as uow:
        left = await uow.enrollments.count_for_workspace(workspace.id)
    assert "SCORM Cloud" in page.text
    assert "trial plan, which allows 10" not in page.text, "not SCORM Hub's own limit"
    assert left == 0


async def test_a_postback_for_a_registration_we_do_not_know_is_processed_and_changes_nothing(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],  # noqa: F811 - the fixture
) -> None:
    client, app = cloud_admin
    workspace, user, password = await connected(client, app)
    stranger = fixture("registration_completed.json") | {"id": str(uuid.uuid4())}

    response = await client.post(f"/hooks/scorm-cloud/{workspace.id}", json=stranger, auth=(user, password))
    from scormhub.integrations.db.tables import InboxRow

    result = await process_inbox({"deps": app.state.deps}, workspace_id=str(workspace.id))
    row = await InboxRow.select(InboxRow.outcome).first()

    assert response.status_code == 200
    assert result == {"processed": 1}
    assert row["outcome"].startswith("unknown registration")
    assert await OutboxRow.count() == 0


async def test_a_course_zipped_inside_its_folder_reaches_scorm_cloud_with_that_folder_as_the_root(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],  # noqa: F811 - the fixture
) -> None:
    client, app = cloud_admin
    workspace, _, _ = await connected(client, app)
    with respx.mock(assert_all_called=False) as router:
        upload = router.post(f"{CLOUD}/courses/importJobs/upload").mock(
            return_value=httpx.Response(200, json=fixture("import_job_started.json"))
        )
        router.get(f"{CLOUD}/courses/importJobs/4a1b2c3d-import-job").mock(
            return_value=httpx.Response(200, json=fixture("import_job_complete.json"))
        )
        await client.get("/app/courses")
        uploaded = await client.post(
            "/app/courses",
            data={"_csrf_token": csrf_of(client)},
            files={"package": ("Golf.zip", zipped_as_a_folder(GOLF, "Golf Course"), "application/zip")},
        )
        course_id = uploaded.headers["location"].rsplit("/", 1)[1]
        await import_course({"deps": app.state.deps}, workspace_id=str(workspace.id), course_id=course_id)

    with zipfile.ZipFile(GOLF) as original, uploaded_zip(upload.calls.last.request) as sent:
        expected = {info.filename: original.read(info) for info in original.infolist() if not info.is_dir()}
        received = {info.filename: sent.read(info) for info in sent.infolist()}
    assert "imsmanifest.xml" in received
    assert received == expected, "the folder's files, at the root, and nothing else"
    page = await client.get(f"/app/courses/{course_id}")
    assert "treated that folder as the course" in page.text, "the admin is still told what happened"
