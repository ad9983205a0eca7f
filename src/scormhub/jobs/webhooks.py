"""Webhook jobs: deliver one workspace's due deliveries, and the cron that finds workspaces with some."""

from __future__ import annotations

import random
from typing import Any
from uuid import UUID

from scormhub.domain.automation.webhooks import deliver_webhooks as deliver
from scormhub.domain.sync import enqueue_webhooks
from scormhub.jobs.context import JobContext


async def deliver_webhooks(ctx: JobContext, *, workspace_id: str) -> dict[str, Any]:
    deps = ctx["deps"]
    outcome = await deliver(
        UUID(workspace_id),
        uow_factory=deps.uow,
        sender=deps.webhooks,
        cipher=deps.cipher,
        clock=deps.clock,
        jitter=random.random,
        public_url=deps.settings.public_url,
    )
    return {"sent": outcome.sent, "retrying": outcome.retrying, "failed": outcome.failed}


async def deliver_due_webhooks(ctx: JobContext) -> dict[str, Any]:
    """Cron: a deliverer for every workspace with due deliveries (retries come back this way)."""
    deps = ctx["deps"]
    async with deps.uow() as uow:
        workspaces = await uow.automation.workspaces_with_due_deliveries(deps.clock.now())
    for workspace_id in workspaces:
        await enqueue_webhooks(workspace_id, jobs=deps.jobs)
    return {"workspaces": len(workspaces)}
