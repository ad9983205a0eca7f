"""Bulk enrollment job: enrolls a confirmed run's pending rows (resumable; safe to run twice)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from scormhub.domain import bulk_enrollment
from scormhub.domain.errors import NotFound
from scormhub.jobs.context import JobContext


async def bulk_enroll(ctx: JobContext, *, workspace_id: str, run_id: str) -> dict[str, Any]:
    deps = ctx["deps"]
    workspace = UUID(workspace_id)
    try:
        done = await bulk_enrollment.run(
            workspace,
            UUID(run_id),
            uow_factory=deps.uow,
            contacts=await deps.crm.contact_book(workspace),
            clock=deps.clock,
        )
    except NotFound:
        return {"missing": run_id}  # the course (and with it the run) was deleted meanwhile
    return dict(done.counts)
