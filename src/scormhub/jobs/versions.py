"""Course version jobs: import a new version into the course's engine, make it current, move learners."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from scormhub.domain import versions
from scormhub.jobs.context import JobContext

POLL_DELAY_S = 3.0


async def import_course_version(ctx: JobContext, *, workspace_id: str, version_id: str) -> dict[str, Any]:
    deps = ctx["deps"]
    workspace = UUID(workspace_id)
    done = await versions.import_version(
        workspace,
        UUID(version_id),
        uow=deps.uow(),
        engines=await deps.scorm_cloud.engines_for(workspace),
        resets=await deps.scorm_cloud.for_workspace(workspace),
        clock=deps.clock,
    )
    if not done.version.is_final:
        await versions.enqueue_version_import(
            done.version, jobs=deps.jobs, poll=int(deps.clock.now().timestamp()), delay_s=POLL_DELAY_S
        )
    return {"version_id": version_id, "status": done.version.status, "moved": done.moved}


async def recover_stalled_versions(ctx: JobContext) -> dict[str, Any]:
    deps = ctx["deps"]
    found = await versions.recover_stalled_versions(uow=deps.uow(), jobs=deps.jobs, clock=deps.clock)
    return {"stalled": found}
