"""What the CRM should show for an enrollment, and the writes that get it there (pure policy).

plan_sync compares what was last sent (`SyncedState`) with the enrollment now, and turns the difference
into CRM writes. Each write carries an idempotency key derived from (enrollment, kind, state, generation),
so replaying a sync can never queue the same write twice, while a result that comes back later (passed,
failed, passed again) is a new write, not a duplicate of the first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from scormhub.domain.model import CrmWrite, SyncedState, WriteKind
from scormhub.domain.scorm.cmi import Completion, Success

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


@dataclass(frozen=True)
class SyncSettings:
    """Settings → CRM integration: each kind of write can be turned off on its own."""

    tags: bool = True
    notes: bool = True
    records: bool = True


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


def company_summary_write(company: str, contact_id: str, enrollment_key: str) -> CrmWrite:
    """A request to bring the company's Training Summary up to date. It carries no numbers: the pusher
    computes them from committed state when it writes, since a sync's own transaction cannot see the
    other learners of the company syncing at the same moment."""
    return CrmWrite(
        WriteKind.COMPANY_SUMMARY,
        contact_id,
        {"company": company},
        f"company:{_digest(company)}:{enrollment_key}",
    )


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _key(facts: EnrollmentFacts, kind: WriteKind, state: Any, generation: int) -> str:
    return f"{facts.enrollment_id}:{kind.value}:{_digest(state)}:{generation}"


def plan_sync(facts: EnrollmentFacts, synced: SyncedState, settings: SyncSettings) -> SyncPlan:
    """The writes that bring the CRM from `synced` to `facts`; none when nothing the CRM shows changed."""
    writes: list[CrmWrite] = []
    generation = synced.generation + 1
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
                    _key(facts, WriteKind.REMOVE_TAGS, [remove, sorted(wanted)], generation),
                )
            )
        if add:
            writes.append(
                CrmWrite(
                    WriteKind.ADD_TAGS,
                    facts.contact_id,
                    {"tags": add},
                    _key(facts, WriteKind.ADD_TAGS, [add, sorted(wanted)], generation),
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
                f"{facts.enrollment_id}:{WriteKind.NOTE.value}:{_digest('first-completion')}",
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
                    f"{facts.enrollment_id}:{WriteKind.TRAINING_RECORD.value}:{record_digest}:{generation}",
                )
            )
            digest = record_digest
    synced_now = SyncedState(
        tags=tags,
        note_written=note_written,
        record_digest=digest,
        generation=generation if writes else synced.generation,
    )
    return SyncPlan(tuple(writes), synced_now)


# --- coalescing -----------------------------------------------------------------------------------------

# Kinds whose latest write makes the earlier unsent ones pointless: a learner's many commits (passed,
# failed, passed …) reach the CRM as the settled result, not as every step. Notes are written once anyway.
COALESCED_KINDS = frozenset({WriteKind.ADD_TAGS, WriteKind.REMOVE_TAGS, WriteKind.TRAINING_RECORD})


class PendingWrite(Protocol):
    """An unsent write already in the outbox (it may be in flight: see `coalesce`)."""

    @property
    def id(self) -> UUID: ...

    @property
    def write(self) -> CrmWrite: ...


@dataclass(frozen=True)
class Coalesced:
    new: tuple[CrmWrite, ...]  # to add to the outbox
    updated: dict[UUID, dict[str, Any]]  # pending write id → its payload from now on
    discarded: tuple[UUID, ...]  # pending writes nothing is left to do for


def coalesce(pending: Sequence[PendingWrite], writes: Sequence[CrmWrite]) -> Coalesced:
    """Fold `writes` (one sync's plan) into the enrollment's pending writes of the same kinds.

    A pending write may already be in flight; the pusher then finds its payload changed when it marks it
    sent and delivers it again. So a merged tag write must be right whether or not the pending one it
    replaces was applied: it keeps removing what the newer plan removes and adding what it adds.
    """
    new = [w for w in writes if w.kind not in COALESCED_KINDS]
    updated: dict[UUID, dict[str, Any]] = {}
    discarded: list[UUID] = []

    def fold(kind: WriteKind, planned: CrmWrite | None, payload: dict[str, Any] | None) -> None:
        mine = [p for p in pending if p.write.kind is kind]
        if payload is None:
            discarded.extend(p.id for p in mine)
        elif mine:
            if mine[0].write.payload != payload:
                updated[mine[0].id] = payload
            discarded.extend(p.id for p in mine[1:])
        elif planned is not None:
            new.append(CrmWrite(planned.kind, planned.contact_id, payload, planned.idempotency_key))

    planned = {w.kind: w for w in writes}
    if WriteKind.ADD_TAGS in planned or WriteKind.REMOVE_TAGS in planned:
        added, removed = (
            _pending_tags(pending, kind) for kind in (WriteKind.ADD_TAGS, WriteKind.REMOVE_TAGS)
        )
        add_now, remove_now = (
            _tags_of(planned.get(kind)) for kind in (WriteKind.ADD_TAGS, WriteKind.REMOVE_TAGS)
        )
        add, remove = (added - remove_now) | add_now, (removed - add_now) | remove_now
        fold(
            WriteKind.REMOVE_TAGS,
            planned.get(WriteKind.REMOVE_TAGS),
            {"tags": sorted(remove)} if remove else None,
        )
        fold(WriteKind.ADD_TAGS, planned.get(WriteKind.ADD_TAGS), {"tags": sorted(add)} if add else None)
    if (record := planned.get(WriteKind.TRAINING_RECORD)) is not None:
        fold(WriteKind.TRAINING_RECORD, record, record.payload)
    return Coalesced(tuple(new), updated, tuple(discarded))


def _tags_of(write: CrmWrite | None) -> set[str]:
    return set(write.payload["tags"]) if write is not None else set()


def _pending_tags(pending: Sequence[PendingWrite], kind: WriteKind) -> set[str]:
    return {tag for p in pending if p.write.kind is kind for tag in p.write.payload["tags"]}
