"""The SCORM Cloud adapter against respx stand-ins shaped like the v2 API: requests sent, results mapped."""

from __future__ import annotations

import base64
import email.utils
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from scormhub.domain.courses import ImportFailed
from scormhub.domain.errors import (
    DomainError,
    EngineAccountLimit,
    EngineRateLimited,
    EngineRefused,
    EngineUnavailable,
    InvalidCredentials,
    NotFound,
)
from scormhub.domain.model import Course, CourseStatus, EngineKind, ImportState, Learner, PostbackTarget
from scormhub.domain.ports import DeliveryEngine, EngineConnection, RegistrationEngine
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.domain.scorm.package import Problem
from scormhub.integrations.scorm_cloud.client import UNREADABLE_MESSAGE, build_client
from scormhub.integrations.scorm_cloud.engine import ScormCloudEngine
from scormhub.integrations.scorm_cloud.registrations import registration_progress
from scormhub.integrations.storage import FilesystemPackageStorage
from scormhub.integrations.vendor_http import RetryPolicy

BASE = "https://cloud.test/api/v2"
APP_ID = "APP123"
SECRET = "s3cr3t-Key-that-must-never-leak"
BASIC = "Basic " + base64.b64encode(f"{APP_ID}:{SECRET}".encode()).decode()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scorm_cloud"
PACKAGE_KEY = "0123456789abcdef0123456789abcdef"
PACKAGE_BYTES = b"PK\x03\x04" + b"fake zip body " * 1000
TARGET = PostbackTarget(
    url="https://hub.test/hooks/scorm-cloud/ws-1", username="ws-1", password="postback-pass-123"
)
LEARNER = Learner(id="contact-1", first_name="Ada", last_name="Lovelace", email="ada@example.com")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def respond(name: str, status: int = 200, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, json=fixture(name), **kwargs)


