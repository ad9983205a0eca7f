"""CRM sync: bring an enrollment's progress in, queue the writes it calls for, deliver them.

What the CRM should show, and the writes that get it there, is the pure policy of domain.crm_writes
(re-exported here, where callers have always found it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.automation import events as automation_events
from scormhub.domain.automation.model import Emitted
from scormhub.domain.automation.triggers import fire_trigger
from scormhub.domain.crm_writes import ALL_BAND_TAGS as ALL_BAND_TAGS
from scormhub.domain.crm_writes import SCORE_BANDS as SCORE_BANDS
from scormhub.domain.crm_writes import TAG_COMPLETED as TAG_COMPLETED
from scormhub.domain.crm_writes import TAG_FAILED as TAG_FAILED
from scormhub.domain.crm_writes import TAG_PASSED as TAG_PASSED
from scormhub.domain.crm_writes import EnrollmentFacts as EnrollmentFacts
from scormhub.domain.crm_writes import PendingWrite as PendingWrite
from scormhub.domain.crm_writes import SyncPlan as SyncPlan
from scormhub.domain.crm_writes import SyncSettings as SyncSettings
from scormhub.domain.crm_writes import coalesce as coalesce
from scormhub.domain.crm_writes import company_summary_write as company_summary_write
from scormhub.domain.crm_writes import completion_note as completion_note
from scormhub.domain.crm_writes import desired_tags as desired_tags
from scormhub.domain.crm_writes import format_duration as format_duration
from scormhub.domain.crm_writes import plan_sync as plan_sync
from scormhub.domain.crm_writes import score_band as score_band
from scormhub.domain.crm_writes import training_record as training_record
from scormhub.domain.errors import (
    CrmAuthExpired,
    DomainError,
    NotFound,
    RateLimited,
    ServiceUnavailable,
)
from scormhub.domain.model import (
    CrmWrite,
    Enrollment,
    OutboxItem,
    RegistrationProgress,
    SyncRun,
    Workspace,
    WriteKind,
)
from scormhub.domain.overrides import keep_override

if TYPE_CHECKING:
    from scormhub.domain.ports import Clock, CrmWriter, JobQueue, Throttle, UnitOfWork
    from scormhub.domain.ports.automation import TriggerSender


# --- progress from the engine --------------------------------------------------------------------------


def is_newer(progress: RegistrationProgress, held_stamp: datetime | None) -> bool:
    """Only progress stamped after what we hold may change the enrollment: late deliveries lose."""
    return held_stamp is None or progress.updated_at > held_stamp


# --- delivery ------------------------------------------------------------------------------------------


# A write that keeps failing transiently is given up (and shown as failed) after this long.
GIVE_UP_AFTER_S = 24 * 60 * 60
MAX_BACKOFF_S = 15 * 60


def retry_delay(attempts: int, *, retry_after: float | None, jitter: float) -> float:
    """Exponential backoff with full jitter (jitter in [0, 1)), never sooner than the CRM asked."""
    backoff = min(MAX_BACKOFF_S, 2.0 ** min(attempts, 20)) * (0.5 + jitter / 2)
    return max(backoff, retry_after or 0.0)


# --- use cases -----------------------------------------------------------------------------------------


def facts_of(enrollment: Enrollment, course_title: str) -> EnrollmentFacts:
    return EnrollmentFacts(
        enrollment_id=enrollment.id,
        contact_id=enrollment.contact_id,
        learner_name=enrollment.learner_name,
        learner_email=enrollment.learner_email,
        course_id=enrollment.course_id,
        course_title=course_title,
        completion=enrollment.completion,
        success=enrollment.success,
        score_percent=enrollment.score_percent,
        score_raw=enrollment.score_raw,
        total_seconds=enrollment.total_seconds,
        attempts=enrollment.attempts,
        enrolled_at=enrollment.created_at,
        first_access_at=enrollment.first_access_at,
        last_access_at=enrollment.last_access_at,
        enrolled_by=enrollment.enrolled_by,
        completed_at=enrollment.completed_at,
    )


def apply_progress(enrollment: Enrollment, progress: RegistrationProgress) -> Enrollment:
    # An admin's override outlives engine syncs: keep_override puts the engine's result inside it.
    return keep_override(enrollment, _with_progress(enrollment, progress))


def _with_progress(enrollment: Enrollment, progress: RegistrationProgress) -> Enrollment:
    return replace(
        enrollment,
        completion=progress.completion,
        success=progress.success,
        score_percent=progress.score_percent,
        score_raw=progress.score_raw,
        total_seconds=progress.total_seconds,
        attempts=progress.attempts,
        first_access_at=progress.first_access_at,
        last_access_at=progress.last_access_at,
        completed_at=progress.completed_at,
        updated_at=progress.updated_at,
    )


@dataclass(frozen=True)
class SyncOutcome:
    queued: int
    progress_applied: bool


async def sync_enrollment(
    workspace_id: UUID,
    enrollment_id: UUID,
    *,
    uow: UnitOfWork,
    jobs: JobQueue,
    clock: Clock,
    progress: RegistrationProgress | None = None,
) -> SyncOutcome:
    """Bring the enrollment up to the engine's progress (if newer) and queue the CRM writes that changed.

    `progress` is what the engine reported; None for the built-in engine, whose commits already update the
    enrollment in their own transactions. The enrollment row is locked, so two syncs of one enrollment run
    one after the other, and the second finds nothing left to queue.
    """
    async with uow:
        locked = await uow.sync_states.lock(workspace_id, enrollment_id)
        if locked is None:
            raise NotFound("enrollment")
        synced, engine_stamp = locked
        enrollment = await uow.enrollments.get(workspace_id, enrollment_id)
        workspace = await uow.workspaces.get(workspace_id)
        if enrollment is None or workspace is None:
            raise NotFound("enrollment")
        course = await uow.courses.get(workspace_id, enrollment.course_id)
        applied = False
        emitted = Emitted()
        if progress is not None and is_newer(progress, engine_stamp):
            before, enrollment = enrollment, apply_progress(enrollment, progress)
            await uow.enrollments.save(enrollment)
            engine_stamp, applied = progress.updated_at, True
            emitted = await automation_events.record_progress(
                uow, before, enrollment, course.title if course else "(deleted course)", clock.now()
            )
        settings = SyncSettings(
            tags=workspace.sync_tags, notes=workspace.sync_notes, records=workspace.sync_records
        )
        plan = plan_sync(
            facts_of(enrollment, course.title if course else "(deleted course)"), synced, settings
        )
        writes = list(plan.writes)
        if plan.writes and settings.records and enrollment.company_key:
            key = f"{enrollment_id}:{plan.synced.generation}"
            writes.append(company_summary_write(enrollment.company_key, enrollment.contact_id, key))
        queued = 0
        if writes:
            # The row lock above keeps this enrollment's pending writes ours until the commit.
            merged = coalesce(await uow.outbox.pending_for(workspace_id, enrollment_id), writes)
            for item_id, payload in merged.updated.items():
                await uow.outbox.replace_payload(item_id, payload)
            await uow.outbox.discard(merged.discarded)
            queued = len(merged.updated)
            if merged.new:
                queued += await uow.outbox.add_new(workspace_id, enrollment_id, merged.new, clock.now())
        await uow.sync_states.store(enrollment_id, plan.synced, engine_stamp)
        if progress is None:
            # The built-in engine recorded its events with the commit; wake whoever delivers them.
            triggers, webhooks = await automation_pending(uow, workspace_id, enrollment_id)
            emitted += Emitted(int(triggers), int(webhooks))
        await uow.commit()
    if queued or emitted.triggers:
        await enqueue_push(workspace_id, jobs=jobs)
    if emitted.webhooks:
        await enqueue_webhooks(workspace_id, jobs=jobs)
    return SyncOutcome(queued=queued, progress_applied=applied)


async def automation_pending(uow: UnitOfWork, workspace_id: UUID, enrollment_id: UUID) -> tuple[bool, bool]:
    repo = getattr(uow, "automation", None)  # absent from other areas' unit-test fakes: nothing pending
    return await repo.pending_work(workspace_id, enrollment_id) if repo is not None else (False, False)


async def enqueue_webhooks(workspace_id: UUID, *, jobs: JobQueue, delay_s: float = 0) -> None:
    # One deliverer per workspace at a time, like the CRM pusher.
    await jobs.enqueue(
        "deliver_webhooks",
        key=f"deliver_webhooks:{workspace_id}",
        delay_s=delay_s,
        timeout_s=3600,
        retries=1,
        workspace_id=str(workspace_id),
    )


async def enqueue_push(workspace_id: UUID, *, jobs: JobQueue, delay_s: float = 0) -> None:
    # One pusher per workspace at a time: the key collapses every request for it into the queued job.
    await jobs.enqueue(
        "push_to_crm",
        key=f"push_to_crm:{workspace_id}",
        delay_s=delay_s,
        timeout_s=3600,
        retries=1,
        workspace_id=str(workspace_id),
    )


async def retry_write(
    workspace_id: UUID, item_id: UUID, *, uow: UnitOfWork, jobs: JobQueue, clock: Clock
) -> None:
    """Send a failed CRM write again (Sync log → Retry) and wake the workspace's pusher to send it."""
    async with uow:
        retried = await uow.outbox.retry(workspace_id, item_id, clock.now())
        await uow.commit()
    if not retried:
        # Only a failed write of this workspace can be retried; anything else is not there to retry.
        raise NotFound("This write is not waiting for a retry.")
    await enqueue_push(workspace_id, jobs=jobs)


