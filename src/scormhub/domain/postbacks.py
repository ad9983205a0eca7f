"""From an engine registration to a CRM sync: the one path both a sync job and the postback inbox take.

A postback is only a hint that a registration changed; the engine's registration is the truth, so the
inbox drain reads each registration a batch of postbacks names from the engine and syncs it once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.errors import NotFound, ServiceUnavailable
from scormhub.domain.model import EngineKind, RegistrationProgress
from scormhub.domain.sync import SyncOutcome, sync_enrollment

if TYPE_CHECKING:
    from scormhub.domain.ports import Clock, JobQueue, PostbackReader, RegistrationEngines, UnitOfWork


class UnknownRegistration(NotFound):
    """No enrollment of the workspace has this registration id."""


class EngineDisconnected(NotFound):
    """The enrollment's course is in SCORM Cloud, which the workspace has disconnected since."""


class RegistrationGone(NotFound):
    """The engine no longer has the registration."""


async def sync_registration(
    workspace_id: UUID,
    enrollment_id: UUID,
    *,
    uow: Callable[[], UnitOfWork],
    engines: RegistrationEngines,
    jobs: JobQueue,
    clock: Clock,
) -> SyncOutcome:
    """Sync an enrollment from its engine's registration (the truth) and queue the CRM writes it calls for.

    The built-in player needs no read: its commits already update the enrollment. Raises a NotFound
    (one of the three above) when there is nothing left to sync from.
    """
    async with uow() as reading:
        enrollment = await reading.enrollments.get(workspace_id, enrollment_id)
        course = await reading.courses.get(workspace_id, enrollment.course_id) if enrollment else None
    if enrollment is None:
        raise UnknownRegistration("enrollment")
    progress: RegistrationProgress | None = None
    if course is not None and course.engine is EngineKind.SCORM_CLOUD:
        engine = await engines.for_workspace(workspace_id)
        if engine is None:
            raise EngineDisconnected("SCORM Cloud is no longer connected to this workspace")
        try:
            progress = await engine.get_progress(str(enrollment_id))
        except NotFound as gone:
            raise RegistrationGone(str(gone)) from gone
    return await sync_enrollment(
        workspace_id, enrollment_id, uow=uow(), jobs=jobs, clock=clock, progress=progress
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


async def drain_inbox(
    workspace_id: UUID,
    *,
    settle_at: float | None,
    uow: Callable[[], UnitOfWork],
    engines: RegistrationEngines,
    postbacks: PostbackReader,
    jobs: JobQueue,
    clock: Clock,
    wall: Callable[[], float] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """Process every stored, unprocessed postback of a workspace, a batch at a time; return how many.

    SCORM Cloud posts several times per session, so a batch is grouped by registration: each registration
    is read from SCORM Cloud and synced once, and every postback about it is marked with that outcome in
    one UPDATE. A registration SCORM Cloud could not be asked about stays unprocessed, and the drain
    raises ServiceUnavailable at the end so the queue retries it. `settle_at` (`wall` seconds, time.time by
    default) is when the request that queued this drain stops covering new rows: until then an empty
    inbox is looked at again.
    """
    # Read at each call (not bound as the default): a test moves this module's `time` by hand.
    wall = wall or time.time
    processed = 0
    postponed: list[str] = []
    settle_deadline = settle_at + SETTLE_MARGIN_S if settle_at is not None else 0.0
    settled = wall() >= settle_deadline
    # Each round reads on from where the last one was instead of from the oldest row: processed rows
    # stay in the unprocessed-rows index until PostgreSQL vacuums the table, and a scan from the start
    # walked all of them each round (under a sustained stream, PostgreSQL's CPU per postback tripled
    # within a minute; bench/RESULTS.md, postbacks).
    cursor: datetime | None = None
    for _ in range(DRAIN_ROUNDS):
        settled = settled or wall() >= settle_deadline
        async with uow() as reading:
            batch = await reading.inbox.unprocessed_items(
                clock.now(), limit=DRAIN_BATCH, workspace_id=workspace_id, received_from=cursor
            )
        if not batch and cursor is not None:
            cursor = None  # nothing more ahead: look once over every row before stopping or waiting
            continue
        if not batch:
            if settled:
                break
            # Rows of requests that skipped enqueueing are stored before the bucket ends: keep looking
            # until it has (every ROUND_PAUSE_S, so a row stored meanwhile does not wait for the end).
            await sleep(min(ROUND_PAUSE_S, max(0.0, settle_deadline - wall())))
            continue
        by_registration: dict[str | None, list[UUID]] = {}
        for item in batch:
            registration = postbacks.registration_id(item.content_type, item.body)
            by_registration.setdefault(registration, []).append(item.id)
        outcomes: dict[UUID, str] = {}
        for registration, item_ids in by_registration.items():
            try:
                outcome = await _sync_named(
                    workspace_id, registration, uow=uow, engines=engines, jobs=jobs, clock=clock
                )
            except ServiceUnavailable as exc:
                postponed.append(str(exc))
                continue
            outcomes.update(dict.fromkeys(item_ids, outcome))
        async with uow() as marking:
            await marking.inbox.mark_processed_many(outcomes, clock.now())
            await marking.commit()
        processed += len(outcomes)
        if len(outcomes) < len(batch):
            break  # SCORM Cloud is not answering for some: stop and let the retry come back
        cursor = batch[-1].received_at - CURSOR_MARGIN
        if len(batch) < DRAIN_BATCH:
            await sleep(ROUND_PAUSE_S)
    if postponed:
        # Let the queue retry later; what was processed is recorded already.
        raise ServiceUnavailable(f"{len(postponed)} registrations could not be read: {postponed[0]}")
    return processed


async def _sync_named(
    workspace_id: UUID,
    registration_id: str | None,
    *,
    uow: Callable[[], UnitOfWork],
    engines: RegistrationEngines,
    jobs: JobQueue,
    clock: Clock,
) -> str:
    """Sync the registration a postback names; the outcome recorded on its postbacks."""
    if registration_id is None:
        return "unreadable: no registration in the body"
    unknown = f"unknown registration {registration_id[:100]!r}"
    try:
        enrollment_id = UUID(registration_id)
    except ValueError:
        return unknown
    try:
        outcome = await sync_registration(
            workspace_id, enrollment_id, uow=uow, engines=engines, jobs=jobs, clock=clock
        )
    except UnknownRegistration:
        return unknown
    except EngineDisconnected:
        return "SCORM Cloud is no longer connected"
    except RegistrationGone:
        return "the registration no longer exists in SCORM Cloud"
    return (
        f"synced: {outcome.queued} CRM writes queued" if outcome.progress_applied else "synced: nothing newer"
    )


async def sweep_inbox(*, uow: UnitOfWork, jobs: JobQueue, clock: Clock, older_than: timedelta) -> int:
    """Queue again the stored webhooks no job processed (a crash between storing and queueing); return
    how many were found."""
    async with uow:
        stale = await uow.inbox.unprocessed(clock.now() - older_than)
        items = [await uow.inbox.get(item_id) for item_id in stale]
    for item in items:
        if item is not None and item.source == "highlevel":
            # CRM install/uninstall webhooks have no workspace; each is processed on its own.
            await jobs.enqueue(
                "process_crm_webhook", key=f"process_crm_webhook:{item.id}", inbox_id=str(item.id)
            )
    postbacks = [item for item in items if item is not None and item.source != "highlevel"]
    for workspace_id in {item.workspace_id for item in postbacks if item.workspace_id}:
        await jobs.enqueue(
            "process_inbox",
            key=f"process_inbox:{workspace_id}:sweep",
            retries=8,
            workspace_id=str(workspace_id),
        )
    return len(items)
