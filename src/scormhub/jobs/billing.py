"""Billing jobs: send a workspace's due usage charges, the cron that catches any whose enqueue was lost,
and the daily reconciliation with HighLevel's list of charges. Each calls its use case in domain.billing."""

from __future__ import annotations

import logging
import random
from typing import Any
from uuid import UUID

from scormhub.domain.billing import usage
from scormhub.domain.errors import DomainError
from scormhub.jobs.context import JobContext

log = logging.getLogger(__name__)


async def charge_usage(ctx: JobContext, *, workspace_id: str) -> dict[str, Any]:
    deps = ctx["deps"]
    workspace = UUID(workspace_id)
    outcome = await usage.charge_usage(
        workspace,
        uow_factory=deps.uow,
        billing=await deps.crm.billing_for(workspace),
        clock=deps.clock,
        jitter=random.random,
        lease_s=deps.settings.outbox_lease_s,
    )
    if outcome.next_due_at is not None:
        delay = max(0.0, (outcome.next_due_at - deps.clock.now()).total_seconds())
        if delay < 60:
            # Soon: its own charger (the running job's key is still taken); later ones wait for the cron.
            await deps.jobs.enqueue(
                "charge_usage",
                key=f"charge_usage:{workspace}:{outcome.next_due_at.isoformat()}",
                delay_s=delay,
                timeout_s=600,
                retries=1,
                workspace_id=str(workspace),
            )
    return {
        "charged": outcome.charged,
        "refused": outcome.refused,
        "retrying": outcome.retrying,
        "failed": outcome.failed,
        "cancelled": outcome.cancelled,
    }


async def charge_due_usage(ctx: JobContext) -> dict[str, Any]:
    """Cron: wake a charger for every workspace with a charge due (lost enqueues, retries coming due)."""
    deps = ctx["deps"]
    async with deps.uow() as uow:
        workspaces = await uow.billing.workspaces_with_due_charges(deps.clock.now())
    for workspace in workspaces:
        await usage.enqueue_charges(workspace, jobs=deps.jobs)
    return {"workspaces": len(workspaces)}


async def reconcile_charges(ctx: JobContext) -> dict[str, Any]:
    """Daily: compare each billed workspace's charges with HighLevel's and flag the differences."""
    deps = ctx["deps"]
    async with deps.uow() as uow:
        workspaces = await uow.billing.billed_workspaces()
    totals = {"workspaces": 0, "repaired": 0, "missing": 0, "unknown_remote": 0, "errors": 0}
    for workspace in workspaces:
        billing = await deps.crm.billing_for(workspace)
        if billing is None:
            continue
        try:
            outcome = await usage.reconcile_charges(
                workspace,
                uow_factory=deps.uow,
                billing=billing,
                catalog=deps.settings.highlevel_plans,
                clock=deps.clock,
            )
        except DomainError as exc:
            # One location's HighLevel refusing or down must not stop the others; tomorrow tries again.
            log.warning("charge reconciliation of %s failed: %s", workspace, exc)
            totals["errors"] += 1
            continue
        totals["workspaces"] += 1
        totals["repaired"] += outcome.repaired
        totals["missing"] += outcome.missing
        totals["unknown_remote"] += outcome.unknown_remote
    return totals