async def save_sync_settings(workspace_id: UUID, chosen: SyncSettings, *, uow: UnitOfWork) -> Workspace:
    """Settings → CRM integration: which kinds of write (tags, notes, records) reach the CRM from now on."""
    async with uow:
        # Locked so a concurrent save of another workspace field is not overwritten with a stale copy.
        workspace = await uow.workspaces.lock(workspace_id)
        if workspace is None:
            raise NotFound("This workspace no longer exists.")
        saved = replace(
            workspace, sync_tags=chosen.tags, sync_notes=chosen.notes, sync_records=chosen.records
        )
        await uow.workspaces.save(saved)
        await uow.commit()
    return saved


@dataclass(frozen=True)
class PushOutcome:
    sent: int
    retrying: int
    failed: int
    next_due_at: datetime | None = None  # the earliest write still pending (a retry), if any
    paused: bool = False  # the CRM wants reconnecting; every pending write is held


async def push_to_crm(
    workspace_id: UUID,
    *,
    uow_factory: Callable[[], UnitOfWork],
    crm: CrmWriter,
    throttle: Throttle,
    clock: Clock,
    jitter: Callable[[], float],
    batch: int = 25,
    lease_s: float = 300,
    max_batches: int = 1000,
    triggers: TriggerSender | None = None,
) -> PushOutcome:
    """Deliver due outbox writes within the CRM's rate limit; retry transient failures, fail the rest."""
    sent = retrying = failed = 0
    next_due: datetime | None = None
    for _ in range(max_batches):
        async with (uow := uow_factory()):
            items = await uow.outbox.claim_due(workspace_id, clock.now(), limit=batch, lease_s=lease_s)
            await uow.commit()
        if not items:
            break
        for item in items:
            if not crm.self_throttling:
                await throttle.wait_turn(workspace_id, crm.rate_limit)
            try:
                if item.write.kind is WriteKind.COMPANY_SUMMARY:
                    await deliver_company_summary(item, crm=crm, uow_factory=uow_factory, clock=clock)
                elif item.write.kind is WriteKind.TRIGGER:
                    await fire_trigger(item, sender=triggers, uow_factory=uow_factory, clock=clock)
                else:
                    await deliver(crm, item.write)
            except CrmAuthExpired as exc:
                # Not this write's fault: every write waits, uncounted, until the admin reconnects
                # (which makes them due again) or a day passes and the cron looks again.
                async with (uow := uow_factory()):
                    await uow.outbox.pause(workspace_id, str(exc), clock.now() + timedelta(days=1))
                    await uow.commit()
                return PushOutcome(sent=sent, retrying=retrying, failed=failed, paused=True)
            except (RateLimited, ServiceUnavailable) as exc:
                if isinstance(exc, RateLimited) and not crm.self_throttling:
                    # Over the limit anyway (another client of the same CRM account?): everyone waits.
                    # (A self-throttling writer has already held the shared budget itself.)
                    await throttle.hold(
                        workspace_id, crm.rate_limit, exc.retry_after or crm.rate_limit.per_seconds
                    )
                age = (clock.now() - item.created_at).total_seconds()
                async with (uow := uow_factory()):
                    if age > GIVE_UP_AFTER_S:
                        await uow.outbox.mark_failed(
                            item.id, f"Gave up after {item.attempts + 1} tries: {exc}"
                        )
                        failed += 1
                    else:
                        delay = retry_delay(item.attempts + 1, retry_after=exc.retry_after, jitter=jitter())
                        await uow.outbox.mark_retry(item.id, str(exc), clock.now() + timedelta(seconds=delay))
                        retrying += 1
                    await uow.commit()
                continue
            except DomainError as exc:
                async with (uow := uow_factory()):
                    await uow.outbox.mark_failed(item.id, str(exc) or type(exc).__name__)
                    await uow.commit()
                failed += 1
                continue
            async with (uow := uow_factory()):
                # False: coalescing changed it in flight; it is due again and a later batch sends it.
                done = await uow.outbox.mark_sent(item.id, clock.now(), delivered=item.write.payload)
                await uow.commit()
            sent += done
    async with (uow := uow_factory()):
        next_due = await uow.outbox.next_due_at(workspace_id)
    return PushOutcome(sent=sent, retrying=retrying, failed=failed, next_due_at=next_due)


