"""Course versions: one uploaded package of a course each (split from domain.model by size)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from scormhub.domain.scorm.package import Problem, Sco


class VersionPolicy(enum.StrEnum):
    """What happens to learners already enrolled when a new version becomes current (as SCORM Cloud
    offers): nobody moves, learners who have not completed restart on it, or everyone restarts on it."""

    NEVER = "never"
    RESTART_INCOMPLETE = "restart_incomplete"
    RESTART_ALL = "restart_all"


@dataclass(frozen=True)
class CourseVersion:
    id: UUID
    workspace_id: UUID
    course_id: UUID
    number: int
    package_key: str
    package_bytes: int
    file_name: str
    sha256: str | None  # of the zip as uploaded; None for a course uploaded before versions existed
    standard: str
    edition: str | None
    scos: tuple[Sco, ...]
    mastery_score: float | None
    warnings: tuple[Problem, ...]
    status: str  # processing | ready | error
    policy: VersionPolicy
    created_at: datetime
    status_message: str | None = None
    import_handle: str | None = None
    import_attempts: int = 0
    activated_at: datetime | None = None  # when it became the course's current version

    @property
    def is_final(self) -> bool:
        return self.status != "processing"
