"""Course jobs: import a package into its engine, and recover imports that stalled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from scormhub.domain import courses
from scormhub.jobs.context import JobContext

# How long to wait before asking an engine again about an import that is still running.
POLL_DELAY_S = 3.0


async def import_course(ctx: JobContext, *, workspace_id: str, course_id: str) -> dict[str, Any]:
    deps = ctx["deps"]
    course = await courses.import_course(
        UUID(workspace_id),
        UUID(course_id),
        uow=deps.uow(),
        engines=await deps.scorm_cloud.engines_for(UUID(workspace_id)),
        clock=deps.clock,
    )
    if not course.is_final:
        # The engine is still working (SCORM Cloud imports take 10-60 s): look again shortly.
        await courses.enqueue_import(
            course, jobs=deps.jobs, poll=int(deps.clock.now().timestamp()), delay_s=POLL_DELAY_S
        )
    return {"course_id": course_id, "status": course.status.value}


async def recover_stuck_imports(ctx: JobContext) -> dict[str, Any]:
    deps = ctx["deps"]
    found = await courses.recover_stuck_imports(
        uow=deps.uow(),
        jobs=deps.jobs,
        clock=deps.clock,
        stuck_after=timedelta(seconds=deps.settings.stuck_import_after_s),
    )
    return {"stuck": found}
