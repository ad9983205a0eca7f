"""Course versions, the rules without ports: a new course's version 1, a course as one of its versions
plays it, and the hash that recognises a zip uploaded again (domain.versions holds the use cases)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from scormhub.domain.model import Course, CourseVersion, Enrollment, VersionPolicy

if TYPE_CHECKING:
    from scormhub.domain.ports import IncomingPackage, UnitOfWork


class HashingUpload:
    """The upload, passed through as it streams, with the SHA-256 of every byte that went by."""

    def __init__(self, upload: IncomingPackage) -> None:
        self._upload = upload
        self.digest = hashlib.sha256()

    @property
    def file_name(self) -> str | None:
        return self._upload.file_name

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._upload.chunks():
            self.digest.update(chunk)
            yield chunk


def first_version(course: Course, sha256: str | None, now: datetime) -> CourseVersion:
    """Version 1 of a new course: the course's own package."""
    return CourseVersion(
        id=uuid.uuid4(),
        workspace_id=course.workspace_id,
        course_id=course.id,
        number=1,
        package_key=course.package_key,
        package_bytes=course.package_bytes,
        file_name=course.file_name,
        sha256=sha256,
        standard=course.standard,
        edition=course.edition,
        scos=course.scos,
        mastery_score=course.mastery_score,
        warnings=course.warnings,
        # The course's own import is this version's: the course's status is what the page shows for it.
        status="ready",
        policy=VersionPolicy.NEVER,
        created_at=now,
        activated_at=now,
    )


def pinned(course: Course, version: CourseVersion | None) -> Course:
    """The course as one of its versions plays it (its SCOs, mastery score and package)."""
    if version is None or version.number == course.version:
        return course
    return replace(
        course,
        version=version.number,
        standard=version.standard,
        edition=version.edition,
        scos=version.scos,
        mastery_score=version.mastery_score,
        package_key=version.package_key,
        package_bytes=version.package_bytes,
    )


def as_current(course: Course, version: CourseVersion, now: datetime) -> Course:
    """The course once `version` is its current one (the course row describes its current version)."""
    return replace(
        course,
        version=version.number,
        standard=version.standard,
        edition=version.edition,
        scos=version.scos,
        mastery_score=version.mastery_score,
        package_key=version.package_key,
        package_bytes=version.package_bytes,
        file_name=version.file_name,
        warnings=version.warnings,
        updated_at=now,
    )


async def course_for_enrollment(uow: UnitOfWork, enrollment: Enrollment, course: Course) -> Course:
    """The course as this learner plays it: their version, which may be older than the current one."""
    if enrollment.course_version is None or enrollment.course_version == course.version:
        return course
    version = await uow.course_versions.number(enrollment.workspace_id, course.id, enrollment.course_version)
    return pinned(course, version)