# A company summary is checked after it is written; if its learners changed meanwhile, it is written
# again, at most this many times before the write goes back to the outbox as a retry.
SUMMARY_ROUNDS = 3


async def deliver_company_summary(
    item: OutboxItem, *, crm: CrmWriter, uow_factory: Callable[[], UnitOfWork], clock: Clock
) -> None:
    """Write the company's summary as the committed enrollments make it at the time of the write.

    Learners of one company sync in separate transactions, and their summary writes may be delivered by
    several pushers at once: a summary computed in a sync, or early by a slower pusher, would overwrite a
    newer one. Reading back after the write makes the last writer's value the committed truth.
    """
    company = item.write.payload["company"]
    async with (uow := uow_factory()):
        summary = await uow.enrollments.company_summary(item.workspace_id, company)
    for _ in range(SUMMARY_ROUNDS):
        await crm.upsert_company_summary(company, summary)
        async with (uow := uow_factory()):
            # Before the read below, so every write marked done here is covered by what it reads.
            await uow.outbox.supersede_summaries(item.workspace_id, company, but=item.id, now=clock.now())
            await uow.commit()
        async with (uow := uow_factory()):
            latest = await uow.enrollments.company_summary(item.workspace_id, company)
        if latest == summary:
            return
        summary = latest
    raise ServiceUnavailable(f"The training numbers of {company} kept changing while they were written.")


