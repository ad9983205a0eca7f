"""Course versions: a new package for an existing course, and what happens to its learners.

A new version is uploaded like a course (validated before anything reaches an engine), recognised when it
is the same zip as the current version (its SHA-256), imported into the course's engine — SCORM Cloud as a
new version of the same course (`mayCreateNewVersion`), the built-in player into a folder of its own — and
becomes current when the import is done. Learners already enrolled stay on the version they started unless
the admin chose otherwise at upload: those who have not completed restart on the new version, or everyone
does (their progress starts again; what was sent to the CRM stays until their new result replaces it).
New enrollments always get the current version.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.courses import MAX_IMPORT_ATTEMPTS, STUCK_AFTER, STUCK_MESSAGE, PackageRejected
from scormhub.domain.errors import DomainError, NotFound, ServiceUnavailable
from scormhub.domain.model import (
    Course,
    CourseStatus,
    CourseVersion,
    EngineKind,
    Enrollment,
    ImportState,
    ImportStatus,
    VersionPolicy,
)
from scormhub.domain.scorm.package import PackageLimits
from scormhub.domain.version_rules import HashingUpload, pinned
from scormhub.domain.version_rules import as_current as as_current
from scormhub.domain.version_rules import first_version as first_version

if TYPE_CHECKING:
    from scormhub.domain.ports import (
        Clock,
        EngineRegistry,
        IncomingPackage,
        JobQueue,
        PackageStorage,
        UnitOfWork,
    )
    from scormhub.domain.ports.versions import ProgressReset


STILL_IMPORTING = "Another version of this course is still being imported. Wait until it is Ready."


class SameVersion(DomainError):
    """The uploaded zip is the course's current version already: nothing was added."""


class VersionRejected(DomainError):
    """A new version cannot be added to this course now; the message says why and what to do."""


# --- use cases -----------------------------------------------------------------------------------------


async def upload_version(
    *,
    workspace_id: UUID,
    course_id: UUID,
    upload: IncomingPackage,
    policy: Callable[[], VersionPolicy],
    max_bytes: int,
    limits: PackageLimits,
    uow: UnitOfWork,
    storage: PackageStorage,
    jobs: JobQueue,
    clock: Clock,
) -> CourseVersion:
    """Store and validate a new package for a course, then queue its import as the next version.

    `policy` is read once the package is stored: the upload form sends its choice before the file.
    """
    hashing = HashingUpload(upload)
    stored_key, size = await storage.write(hashing.chunks(), max_bytes=max_bytes)
    sha256 = hashing.digest.hexdigest()
    try:
        report = await storage.inspect(stored_key, limits)
        if not report.valid or report.standard is None:
            raise PackageRejected(report)
        report, size = await storage.settle(stored_key, report, limits)
        standard = report.standard or "scorm12"  # settling keeps the standard validation found
        async with uow:
            course = await uow.courses.get_for_update(workspace_id, course_id)
            if course is None:
                raise NotFound("course")
            if course.status is not CourseStatus.READY:
                raise VersionRejected("A new version can be added once this course is Ready.")
            versions = await uow.course_versions.list_for_course(workspace_id, course_id)
            current = next((v for v in versions if v.number == course.version), None)
            if current is not None and current.sha256 == sha256:
                raise SameVersion(
                    f"This package is the same as version {course.version}, which is already the current "
                    "one: nothing was changed."
                )
            if any(not v.is_final for v in versions):
                raise VersionRejected(STILL_IMPORTING)
            number = max((v.number for v in versions), default=course.version) + 1
            version = CourseVersion(
                id=uuid.uuid4(),
                workspace_id=workspace_id,
                course_id=course_id,
                number=number,
                package_key=stored_key,
                package_bytes=size,
                file_name=(upload.file_name or "course.zip")[:255],
                sha256=sha256,
                standard=standard,
                edition=report.edition,
                scos=report.scos,
                mastery_score=report.mastery_score,
                warnings=report.warnings,
                status="processing",
                policy=policy(),
                created_at=clock.now(),
            )
            await uow.course_versions.add(version)
            await uow.commit()
    except BaseException:
        await storage.delete(stored_key)
        raise
    await enqueue_version_import(version, jobs=jobs)
    return version


