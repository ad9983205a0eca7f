"""Postback jobs: drain a workspace's inbox of stored postbacks, and the cron that catches missed ones."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from scormhub.domain import postbacks
from scormhub.jobs.context import JobContext


async def process_inbox(
    ctx: JobContext, *, workspace_id: str, settle_at: float | None = None
) -> dict[str, Any]:
    """Process every stored, unprocessed postback of a workspace (`postbacks.drain_inbox`)."""
    deps = ctx["deps"]
    workspace = UUID(workspace_id)
    async with deps.inbox_drains.lock(workspace):
        processed = await postbacks.drain_inbox(
            workspace,
            settle_at=settle_at,
            uow=deps.uow,
            engines=deps.scorm_cloud,
            postbacks=deps.postbacks,
            jobs=deps.jobs,
            clock=deps.clock,
        )
    return {"processed": processed}


async def sweep_inbox(ctx: JobContext) -> dict[str, Any]:
    """Cron: queue stored webhooks that no job processed (a crash between storing and queueing)."""
    deps = ctx["deps"]
    stale = await postbacks.sweep_inbox(
        uow=deps.uow(),
        jobs=deps.jobs,
        clock=deps.clock,
        # Not processed after Settings.inbox_sweep_after_s (2 min by default): queue it again.
        older_than=timedelta(seconds=deps.settings.inbox_sweep_after_s),
    )
    return {"stale": stale}
