"""Courses: from an uploaded package to a Ready (or explained Error) course in the workspace's engine."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.errors import DomainError, NotFound, ServiceUnavailable, StorageUnavailable
from scormhub.domain.model import Course, CourseStatus, EngineKind, ImportState, ImportStatus
from scormhub.domain.scorm.package import PackageLimits, PackageReport
from scormhub.domain.version_rules import HashingUpload, first_version

if TYPE_CHECKING:
    from scormhub.domain.ports import (
        Clock,
        EngineRegistry,
        IncomingPackage,
        JobQueue,
        PackageStorage,
        UnitOfWork,
    )

# An import that has not finished after this long is looked at again by the recovery cron job.
STUCK_AFTER = timedelta(minutes=5)
# Each import gets this many tries (the job's own retries and recoveries together) before Error.
MAX_IMPORT_ATTEMPTS = 3
STUCK_MESSAGE = (
    "The import did not finish after several tries. Delete this course and upload the package again; "
    "if it keeps happening, check the package with `scormhub package check`."
)


class PackageRejected(DomainError):
    """The package failed validation: nothing was kept, and the problems say what to fix."""

    def __init__(self, report: PackageReport) -> None:
        super().__init__("; ".join(p.message for p in report.errors))
        self.report = report


def new_course(
    *,
    workspace_id: UUID,
    engine: EngineKind,
    report: PackageReport,
    package_key: str,
    package_bytes: int,
    file_name: str,
    now: datetime,
) -> Course:
    """A Processing course for a validated package. The self-enrollment token is unguessable (256 bits)."""
    if not report.valid or report.standard is None:
        raise PackageRejected(report)
    return Course(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        title=(report.title or file_name.removesuffix(".zip") or "Untitled course")[:300],
        standard=report.standard,
        edition=report.edition,
        status=CourseStatus.PROCESSING,
        engine=engine,
        package_key=package_key,
        package_bytes=package_bytes,
        file_name=file_name[:255],
        self_enroll_token=secrets.token_urlsafe(32),
        created_at=now,
        updated_at=now,
        warnings=report.warnings,
        scos=report.scos,
        mastery_score=report.mastery_score,
        organization=report.organization,
    )


def apply_import_status(course: Course, status: ImportStatus, now: datetime) -> Course:
    """Move a Processing course along; a final course never changes (a late or repeated poll is harmless)."""
    if course.is_final or status.state is ImportState.RUNNING:
        return course
    if status.state is ImportState.ERROR:
        return replace(
            course,
            status=CourseStatus.ERROR,
            status_message=status.message or "The engine could not import this package.",
            updated_at=now,
        )
    warnings = course.warnings + tuple(w for w in status.warnings if w not in course.warnings)
    return replace(
        course,
        status=CourseStatus.READY,
        title=(status.title or course.title)[:300],
        warnings=warnings,
        status_message=None,
        updated_at=now,
    )


def give_up(course: Course, now: datetime, message: str = STUCK_MESSAGE) -> Course:
    if course.is_final:
        return course
    return replace(course, status=CourseStatus.ERROR, status_message=message, updated_at=now)


class ImportFailed(DomainError):
    """The engine could not import the package; the message says why, for the admin."""


class PackageTooLarge(DomainError):
    """The upload passed the size cap; it was cut off there and nothing was kept."""

    def __init__(self, limit_bytes: int) -> None:
        mb = limit_bytes // (1024 * 1024)
        super().__init__(
            f"This package is larger than the {mb} MB limit. Remove unused media (large videos are the "
            "usual cause) or ask your administrator to raise SCORMHUB_MAX_PACKAGE_MB."
        )
        self.limit_bytes = limit_bytes


class StorageQuotaExceeded(DomainError):
    """The package would take the workspace past its storage quota: nothing was stored."""

    def __init__(self, needed: int, used: int, quota: int) -> None:
        super().__init__(
            f"This course takes {_mb(needed)} once unpacked, and this workspace already uses {_mb(used)} of "
            f"its {_mb(quota)} of course storage. Delete courses you no longer need, or ask your "
            "administrator to raise SCORMHUB_STORAGE_QUOTA_MB."
        )


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


# --- use cases ---------------------------------------------------------------------------------------


async def upload_course(
    *,
    workspace_id: UUID,
    upload: IncomingPackage,
    max_bytes: int,
    limits: PackageLimits,
    uow: UnitOfWork,
    storage: PackageStorage,
    jobs: JobQueue,
    clock: Clock,
    quota_bytes: int | None = None,
    used_bytes: int = 0,
) -> Course:
    """Store, validate and register an uploaded package, then queue its import.

    With a quota, a package whose unpacked size would take the workspace (`used_bytes` already) past it
    is refused before it reaches storage.

    Validation happens before anything reaches an engine; a rejected or oversized package leaves nothing
    behind. If queueing fails after the course is saved, the stuck-import recovery picks it up.
    """
    hashing = HashingUpload(upload)  # the zip's SHA-256 recognises it if it is uploaded again as a version
    stored_key, size = await storage.write(hashing.chunks(), max_bytes=max_bytes)
    try:
        report = await storage.inspect(stored_key, limits)
        if not report.valid:
            raise PackageRejected(report)
        if quota_bytes is not None:
            needed = await storage.unpacked_bytes(stored_key, report, limits)
            if used_bytes + needed > quota_bytes:
                raise StorageQuotaExceeded(needed, used_bytes, quota_bytes)
        report, size = await storage.settle(stored_key, report, limits)
        async with uow:
            workspace = await uow.workspaces.get(workspace_id)
            if workspace is None:
                raise NotFound("workspace")
            course = new_course(
                workspace_id=workspace_id,
                engine=workspace.engine,
                report=report,
                package_key=stored_key,
                package_bytes=size,
                file_name=upload.file_name or "course.zip",
                now=clock.now(),
            )
            await uow.courses.add(course)
            await uow.course_versions.add(first_version(course, hashing.digest.hexdigest(), clock.now()))
            await uow.commit()
    except BaseException:
        await storage.delete(stored_key)
        raise
    await enqueue_import(course, jobs=jobs)
    return course


async def enqueue_import(
    course: Course, *, jobs: JobQueue, poll: int | None = None, delay_s: float = 0
) -> None:
    # The key collapses duplicates of the same step; a follow-up poll gets its own key, because the job
    # that schedules it is still running under the first one.
    key = f"import_course:{course.id}" if poll is None else f"import_course:{course.id}:poll:{poll}"
    await jobs.enqueue(
        "import_course",
        key=key,
        delay_s=delay_s,
        workspace_id=str(course.workspace_id),
        course_id=str(course.id),
    )


async def import_course(
    workspace_id: UUID, course_id: UUID, *, uow: UnitOfWork, engines: EngineRegistry, clock: Clock
) -> Course:
    """Hand the package to the course's engine and record what it says. Safe to run any number of times.

    The course row stays locked while we talk to the engine, so two runs never start two imports.
    """
    async with uow:
        course = await uow.courses.get_for_update(workspace_id, course_id)
        if course is None:
            raise NotFound("course")
        if course.is_final:
            return course
        if course.import_attempts >= MAX_IMPORT_ATTEMPTS:
            course = give_up(course, clock.now())
            await uow.courses.save(course)
            await uow.commit()
            return course
        course = replace(course, import_attempts=course.import_attempts + 1)
        engine = engines.for_kind(course.engine)
        try:
            handle = course.import_handle or await engine.start_import(course)
            course = replace(course, import_handle=handle)
            status = await engine.poll_import(handle)
        except ServiceUnavailable as exc:
            # Keep the attempt count, say what is happening, and let the job retry later.
            await uow.courses.save(
                replace(course, status_message=f"The course engine is not answering ({exc}). Retrying.")
            )
            await uow.commit()
            raise
        except DomainError as exc:
            status = ImportStatus(state=ImportState.ERROR, message=str(exc))
        if status.state is ImportState.RUNNING:
            # Polling is not an attempt: only starting or failing counts against the limit.
            course = replace(course, import_attempts=course.import_attempts - 1)
        course = apply_import_status(course, status, clock.now())
        await uow.courses.save(course)
        await uow.commit()
        return course


async def recover_stuck_imports(
    *, uow: UnitOfWork, jobs: JobQueue, clock: Clock, stuck_after: timedelta = STUCK_AFTER
) -> int:
    """Re-queue imports that stalled (a crash, a lost job); after too many tries, say so. Returns how many."""
    now = clock.now()
    async with uow:
        stuck = await uow.courses.list_processing_since(now - stuck_after)
        requeue: list[Course] = []
        for course in stuck:
            if course.import_attempts >= MAX_IMPORT_ATTEMPTS:
                await uow.courses.save(give_up(course, now))
            else:
                touched = replace(course, updated_at=now)
                await uow.courses.save(touched)
                requeue.append(touched)
        await uow.commit()
    for course in requeue:
        await enqueue_import(course, jobs=jobs, poll=course.import_attempts)
    return len(stuck)


async def delete_course(
    workspace_id: UUID,
    course_id: UUID,
    *,
    uow: UnitOfWork,
    engines: EngineRegistry,
    storage: PackageStorage,
) -> Course:
    """Remove a course from its engine, from storage and from the workspace."""
    async with uow:
        course = await uow.courses.get_for_update(workspace_id, course_id)
        if course is None:
            raise NotFound("course")
        with contextlib.suppress(NotFound):  # already gone from the engine: nothing to undo
            await engines.for_kind(course.engine).delete_course(course)
        await uow.courses.delete(workspace_id, course_id)
        await uow.commit()
    # The course is gone; should storage be down, the clean-up job removes its package later.
    with contextlib.suppress(StorageUnavailable):
        await storage.delete(course.package_key)
    return course
