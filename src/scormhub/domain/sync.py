"""What the CRM should show for an enrollment, and the writes that get it there (pure policy).

sync_enrollment compares what was last sent (`SyncedState`) with the enrollment now, and turns the
difference into CRM writes. Each write carries an idempotency key derived from (enrollment, kind, state),
so replaying a sync, or two syncs racing, can never queue the same write twice.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from scormhub.domain.errors import (
    CrmAuthExpired,
    DomainError,
    NotFound,
    RateLimited,
    ServiceUnavailable,
)
from scormhub.domain.runtime import Completion, Success

if TYPE_CHECKING:
    from scormhub.domain.enrollments import Enrollment
    from scormhub.domain.ports import Clock, CrmWriter, JobQueue, Throttle, UnitOfWork

TAG_COMPLETED = "scorm_completed"
TAG_PASSED = "scorm_passed"
TAG_FAILED = "scorm_failed"
# Score bands, highest first: (lowest percent in the band, tag). One place, so reports and tags agree.
SCORE_BANDS: tuple[tuple[int, str], ...] = (
    (90, "scorm_score_90_100"),
    (80, "scorm_score_80_89"),
    (70, "scorm_score_70_79"),
    (60, "scorm_score_60_69"),
    (50, "scorm_score_50_59"),
    (0, "scorm_score_0_49"),
)
ALL_BAND_TAGS = frozenset(tag for _, tag in SCORE_BANDS)


class WriteKind(enum.StrEnum):
    ADD_TAGS = "add_tags"
    REMOVE_TAGS = "remove_tags"
    NOTE = "note"
    TRAINING_RECORD = "training_record"
    COMPANY_SUMMARY = "company_summary"


@dataclass(frozen=True)
class SyncSettings:
    """Settings → CRM integration: each kind of write can be turned off on its own."""

    tags: bool = True
    notes: bool = True
    records: bool = True


@dataclass(frozen=True)
class SyncedState:
    """What the CRM was last told about an enrollment (kept on the enrollment, updated with the outbox)."""

    tags: frozenset[str] = frozenset()
    note_written: bool = False
    record_digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tags": sorted(self.tags),
            "note_written": self.note_written,
            "record_digest": self.record_digest,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SyncedState:
        if not data:
            return cls()
        return cls(
            tags=frozenset(data.get("tags", ())),
            note_written=bool(data.get("note_written", False)),
            record_digest=data.get("record_digest"),
        )


@dataclass(frozen=True)
class EnrollmentFacts:
    """The enrollment as the CRM sees it: everything a tag, note or training record is made from."""

    enrollment_id: UUID
    contact_id: str
    learner_name: str
    learner_email: str
    course_id: UUID
    course_title: str
    completion: Completion
    success: Success
    score_percent: float | None
    score_raw: float | None
    total_seconds: float
    attempts: int
    enrolled_at: datetime
    first_access_at: datetime | None
    last_access_at: datetime | None
    completed_at: datetime | None
    enrolled_by: str | None = None


@dataclass(frozen=True)
class CrmWrite:
    kind: WriteKind
    contact_id: str
    payload: dict[str, Any]
    idempotency_key: str


@dataclass(frozen=True)
class SyncPlan:
    writes: tuple[CrmWrite, ...]
    synced: SyncedState
    changed: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "changed", bool(self.writes))


def score_band(percent: float | None) -> str | None:
    if percent is None:
        return None
    for lowest, tag in SCORE_BANDS:
        if percent >= lowest:
            return tag
    return SCORE_BANDS[-1][1]


def desired_tags(facts: EnrollmentFacts) -> frozenset[str]:
    """Tags follow the result: completed, passed XOR failed, and one score band once there is a score."""
    tags: set[str] = set()
    if facts.completion is Completion.COMPLETED:
        tags.add(TAG_COMPLETED)
    if facts.success is Success.PASSED:
        tags.add(TAG_PASSED)
    elif facts.success is Success.FAILED:
        tags.add(TAG_FAILED)
    band = score_band(facts.score_percent)
    if band is not None and (
        facts.completion is Completion.COMPLETED or facts.success is not Success.UNKNOWN
    ):
        tags.add(band)
    return frozenset(tags)


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def completion_note(facts: EnrollmentFacts) -> str:
    result = {Success.PASSED: "Passed", Success.FAILED: "Failed"}.get(facts.success, "Completed")
    score = f"{facts.score_percent:.0f}%" if facts.score_percent is not None else "no score"
    when = facts.completed_at.date().isoformat() if facts.completed_at else "today"
    return (
        f"Completed the course “{facts.course_title}”.\n"
        f"Result: {result} · Score: {score} · Time spent: {format_duration(facts.total_seconds)} · "
        f"Completed on {when}."
    )


def training_record(facts: EnrollmentFacts) -> dict[str, Any]:
    """The Training Record's properties (field keys without the custom-object prefix)."""

    def day(moment: datetime | None) -> str | None:
        return moment.date().isoformat() if moment else None

    return {
        "course_name": facts.course_title,
        "course_id": str(facts.course_id),
        "enrollment_id": str(facts.enrollment_id),
        "learner_email": facts.learner_email,
        "status": facts.completion.value,
        "result": facts.success.value,
        "score_percent": round(facts.score_percent, 2) if facts.score_percent is not None else None,
        "time_spent_seconds": round(facts.total_seconds),
        "attempts": facts.attempts,
        "enrolled_on": day(facts.enrolled_at),
        "first_access_on": day(facts.first_access_at),
        "last_access_on": day(facts.last_access_at),
        "completed_on": day(facts.completed_at),
    }


