"""Processing stored webhooks: the postback is only a hint; the engine's registration is the truth."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from scormhub.domain import sync
from scormhub.domain.engine_accounts import parse_postback
from scormhub.domain.errors import NotFound

# Stored postbacks not processed after this long are queued again by the sweeper.
SWEEP_AFTER = timedelta(minutes=2)


async def process_postback(ctx: dict[str, Any], *, inbox_id: str, workspace_id: str) -> dict[str, Any]:
    services = ctx["services"]
    item_key, workspace = UUID(inbox_id), UUID(workspace_id)
    async with services.uow() as uow:
        item = await uow.inbox.get(item_key)
    if item is None or item.processed_at is not None:
        return {"outcome": "already processed"}
    outcome = await _process(services, workspace, item.content_type, item.body)
    async with services.uow() as uow:
        await uow.inbox.mark_processed(item_key, outcome, services.clock.now())
        await uow.commit()
    return {"outcome": outcome}


async def _process(services: Any, workspace: UUID, content_type: str, body: str) -> str:
    registration_id = parse_postback(content_type, body.encode(), None).registration_id
    if registration_id is None:
        return "unreadable: no registration in the body"
    try:
        enrollment_id = UUID(registration_id)
    except ValueError:
        return f"unknown registration {registration_id[:100]!r}"
    async with services.uow() as uow:
        enrollment = await uow.enrollments.get(workspace, enrollment_id)
    if enrollment is None:
        return f"unknown registration {registration_id!r}"
    engine = await services.registration_engine(workspace)
    if engine is None:
        return "SCORM Cloud is no longer connected"
    try:
        progress = await engine.get_progress(registration_id)
    except NotFound:
        return "the registration no longer exists in SCORM Cloud"
    outcome = await sync.sync_enrollment(
        workspace,
        enrollment_id,
        uow=services.uow(),
        jobs=services.jobs,
        clock=services.clock,
        progress=progress,
    )
    return (
        f"synced: {outcome.queued} CRM writes queued" if outcome.progress_applied else "synced: nothing newer"
    )


async def sweep_inbox(ctx: dict[str, Any]) -> dict[str, Any]:
    """Cron: queue stored postbacks that no job processed (a crash between storing and queueing)."""
    services = ctx["services"]
    async with services.uow() as uow:
        stale = await uow.inbox.unprocessed(services.clock.now() - SWEEP_AFTER)
        items = [await uow.inbox.get(item_id) for item_id in stale]
    for item in items:
        if item is not None and item.workspace_id is not None:
            await services.jobs.enqueue(
                "process_postback",
                key=f"process_postback:{item.id}",
                retries=8,
                inbox_id=str(item.id),
                workspace_id=str(item.workspace_id),
            )
    return {"requeued": len(items)}
