"""The CRM sync pipeline on a real PostgreSQL: outbox, delivery through outages, idempotency, Sync All."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from psycopg.sql import SQL

from scormhub.domain import sync
from scormhub.domain.courses import new_course
from scormhub.domain.enrollments import enroll_contact
from scormhub.domain.errors import CrmRateLimited, CrmUnavailable
from scormhub.domain.model import (
    CourseStatus,
    EngineKind,
    Enrollment,
    OutboxItem,
    OutboxStatus,
    RateLimit,
    RegistrationProgress,
)
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.domain.scorm.package import PackageReport, Sco
from scormhub.domain.workspaces import ensure_standalone_workspace
from scormhub.integrations.crm_throttle import PostgresThrottle
from scormhub.integrations.db.database import engine
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.jobqueue import SaqJobQueue, create_queue
from scormhub.integrations.local_crm import LocalContactBook
from scormhub.jobs import sync as sync_jobs

REPORT = PackageReport(
    valid=True,
    standard="scorm12",
    edition=None,
    title="Golf Explained",
    scos=(Sco("sco-1", "Lesson", "index.html"),),
    mastery_score=None,
    warnings=(),
    errors=(),
)


class Clock:
    def __init__(self) -> None:
        from datetime import UTC, datetime

        self.current = datetime.now(UTC)

    def now(self):  # type: ignore[no-untyped-def]
        return self.current


class Jobs:
    def __init__(self) -> None:
        self.enqueued: list[tuple[str, dict[str, Any]]] = []

    async def enqueue(self, job: str, **kwargs: Any) -> str:
        self.enqueued.append((job, kwargs))
        return "id"


@dataclass
class FakeCrm:
    """A CRM that records every write it accepts and fails the first `outage` calls."""

    outage: int = 0
    failure: type[Exception] = CrmUnavailable
    retry_after: float | None = None
    rate_limit: ClassVar[RateLimit] = RateLimit(requests=1000, per_seconds=1)
    self_throttling: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self.accepted: list[tuple[str, str, Any]] = []
        self.calls = 0

    def _call(self) -> None:
        self.calls += 1
        if self.calls <= self.outage:
            if self.failure is CrmRateLimited:
                raise CrmRateLimited("429 Too Many Requests", retry_after=self.retry_after)
            raise self.failure("503 Service Unavailable")

    async def add_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        self._call()
        self.accepted.append(("add_tags", contact_id, tuple(tags)))

    async def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        self._call()
        self.accepted.append(("remove_tags", contact_id, tuple(tags)))

    async def add_note(self, contact_id: str, body: str, *, idempotency_key: str) -> None:
        self._call()
        self.accepted.append(("note", contact_id, idempotency_key))

    async def upsert_training_record(self, contact_id: str, record_key: str, properties: Any) -> None:
        self._call()
        self.accepted.append(("record", contact_id, record_key))


class NoWait:
    def __init__(self) -> None:
        self.holds: list[float] = []

    async def wait_turn(self, workspace_id: uuid.UUID, limit: RateLimit) -> None:
        return None

    async def hold(self, workspace_id: uuid.UUID, limit: RateLimit, seconds: float) -> None:
        self.holds.append(seconds)


@pytest.fixture
async def pool(db: str) -> AsyncIterator[None]:
    await engine().start_connection_pool(min_size=1, max_size=10)
    yield
    await engine().close_connection_pool()


async def completed_enrollment(clock: Clock, email: str = "zoe@example.com") -> Enrollment:
    workspace, _ = await ensure_standalone_workspace(uow=PiccoloUnitOfWork(), clock=clock)
    async with PiccoloUnitOfWork() as uow:
        course = (await uow.courses.list_for_workspace(workspace.id) or [None])[0]
        if course is None:
            course = replace(
                new_course(
                    workspace_id=workspace.id,
                    engine=EngineKind.BUILTIN,
                    report=REPORT,
                    package_key="k",
                    package_bytes=1,
                    file_name="golf.zip",
                    now=clock.now(),
                ),
                status=CourseStatus.READY,
            )
            await uow.courses.add(course)
            await uow.commit()
    book = LocalContactBook(workspace.id)
    contact = await book.upsert_contact(first_name="Zoë", last_name="Ångström", email=email)
    result = await enroll_contact(
        workspace.id, course.id, contact.id, uow=PiccoloUnitOfWork(), contacts=book, clock=clock
    )
    done = replace(
        result.enrollment,
        completion=Completion.COMPLETED,
        success=Success.PASSED,
        score_percent=85.0,
        score_raw=85.0,
        total_seconds=300,
        attempts=1,
        completed_at=clock.now(),
        updated_at=clock.now(),
    )
    async with PiccoloUnitOfWork() as uow:
        await uow.enrollments.save(done)
        await uow.commit()
    return done


async def outbox(workspace_id: uuid.UUID) -> list[OutboxItem]:
    async with PiccoloUnitOfWork() as uow:
        return await uow.outbox.recent(workspace_id)


async def push(enrollment: Enrollment, crm: Any, clock: Clock) -> sync.PushOutcome:
    return await sync.push_to_crm(
        enrollment.workspace_id,
        uow_factory=PiccoloUnitOfWork,
        crm=crm,
        throttle=NoWait(),
        clock=clock,
        jitter=lambda: 0.0,
    )


async def test_a_completion_reaches_the_contact_book_as_tags_a_note_and_a_record(pool: None) -> None:
    clock, jobs = Clock(), Jobs()
    enrollment = await completed_enrollment(clock)

    outcome = await sync.sync_enrollment(
        enrollment.workspace_id, enrollment.id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock
    )
    book = LocalContactBook(enrollment.workspace_id)
    pushed = await push(enrollment, book, clock)

    contact = await book.get_contact(enrollment.contact_id)
    assert outcome.queued == 3
    assert [job for job, _ in jobs.enqueued] == ["push_to_crm"]
    assert pushed.sent == 3
    assert contact is not None
    assert set(contact.tags) == {"scorm_completed", "scorm_passed", "scorm_score_80_89"}
    notes = await book.notes(enrollment.contact_id)
    assert len(notes) == 1
    assert "Golf Explained" in notes[0][1]
    records = await book.training_records(enrollment.contact_id)
    assert records[0]["course_name"] == "Golf Explained"
    assert records[0]["score_percent"] == 85.0


async def test_a_sync_that_changes_nothing_queues_nothing(pool: None) -> None:
    clock, jobs = Clock(), Jobs()
    enrollment = await completed_enrollment(clock)
    await sync.sync_enrollment(
        enrollment.workspace_id, enrollment.id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock
    )

    again = await sync.sync_enrollment(
        enrollment.workspace_id, enrollment.id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock
    )

    assert again.queued == 0
    assert len(await outbox(enrollment.workspace_id)) == 3


async def test_two_syncs_of_one_enrollment_at_once_queue_each_write_once(pool: None) -> None:
    clock, jobs = Clock(), Jobs()
    enrollment = await completed_enrollment(clock)

    results = await asyncio.gather(
        *(
            sync.sync_enrollment(
                enrollment.workspace_id, enrollment.id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock
            )
            for _ in range(4)
        )
    )

    assert sorted(r.queued for r in results) == [0, 0, 0, 3]
    assert len(await outbox(enrollment.workspace_id)) == 3


async def test_writes_survive_a_crm_outage_and_land_exactly_once(pool: None) -> None:
    clock, jobs = Clock(), Jobs()
    enrollment = await completed_enrollment(clock)
    await sync.sync_enrollment(
        enrollment.workspace_id, enrollment.id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock
    )
    crm = FakeCrm(outage=5)

    rounds = []
    for _ in range(10):
        rounds.append(await push(enrollment, crm, clock))
        clock.current += timedelta(minutes=20)  # past any backoff

    assert rounds[0].retrying == 3
    assert sum(r.sent for r in rounds) == 3
    assert Counter(kind for kind, _, _ in crm.accepted) == {"add_tags": 1, "note": 1, "record": 1}
    assert {item.status for item in await outbox(enrollment.workspace_id)} == {OutboxStatus.SENT}


async def test_a_rate_limited_write_waits_at_least_as_long_as_the_crm_asked(pool: None) -> None:
    clock, jobs = Clock(), Jobs()
    enrollment = await completed_enrollment(clock)
    await sync.sync_enrollment(
        enrollment.workspace_id, enrollment.id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock
    )

    await push(enrollment, FakeCrm(outage=100, failure=CrmRateLimited, retry_after=120.0), clock)

    items = await outbox(enrollment.workspace_id)
    assert all(item.next_attempt_at >= clock.now() + timedelta(seconds=120) for item in items)
    assert all("429" in (item.last_error or "") for item in items)


async def test_a_write_failing_for_a_day_is_marked_failed_and_can_be_retried(pool: None) -> None:
    clock, jobs = Clock(), Jobs()
    enrollment = await completed_enrollment(clock)
    await sync.sync_enrollment(
        enrollment.workspace_id, enrollment.id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock
    )
    clock.current += timedelta(days=1, minutes=1)

    outcome = await push(enrollment, FakeCrm(outage=100), clock)
    items = await outbox(enrollment.workspace_id)
    async with PiccoloUnitOfWork() as uow:
        retried = await uow.outbox.retry(enrollment.workspace_id, items[0].id, clock.now())
        await uow.commit()

    assert outcome.failed == 3
    assert all(item.status is OutboxStatus.FAILED for item in items)
    assert all("Gave up" in (item.last_error or "") for item in items)
    assert retried
    assert (await push(enrollment, FakeCrm(), clock)).sent == 1


async def test_a_pusher_that_dies_mid_delivery_leaves_its_writes_to_the_next_one(pool: None) -> None:
    clock, jobs = Clock(), Jobs()
    enrollment = await completed_enrollment(clock)
    await sync.sync_enrollment(
        enrollment.workspace_id, enrollment.id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock
    )
    async with PiccoloUnitOfWork() as uow:  # a pusher claims the writes, then the process is killed
        claimed = await uow.outbox.claim_due(enrollment.workspace_id, clock.now(), limit=25, lease_s=300)
        await uow.commit()

    crm = FakeCrm()
    during_lease = await push(enrollment, crm, clock)
    clock.current += timedelta(minutes=6)
    after_lease = await push(enrollment, crm, clock)

    assert len(claimed) == 3
    assert during_lease.sent == 0
    assert after_lease.sent == 3
    assert len(crm.accepted) == 3


async def test_a_note_delivered_twice_appears_once_in_the_contact_book(pool: None) -> None:
    clock = Clock()
    enrollment = await completed_enrollment(clock)
    book = LocalContactBook(enrollment.workspace_id)

    for _ in range(2):
        await book.add_note(enrollment.contact_id, "Completed.", idempotency_key=f"{enrollment.id}:note:x")

    assert len(await book.notes(enrollment.contact_id)) == 1


async def test_sync_all_fans_out_once_even_when_clicked_twice(pool: None) -> None:
    clock, jobs = Clock(), Jobs()
    first = await completed_enrollment(clock, "a@example.com")
    await completed_enrollment(clock, "b@example.com")

    runs = await asyncio.gather(
        sync.sync_all(first.workspace_id, first.course_id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock),
        sync.sync_all(first.workspace_id, first.course_id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock),
    )

    assert runs[0].id == runs[1].id
    assert runs[0].total == 2
    assert [job for job, _ in jobs.enqueued].count("sync_enrollment") == 2


async def test_a_sync_all_whose_jobs_died_with_its_process_is_replaced_by_the_next_click(
    pool: None,
) -> None:
    clock, jobs = Clock(), Jobs()
    first = await completed_enrollment(clock, "a@example.com")
    await completed_enrollment(clock, "b@example.com")
    stuck = await sync.sync_all(
        first.workspace_id, first.course_id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock
    )
    jobs.enqueued.clear()  # the process died before its jobs ran: nothing will ever count them

    clock.current += timedelta(minutes=5)
    soon = await sync.sync_all(
        first.workspace_id, first.course_id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock
    )
    clock.current += timedelta(minutes=30)
    later = await sync.sync_all(
        first.workspace_id, first.course_id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock
    )

    assert soon.id == stuck.id  # still within its time: the same run, no second fan-out
    assert later.id != stuck.id
    assert later.total == 2
    assert [job for job, _ in jobs.enqueued].count("sync_enrollment") == 2


async def test_the_throttle_keeps_any_window_within_the_limit(pool: None) -> None:
    throttle = PostgresThrottle()
    workspace = uuid.uuid4()
    limit = RateLimit(requests=5, per_seconds=10)

    delays = [await throttle._reserve(workspace, limit) for _ in range(7)]

    assert delays[:5] == pytest.approx([0] * 5, abs=0.05)
    assert delays[5] == pytest.approx(10, abs=0.5)
    assert delays[6] == pytest.approx(10, abs=0.5)


async def test_a_company_training_summary_follows_its_learners(pool: None) -> None:
    clock, jobs = Clock(), Jobs()
    workspace, _ = await ensure_standalone_workspace(uow=PiccoloUnitOfWork(), clock=clock)
    book = LocalContactBook(workspace.id)
    for email in ("a@acme.test", "b@acme.test"):
        contact = await book.upsert_contact(first_name="A", last_name="B", email=email)
        await book.set_company(contact.id, "Acme Ltd")
    first = await completed_enrollment(clock, "a@acme.test")
    second = await completed_enrollment(clock, "b@acme.test")
    async with PiccoloUnitOfWork() as uow:
        await uow.enrollments.save(
            replace(
                second,
                completion=Completion.IN_PROGRESS,
                success=Success.UNKNOWN,
                score_percent=None,
                completed_at=None,
            )
        )
        await uow.commit()

    for enrollment in (first, second):
        await sync.sync_enrollment(
            enrollment.workspace_id, enrollment.id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock
        )
    await push(first, book, clock)

    summaries = await book.company_summaries()
    assert summaries == [
        {
            "company": "Acme Ltd",
            "learners": 2,
            "enrollments": 2,
            "completions": 1,
            "passed": 1,
            "completion_rate": 50.0,
            "average_score": 85.0,
        }
    ]


async def test_a_429_holds_every_sender_of_the_workspace_for_the_retry_after(pool: None) -> None:
    throttle = PostgresThrottle()
    workspace = uuid.uuid4()
    limit = RateLimit(requests=100, per_seconds=10)

    await throttle.hold(workspace, limit, 5.0)
    delay = await throttle._reserve(workspace, limit)

    assert delay == pytest.approx(5.0, abs=0.3)


class CrashOnCommit(PiccoloUnitOfWork):
    """A unit of work whose process dies just before COMMIT: nothing it did may survive."""

    async def commit(self) -> None:
        raise SystemExit("killed")


async def test_a_sync_killed_before_commit_leaves_nothing_and_the_rerun_delivers_once(pool: None) -> None:
    clock, jobs = Clock(), Jobs()
    enrollment = await completed_enrollment(clock)

    with pytest.raises(SystemExit):
        await sync.sync_enrollment(
            enrollment.workspace_id, enrollment.id, uow=CrashOnCommit(), jobs=jobs, clock=clock
        )
    assert await outbox(enrollment.workspace_id) == []
    rerun = await sync.sync_enrollment(
        enrollment.workspace_id, enrollment.id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock
    )

    assert rerun.queued == 3
    assert len(await outbox(enrollment.workspace_id)) == 3


async def test_progress_older_than_what_we_hold_never_moves_the_enrollment_back(pool: None) -> None:
    clock, jobs = Clock(), Jobs()
    enrollment = await completed_enrollment(clock)
    newer = RegistrationProgress(
        updated_at=clock.now(),
        completion=Completion.COMPLETED,
        success=Success.PASSED,
        score_percent=90.0,
        score_raw=90.0,
        total_seconds=600,
        attempts=1,
        first_access_at=None,
        last_access_at=None,
        completed_at=clock.now(),
    )
    older = replace(
        newer,
        updated_at=clock.now() - timedelta(minutes=5),
        completion=Completion.IN_PROGRESS,
        success=Success.UNKNOWN,
        score_percent=None,
        completed_at=None,
    )

    first = await sync.sync_enrollment(
        enrollment.workspace_id,
        enrollment.id,
        uow=PiccoloUnitOfWork(),
        jobs=jobs,
        clock=clock,
        progress=newer,
    )
    late = await sync.sync_enrollment(
        enrollment.workspace_id,
        enrollment.id,
        uow=PiccoloUnitOfWork(),
        jobs=jobs,
        clock=clock,
        progress=older,
    )
    async with PiccoloUnitOfWork() as uow:
        held = await uow.enrollments.get(enrollment.workspace_id, enrollment.id)

    assert first.progress_applied
    assert not late.progress_applied
    assert late.queued == 0
    assert held is not None
    assert held.completion is Completion.COMPLETED
    assert held.score_percent == 90.0


async def _queued_pushers(queue: Any) -> list[tuple[str, int]]:
    async with queue.pool.connection() as conn:
        cursor = await conn.execute(
            SQL("SELECT key, scheduled FROM {} WHERE status = 'queued' ORDER BY key").format(queue.jobs_table)
        )
        return [(key, int(scheduled)) for key, scheduled in await cursor.fetchall()]


async def test_a_refused_write_is_tried_again_when_its_backoff_ends_not_at_the_next_cron(
    db: str, pool: None
) -> None:
    clock = Clock()
    enrollment = await completed_enrollment(clock)
    await sync.sync_enrollment(
        enrollment.workspace_id, enrollment.id, uow=PiccoloUnitOfWork(), jobs=Jobs(), clock=clock
    )
    queue = create_queue(db, pool_size=2)
    await queue.connect()
    crm = FakeCrm(outage=1)
    deps = SimpleNamespace(
        uow=PiccoloUnitOfWork,
        crm=SimpleNamespace(
            writer=lambda _workspace: asyncio.sleep(0, crm),
            trigger_sender=lambda _workspace: asyncio.sleep(0, None),  # a standalone workspace: no triggers
        ),
        throttle=NoWait(),
        clock=clock,
        settings=SimpleNamespace(outbox_lease_s=300),
        jobs=SaqJobQueue(queue, clock=clock),
    )
    try:
        await sync_jobs.push_to_crm({"deps": deps}, workspace_id=str(enrollment.workspace_id))
        [refused] = [i for i in await outbox(enrollment.workspace_id) if i.status is OutboxStatus.PENDING]
        due = refused.next_attempt_at.timestamp()
        [(key, scheduled)] = await _queued_pushers(queue)
        # Its own pusher wakes within a second after the backoff, never before it.
        assert due <= scheduled <= due + 1

        # That pusher woken a moment early (a clock behind by 300 ms) still leaves one behind, due on time.
        clock.current = refused.next_attempt_at - timedelta(milliseconds=300)
        async with queue.pool.connection() as conn:
            await conn.execute(SQL("UPDATE {} SET status = 'active'").format(queue.jobs_table))
        early = await sync_jobs.push_to_crm(
            {"deps": deps, "job": SimpleNamespace(key=key)}, workspace_id=str(enrollment.workspace_id)
        )
        [(again, rescheduled)] = await _queued_pushers(queue)
        assert early["sent"] == 0
        assert again != key
        assert due <= rescheduled <= due + 1

        clock.current = datetime.fromtimestamp(rescheduled, UTC)
        done = await sync_jobs.push_to_crm(
            {"deps": deps, "job": SimpleNamespace(key=again)},
            workspace_id=str(enrollment.workspace_id),
        )
    finally:
        await queue.disconnect()

    assert done["sent"] == 1
    assert {i.status for i in await outbox(enrollment.workspace_id)} == {OutboxStatus.SENT}
    assert len(crm.accepted) == 3