async def enqueue_version_import(
    version: CourseVersion, *, jobs: JobQueue, poll: int | None = None, delay_s: float = 0
) -> None:
    key = f"import_course_version:{version.id}" + ("" if poll is None else f":poll:{poll}")
    await jobs.enqueue(
        "import_course_version",
        key=key,
        delay_s=delay_s,
        workspace_id=str(version.workspace_id),
        version_id=str(version.id),
    )


async def recover_stalled_versions(*, uow: UnitOfWork, jobs: JobQueue, clock: Clock) -> int:
    """Queue again the imports of versions still processing long after their upload (a crash, a lost job).

    Each run of the import counts an attempt, so a version that keeps failing ends in Error, and the
    course accepts a new version again.
    """
    async with uow:
        stalled = await uow.course_versions.stalled(clock.now() - STUCK_AFTER)
    for version in stalled:
        await enqueue_version_import(version, jobs=jobs, poll=int(clock.now().timestamp()))
    return len(stalled)


@dataclass(frozen=True)
class VersionImport:
    version: CourseVersion
    moved: int = 0  # learners put on the new version by its policy


async def import_version(
    workspace_id: UUID,
    version_id: UUID,
    *,
    uow: UnitOfWork,
    engines: EngineRegistry,
    resets: ProgressReset | None,
    clock: Clock,
) -> VersionImport:
    """Import the version into the course's engine; once it is in, make it current and apply its policy.

    Safe to run again: a finished import is not repeated, and learners already moved are not moved twice.
    """
    async with uow:
        version = await uow.course_versions.get_for_update(workspace_id, version_id)
        if version is None:
            raise NotFound("course version")
        course = await uow.courses.get_for_update(workspace_id, version.course_id)
        if course is None:
            raise NotFound("course")
        if not version.is_final:
            version = await _import_step(version, course, uow=uow, engines=engines, now=clock.now())
            if version.status == "ready":
                await uow.courses.save(as_current(course, version, clock.now()))
            await uow.commit()
    if version.status != "ready":
        return VersionImport(version)
    moved = await apply_policy(
        workspace_id, version, uow=uow, resets=resets, clock=clock, engine=course.engine
    )
    return VersionImport(version, moved)


async def _import_step(
    version: CourseVersion, course: Course, *, uow: UnitOfWork, engines: EngineRegistry, now: datetime
) -> CourseVersion:
    if version.import_attempts >= MAX_IMPORT_ATTEMPTS:
        failed = replace(version, status="error", status_message=STUCK_MESSAGE)
        await uow.course_versions.save(failed)
        return failed
    version = replace(version, import_attempts=version.import_attempts + 1)
    engine = engines.for_kind(course.engine)
    target = replace(pinned(course, version), version=version.number)
    try:
        handle = version.import_handle or await engine.start_import(target)
        version = replace(version, import_handle=handle)
        status = await engine.poll_import(handle)
    except ServiceUnavailable as exc:
        await uow.course_versions.save(
            replace(version, status_message=f"The course engine is not answering ({exc}). Retrying.")
        )
        await uow.commit()
        raise
    except DomainError as exc:
        status = ImportStatus(state=ImportState.ERROR, message=str(exc))
    if status.state is ImportState.RUNNING:
        version = replace(version, import_attempts=version.import_attempts - 1)
    elif status.state is ImportState.ERROR:
        version = replace(
            version, status="error", status_message=status.message or "The engine could not import it."
        )
    else:
        warnings = version.warnings + tuple(w for w in status.warnings if w not in version.warnings)
        version = replace(version, status="ready", status_message=None, warnings=warnings, activated_at=now)
    await uow.course_versions.save(version)
    return version


