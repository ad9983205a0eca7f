"""Folding a sync's writes into the enrollment's unsent ones: the CRM sees the settled result."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from scormhub.domain.crm_writes import (
    EnrollmentFacts,
    PendingWrite,
    SyncSettings,
    coalesce,
    desired_tags,
    plan_sync,
)
from scormhub.domain.model import CrmWrite, SyncedState, WriteKind
from scormhub.domain.scorm.cmi import Completion, Success

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def facts(n: int) -> EnrollmentFacts:
    """The enrollment after its n-th commit: passed on even commits, failed on odd ones."""
    passed = n % 2 == 0
    return EnrollmentFacts(
        enrollment_id=uuid.UUID(int=1),
        contact_id="contact-1",
        learner_name="Zoë",
        learner_email="zoe@example.com",
        course_id=uuid.UUID(int=2),
        course_title="Golf Explained",
        completion=Completion.COMPLETED,
        success=Success.PASSED if passed else Success.FAILED,
        score_percent=85.0 if passed else 45.0,
        score_raw=None,
        total_seconds=300 + n,
        attempts=1,
        enrolled_at=NOW,
        first_access_at=NOW,
        last_access_at=NOW,
        completed_at=NOW,
    )


@dataclass
class Row:
    id: uuid.UUID
    write: CrmWrite


@dataclass
class Outbox:
    """The enrollment's outbox and a CRM's tags, as sync_enrollment and push_to_crm drive them."""

    def __post_init__(self) -> None:
        self.pending: list[Row] = []
        self.keys: set[str] = set()
        self.crm_tags: set[str] = set()
        self.record: dict[str, object] | None = None
        self.delivered = 0

    def queue(self, writes: tuple[CrmWrite, ...]) -> None:
        merged = coalesce(self.pending, writes)
        for row in self.pending:
            if row.id in merged.updated:
                row.write = CrmWrite(row.write.kind, row.write.contact_id, merged.updated[row.id], "k")
        self.pending = [row for row in self.pending if row.id not in merged.discarded]
        for write in merged.new:
            assert write.idempotency_key not in self.keys, "a new write must never collide with a sent one"
            self.keys.add(write.idempotency_key)
            self.pending.append(Row(uuid.uuid4(), write))

    def apply(self, row: Row) -> None:
        self.delivered += 1
        if row.write.kind is WriteKind.ADD_TAGS:
            self.crm_tags |= set(row.write.payload["tags"])
        elif row.write.kind is WriteKind.REMOVE_TAGS:
            self.crm_tags -= set(row.write.payload["tags"])
        elif row.write.kind is WriteKind.TRAINING_RECORD:
            self.record = row.write.payload["properties"]

    def push(self) -> None:
        for row in self.pending:
            self.apply(row)
        self.pending = []


@pytest.mark.parametrize("push_every", [1, 3, 7, 1000])
def test_alternating_results_settle_on_the_last_one_in_few_writes(push_every: int) -> None:
    outbox, synced = Outbox(), SyncedState()

    for n in range(150):
        plan = plan_sync(facts(n), synced, SyncSettings())
        outbox.queue(plan.writes)
        synced = plan.synced
        if n % push_every == push_every - 1:
            outbox.push()
    outbox.push()

    assert outbox.crm_tags == desired_tags(facts(149))
    assert outbox.record is not None
    assert outbox.record["result"] == "failed"
    assert outbox.record["time_spent_seconds"] == 449
    pushes = 150 // push_every + 1
    assert outbox.delivered <= 3 * pushes + 1  # at most tags off, tags on and the record per push, + the note


def test_a_merged_tag_write_is_right_whether_or_not_the_one_it_replaces_was_applied() -> None:
    first = plan_sync(facts(0), SyncedState(), SyncSettings())
    outbox = Outbox()
    outbox.queue(first.writes)
    in_flight = [Row(row.id, row.write) for row in outbox.pending]  # what a pusher is delivering

    second = plan_sync(facts(1), first.synced, SyncSettings())
    outbox.queue(second.writes)

    applied_first = Outbox()
    for row in in_flight:
        applied_first.apply(row)
    for crm in (Outbox(), applied_first):
        for row in outbox.pending:
            crm.apply(row)
        assert crm.crm_tags == desired_tags(facts(1))


def test_only_the_latest_training_record_stays_queued_and_the_note_is_never_folded() -> None:
    first = plan_sync(facts(0), SyncedState(), SyncSettings())
    second = plan_sync(facts(1), first.synced, SyncSettings())
    rows: list[PendingWrite] = [Row(uuid.uuid4(), w) for w in first.writes]
    duplicate = Row(uuid.uuid4(), next(w for w in first.writes if w.kind is WriteKind.TRAINING_RECORD))

    merged = coalesce([*rows, duplicate], second.writes)

    record = next(r for r in rows if r.write.kind is WriteKind.TRAINING_RECORD)
    assert merged.updated[record.id]["properties"]["result"] == "failed"
    assert duplicate.id in merged.discarded
    assert all(w.kind is not WriteKind.TRAINING_RECORD for w in merged.new)
    assert not any(r.id in merged.updated for r in rows if r.write.kind is WriteKind.NOTE)


def test_a_result_that_comes_back_is_queued_again_not_taken_for_the_write_sent_the_first_time() -> None:
    keys: list[set[str]] = []
    synced = SyncedState()
    for n in range(4):  # passed, failed, passed, failed
        plan = plan_sync(facts(n), synced, SyncSettings())
        keys.append({w.idempotency_key for w in plan.writes if w.kind is not WriteKind.NOTE})
        synced = plan.synced

    assert not keys[1] & keys[3]
    assert not keys[0] & keys[2]
