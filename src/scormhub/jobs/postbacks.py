"""Processing stored webhooks: the postback is only a hint; the engine's registration is the truth."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from scormhub.bootstrap import Deps
from scormhub.domain import sync
from scormhub.domain.engine_accounts import parse_postback
from scormhub.domain.errors import NotFound, ServiceUnavailable
from scormhub.jobs.context import JobContext


async def process_postback(ctx: JobContext, *, inbox_id: str, workspace_id: str) -> dict[str, Any]:
    deps = ctx["deps"]
    item_key, workspace = UUID(inbox_id), UUID(workspace_id)
    async with deps.uow() as uow:
        item = await uow.inbox.get(item_key)
    if item is None or item.processed_at is not None:
        return {"outcome": "already processed"}
    outcome = await _process(deps, workspace, item.content_type, item.body)
    async with deps.uow() as uow:
        await uow.inbox.mark_processed(item_key, outcome, deps.clock.now())
        await uow.commit()
    return {"outcome": outcome}


async def _process(deps: Deps, workspace: UUID, content_type: str, body: str) -> str:
    registration_id = parse_postback(content_type, body.encode(), None).registration_id
    return await _process_registration(deps, workspace, registration_id)


async def _process_registration(deps: Deps, workspace: UUID, registration_id: str | None) -> str:
    if registration_id is None:
        return "unreadable: no registration in the body"
    try:
        enrollment_id = UUID(registration_id)
    except ValueError:
        return f"unknown registration {registration_id[:100]!r}"
    async with deps.uow() as uow:
        enrollment = await uow.enrollments.get(workspace, enrollment_id)
    if enrollment is None:
        return f"unknown registration {registration_id[:100]!r}"
    engine = await deps.scorm_cloud.for_workspace(workspace)
    if engine is None:
        return "SCORM Cloud is no longer connected"
    try:
        progress = await engine.get_progress(registration_id)
    except NotFound:
        return "the registration no longer exists in SCORM Cloud"
    outcome = await sync.sync_enrollment(
        workspace,
        enrollment_id,
        uow=deps.uow(),
        jobs=deps.jobs,
        clock=deps.clock,
        progress=progress,
    )
    return (
        f"synced: {outcome.queued} CRM writes queued" if outcome.progress_applied else "synced: nothing newer"
    )


# One drain handles at most this many postbacks per round, and this many rounds.
DRAIN_BATCH = 200
DRAIN_ROUNDS = 50
SETTLE_MARGIN_S = 0.05
# Under a stream of postbacks a round finds only the few stored since the one before; a pause after a
# short batch lets them gather, so a round's five round trips serve dozens of rows rather than a handful.
ROUND_PAUSE_S = 0.05
# A round reads on from the previous round's newest row, less this much: a postback is stamped when it
# arrives and committed a few ms later, so one stamped a little earlier may become visible after a
# newer one was read. (Older stragglers are found by the full look that ends every drain.)
CURSOR_MARGIN = timedelta(seconds=1)


async def process_inbox(
    ctx: JobContext, *, workspace_id: str, settle_at: float | None = None
) -> dict[str, Any]:
    """Process every stored, unprocessed postback of a workspace, a batch at a time.

    SCORM Cloud posts several times per session, so a batch is grouped by registration: each registration
    is read from SCORM Cloud and synced once, and every postback about it is marked with that outcome in
    one UPDATE. A registration SCORM Cloud could not be asked about stays unprocessed for the retry.
    """
    deps = ctx["deps"]
    workspace = UUID(workspace_id)
    async with deps.inbox_drains.lock(workspace):
        return await _drain(deps, workspace, settle_at)


async def _drain(deps: Deps, workspace: UUID, settle_at: float | None) -> dict[str, Any]:
    processed = 0
    postponed: list[str] = []
    settle_deadline = settle_at + SETTLE_MARGIN_S if settle_at is not None else 0.0
    settled = time.time() >= settle_deadline
    # Each round reads on from where the last one was instead of from the oldest row: processed rows
    # stay in the unprocessed-rows index until PostgreSQL vacuums the table, and a scan from the start
    # walked all of them each round (under a sustained stream, PostgreSQL's CPU per postback tripled
    # within a minute; bench/RESULTS.md, postbacks).
    cursor: datetime | None = None
    for _ in range(DRAIN_ROUNDS):
        settled = settled or time.time() >= settle_deadline
        async with deps.uow() as uow:
            batch = await uow.inbox.unprocessed_items(
                deps.clock.now(), limit=DRAIN_BATCH, workspace_id=workspace, received_from=cursor
            )
        if not batch and cursor is not None:
            cursor = None  # nothing more ahead: look once over every row before stopping or waiting
            continue
        if not batch:
            if settled:
                break
            # Rows of requests that skipped enqueueing are stored before the bucket ends: keep looking
            # until it has (every ROUND_PAUSE_S, so a row stored meanwhile does not wait for the end).
            await asyncio.sleep(min(ROUND_PAUSE_S, max(0.0, settle_deadline - time.time())))
            continue
        by_registration: dict[str | None, list[UUID]] = {}
        for item in batch:
            registration = parse_postback(item.content_type, item.body.encode(), None).registration_id
            by_registration.setdefault(registration, []).append(item.id)
        outcomes: dict[UUID, str] = {}
        for registration, item_ids in by_registration.items():
            try:
                outcome = await _process_registration(deps, workspace, registration)
            except ServiceUnavailable as exc:
                postponed.append(str(exc))
                continue
            outcomes.update(dict.fromkeys(item_ids, outcome))
        async with deps.uow() as uow:
            await uow.inbox.mark_processed_many(outcomes, deps.clock.now())
            await uow.commit()
        processed += len(outcomes)
        if len(outcomes) < len(batch):
            break  # SCORM Cloud is not answering for some: stop and let the retry come back
        cursor = batch[-1].received_at - CURSOR_MARGIN
        if len(batch) < DRAIN_BATCH:
            await asyncio.sleep(ROUND_PAUSE_S)
    if postponed:
        # Let the queue retry later; what was processed is recorded already.
        raise ServiceUnavailable(f"{len(postponed)} registrations could not be read: {postponed[0]}")
    return {"processed": processed}


async def sweep_inbox(ctx: JobContext) -> dict[str, Any]:
    """Cron: queue stored postbacks that no job processed (a crash between storing and queueing)."""
    deps = ctx["deps"]
    async with deps.uow() as uow:
        # Not processed after Settings.inbox_sweep_after_s (2 min by default): queue it again.
        stale = await uow.inbox.unprocessed(
            deps.clock.now() - timedelta(seconds=deps.settings.inbox_sweep_after_s)
        )
        items = [await uow.inbox.get(item_id) for item_id in stale]
    for item in items:
        if item is not None and item.source == "highlevel":
            # CRM install/uninstall webhooks have no workspace; each is processed on its own.
            await deps.jobs.enqueue(
                "process_crm_webhook", key=f"process_crm_webhook:{item.id}", inbox_id=str(item.id)
            )
    postbacks = [item for item in items if item is not None and item.source != "highlevel"]
    for workspace_id in {item.workspace_id for item in postbacks if item.workspace_id}:
        await deps.jobs.enqueue(
            "process_inbox",
            key=f"process_inbox:{workspace_id}:sweep",
            retries=8,
            workspace_id=str(workspace_id),
        )
    return {"stale": len(items)}