async def apply_policy(
    workspace_id: UUID,
    version: CourseVersion,
    *,
    uow: UnitOfWork,
    resets: ProgressReset | None,
    clock: Clock,
    engine: EngineKind,
) -> int:
    """Move the learners the version's policy names onto it, one transaction each (a crash resumes)."""
    if version.policy is VersionPolicy.NEVER:
        return 0
    async with uow:
        learners = await uow.course_versions.to_move(
            workspace_id, version.course_id, version.number, all_=version.policy is VersionPolicy.RESTART_ALL
        )
    moved = 0
    for enrollment in learners:
        moved += await _restart(enrollment, version, uow=uow, resets=resets, clock=clock, engine=engine)
    return moved


async def _restart(
    enrollment: Enrollment,
    version: CourseVersion,
    *,
    uow: UnitOfWork,
    resets: ProgressReset | None,
    clock: Clock,
    engine: EngineKind,
) -> int:
    if engine is EngineKind.SCORM_CLOUD:
        if resets is None:
            raise ServiceUnavailable("SCORM Cloud is not connected, so its learners cannot be restarted.")
        # Clearing the registration's progress moves it to SCORM Cloud's latest version of the course.
        # Done before our row moves: if it fails the job retries, and a second reset of a registration
        # nobody has launched since is harmless.
        await resets.reset_progress(str(enrollment.id))
    async with uow:
        done = await uow.course_versions.restart(enrollment, version.number, clock.now())
        await uow.commit()
    return int(done)


async def adopt_as_version(
    workspace_id: UUID,
    upload_id: UUID,
    target_id: UUID,
    policy: VersionPolicy,
    *,
    uow: UnitOfWork,
    engines: EngineRegistry,
    jobs: JobQueue,
    storage: PackageStorage,
    clock: Clock,
) -> CourseVersion:
    """A zip uploaded as a new course turns out to be a new version of an existing one (same file name,
    and the admin says so): its package becomes the next version of that course, and the upload's own
    course goes. Nothing is imported twice into the target; learners follow `policy` once it is Ready."""
    async with uow:
        upload = await uow.courses.get_for_update(workspace_id, upload_id)
        target = await uow.courses.get_for_update(workspace_id, target_id)
        if upload is None or target is None or upload.id == target.id:
            raise NotFound("course")
        if await uow.enrollments.count_for_course(workspace_id, upload.id):
            raise VersionRejected(
                "Learners are enrolled in this upload already, so it stays a course of its own. Upload the "
                f"zip again with “Upload new version” on “{target.title}”."
            )
        if target.status is not CourseStatus.READY:
            raise VersionRejected(f"“{target.title}” is not Ready yet; try again once it is.")
        mine = await uow.course_versions.number(workspace_id, upload.id, 1)
        sha256 = mine.sha256 if mine is not None else None
        versions = await uow.course_versions.list_for_course(workspace_id, target.id)
        if any(not v.is_final for v in versions):
            raise VersionRejected(STILL_IMPORTING)
        current = next((v for v in versions if v.number == target.version), None)
        same = sha256 is not None and current is not None and current.sha256 == sha256
        version = CourseVersion(
            id=uuid.uuid4(),
            workspace_id=workspace_id,
            course_id=target.id,
            number=max((v.number for v in versions), default=target.version) + 1,
            package_key=upload.package_key,
            package_bytes=upload.package_bytes,
            file_name=upload.file_name,
            sha256=sha256,
            standard=upload.standard,
            edition=upload.edition,
            scos=upload.scos,
            mastery_score=upload.mastery_score,
            warnings=upload.warnings,
            status="processing",
            policy=policy,
            created_at=clock.now(),
        )
        if not same:
            await uow.course_versions.add(version)
        with contextlib.suppress(NotFound):  # the upload's own import may never have reached the engine
            await engines.for_kind(upload.engine).delete_course(upload)
        await uow.courses.delete(workspace_id, upload.id)
        await uow.commit()
    if same:
        await storage.delete(upload.package_key)
        raise SameVersion(
            f"This zip is the same as version {target.version} of “{target.title}”, which is already the "
            "current one: nothing was added, and the duplicate upload was removed."
        )
    await enqueue_version_import(version, jobs=jobs)
    return version