def company_summary_write(workspace_id: UUID, contact_id: str, summary: dict[str, Any]) -> CrmWrite:
    """The company's Training Summary after this change. Keyed by the numbers themselves: learners of one
    company syncing at once queue one write per distinct summary, and an unchanged summary none."""
    company = summary["company"]
    return CrmWrite(
        WriteKind.COMPANY_SUMMARY,
        contact_id,
        {"company": company, "properties": summary},
        f"company:{workspace_id}:{_digest(company)}:{_digest(summary)}",
    )


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _key(facts: EnrollmentFacts, kind: WriteKind, state: Any) -> str:
    return f"{facts.enrollment_id}:{kind.value}:{_digest(state)}"


def plan_sync(facts: EnrollmentFacts, synced: SyncedState, settings: SyncSettings) -> SyncPlan:
    """The writes that bring the CRM from `synced` to `facts`; none when nothing the CRM shows changed."""
    writes: list[CrmWrite] = []
    tags = synced.tags
    if settings.tags:
        wanted = desired_tags(facts)
        # Only our own tags are ever removed; a result that changes swaps passed/failed and the band.
        remove = sorted(
            t for t in synced.tags - wanted if t in ALL_BAND_TAGS | {TAG_PASSED, TAG_FAILED, TAG_COMPLETED}
        )
        add = sorted(wanted - synced.tags)
        if remove:
            writes.append(
                CrmWrite(
                    WriteKind.REMOVE_TAGS,
                    facts.contact_id,
                    {"tags": remove},
                    _key(facts, WriteKind.REMOVE_TAGS, [remove, sorted(wanted)]),
                )
            )
        if add:
            writes.append(
                CrmWrite(
                    WriteKind.ADD_TAGS,
                    facts.contact_id,
                    {"tags": add},
                    _key(facts, WriteKind.ADD_TAGS, [add, sorted(wanted)]),
                )
            )
        tags = wanted
    note_written = synced.note_written
    if settings.notes and facts.completion is Completion.COMPLETED and not synced.note_written:
        # One note, on the first completion: the timeline is not a log of every commit.
        writes.append(
            CrmWrite(
                WriteKind.NOTE,
                facts.contact_id,
                # The note is credited to whoever enrolled the learner, where the CRM knows them.
                {"body": completion_note(facts), "author_id": facts.enrolled_by}
                if facts.enrolled_by
                else {"body": completion_note(facts)},
                _key(facts, WriteKind.NOTE, "first-completion"),
            )
        )
        note_written = True
    digest = synced.record_digest
    if settings.records and facts.completion is not Completion.NOT_STARTED:
        record = training_record(facts)
        record_digest = _digest(record)
        if record_digest != synced.record_digest:
            writes.append(
                CrmWrite(
                    WriteKind.TRAINING_RECORD,
                    facts.contact_id,
                    {"properties": record},
                    f"{facts.enrollment_id}:{WriteKind.TRAINING_RECORD.value}:{record_digest}",
                )
            )
            digest = record_digest
    return SyncPlan(tuple(writes), SyncedState(tags=tags, note_written=note_written, record_digest=digest))


