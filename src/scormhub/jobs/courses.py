"""Course jobs: import a package into its engine, and recover imports that stalled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from scormhub.domain import courses

# How long to wait before asking an engine again about an import that is still running.
POLL_DELAY_S = 3.0


async def import_course(ctx: dict[str, Any], *, workspace_id: str, course_id: str) -> dict[str, Any]:
    services = ctx["services"]
    course = await courses.import_course(
        UUID(workspace_id),
        UUID(course_id),
        uow=services.uow(),
        engines=await services.engines_for(UUID(workspace_id)),
        clock=services.clock,
    )
    if not course.is_final:
        # The engine is still working (SCORM Cloud imports take 10-60 s): look again shortly.
        await courses.enqueue_import(
            course, jobs=services.jobs, poll=int(services.clock.now().timestamp()), delay_s=POLL_DELAY_S
        )
    return {"course_id": course_id, "status": course.status.value}


async def recover_stuck_imports(ctx: dict[str, Any]) -> dict[str, Any]:
    services = ctx["services"]
    found = await courses.recover_stuck_imports(
        uow=services.uow(),
        jobs=services.jobs,
        clock=services.clock,
        stuck_after=timedelta(seconds=services.settings.stuck_import_after_s),
    )
    return {"stuck": found}