async def deliver(crm: CrmWriter, write: CrmWrite) -> None:
    if write.kind is WriteKind.ADD_TAGS:
        await crm.add_tags(write.contact_id, write.payload["tags"])
    elif write.kind is WriteKind.REMOVE_TAGS:
        await crm.remove_tags(write.contact_id, write.payload["tags"])
    elif write.kind is WriteKind.NOTE:
        author = write.payload.get("author_id")
        extra = {"author_id": author} if author else {}
        await crm.add_note(
            write.contact_id, write.payload["body"], idempotency_key=write.idempotency_key, **extra
        )
    else:
        record_key = write.idempotency_key.split(":", 1)[0]  # the enrollment id: one record per enrollment
        await crm.upsert_training_record(write.contact_id, record_key, write.payload["properties"])


# A Sync All still unfinished this long after it started lost its jobs (a crash while it queued them):
# a new click replaces it. Generous, since each learner may wait on the engine and the CRM's limits.
ABANDONED_RUN_BASE = timedelta(minutes=10)
ABANDONED_RUN_PER_ENROLLMENT = timedelta(seconds=2)


def _abandoned(run: SyncRun, now: datetime) -> bool:
    return now - run.started_at > ABANDONED_RUN_BASE + run.total * ABANDONED_RUN_PER_ENROLLMENT


async def sync_all(
    workspace_id: UUID, course_id: UUID, *, uow: UnitOfWork, jobs: JobQueue, clock: Clock
) -> SyncRun:
    """Fan sync_enrollment out over a course. A second Sync All while one runs returns the running one."""
    async with uow:
        running = await uow.sync_runs.running(workspace_id, course_id)
        if running is not None and not _abandoned(running, clock.now()):
            return running
        if running is not None:
            # Its fan-out died with its process (a crash while queueing): close it, start afresh.
            await uow.sync_runs.abandon(running.id, clock.now())
        ids = await uow.enrollments.ids_for_course(workspace_id, course_id)
        run_id = await uow.sync_runs.start(workspace_id, course_id, len(ids), clock.now())
        await uow.commit()
        run = await uow.sync_runs.latest(workspace_id, course_id)
    for enrollment_id in ids:
        await jobs.enqueue(
            "sync_enrollment",
            key=f"sync_enrollment:{enrollment_id}:run:{run_id}",
            workspace_id=str(workspace_id),
            enrollment_id=str(enrollment_id),
            run_id=str(run_id),
        )
    assert run is not None
    return run