class RecordedSleep:
    """Stands in for asyncio.sleep: retries are counted and their delays kept, without waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def storage(tmp_path: Path) -> FilesystemPackageStorage:
    store = FilesystemPackageStorage(tmp_path / "packages")
    store.path(PACKAGE_KEY).write_bytes(PACKAGE_BYTES)
    return store


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with build_client() as shared:
        yield shared


@pytest.fixture
def engine(
    client: httpx.AsyncClient, storage: FilesystemPackageStorage, sleeps: RecordedSleep
) -> ScormCloudEngine:
    return ScormCloudEngine(
        client,
        app_id=APP_ID,
        secret_key=SECRET,
        storage=storage,
        base_url=BASE,
        retry=RetryPolicy(attempts=3, sleep=sleeps, jitter=lambda: 0.5),
    )


@pytest.fixture
def cloud() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def a_course(**changes: Any) -> Course:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    values: dict[str, Any] = {
        "id": uuid.UUID("11111111-2222-3333-4444-555555555555"),
        "workspace_id": uuid.uuid4(),
        "title": "fire-safety",
        "standard": "scorm2004",
        "edition": "4th",
        "status": CourseStatus.PROCESSING,
        "engine": EngineKind.SCORM_CLOUD,
        "package_key": PACKAGE_KEY,
        "package_bytes": len(PACKAGE_BYTES),
        "file_name": "Fire Safety (final) v2.zip",
        "self_enroll_token": "token",
        "created_at": now,
        "updated_at": now,
    }
    values.update(changes)
    return Course(**values)


def sent(route: respx.Route) -> httpx.Request:
    assert route.called, "the request was never sent"
    return route.calls.last.request


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def the_engine_satisfies_every_engine_port(engine: ScormCloudEngine) -> None:
    # The annotated assignments are what mypy checks (the adapter also checks them in a TYPE_CHECKING block).
    delivery: DeliveryEngine = engine
    registrations: RegistrationEngine = engine
    connection: EngineConnection = engine
    assert delivery is registrations is connection


def test_the_adapter_is_an_engine_for_delivery_registrations_and_connection(engine: ScormCloudEngine) -> None:
    the_engine_satisfies_every_engine_port(engine)

    for name in ("start_import", "poll_import", "delete_course", "create_registration", "ping"):
        assert callable(getattr(engine, name))


async def test_the_shared_client_has_explicit_timeouts_for_calls_and_uploads() -> None:
    async with build_client() as shared:
        assert shared.timeout == httpx.Timeout(connect=5.0, read=20.0, write=120.0, pool=5.0)
        assert shared.follow_redirects is False


# --- ping -----------------------------------------------------------------------------------------------


async def test_ping_sends_basic_auth_of_app_id_and_secret(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    route = cloud.get("/ping").mock(return_value=respond("ping.json"))

    await engine.ping()

    request = sent(route)
    assert request.method == "GET"
    assert request.url == httpx.URL(f"{BASE}/ping")
    assert request.headers["Authorization"] == BASIC


async def test_ping_with_rejected_credentials_says_so_in_words_an_admin_understands(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.get("/ping").mock(return_value=respond("error_401.json", 401))

    with pytest.raises(InvalidCredentials, match=r"SCORM Cloud rejected this App ID / Secret Key\."):
        await engine.ping()


# --- import -----------------------------------------------------------------------------------------------


async def test_start_import_uploads_the_stored_package_as_multipart_under_our_course_id(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    course = a_course()
    route = cloud.post("/courses/importJobs/upload").mock(return_value=respond("import_job_started.json"))

    handle = await engine.start_import(course)

    assert handle == "4a1b2c3d-import-job"
    request = sent(route)
    assert request.headers["Authorization"] == BASIC
    assert dict(request.url.params) == {"courseId": str(course.id), "mayCreateNewVersion": "true"}
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert int(request.headers["Content-Length"]) == len(request.content)  # sized up front, not chunked
    assert f'name="file"; filename="{course.id}.zip"'.encode() in request.content
    assert b"Content-Type: application/zip" in request.content
    assert PACKAGE_BYTES in request.content


async def test_start_import_of_a_package_no_longer_stored_fails_the_import_without_calling_cloud(
    engine: ScormCloudEngine, cloud: respx.MockRouter, storage: FilesystemPackageStorage
) -> None:
    storage.path(PACKAGE_KEY).unlink()
    route = cloud.post("/courses/importJobs/upload")

    with pytest.raises(ImportFailed, match="upload the package again"):
        await engine.start_import(a_course())

    assert not route.called


async def test_start_import_is_not_retried_inside_the_adapter_when_cloud_fails(
    engine: ScormCloudEngine, cloud: respx.MockRouter, sleeps: RecordedSleep
) -> None:
    route = cloud.post("/courses/importJobs/upload").mock(return_value=httpx.Response(503))

    with pytest.raises(EngineUnavailable, match="HTTP 503"):
        await engine.start_import(a_course())

    assert route.call_count == 1
    assert sleeps.delays == []


async def test_start_import_refused_for_the_cloud_plans_storage_is_an_account_limit(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.post("/courses/importJobs/upload").mock(return_value=respond("error_403_storage_limit.json", 403))

    with pytest.raises(EngineAccountLimit) as raised:
        await engine.start_import(a_course())

    message = str(raised.value)
    assert "100 MB storage limit" in message
    assert "SCORM Cloud plan" in message
    assert "not SCORM Hub's trial" in message
    assert "upgrade your SCORM Cloud plan" in message


async def test_poll_import_of_a_running_job_says_running(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    route = cloud.get("/courses/importJobs/4a1b2c3d-import-job").mock(
        return_value=respond("import_job_running.json")
    )

    status = await engine.poll_import("4a1b2c3d-import-job")

    assert status.state is ImportState.RUNNING
    assert sent(route).headers["Authorization"] == BASIC


async def test_poll_import_of_a_complete_job_gives_the_title_and_parser_warnings(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.get("/courses/importJobs/4a1b2c3d-import-job").mock(
        return_value=respond("import_job_complete.json")
    )

    status = await engine.poll_import("4a1b2c3d-import-job")

    assert status.state is ImportState.COMPLETE
    assert status.title == "Fire Safety Basics"
    assert status.warnings == (
        Problem(
            code="cloud-parser-warning",
            message="The manifest declares a SCO with no launch file; it was treated as an asset.",
        ),
        Problem(code="cloud-parser-warning", message="Unknown element 'adlnav:presentation' was ignored."),
    )


async def test_poll_import_of_a_failed_job_gives_scorm_clouds_message(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.get("/courses/importJobs/4a1b2c3d-import-job").mock(return_value=respond("import_job_error.json"))

    status = await engine.poll_import("4a1b2c3d-import-job")

    assert status.state is ImportState.ERROR
    assert status.message == "No imsmanifest.xml file was found at the root of the package."


async def test_poll_import_of_a_complete_job_without_import_result_still_completes(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.get("/courses/importJobs/job-1").mock(
        return_value=httpx.Response(200, json={"jobId": "job-1", "status": "COMPLETE"})
    )

    status = await engine.poll_import("job-1")

    assert (status.state, status.title, status.warnings) == (ImportState.COMPLETE, None, ())


async def test_poll_import_of_an_unknown_status_is_an_unreadable_answer(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.get("/courses/importJobs/job-1").mock(
        return_value=httpx.Response(200, json={"jobId": "job-1", "status": "EXPLODED"})
    )

    with pytest.raises(EngineUnavailable, match=UNREADABLE_MESSAGE):
        await engine.poll_import("job-1")


async def test_poll_import_of_an_expired_job_is_not_found(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.get("/courses/importJobs/job-old").mock(return_value=respond("error_404.json", 404))

    with pytest.raises(NotFound, match="import job"):
        await engine.poll_import("job-old")


# --- courses ------------------------------------------------------------------------------------------------


async def test_delete_course_deletes_it_by_our_course_id(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    course = a_course()
    route = cloud.delete(f"/courses/{course.id}").mock(return_value=httpx.Response(204))

    await engine.delete_course(course)

    request = sent(route)
    assert request.method == "DELETE"
    assert request.headers["Authorization"] == BASIC


async def test_delete_course_unknown_to_cloud_is_not_found(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    course = a_course()
    cloud.delete(f"/courses/{course.id}").mock(return_value=respond("error_404.json", 404))

    with pytest.raises(NotFound):
        await engine.delete_course(course)


# --- registrations ------------------------------------------------------------------------------------------


async def test_create_registration_sends_learner_and_httpbasic_postback(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    route = cloud.post("/registrations").mock(return_value=httpx.Response(204))

    await engine.create_registration(
        registration_id="reg-1", course_id="course-1", learner=LEARNER, postback=TARGET
    )

    request = sent(route)
    assert request.headers["Authorization"] == BASIC
    assert request.headers["Content-Type"] == "application/json"
    assert body_of(request) == {
        "registrationId": "reg-1",
        "courseId": "course-1",
        "learner": {
            "id": "contact-1",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "ada@example.com",
        },
        "postBack": {
            "url": "https://hub.test/hooks/scorm-cloud/ws-1",
            "authType": "HTTPBASIC",
            "userName": "ws-1",
            "password": "postback-pass-123",
            "resultsFormat": "COURSE",
        },
    }


async def test_create_registration_without_postback_or_email_omits_them(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    route = cloud.post("/registrations").mock(return_value=httpx.Response(204))

    await engine.create_registration(
        registration_id="reg-1",
        course_id="course-1",
        learner=Learner(id="contact-1", first_name="Ada", last_name="", email=""),
        postback=None,
    )

    assert body_of(sent(route)) == {
        "registrationId": "reg-1",
        "courseId": "course-1",
        "learner": {"id": "contact-1", "firstName": "Ada"},
    }


async def test_create_registration_that_already_exists_is_a_success(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    create = cloud.post("/registrations").mock(
        return_value=respond("error_400_registration_exists.json", 400)
    )
    exists = cloud.head("/registrations/reg-1").mock(return_value=httpx.Response(200))

    await engine.create_registration(
        registration_id="reg-1", course_id="course-1", learner=LEARNER, postback=None
    )

    assert create.call_count == 1
    assert sent(exists).headers["Authorization"] == BASIC


async def test_create_registration_refused_for_another_reason_says_scorm_clouds_reason(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.post("/registrations").mock(
        return_value=httpx.Response(400, json={"message": "Course 'course-9' does not exist."})
    )
    exists = cloud.head("/registrations/reg-1").mock(return_value=httpx.Response(404))

    with pytest.raises(EngineRefused, match=r"Course 'course-9' does not exist\.") as raised:
        await engine.create_registration(
            registration_id="reg-1", course_id="course-9", learner=LEARNER, postback=None
        )

    assert type(raised.value) is EngineRefused
    assert exists.called


async def test_create_registration_over_the_cloud_plans_registration_limit_is_an_account_limit(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.post("/registrations").mock(return_value=respond("error_400_registration_limit.json", 400))
    cloud.head("/registrations/reg-1").mock(return_value=httpx.Response(404))

    with pytest.raises(EngineAccountLimit) as raised:
        await engine.create_registration(
            registration_id="reg-1", course_id="course-1", learner=LEARNER, postback=None
        )

    assert "delete finished registrations" in str(raised.value).lower()
    assert "not SCORM Hub's trial" in str(raised.value)


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(503), httpx.Response(429, headers={"Retry-After": "1"}), httpx.ConnectError("refused")],
    ids=["503", "429", "connect-error"],
)
async def test_create_registration_is_never_retried_inside_the_adapter(
    engine: ScormCloudEngine, cloud: respx.MockRouter, sleeps: RecordedSleep, failure: Any
) -> None:
    route = cloud.post("/registrations")
    if isinstance(failure, Exception):
        route.mock(side_effect=failure)
    else:
        route.mock(return_value=failure)

    with pytest.raises((EngineUnavailable, EngineRateLimited)):
        await engine.create_registration(
            registration_id="reg-1", course_id="course-1", learner=LEARNER, postback=None
        )

    assert route.call_count == 1
    assert sleeps.delays == []


async def test_delete_registration_deletes_it_by_id(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    route = cloud.delete("/registrations/reg-1").mock(return_value=httpx.Response(204))

    await engine.delete_registration("reg-1")

    assert sent(route).headers["Authorization"] == BASIC


async def test_delete_registration_unknown_to_cloud_is_not_found(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.delete("/registrations/reg-missing").mock(return_value=respond("error_404.json", 404))

    with pytest.raises(NotFound, match="registration reg-missing"):
        await engine.delete_registration("reg-missing")


async def test_registration_ids_are_escaped_into_one_path_segment(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    route = cloud.delete("/registrations/a%2Fb%20c").mock(return_value=httpx.Response(204))

    await engine.delete_registration("a/b c")

    assert route.called


# --- launch links -----------------------------------------------------------------------------------------


async def test_launch_link_asks_for_a_link_that_returns_to_our_exit_page(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    route = cloud.post("/registrations/reg-1/launchLink").mock(return_value=respond("launch_link.json"))

    link = await engine.launch_link("reg-1", redirect_on_exit_url="https://hub.test/launch/done", expiry_s=60)

    assert link == "https://cloud.scorm.com/api/cloud/registration/launch/5d8c7f0e-link"
    request = sent(route)
    assert request.headers["Authorization"] == BASIC
    assert body_of(request) == {"redirectOnExitUrl": "https://hub.test/launch/done", "expiry": 60}


@pytest.mark.parametrize(("asked", "sent_expiry"), [(0, 10), (5, 10), (120, 120), (301, 300), (3600, 300)])
async def test_launch_link_expiry_is_clamped_to_what_scorm_cloud_allows(
    engine: ScormCloudEngine, cloud: respx.MockRouter, asked: int, sent_expiry: int
) -> None:
    route = cloud.post("/registrations/reg-1/launchLink").mock(return_value=respond("launch_link.json"))

    await engine.launch_link("reg-1", redirect_on_exit_url="https://hub.test/done", expiry_s=asked)

    assert body_of(sent(route))["expiry"] == sent_expiry


async def test_launch_link_refused_gives_scorm_clouds_message(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.post("/registrations/reg-1/launchLink").mock(return_value=respond("error_400.json", 400))

    with pytest.raises(EngineRefused, match=r"The redirectOnExitUrl is not a valid URL\.") as raised:
        await engine.launch_link("reg-1", redirect_on_exit_url="nope")

    assert not isinstance(raised.value, EngineAccountLimit)


async def test_launch_link_is_retried_after_a_server_error(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    route = cloud.post("/registrations/reg-1/launchLink").mock(
        side_effect=[httpx.Response(502), respond("launch_link.json")]
    )

    link = await engine.launch_link("reg-1", redirect_on_exit_url="https://hub.test/done")

    assert link.startswith("https://cloud.scorm.com/")
    assert route.call_count == 2


# --- progress -----------------------------------------------------------------------------------------------


async def test_get_progress_maps_a_completed_registration(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    route = cloud.get("/registrations/reg-completed").mock(
        return_value=respond("registration_completed.json")
    )

    progress = await engine.get_progress("reg-completed")

    assert sent(route).headers["Authorization"] == BASIC
    assert progress.registration_id == "reg-completed"
    assert progress.completion is Completion.COMPLETED
    assert progress.success is Success.PASSED
    assert progress.score_percent == 85.0
    assert progress.score_raw is None
    assert progress.total_seconds == 1234.5
    assert progress.attempts == 3
    assert progress.instance == 2
    assert progress.updated_at == datetime(2024, 5, 2, 14, 30, 12, 107000, tzinfo=UTC)
    assert progress.first_access_at == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    assert progress.last_access_at == datetime(2024, 5, 2, 14, 29, 59, 500000, tzinfo=UTC)
    assert progress.completed_at == datetime(2024, 5, 2, 14, 29, 58, tzinfo=UTC)


async def test_get_progress_maps_a_registration_in_progress(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.get("/registrations/reg-in-progress").mock(return_value=respond("registration_in_progress.json"))

    progress = await engine.get_progress("reg-in-progress")

    assert progress.completion is Completion.IN_PROGRESS
    assert progress.success is Success.UNKNOWN
    assert progress.score_percent is None
    assert progress.total_seconds == 300.0
    assert progress.attempts == 1  # no activityDetails: accessed once at least
    assert progress.completed_at is None
    assert progress.instance == 0


async def test_get_progress_of_a_registration_never_launched_is_not_started(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.get("/registrations/reg-not-started").mock(return_value=respond("registration_not_started.json"))

    progress = await engine.get_progress("reg-not-started")

    assert progress.completion is Completion.NOT_STARTED
    assert progress.success is Success.UNKNOWN
    assert progress.attempts == 0
    assert progress.total_seconds == 0.0
    assert (progress.first_access_at, progress.last_access_at, progress.completed_at) == (None, None, None)
    assert progress.updated_at == datetime(2024, 5, 1, 8, 55, tzinfo=UTC)  # createdDate: no `updated`


async def test_get_progress_of_an_unknown_registration_is_not_found(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.get("/registrations/reg-missing").mock(return_value=respond("error_404.json", 404))

    with pytest.raises(NotFound, match="registration reg-missing"):
        await engine.get_progress("reg-missing")


def registration(**fields: Any) -> dict[str, Any]:
    return {"id": "r", "createdDate": "2024-05-01T08:00:00.000Z", **fields}


@pytest.mark.parametrize(
    ("scaled", "percent"),
    [(85, 85.0), (85.5, 85.5), (0, 0.0), (100, 100.0), (140, 100.0), (-3, 0.0), (None, None)],
)
def test_score_scaled_is_already_a_percentage_and_is_clamped(
    scaled: float | None, percent: float | None
) -> None:
    progress = registration_progress(registration(score={"scaled": scaled}))

    assert progress.score_percent == percent


def test_a_registration_without_a_score_has_no_percentage() -> None:
    assert registration_progress(registration()).score_percent is None


def test_a_raw_score_is_read_from_the_runtime_when_scorm_cloud_includes_it() -> None:
    progress = registration_progress(
        registration(activityDetails={"attempts": 1, "runtime": {"scoreRaw": "42", "scoreScaled": "0.42"}})
    )

    assert progress.score_raw == 42.0


@pytest.mark.parametrize(
    ("completion", "accessed", "expected"),
    [
        ("COMPLETED", True, Completion.COMPLETED),
        ("COMPLETED", False, Completion.COMPLETED),
        ("INCOMPLETE", True, Completion.IN_PROGRESS),
        ("INCOMPLETE", False, Completion.IN_PROGRESS),
        ("UNKNOWN", True, Completion.IN_PROGRESS),
        ("UNKNOWN", False, Completion.NOT_STARTED),
        (None, False, Completion.NOT_STARTED),
        ("completed", False, Completion.COMPLETED),
    ],
)
def test_registration_completion_maps_to_the_domains_completion(
    completion: str | None, accessed: bool, expected: Completion
) -> None:
    extra = {"firstAccessDate": "2024-05-02T10:00:00Z"} if accessed else {}

    progress = registration_progress(registration(registrationCompletion=completion, **extra))

    assert progress.completion is expected


@pytest.mark.parametrize(
    ("success", "expected"),
    [
        ("PASSED", Success.PASSED),
        ("FAILED", Success.FAILED),
        ("UNKNOWN", Success.UNKNOWN),
        (None, Success.UNKNOWN),
    ],
)
def test_registration_success_maps_to_the_domains_success(success: str | None, expected: Success) -> None:
    assert registration_progress(registration(registrationSuccess=success)).success is expected


def test_dates_become_aware_utc_datetimes_whatever_offset_they_carry() -> None:
    progress = registration_progress(
        registration(
            updated="2024-05-02T16:30:00+02:00",
            firstAccessDate="2024-05-02T10:00:00",  # no zone: SCORM Cloud's times are UTC
            lastAccessDate="2024-05-02T14:00:00.1234567Z",
        )
    )

    assert progress.updated_at == datetime(2024, 5, 2, 14, 30, tzinfo=UTC)
    assert progress.first_access_at == datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
    assert progress.last_access_at is not None
    assert progress.last_access_at.utcoffset() == timedelta(0)


def test_without_updated_the_last_access_orders_the_registration() -> None:
    progress = registration_progress(registration(lastAccessDate="2024-05-03T09:00:00Z"))

    assert progress.updated_at == datetime(2024, 5, 3, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        {"id": "r"},  # nothing to order it by
        registration(updated="yesterday"),
        registration(score="85"),
        registration(totalSecondsTracked="lots"),
    ],
    ids=["no-dates", "bad-date", "score-not-an-object", "bad-number"],
)
def test_a_registration_of_the_wrong_shape_is_an_unreadable_answer(body: dict[str, Any]) -> None:
    with pytest.raises(EngineUnavailable, match=UNREADABLE_MESSAGE):
        registration_progress(body)


# --- registrations changed since --------------------------------------------------------------------------


async def test_registrations_changed_since_follows_more_sending_only_the_token(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    route = cloud.get("/registrations").mock(
        side_effect=[respond("registrations_page1.json"), respond("registrations_page2.json")]
    )

    since = datetime(2024, 5, 2, 10, 0, 0, 250000, tzinfo=UTC)
    seen = [p async for p in engine.registrations_changed_since(since)]

    assert [p.registration_id for p in seen] == ["reg-a", "reg-b", "reg-c"]
    assert [p.completion for p in seen] == [
        Completion.COMPLETED,
        Completion.IN_PROGRESS,
        Completion.NOT_STARTED,
    ]
    assert seen[0].success is Success.FAILED
    assert seen[0].score_percent == 40.0
    first, second = (call.request for call in route.calls)
    assert dict(first.url.params) == {"since": "2024-05-02T10:00:00.250Z", "datetimeFilter": "updated"}
    assert dict(second.url.params) == {"more": "eyJwYWdlIjogMn0"}
    assert first.headers["Authorization"] == second.headers["Authorization"] == BASIC


async def test_registrations_changed_since_a_naive_time_reads_it_as_utc(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    route = cloud.get("/registrations").mock(return_value=respond("registrations_page2.json"))

    seen = [p async for p in engine.registrations_changed_since(datetime(2024, 5, 2, 10, 0))]

    assert len(seen) == 1
    assert sent(route).url.params["since"] == "2024-05-02T10:00:00.000Z"


async def test_registrations_changed_since_an_empty_page_yields_nothing(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.get("/registrations").mock(
        return_value=httpx.Response(200, json={"registrations": [], "more": None})
    )

    assert [p async for p in engine.registrations_changed_since(datetime.now(UTC))] == []


async def test_registrations_changed_since_stops_when_scorm_cloud_repeats_a_more_token(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.get("/registrations").mock(return_value=respond("registrations_page1.json"))

    with pytest.raises(EngineUnavailable, match=UNREADABLE_MESSAGE):
        [p async for p in engine.registrations_changed_since(datetime.now(UTC))]


# --- postbacks ----------------------------------------------------------------------------------------------


async def test_configure_postback_sets_the_application_postback_settings(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    route = cloud.post("/appManagement/configuration").mock(return_value=httpx.Response(204))

    await engine.configure_postback(TARGET)

    request = sent(route)
    assert request.headers["Authorization"] == BASIC
    assert body_of(request) == {
        "settings": [
            {
                "settingId": "ApiRollupRegistrationPostBackUrl",
                "value": "https://hub.test/hooks/scorm-cloud/ws-1",
            },
            {"settingId": "ApiRollupRegistrationAuthType", "value": "httpbasic"},
            {"settingId": "ApiRollupRegistrationAuthUser", "value": "ws-1"},
            {"settingId": "ApiRollupRegistrationAuthPassword", "value": "postback-pass-123"},
            {"settingId": "ApiRollupRegistrationFormat", "value": "course"},
        ]
    }


async def test_remove_postback_clears_each_setting_and_ignores_ones_never_set(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    names = [
        "ApiRollupRegistrationPostBackUrl",
        "ApiRollupRegistrationAuthType",
        "ApiRollupRegistrationAuthUser",
        "ApiRollupRegistrationAuthPassword",
        "ApiRollupRegistrationFormat",
    ]
    routes = {
        name: cloud.delete(f"/appManagement/configuration/{name}").mock(
            return_value=httpx.Response(404 if name.endswith("Format") else 204)
        )
        for name in names
    }

    await engine.remove_postback()

    assert {name: route.call_count for name, route in routes.items()} == dict.fromkeys(names, 1)
    assert all(sent(route).headers["Authorization"] == BASIC for route in routes.values())


async def test_send_test_postback_posts_the_postback_schema(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    route = cloud.post("/registrations/postBackTest").mock(return_value=httpx.Response(204))

    await engine.send_test_postback(TARGET)

    request = sent(route)
    assert request.headers["Authorization"] == BASIC
    assert body_of(request) == {
        "url": "https://hub.test/hooks/scorm-cloud/ws-1",
        "authType": "HTTPBASIC",
        "userName": "ws-1",
        "password": "postback-pass-123",
        "resultsFormat": "COURSE",
    }


# --- failure modes at the boundary --------------------------------------------------------------------------


async def test_a_401_is_invalid_credentials(engine: ScormCloudEngine, cloud: respx.MockRouter) -> None:
    cloud.get("/registrations/reg-1").mock(return_value=respond("error_401.json", 401))

    with pytest.raises(InvalidCredentials, match="rejected this App ID / Secret Key"):
        await engine.get_progress("reg-1")


async def test_a_429_with_retry_after_seconds_is_waited_out_then_retried(
    engine: ScormCloudEngine, cloud: respx.MockRouter, sleeps: RecordedSleep
) -> None:
    route = cloud.get("/registrations/reg-1").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            respond("registration_in_progress.json"),
        ]
    )

    progress = await engine.get_progress("reg-1")

    assert progress.completion is Completion.IN_PROGRESS
    assert route.call_count == 2
    assert sleeps.delays == [7.0]


async def test_a_429_that_persists_is_rate_limited_with_the_retry_after_seconds(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    route = cloud.get("/registrations/reg-1").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "4"})
    )

    with pytest.raises(EngineRateLimited) as raised:
        await engine.get_progress("reg-1")

    assert raised.value.retry_after == 4.0
    assert route.call_count == 3


async def test_a_429_with_an_http_date_retry_after_gives_the_seconds_until_then(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    cloud.get("/registrations/reg-1").mock(return_value=httpx.Response(429, headers={"Retry-After": when}))

    with pytest.raises(EngineRateLimited) as raised:
        await engine.get_progress("reg-1")

    assert raised.value.retry_after is not None
    assert 110 <= raised.value.retry_after <= 121


async def test_a_429_asking_for_longer_than_the_cap_goes_up_at_once_for_the_job_to_wait(
    engine: ScormCloudEngine, cloud: respx.MockRouter, sleeps: RecordedSleep
) -> None:
    route = cloud.get("/registrations/reg-1").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "3600"})
    )

    with pytest.raises(EngineRateLimited) as raised:
        await engine.get_progress("reg-1")

    assert raised.value.retry_after == 3600.0
    assert route.call_count == 1
    assert sleeps.delays == []


async def test_a_429_without_retry_after_backs_off_and_has_no_retry_after(
    engine: ScormCloudEngine, cloud: respx.MockRouter, sleeps: RecordedSleep
) -> None:
    cloud.get("/registrations/reg-1").mock(return_value=httpx.Response(429))

    with pytest.raises(EngineRateLimited) as raised:
        await engine.get_progress("reg-1")

    assert raised.value.retry_after is None
    assert len(sleeps.delays) == 2
    assert sleeps.delays[0] < sleeps.delays[1]  # exponential


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_server_error_that_persists_is_engine_unavailable_after_bounded_retries(
    engine: ScormCloudEngine, cloud: respx.MockRouter, sleeps: RecordedSleep, status: int
) -> None:
    route = cloud.get("/registrations/reg-1").mock(
        return_value=httpx.Response(status, text="<html>oops</html>")
    )

    with pytest.raises(EngineUnavailable, match=f"HTTP {status}"):
        await engine.get_progress("reg-1")

    assert route.call_count == 3
    assert len(sleeps.delays) == 2


async def test_a_503_then_a_200_is_a_success_for_a_get(
    engine: ScormCloudEngine, cloud: respx.MockRouter, sleeps: RecordedSleep
) -> None:
    route = cloud.get("/courses/importJobs/job-1").mock(
        side_effect=[httpx.Response(503), respond("import_job_running.json")]
    )

    status = await engine.poll_import("job-1")

    assert status.state is ImportState.RUNNING
    assert route.call_count == 2
    assert len(sleeps.delays) == 1


async def test_ping_is_retried_after_a_connection_error(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    route = cloud.get("/ping").mock(side_effect=[httpx.ConnectError("refused"), respond("ping.json")])

    await engine.ping()

    assert route.call_count == 2


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (httpx.ReadTimeout("timed out"), "did not answer in time"),
        (httpx.ConnectTimeout("timed out"), "did not answer in time"),
        (httpx.ConnectError("connection refused"), "could not be reached"),
        (httpx.RemoteProtocolError("peer closed"), "could not be reached"),
    ],
    ids=["read-timeout", "connect-timeout", "connect-error", "protocol-error"],
)
async def test_timeouts_and_connection_errors_are_engine_unavailable(
    engine: ScormCloudEngine, cloud: respx.MockRouter, failure: Exception, words: str
) -> None:
    route = cloud.get("/registrations/reg-1").mock(side_effect=failure)

    with pytest.raises(EngineUnavailable, match=words):
        await engine.get_progress("reg-1")

    assert route.call_count == 3


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>maintenance</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"registrationCompletion": "COMPLETED", "updated": 12}),
    ],
    ids=["not-json", "not-an-object", "wrong-types"],
)
async def test_a_malformed_answer_is_engine_unavailable_and_not_retried(
    engine: ScormCloudEngine, cloud: respx.MockRouter, response: httpx.Response
) -> None:
    route = cloud.get("/registrations/reg-1").mock(return_value=response)

    with pytest.raises(EngineUnavailable, match=UNREADABLE_MESSAGE):
        await engine.get_progress("reg-1")

    assert route.call_count == 1


async def test_a_launch_link_answer_without_a_link_is_unreadable(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.post("/registrations/reg-1/launchLink").mock(return_value=httpx.Response(200, json={}))

    with pytest.raises(EngineUnavailable, match=UNREADABLE_MESSAGE):
        await engine.launch_link("reg-1", redirect_on_exit_url="https://hub.test/done")


@pytest.mark.parametrize(
    ("response", "words"),
    [
        (httpx.Response(400, json={"message": "Invalid expiry."}), "Invalid expiry."),
        (httpx.Response(400, json={"error": "Bad things."}), "Bad things."),
        (httpx.Response(400, text="plain words"), "plain words"),
        (httpx.Response(400), "HTTP 400"),
        (httpx.Response(409, json={"message": "Conflict here."}), "Conflict here."),
    ],
    ids=["message", "error", "text", "empty", "other-4xx"],
)
async def test_a_refusal_carries_scorm_clouds_reason(
    engine: ScormCloudEngine,
    cloud: respx.MockRouter,
    sleeps: RecordedSleep,
    response: httpx.Response,
    words: str,
) -> None:
    route = cloud.get("/registrations/reg-1").mock(return_value=response)

    with pytest.raises(EngineRefused, match=re.escape(words)) as raised:
        await engine.get_progress("reg-1")

    assert type(raised.value) is EngineRefused
    assert route.call_count == 1  # a refusal is an answer, not a hiccup
    assert sleeps.delays == []


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "Registration limit reached for this application."),
        (400, "You have exceeded the maximum number of registrations for your plan."),
        (400, "Course upload would exceed 100MB of storage."),
        (403, "Please UPGRADE your account to continue."),
        (403, "Trial account limit reached."),
    ],
)
async def test_a_refusal_about_the_cloud_plans_limits_is_an_account_limit(
    engine: ScormCloudEngine, cloud: respx.MockRouter, status: int, message: str
) -> None:
    cloud.post("/registrations/reg-1/launchLink").mock(
        return_value=httpx.Response(status, json={"message": message})
    )

    with pytest.raises(EngineAccountLimit, match="SCORM Cloud plan") as raised:
        await engine.launch_link("reg-1", redirect_on_exit_url="https://hub.test/done")

    assert message in str(raised.value)


async def test_a_403_that_is_not_about_limits_is_a_refusal(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.get("/registrations/reg-1").mock(
        return_value=httpx.Response(403, json={"message": "This app may not read registrations."})
    )

    with pytest.raises(EngineRefused, match="may not read registrations") as raised:
        await engine.get_progress("reg-1")

    assert type(raised.value) is EngineRefused


async def test_a_redirect_is_not_followed_and_is_engine_unavailable(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.get("/ping").mock(return_value=httpx.Response(301, headers={"Location": "https://elsewhere.test/"}))

    with pytest.raises(EngineUnavailable, match="HTTP 301"):
        await engine.ping()


# --- the secret stays secret ------------------------------------------------------------------------------


def test_the_secret_is_not_in_the_engines_repr(engine: ScormCloudEngine) -> None:
    assert SECRET not in repr(engine)
    assert APP_ID in repr(engine)
    assert BASIC.removeprefix("Basic ") not in repr(engine)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(401, json={"error": "Authorization Required."}),
        httpx.Response(400, json={"message": f"Bad secret {SECRET} for app"}),
        httpx.Response(400, text=f"secretKey={SECRET}"),
        httpx.Response(403, json={"message": f"Upgrade needed for {SECRET}"}),
        httpx.Response(500, text=SECRET),
        httpx.ReadTimeout(f"timed out talking with {SECRET}"),
        httpx.ConnectError(SECRET),
        httpx.Response(200, text=SECRET),
    ],
    ids=["401", "400-json", "400-text", "403-limit", "500", "timeout", "connect", "malformed"],
)
async def test_the_secret_is_never_in_a_raised_error(
    engine: ScormCloudEngine, cloud: respx.MockRouter, failure: Any
) -> None:
    route = cloud.get("/registrations/reg-1")
    if isinstance(failure, Exception):
        route.mock(side_effect=failure)
    else:
        route.mock(return_value=failure)

    with pytest.raises(DomainError) as raised:
        await engine.get_progress("reg-1")

    assert SECRET not in str(raised.value)
    assert SECRET not in repr(raised.value)


async def test_the_postback_password_is_never_in_a_raised_error(
    engine: ScormCloudEngine, cloud: respx.MockRouter
) -> None:
    cloud.post("/registrations").mock(
        return_value=httpx.Response(400, json={"message": f"Bad password {TARGET.password}"})
    )
    cloud.head("/registrations/reg-1").mock(return_value=httpx.Response(404))

    with pytest.raises(EngineRefused) as raised:
        await engine.create_registration(
            registration_id="reg-1", course_id="course-1", learner=LEARNER, postback=TARGET
        )

    assert TARGET.password not in str(raised.value)
