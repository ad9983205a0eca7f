"""Ports for course versions: where versions are kept, and what an engine does for a learner who restarts."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from scormhub.domain.model import CourseVersion, Enrollment


class CourseVersionRepository(Protocol):
    """Scoped by workspace like every repository: another workspace's course has no versions here."""

    async def add(self, version: CourseVersion) -> None: ...

    async def save(self, version: CourseVersion) -> None: ...

    async def get(self, workspace_id: UUID, version_id: UUID) -> CourseVersion | None: ...

    async def get_for_update(self, workspace_id: UUID, version_id: UUID) -> CourseVersion | None: ...

    async def number(self, workspace_id: UUID, course_id: UUID, number: int) -> CourseVersion | None: ...

    async def list_for_course(self, workspace_id: UUID, course_id: UUID) -> list[CourseVersion]:
        """Newest first."""
        ...

    async def stalled(self, created_before: datetime) -> list[CourseVersion]:
        """Versions of every workspace still importing although uploaded before then (for the recovery)."""
        ...

    async def learners_per_version(self, workspace_id: UUID, course_id: UUID) -> dict[int, int]: ...

    async def to_move(
        self, workspace_id: UUID, course_id: UUID, number: int, *, all_: bool
    ) -> list[Enrollment]:
        """Enrollments on an older version: every one (`all_`), or only those not completed."""
        ...

    async def restart(self, enrollment: Enrollment, number: int, now: datetime) -> bool:
        """Put the learner on version `number` from the start (progress and run-time state cleared);
        False when they were already moved (a second run of the same step)."""
        ...


class ProgressReset(Protocol):
    """An engine that keeps progress itself (SCORM Cloud): clearing it moves the registration to the
    course's latest version."""

    async def reset_progress(self, registration_id: str) -> None: ...
