"""The course page's versions card: every version with its date, file and learners, and the upload form."""

from __future__ import annotations

from typing import Any

from scormhub.bootstrap import Deps
from scormhub.domain.model import Course, VersionPolicy, Workspace

POLICY_CHOICES = (
    (VersionPolicy.NEVER, "Keep everyone on the version they started (new learners get the new version)"),
    (VersionPolicy.RESTART_INCOMPLETE, "Learners who have not completed restart on the new version"),
    (VersionPolicy.RESTART_ALL, "Everyone restarts on the new version, completed or not"),
)


async def versions_context(deps: Deps, workspace: Workspace, course: Course) -> dict[str, Any]:
    async with deps.uow() as uow:
        versions = await uow.course_versions.list_for_course(workspace.id, course.id)
        learners = await uow.course_versions.learners_per_version(workspace.id, course.id)
        same_file: list[Course] = []
        if len(versions) <= 1 and not learners:
            # A fresh upload whose zip name an older course has: offer to make it that course's new version.
            same_file = [
                c
                for c in await uow.courses.list_for_workspace(workspace.id)
                if c.id != course.id and c.file_name == course.file_name and c.created_at <= course.created_at
            ]
    return {
        "versions": versions,
        "version_learners": learners,
        "policy_choices": POLICY_CHOICES,
        "same_file_courses": same_file,
    }
