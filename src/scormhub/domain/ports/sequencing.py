"""Where the domain gets a course's activity tree (its manifest, read by an adapter and cached)."""

from __future__ import annotations

from typing import Protocol

from scormhub.domain.model import Course
from scormhub.domain.scorm.sequencing.definitions import ActivityTreeDefinition


class ActivityTrees(Protocol):
    async def for_course(self, course: Course) -> ActivityTreeDefinition | None:
        """The course's activity tree, or None when it has none (not SCORM 2004, or not readable)."""
        ...
