"""sync_enrollment and push_to_crm on in-memory fakes: what is queued, coalesced, skipped, delivered,
retried, given up and held. tests/integrations/test_crm_sync.py runs the same use cases on PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import pytest
from fakes.crm import FakeCrmWriter, FakeThrottle
from fakes.system import FakeClock, FakeJobs
from fakes.uow import FakeStore, FakeUnitOfWork

from scormhub.domain.crm_writes import TAG_COMPLETED, TAG_FAILED, TAG_PASSED, SyncSettings
from scormhub.domain.errors import CrmAuthExpired, CrmRateLimited, CrmRejected, CrmUnavailable, NotFound
from scormhub.domain.model import (
    Course,
    CourseStatus,
    CrmKind,
    EngineKind,
    Enrollment,
    OutboxItem,
    OutboxStatus,
    PlanMode,
    RateLimit,
    RegistrationProgress,
    Workspace,
    WorkspaceKind,
    WriteKind,
)
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.domain.sync import (
    GIVE_UP_AFTER_S,
    SUMMARY_ROUNDS,
    PushOutcome,
    SyncOutcome,
    push_to_crm,
    retry_delay,
    retry_write,
    save_sync_settings,
    sync_enrollment,
)

BAND_90 = "scorm_score_90_100"
BAND_0 = "scorm_score_0_49"


class World:
    """One workspace, one course, one enrolled learner; the CRM, throttle and queue they sync through."""

    def __init__(self, *, tags: bool = True, notes: bool = True, records: bool = True) -> None:
        self.clock = FakeClock()
        self.store = FakeStore()
        self.jobs = FakeJobs()
        self.crm = FakeCrmWriter()
        self.throttle = FakeThrottle()
        now = self.clock.now()
        self.workspace = Workspace(
            id=uuid.uuid4(),
            name="Agency",
            kind=WorkspaceKind.HIGHLEVEL,
            plan=PlanMode.LIVE,
            engine=EngineKind.SCORM_CLOUD,
            crm=CrmKind.HIGHLEVEL,
            created_at=now,
            sync_tags=tags,
            sync_notes=notes,
            sync_records=records,
        )
        self.course = Course(
            id=uuid.uuid4(),
            workspace_id=self.workspace.id,
            title="Golf",
            standard="scorm12",
            edition=None,
            status=CourseStatus.READY,
            engine=EngineKind.SCORM_CLOUD,
            package_key="k",
            package_bytes=1,
            file_name="golf.zip",
            self_enroll_token="enroll-token",
            created_at=now,
            updated_at=now,
        )
        self.store.workspaces[self.workspace.id] = self.workspace
        self.store.courses[self.course.id] = self.course
        self.enrollment = self.enroll("c1")

    def enroll(self, contact_id: str, **fields: object) -> Enrollment:
        now = self.clock.now()
        enrollment = Enrollment(
            id=uuid.uuid4(),
            workspace_id=self.workspace.id,
            course_id=self.course.id,
            contact_id=contact_id,
            learner_name="Ann Example",
            learner_email=f"{contact_id}@example.com",
            launch_token=uuid.uuid4().hex,
            created_at=now,
            updated_at=now,
        )
        enrollment = replace(enrollment, **fields)
        self.store.enrollments[enrollment.id] = enrollment
        return enrollment

    def progress(
        self,
        *,
        after_s: float = 60,
        completion: Completion = Completion.COMPLETED,
        success: Success = Success.PASSED,
        score: float | None = 95.0,
    ) -> RegistrationProgress:
        now = self.clock.now()
        return RegistrationProgress(
            updated_at=now + timedelta(seconds=after_s),
            completion=completion,
            success=success,
            score_percent=score,
            score_raw=score,
            total_seconds=600,
            attempts=1,
            first_access_at=now,
            last_access_at=now,
            completed_at=now if completion is Completion.COMPLETED else None,
        )

    async def sync(
        self, progress: RegistrationProgress | None, enrollment_id: UUID | None = None
    ) -> SyncOutcome:
        return await sync_enrollment(
            self.workspace.id,
            enrollment_id or self.enrollment.id,
            uow=FakeUnitOfWork(self.store),
            jobs=self.jobs,
            clock=self.clock,
            progress=progress,
        )

    async def push(self, *, jitter: float = 0.0, batch: int = 25) -> PushOutcome:
        return await push_to_crm(
            self.workspace.id,
            uow_factory=lambda: FakeUnitOfWork(self.store),
            crm=self.crm,
            throttle=self.throttle,
            clock=self.clock,
            jitter=lambda: jitter,
            batch=batch,
        )

    def outbox(self, kind: WriteKind | None = None) -> list[OutboxItem]:
        return [i for i in self.store.outbox.values() if kind in (None, i.write.kind)]

    def the(self, kind: WriteKind) -> OutboxItem:
        [item] = self.outbox(kind)
        return item


# --- sync_enrollment ---------------------------------------------------------------------------------------


async def test_a_first_completion_queues_tags_a_note_and_a_record_and_asks_for_one_push() -> None:
    world = World()
    progress = world.progress()

    outcome = await world.sync(progress)

    assert outcome == SyncOutcome(queued=3, progress_applied=True)
    assert [i.write.kind for i in world.outbox()] == [
        WriteKind.NOTE,
        WriteKind.ADD_TAGS,
        WriteKind.TRAINING_RECORD,
    ]
    assert world.the(WriteKind.ADD_TAGS).write.payload == {
        "tags": sorted([BAND_90, TAG_COMPLETED, TAG_PASSED])
    }
    assert all(
        i.status is OutboxStatus.PENDING and i.next_attempt_at == world.clock.now() for i in world.outbox()
    )
    stored = world.store.enrollments[world.enrollment.id]
    assert (stored.completion, stored.success, stored.score_percent) == (
        Completion.COMPLETED,
        Success.PASSED,
        95.0,
    )
    synced, stamp = world.store.sync_states[world.enrollment.id]
    assert (synced.generation, synced.note_written, stamp) == (1, True, progress.updated_at)
    assert world.jobs.enqueued == [
        ("push_to_crm", f"push_to_crm:{world.workspace.id}", {"workspace_id": str(world.workspace.id)})
    ]


async def test_the_same_progress_again_queues_nothing_and_asks_for_no_push() -> None:
    world = World()
    progress = world.progress()
    await world.sync(progress)

    again = await world.sync(progress)

    assert again == SyncOutcome(queued=0, progress_applied=False)
    assert len(world.outbox()) == 3
    assert len(world.jobs.enqueued) == 1


async def test_progress_older_than_the_stamp_held_never_moves_the_enrollment_back() -> None:
    world = World()
    newer = world.progress(after_s=120)
    await world.sync(newer)

    late = await world.sync(world.progress(after_s=60, success=Success.FAILED, score=10.0))

    assert late == SyncOutcome(queued=0, progress_applied=False)
    assert world.store.enrollments[world.enrollment.id].success is Success.PASSED
    assert world.store.sync_states[world.enrollment.id][1] == newer.updated_at


async def test_without_progress_the_enrollment_as_stored_is_what_is_synced() -> None:
    world = World()  # the built-in player: its commits have updated the enrollment already
    world.store.enrollments[world.enrollment.id] = replace(
        world.enrollment, completion=Completion.COMPLETED, success=Success.FAILED, score_percent=30.0
    )

    outcome = await world.sync(None)

    assert outcome == SyncOutcome(queued=3, progress_applied=False)
    assert world.the(WriteKind.ADD_TAGS).write.payload == {
        "tags": sorted([BAND_0, TAG_COMPLETED, TAG_FAILED])
    }
    assert world.store.sync_states[world.enrollment.id][1] is None


async def test_a_new_result_before_the_first_was_sent_updates_the_pending_writes_instead_of_adding_more() -> (
    None
):
    world = World()
    await world.sync(world.progress(after_s=60))
    first_add, first_record = world.the(WriteKind.ADD_TAGS), world.the(WriteKind.TRAINING_RECORD)

    outcome = await world.sync(world.progress(after_s=120, success=Success.FAILED, score=40.0))

    # The pending add and record now say the new result; the removal of the old tags is the one new row,
    # since the pending add may already be in flight with them. The note is written once, on completion.
    assert outcome == SyncOutcome(queued=3, progress_applied=True)
    assert world.the(WriteKind.ADD_TAGS).id == first_add.id
    assert world.the(WriteKind.ADD_TAGS).write.payload == {
        "tags": sorted([BAND_0, TAG_COMPLETED, TAG_FAILED])
    }
    assert world.the(WriteKind.REMOVE_TAGS).write.payload == {"tags": sorted([BAND_90, TAG_PASSED])}
    assert world.the(WriteKind.TRAINING_RECORD).id == first_record.id
    assert world.the(WriteKind.TRAINING_RECORD).write.payload["properties"]["result"] == "failed"
    assert len(world.outbox(WriteKind.NOTE)) == 1
    assert world.store.sync_states[world.enrollment.id][0].generation == 2


async def test_a_result_withdrawn_before_its_tags_were_sent_drops_the_pending_add() -> None:
    world = World()
    await world.sync(world.progress(after_s=60))

    await world.sync(
        world.progress(after_s=120, completion=Completion.IN_PROGRESS, success=Success.UNKNOWN, score=None)
    )

    assert world.outbox(WriteKind.ADD_TAGS) == []
    assert world.the(WriteKind.REMOVE_TAGS).write.payload == {
        "tags": sorted([BAND_90, TAG_COMPLETED, TAG_PASSED])
    }


async def test_kinds_of_write_turned_off_in_settings_are_not_queued() -> None:
    world = World(tags=False, notes=False)

    outcome = await world.sync(world.progress())

    assert outcome.queued == 1
    assert [i.write.kind for i in world.outbox()] == [WriteKind.TRAINING_RECORD]


async def test_a_learner_of_a_company_also_asks_for_the_company_summary() -> None:
    world = World()
    world.store.enrollments[world.enrollment.id] = replace(world.enrollment, company_key="Acme")

    outcome = await world.sync(world.progress())

    assert outcome.queued == 4
    assert world.the(WriteKind.COMPANY_SUMMARY).write.payload == {"company": "Acme"}


async def test_a_company_summary_is_not_asked_for_when_records_are_off() -> None:
    world = World(records=False)
    world.store.enrollments[world.enrollment.id] = replace(world.enrollment, company_key="Acme")

    await world.sync(world.progress())

    assert world.outbox(WriteKind.COMPANY_SUMMARY) == []


async def test_an_enrollment_of_no_or_another_workspace_is_not_found_and_nothing_is_written() -> None:
    world = World()
    other = World()

    with pytest.raises(NotFound):
        await world.sync(world.progress(), enrollment_id=uuid.uuid4())
    with pytest.raises(NotFound):
        await world.sync(world.progress(), enrollment_id=other.enrollment.id)

    assert world.outbox() == []
    assert world.store.sync_states == {}
    assert world.jobs.enqueued == []


# --- push_to_crm --------------------------------------------------------------------------------------------


async def test_due_writes_are_delivered_once_each_within_the_budget_and_marked_sent() -> None:
    world = World()
    await world.sync(world.progress())

    outcome = await world.push()

    assert outcome == PushOutcome(sent=3, retrying=0, failed=0, next_due_at=None)
    assert world.crm.tags == {"c1": {BAND_90, TAG_COMPLETED, TAG_PASSED}}
    assert len(world.crm.notes["c1"]) == 1
    assert world.crm.records[("c1", str(world.enrollment.id))]["result"] == "passed"
    assert all(
        (i.status, i.attempts, i.sent_at) == (OutboxStatus.SENT, 1, world.clock.now()) for i in world.outbox()
    )
    assert world.throttle.turns == [world.workspace.id] * 3
    assert await world.push() == PushOutcome(sent=0, retrying=0, failed=0)


async def test_a_self_throttling_writer_takes_no_second_turn_of_the_budget() -> None:
    world = World()
    world.crm.self_throttling = True
    await world.sync(world.progress())

    await world.push()

    assert world.throttle.turns == []


async def test_writes_are_claimed_a_batch_at_a_time_until_none_is_due() -> None:
    world = World()
    await world.sync(world.progress())

    outcome = await world.push(batch=1)

    assert outcome.sent == 3
    assert [kind for kind, _ in world.crm.calls] == ["note", "add_tags", "training_record"]


async def test_each_transient_failure_of_a_write_waits_longer_before_the_next_try() -> None:
    world = World(notes=False, records=False)
    await world.sync(world.progress())
    waits = []

    for _ in range(4):
        world.crm.failures = [CrmUnavailable("HighLevel is not answering")]
        outcome = await world.push(jitter=0.0)
        item = world.the(WriteKind.ADD_TAGS)
        assert outcome == PushOutcome(sent=0, retrying=1, failed=0, next_due_at=item.next_attempt_at)
        waits.append((item.next_attempt_at - world.clock.now()).total_seconds())
        assert await world.push() == PushOutcome(
            sent=0, retrying=0, failed=0, next_due_at=item.next_attempt_at
        )
        world.clock.advance(seconds=waits[-1])

    assert waits == [retry_delay(n, retry_after=None, jitter=0.0) for n in range(1, 5)] == [1, 2, 4, 8]
    item = world.the(WriteKind.ADD_TAGS)
    assert (item.status, item.attempts, item.last_error) == (
        OutboxStatus.PENDING,
        4,
        "HighLevel is not answering",
    )
    assert (await world.push()).sent == 1
    assert world.the(WriteKind.ADD_TAGS).attempts == 5


async def test_a_rate_limited_write_waits_as_long_as_the_crm_asked_and_holds_every_sender() -> None:
    world = World(notes=False, records=False)
    await world.sync(world.progress())
    world.crm.failures = [CrmRateLimited("too many requests", retry_after=120)]

    await world.push(jitter=0.99)

    assert world.the(WriteKind.ADD_TAGS).next_attempt_at == world.clock.now() + timedelta(seconds=120)
    assert world.throttle.holds == [(world.workspace.id, 120)]


async def test_a_rate_limit_without_retry_after_holds_the_senders_for_the_crms_window() -> None:
    world = World(notes=False, records=False)
    world.crm.rate_limit = RateLimit(requests=100, per_seconds=10)
    await world.sync(world.progress())
    world.crm.failures = [CrmRateLimited("too many requests")]

    await world.push()

    assert world.throttle.holds == [(world.workspace.id, 10)]


async def test_a_self_throttling_writer_has_held_the_budget_itself_when_rate_limited() -> None:
    world = World(notes=False, records=False)
    world.crm.self_throttling = True
    await world.sync(world.progress())
    world.crm.failures = [CrmRateLimited("too many requests", retry_after=30)]

    outcome = await world.push()

    assert outcome.retrying == 1
    assert world.throttle.holds == []


async def test_a_write_failing_for_more_than_a_day_is_given_up_and_marked_failed() -> None:
    world = World(notes=False, records=False)
    await world.sync(world.progress())
    world.clock.advance(seconds=GIVE_UP_AFTER_S + 1)
    world.crm.failures = [CrmUnavailable("HighLevel is not answering")]

    outcome = await world.push()

    assert outcome == PushOutcome(sent=0, retrying=0, failed=1)
    item = world.the(WriteKind.ADD_TAGS)
    assert item.status is OutboxStatus.FAILED
    assert item.last_error == "Gave up after 1 tries: HighLevel is not answering"


async def test_a_refused_write_fails_at_once_and_the_others_are_still_delivered() -> None:
    world = World(notes=False)
    await world.sync(world.progress())
    world.crm.failures = [CrmRejected("The tag name is not allowed.", detail="400 bad tag")]

    outcome = await world.push()

    assert outcome == PushOutcome(sent=1, retrying=0, failed=1)
    item = world.the(WriteKind.ADD_TAGS)
    assert (item.status, item.attempts, item.last_error) == (
        OutboxStatus.FAILED,
        1,
        "The tag name is not allowed.",
    )
    assert "c1" not in world.crm.tags


async def test_an_expired_authorization_holds_every_write_for_a_day_without_counting_a_try() -> None:
    world = World()
    await world.sync(world.progress())
    world.crm.failures = [CrmAuthExpired()]

    outcome = await world.push()

    assert outcome == PushOutcome(sent=0, retrying=0, failed=0, paused=True)
    assert len(world.crm.calls) == 1  # it stopped at the first refusal
    held_until = world.clock.now() + timedelta(days=1)
    assert all(
        (i.status, i.attempts, i.next_attempt_at) == (OutboxStatus.PENDING, 0, held_until)
        for i in world.outbox()
    )
    assert {i.last_error for i in world.outbox()} == {str(CrmAuthExpired())}


async def test_a_write_changed_while_in_flight_is_delivered_again_with_what_it_says_now() -> None:
    world = World(notes=False, records=False)
    await world.sync(world.progress())
    item = world.the(WriteKind.ADD_TAGS)

    async def coalesced_meanwhile() -> None:
        world.crm.before_write = None
        async with FakeUnitOfWork(world.store) as uow:
            await uow.outbox.replace_payload(item.id, {"tags": [TAG_COMPLETED, TAG_FAILED]})
            await uow.commit()

    world.crm.before_write = coalesced_meanwhile

    outcome = await world.push()

    assert outcome.sent == 1
    assert world.crm.calls == [("add_tags", "c1"), ("add_tags", "c1")]
    assert TAG_FAILED in world.crm.tags["c1"]
    assert world.the(WriteKind.ADD_TAGS).write.payload == {"tags": [TAG_COMPLETED, TAG_FAILED]}
    assert world.the(WriteKind.ADD_TAGS).status is OutboxStatus.SENT


async def test_writes_leased_by_another_pusher_are_left_to_it_until_the_lease_ends() -> None:
    world = World()
    await world.sync(world.progress())
    async with FakeUnitOfWork(world.store) as uow:
        claimed = await uow.outbox.claim_due(world.workspace.id, world.clock.now(), limit=25, lease_s=300)
        await uow.commit()

    meanwhile = await world.push()
    world.clock.advance(seconds=301)  # that pusher died: its lease runs out
    after = await world.push()

    assert len(claimed) == 3
    assert meanwhile == PushOutcome(sent=0, retrying=0, failed=0, next_due_at=claimed[0].next_attempt_at)
    assert after.sent == 3


async def test_one_company_summary_answers_every_pending_request_with_the_committed_numbers() -> None:
    world = World(tags=False, notes=False, records=True)
    world.store.enrollments[world.enrollment.id] = replace(world.enrollment, company_key="Acme")
    colleague = world.enroll("c2", company_key="Acme")
    await world.sync(world.progress())
    world.clock.advance(seconds=1)
    await world.sync(world.progress(score=55.0, success=Success.FAILED), enrollment_id=colleague.id)
    assert len(world.outbox(WriteKind.COMPANY_SUMMARY)) == 2

    # The first batch writes the summary of both learners; the second request is then answered already.
    await world.push(batch=2)

    assert [call for call in world.crm.calls if call[0] == "company_summary"] == [("company_summary", "Acme")]
    assert world.crm.summaries["Acme"] == {
        "company": "Acme",
        "learners": 2,
        "enrollments": 2,
        "completions": 2,
        "passed": 1,
        "completion_rate": 100.0,
        "average_score": 75.0,
    }
    assert {i.status for i in world.outbox(WriteKind.COMPANY_SUMMARY)} == {OutboxStatus.SENT}


async def test_a_company_summary_whose_numbers_keep_changing_goes_back_to_the_outbox() -> None:
    world = World(tags=False, notes=False)
    world.store.enrollments[world.enrollment.id] = replace(world.enrollment, company_key="Acme")
    await world.sync(world.progress())
    scores = iter(range(10, 100, 10))

    async def a_learner_commits_meanwhile() -> None:
        enrollment = world.store.enrollments[world.enrollment.id]
        world.store.enrollments[enrollment.id] = replace(enrollment, score_percent=float(next(scores)))

    world.crm.before_write = a_learner_commits_meanwhile
    summary = world.the(WriteKind.COMPANY_SUMMARY)

    outcome = await world.push()

    assert outcome.retrying == 1
    assert len([call for call in world.crm.calls if call[0] == "company_summary"]) == SUMMARY_ROUNDS
    item = world.store.outbox[summary.id]
    assert (item.status, item.attempts) == (OutboxStatus.PENDING, 1)
    assert "kept changing" in (item.last_error or "")


# --- retry_write and save_sync_settings ---------------------------------------------------------------


async def test_retrying_a_failed_write_makes_it_pending_again_and_wakes_the_pusher() -> None:
    world = World()
    await world.sync(world.progress())
    note = world.the(WriteKind.NOTE)
    world.store.outbox[note.id] = replace(note, status=OutboxStatus.FAILED, last_error="CRM said no")
    world.jobs.enqueued.clear()

    await retry_write(
        world.workspace.id, note.id, uow=FakeUnitOfWork(world.store), jobs=world.jobs, clock=world.clock
    )

    assert world.the(WriteKind.NOTE).status is OutboxStatus.PENDING
    assert [job for job, _, _ in world.jobs.enqueued] == ["push_to_crm"]


async def test_a_write_that_has_not_failed_is_not_found_for_retry_and_nothing_is_queued() -> None:
    world = World()
    await world.sync(world.progress())
    note = world.the(WriteKind.NOTE)
    world.jobs.enqueued.clear()

    with pytest.raises(NotFound):
        await retry_write(
            world.workspace.id, note.id, uow=FakeUnitOfWork(world.store), jobs=world.jobs, clock=world.clock
        )

    assert world.jobs.enqueued == []


async def test_another_workspaces_failed_write_is_not_found_for_retry() -> None:
    world = World()
    await world.sync(world.progress())
    note = world.the(WriteKind.NOTE)
    world.store.outbox[note.id] = replace(note, status=OutboxStatus.FAILED)

    with pytest.raises(NotFound):
        await retry_write(
            uuid.uuid4(), note.id, uow=FakeUnitOfWork(world.store), jobs=world.jobs, clock=world.clock
        )

    assert world.the(WriteKind.NOTE).status is OutboxStatus.FAILED


async def test_sync_settings_are_saved_and_later_syncs_queue_only_the_writes_left_on() -> None:
    world = World()
    uow = FakeUnitOfWork(world.store)

    saved = await save_sync_settings(
        world.workspace.id, SyncSettings(tags=False, notes=True, records=False), uow=uow
    )

    assert uow.committed
    assert (saved.sync_tags, saved.sync_notes, saved.sync_records) == (False, True, False)
    assert world.store.workspaces[world.workspace.id] == saved
    await world.sync(world.progress())
    assert [i.write.kind for i in world.outbox()] == [WriteKind.NOTE]


async def test_sync_settings_of_a_removed_workspace_are_not_found() -> None:
    world = World()

    with pytest.raises(NotFound):
        await save_sync_settings(uuid.uuid4(), SyncSettings(), uow=FakeUnitOfWork(world.store))
