"""An in-memory CourseVersionRepository (it sees the enrollments of the same fake transaction)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.model import CourseVersion, Enrollment
from scormhub.domain.scorm.cmi import Completion, Success

if TYPE_CHECKING:
    from scormhub.domain.ports.versions import CourseVersionRepository


class FakeCourseVersionRepository:
    def __init__(self, staged: dict[UUID, CourseVersion], enrollments: dict[UUID, Enrollment]) -> None:
        self.staged = staged
        self.enrollments = enrollments

    async def add(self, version: CourseVersion) -> None:
        self.staged[version.id] = version

    async def save(self, version: CourseVersion) -> None:
        self.staged[version.id] = version

    async def get(self, workspace_id: UUID, version_id: UUID) -> CourseVersion | None:
        found = self.staged.get(version_id)
        return found if found is not None and found.workspace_id == workspace_id else None

    async def get_for_update(self, workspace_id: UUID, version_id: UUID) -> CourseVersion | None:
        return await self.get(workspace_id, version_id)

    async def number(self, workspace_id: UUID, course_id: UUID, number: int) -> CourseVersion | None:
        return next(
            (
                v
                for v in self.staged.values()
                if (v.workspace_id, v.course_id, v.number) == (workspace_id, course_id, number)
            ),
            None,
        )

    async def list_for_course(self, workspace_id: UUID, course_id: UUID) -> list[CourseVersion]:
        mine = [v for v in self.staged.values() if (v.workspace_id, v.course_id) == (workspace_id, course_id)]
        return sorted(mine, key=lambda v: -v.number)

    async def stalled(self, created_before: datetime) -> list[CourseVersion]:
        return [v for v in self.staged.values() if not v.is_final and v.created_at < created_before]

    async def learners_per_version(self, workspace_id: UUID, course_id: UUID) -> dict[int, int]:
        counts: dict[int, int] = {}
        for e in self.enrollments.values():
            if (e.workspace_id, e.course_id) == (workspace_id, course_id):
                counts[e.course_version or 1] = counts.get(e.course_version or 1, 0) + 1
        return counts

    async def to_move(
        self, workspace_id: UUID, course_id: UUID, number: int, *, all_: bool
    ) -> list[Enrollment]:
        return [
            e
            for e in self.enrollments.values()
            if (e.workspace_id, e.course_id) == (workspace_id, course_id)
            and (e.course_version or 1) < number
            and (all_ or e.completion is not Completion.COMPLETED)
        ]

    async def restart(self, enrollment: Enrollment, number: int, now: datetime) -> bool:
        held = self.enrollments.get(enrollment.id)
        if held is None or (held.course_version or 1) >= number:
            return False
        self.enrollments[enrollment.id] = replace(
            held,
            course_version=number,
            completion=Completion.NOT_STARTED,
            success=Success.UNKNOWN,
            score_raw=None,
            score_percent=None,
            completed_at=None,
            override=None,
            updated_at=now,
        )
        return True


if TYPE_CHECKING:
    _versions: CourseVersionRepository = FakeCourseVersionRepository({}, {})
