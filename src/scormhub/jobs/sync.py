"""CRM sync jobs: sync one enrollment, push the outbox, Sync All, and the crons that catch what was missed."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from scormhub.domain import postbacks, sync
from scormhub.domain.errors import NotFound, ServiceUnavailable
from scormhub.jobs.context import JobContext

# The reconciler looks this far back each run; it runs every few minutes, so windows overlap.
RECONCILE_WINDOW = timedelta(minutes=15)


async def sync_enrollment(
    ctx: JobContext, *, workspace_id: str, enrollment_id: str, run_id: str | None = None
) -> dict[str, Any]:
    """Sync one enrollment from its engine; `run_id` counts it in a Sync All run."""
    deps = ctx["deps"]
    failed = False
    try:
        outcome = await postbacks.sync_registration(
            UUID(workspace_id),
            UUID(enrollment_id),
            uow=deps.uow,
            engines=deps.scorm_cloud,
            jobs=deps.jobs,
            clock=deps.clock,
        )
        result: dict[str, Any] = {"queued": outcome.queued}
    except NotFound as missing:
        # Deleted here or in the engine since it was queued: nothing to sync, nothing to retry.
        failed, result = True, {"queued": 0, "missing": str(missing)}
    except ServiceUnavailable as exc:
        if run_id is None:
            raise  # a single sync is retried by the queue
        # In a Sync All the run must still finish: count it as failed; the reconciler comes back to it.
        failed, result = True, {"queued": 0, "unavailable": str(exc)}
    finally:
        if run_id is not None:
            async with deps.uow() as uow:
                await uow.sync_runs.count(UUID(run_id), failed=failed, now=deps.clock.now())
                await uow.commit()
    return result


async def push_to_crm(ctx: JobContext, *, workspace_id: str) -> dict[str, Any]:
    deps = ctx["deps"]
    workspace = UUID(workspace_id)
    outcome = await sync.push_to_crm(
        workspace,
        uow_factory=deps.uow,
        crm=await deps.crm.writer(workspace),
        throttle=deps.throttle,
        clock=deps.clock,
        jitter=random.random,
        lease_s=deps.settings.outbox_lease_s,
        triggers=await deps.crm.trigger_sender(workspace),
    )
    if outcome.next_due_at is not None:
        delay = max(0.0, (outcome.next_due_at - deps.clock.now()).total_seconds())
        if delay < 60:
            await deps.jobs.enqueue(
                "push_to_crm",
                key=_retry_key(workspace, outcome.next_due_at, ctx.get("job")),
                delay_s=delay,
                timeout_s=3600,
                retries=1,
                workspace_id=str(workspace),
            )
    return {"sent": outcome.sent, "retrying": outcome.retrying, "failed": outcome.failed}


def _retry_key(workspace: UUID, due: datetime, running: Any) -> str:
    """The key of the pusher for writes due at `due`. Retries coming due soon get their own pusher then,
    not the once-a-minute cron, and its key must differ from the running job's: SAQ swallows an enqueue
    under a key that is still active. That includes this job woken a moment early (another process's
    clock running behind), which must still leave a pusher behind for the write it could not yet send."""
    key = f"push_to_crm:{workspace}:at:{math.ceil(due.timestamp() * 1000)}"
    current = getattr(running, "key", None)
    if not isinstance(current, str) or not current.startswith(key):
        return key
    # A fresh key each time: SAQ also refuses a finished job's key for the same scheduled second.
    suffix = current.removeprefix(key)
    if suffix and not (suffix.startswith(":") and suffix[1:].isdigit()):
        return key
    return f"{key}:{int(suffix[1:] or 0) + 1}"


async def sync_all(ctx: JobContext, *, workspace_id: str, course_id: str) -> dict[str, Any]:
    deps = ctx["deps"]
    run = await sync.sync_all(
        UUID(workspace_id), UUID(course_id), uow=deps.uow(), jobs=deps.jobs, clock=deps.clock
    )
    return {"run_id": str(run.id), "total": run.total}


async def push_due_writes(ctx: JobContext) -> dict[str, Any]:
    """Cron: start a pusher for every workspace with writes that are due (retries come back this way)."""
    deps = ctx["deps"]
    async with deps.uow() as uow:
        workspaces = await uow.outbox.workspaces_with_due_writes(deps.clock.now())
    for workspace_id in workspaces:
        await sync.enqueue_push(workspace_id, jobs=deps.jobs)
    return {"workspaces": len(workspaces)}


async def reconcile_enrollments(ctx: JobContext) -> dict[str, Any]:
    """Cron: re-sync enrollments that changed recently, so a lost sync job costs minutes, not data."""
    deps = ctx["deps"]
    since = deps.clock.now() - RECONCILE_WINDOW
    async with deps.uow() as uow:
        changed = await uow.enrollments.changed_since(since)
        connected = await uow.engine_accounts.workspaces()
    for workspace_id in connected:
        # Registrations SCORM Cloud changed, whether or not its postback reached us.
        engine = await deps.scorm_cloud.for_workspace(workspace_id)
        if engine is None:
            continue
        try:
            async for progress in engine.registrations_changed_since(since):
                try:
                    changed.append((workspace_id, UUID(progress.registration_id or "")))
                except ValueError:
                    continue  # not one of ours
        except ServiceUnavailable:
            continue  # the next run's window overlaps this one
    for workspace_id, enrollment_id in dict.fromkeys(changed):
        await deps.jobs.enqueue(
            "sync_enrollment",
            key=f"sync_enrollment:{enrollment_id}",
            workspace_id=str(workspace_id),
            enrollment_id=str(enrollment_id),
        )
    return {"enrollments": len(changed)}
