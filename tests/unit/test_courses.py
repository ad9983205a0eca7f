"""From an uploaded package to a Ready course, with fakes for storage, engine and jobs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from fakes.engines import VALID_REPORT, FakeEngine, FakeEngines, FakeStorage
from fakes.system import FakeClock, FakeJobs
from fakes.uow import FakeStore, FakeUnitOfWork

from scormhub.domain import courses
from scormhub.domain.courses import (
    MAX_IMPORT_ATTEMPTS,
    PackageRejected,
    PackageTooLarge,
    StorageQuotaExceeded,
)
from scormhub.domain.errors import EngineUnavailable, NotFound
from scormhub.domain.model import CourseStatus, EngineKind, ImportState, ImportStatus
from scormhub.domain.scorm.package import PackageLimits, PackageReport, Problem
from scormhub.domain.workspaces import ensure_standalone_workspace


class Upload:
    def __init__(self, name: str, data: bytes) -> None:
        self._name = name
        self.data = data
        self.file_name: str | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        self.file_name = self._name
        for start in range(0, len(self.data), 4):
            yield self.data[start : start + 4]


@pytest.fixture
def world() -> tuple[FakeStore, FakeClock, FakeJobs]:
    return FakeStore(), FakeClock(), FakeJobs()


async def upload(store: FakeStore, clock: FakeClock, jobs: FakeJobs, storage: FakeStorage, **kwargs: object):
    workspace, _ = await ensure_standalone_workspace(uow=FakeUnitOfWork(store), clock=clock)
    return await courses.upload_course(
        workspace_id=workspace.id,
        upload=kwargs.get("upload") or Upload("golf.zip", b"PK-zip-bytes"),  # type: ignore[arg-type]
        max_bytes=int(kwargs.get("max_bytes", 1000)),  # type: ignore[arg-type]
        limits=PackageLimits(),
        uow=FakeUnitOfWork(store),
        storage=storage,
        jobs=jobs,
        clock=clock,
        quota_bytes=kwargs.get("quota_bytes"),  # type: ignore[arg-type]
        used_bytes=int(kwargs.get("used_bytes", 0)),  # type: ignore[arg-type]
    )


async def test_a_package_that_would_pass_the_storage_quota_is_refused_before_it_is_stored(world) -> None:
    store, clock, jobs = world
    storage = FakeStorage()
    storage.unpacked = {"key1": 300 * 1024 * 1024}
    quota = 2048 * 1024 * 1024

    with pytest.raises(StorageQuotaExceeded) as refused:
        await upload(store, clock, jobs, storage, quota_bytes=quota, used_bytes=1900 * 1024 * 1024)
    settled_when_refused, kept_when_refused = list(storage.settled), dict(storage.blobs)
    fits = await upload(store, clock, jobs, storage, quota_bytes=quota, used_bytes=1700 * 1024 * 1024)

    assert "takes 300.0 MB once unpacked" in str(refused.value)
    assert "already uses 1900.0 MB of its 2048.0 MB" in str(refused.value)
    assert "SCORMHUB_STORAGE_QUOTA_MB" in str(refused.value)
    assert settled_when_refused == [], "the refused package never reached storage"
    assert kept_when_refused == {}, "and its upload was discarded"
    assert fits.status is CourseStatus.PROCESSING


async def test_an_accepted_upload_becomes_a_processing_course_with_its_import_queued(world) -> None:
    store, clock, jobs = world
    storage = FakeStorage()

    course = await upload(store, clock, jobs, storage)

    assert course.status is CourseStatus.PROCESSING
    assert course.title == "Golf Explained"
    assert course.file_name == "golf.zip"
    assert course.warnings == VALID_REPORT.warnings
    assert list(store.courses) == [course.id]
    assert jobs.enqueued == [
        (
            "import_course",
            f"import_course:{course.id}",
            {"workspace_id": str(course.workspace_id), "course_id": str(course.id)},
        )
    ]
    assert len(course.self_enroll_token) >= 40


async def test_a_rejected_package_leaves_nothing_behind(world) -> None:
    store, clock, jobs = world
    bad = replace(VALID_REPORT, valid=False, errors=(Problem("P1-no-manifest", "No manifest."),))
    storage = FakeStorage(report=bad)

    with pytest.raises(PackageRejected) as rejected:
        await upload(store, clock, jobs, storage)

    assert rejected.value.report.errors[0].code == "P1-no-manifest"
    assert storage.blobs == {}
    assert store.courses == {}
    assert jobs.enqueued == []


async def test_an_oversized_package_is_cut_off_and_nothing_is_kept(world) -> None:
    store, clock, jobs = world
    storage = FakeStorage()
    big = Upload("big.zip", b"x" * 5000)

    with pytest.raises(PackageTooLarge):
        await upload(store, clock, jobs, storage, upload=big, max_bytes=100)

    assert storage.blobs == {}
    assert store.courses == {}


async def test_the_import_makes_the_course_ready_with_the_engines_title(world) -> None:
    store, clock, jobs = world
    course = await upload(store, clock, jobs, FakeStorage())
    engine = FakeEngine()

    done = await courses.import_course(
        course.workspace_id, course.id, uow=FakeUnitOfWork(store), engines=FakeEngines(engine), clock=clock
    )

    assert done.status is CourseStatus.READY
    assert done.title == "Golf Explained (engine)"
    assert store.courses[course.id].status is CourseStatus.READY


async def test_running_the_import_twice_imports_once(world) -> None:
    store, clock, jobs = world
    course = await upload(store, clock, jobs, FakeStorage())
    engine = FakeEngine()

    for _ in range(2):
        await courses.import_course(
            course.workspace_id,
            course.id,
            uow=FakeUnitOfWork(store),
            engines=FakeEngines(engine),
            clock=clock,
        )

    assert engine.started == [course.id]


async def test_an_import_still_running_is_polled_again_without_restarting(world) -> None:
    store, clock, jobs = world
    course = await upload(store, clock, jobs, FakeStorage())
    engine = FakeEngine(polls_until_done=1)
    engines = FakeEngines(engine)

    first = await courses.import_course(
        course.workspace_id, course.id, uow=FakeUnitOfWork(store), engines=engines, clock=clock
    )
    second = await courses.import_course(
        course.workspace_id, course.id, uow=FakeUnitOfWork(store), engines=engines, clock=clock
    )

    assert first.status is CourseStatus.PROCESSING
    assert second.status is CourseStatus.READY
    assert engine.started == [course.id]


async def test_an_engine_refusal_becomes_an_error_with_its_reason(world) -> None:
    store, clock, jobs = world
    course = await upload(store, clock, jobs, FakeStorage())
    engine = FakeEngine(fail_with="The package could not be unpacked: bad CRC.")

    done = await courses.import_course(
        course.workspace_id, course.id, uow=FakeUnitOfWork(store), engines=FakeEngines(engine), clock=clock
    )

    assert done.status is CourseStatus.ERROR
    assert done.status_message == "The package could not be unpacked: bad CRC."


async def test_an_unreachable_engine_is_retried_and_then_marked_as_an_error(world) -> None:
    store, clock, jobs = world
    course = await upload(store, clock, jobs, FakeStorage())
    engines = FakeEngines(FakeEngine(down=True))

    for _ in range(MAX_IMPORT_ATTEMPTS):
        with pytest.raises(EngineUnavailable):
            await courses.import_course(
                course.workspace_id, course.id, uow=FakeUnitOfWork(store), engines=engines, clock=clock
            )
        assert store.courses[course.id].status is CourseStatus.PROCESSING
        assert "not answering" in (store.courses[course.id].status_message or "")
    final = await courses.import_course(
        course.workspace_id, course.id, uow=FakeUnitOfWork(store), engines=engines, clock=clock
    )

    assert final.status is CourseStatus.ERROR
    assert "did not finish after several tries" in (final.status_message or "")


async def test_a_stalled_import_is_requeued_then_given_up(world) -> None:
    store, clock, jobs = world
    course = await upload(store, clock, jobs, FakeStorage())
    jobs.enqueued.clear()
    clock.advance(minutes=6)

    found = await courses.recover_stuck_imports(uow=FakeUnitOfWork(store), jobs=jobs, clock=clock)

    assert found == 1
    assert [job for job, _, _ in jobs.enqueued] == ["import_course"]
    store.courses[course.id] = replace(store.courses[course.id], import_attempts=MAX_IMPORT_ATTEMPTS)
    clock.advance(minutes=6)
    await courses.recover_stuck_imports(uow=FakeUnitOfWork(store), jobs=jobs, clock=clock)
    assert store.courses[course.id].status is CourseStatus.ERROR


async def test_a_recent_import_is_not_taken_for_stuck(world) -> None:
    store, clock, jobs = world
    await upload(store, clock, jobs, FakeStorage())
    jobs.enqueued.clear()
    clock.advance(minutes=2)

    assert await courses.recover_stuck_imports(uow=FakeUnitOfWork(store), jobs=jobs, clock=clock) == 0
    assert jobs.enqueued == []


async def test_deleting_a_course_removes_it_from_engine_storage_and_workspace(world) -> None:
    store, clock, jobs = world
    storage = FakeStorage()
    course = await upload(store, clock, jobs, storage)
    engine = FakeEngine()

    await courses.delete_course(
        course.workspace_id,
        course.id,
        uow=FakeUnitOfWork(store),
        engines=FakeEngines(engine),
        storage=storage,
    )

    assert engine.deleted == [course.id]
    assert storage.blobs == {}
    assert store.courses == {}


async def test_another_workspaces_course_is_not_found(world) -> None:
    store, clock, jobs = world
    course = await upload(store, clock, jobs, FakeStorage())
    other = replace(store.workspaces[course.workspace_id], id=uuid.uuid4())

    with pytest.raises(NotFound):
        await courses.delete_course(
            other.id,
            course.id,
            uow=FakeUnitOfWork(store),
            engines=FakeEngines(FakeEngine()),
            storage=FakeStorage(),
        )
    assert course.id in store.courses


def test_a_course_never_moves_back_from_a_final_status(world) -> None:
    _, clock, _ = world
    report: PackageReport = VALID_REPORT
    course = courses.new_course(
        workspace_id=uuid.uuid4(),
        engine=EngineKind.BUILTIN,
        report=report,
        package_key="k",
        package_bytes=1,
        file_name="a.zip",
        now=clock.now(),
    )
    ready = courses.apply_import_status(course, ImportStatus(state=ImportState.COMPLETE), clock.now())
    late_error = courses.apply_import_status(
        ready, ImportStatus(state=ImportState.ERROR, message="x"), clock.now()
    )

    assert late_error.status is CourseStatus.READY