# --- progress from the engine --------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistrationProgress:
    """An engine's view of one registration; `updated_at` orders two views of the same registration."""

    updated_at: datetime
    completion: Completion
    success: Success
    score_percent: float | None
    score_raw: float | None
    total_seconds: float
    attempts: int
    first_access_at: datetime | None
    last_access_at: datetime | None
    completed_at: datetime | None
    registration_id: str | None = None
    instance: int = 0


def is_newer(progress: RegistrationProgress, held_stamp: datetime | None) -> bool:
    """Only progress stamped after what we hold may change the enrollment: late deliveries lose."""
    return held_stamp is None or progress.updated_at > held_stamp


# --- delivery ------------------------------------------------------------------------------------------


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class OutboxItem:
    id: UUID
    workspace_id: UUID
    enrollment_id: UUID | None
    write: CrmWrite
    status: OutboxStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True)
class RateLimit:
    """A CRM adapter's stated budget: at most `requests` per `per_seconds` (per workspace)."""

    requests: int
    per_seconds: float


# A write that keeps failing transiently is given up (and shown as failed) after this long.
GIVE_UP_AFTER_S = 24 * 60 * 60
MAX_BACKOFF_S = 15 * 60


def retry_delay(attempts: int, *, retry_after: float | None, jitter: float) -> float:
    """Exponential backoff with full jitter (jitter in [0, 1)), never sooner than the CRM asked."""
    backoff = min(MAX_BACKOFF_S, 2.0 ** min(attempts, 20)) * (0.5 + jitter / 2)
    return max(backoff, retry_after or 0.0)


@dataclass(frozen=True)
class SyncRun:
    id: UUID
    course_id: UUID
    total: int
    done: int
    failed: int
    started_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else int((self.done + self.failed) * 100 / self.total)


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
        if progress is not None and is_newer(progress, engine_stamp):
            enrollment = apply_progress(enrollment, progress)
            await uow.enrollments.save(enrollment)
            engine_stamp, applied = progress.updated_at, True
        settings = SyncSettings(
            tags=workspace.sync_tags, notes=workspace.sync_notes, records=workspace.sync_records
        )
        plan = plan_sync(
            facts_of(enrollment, course.title if course else "(deleted course)"), synced, settings
        )
        writes = list(plan.writes)
        if plan.writes and settings.records and enrollment.company_key:
            summary = await uow.enrollments.company_summary(workspace_id, enrollment.company_key)
            writes.append(company_summary_write(workspace_id, enrollment.contact_id, summary))
        queued = await uow.outbox.add_new(workspace_id, enrollment_id, writes, clock.now()) if writes else 0
        await uow.sync_states.store(enrollment_id, plan.synced, engine_stamp)
        await uow.commit()
    if queued:
        await enqueue_push(workspace_id, jobs=jobs)
    return SyncOutcome(queued=queued, progress_applied=applied)


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
                await uow.outbox.mark_sent(item.id, clock.now())
                await uow.commit()
            sent += 1
    async with (uow := uow_factory()):
        next_due = await uow.outbox.next_due_at(workspace_id)
    return PushOutcome(sent=sent, retrying=retrying, failed=failed, next_due_at=next_due)


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
    elif write.kind is WriteKind.COMPANY_SUMMARY:
        await crm.upsert_company_summary(write.payload["company"], write.payload["properties"])
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
