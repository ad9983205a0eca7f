"""What the CRM ends up showing when many changes race: company summaries and a learner's churning commits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest
from test_crm_sync import Clock, Jobs, completed_enrollment, outbox, push

from scormhub.domain import sync
from scormhub.domain.model import Enrollment, OutboxStatus, RegistrationProgress, WriteKind
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.domain.workspaces import ensure_standalone_workspace
from scormhub.integrations.db.database import engine
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.local_crm import LocalContactBook

COMPANY = "Acme Ltd"


@pytest.fixture
async def pool(db: str) -> AsyncIterator[None]:
    await engine().start_connection_pool(min_size=1, max_size=12)
    yield
    await engine().close_connection_pool()


class CountingBook:
    """The built-in contact book, counting the CRM writes it receives; `before_record` runs once, inside
    the first training record write (a learner committing while that write is in flight)."""

    def __init__(self, book: LocalContactBook) -> None:
        self.book = book
        self.rate_limit = book.rate_limit
        self.self_throttling = book.self_throttling
        self.writes: list[str] = []
        self.before_record: Callable[[], Awaitable[None]] | None = None

    async def add_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        self.writes.append("add_tags")
        await self.book.add_tags(contact_id, tags)

    async def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        self.writes.append("remove_tags")
        await self.book.remove_tags(contact_id, tags)

    async def add_note(self, contact_id: str, body: str, *, idempotency_key: str, **extra: Any) -> None:
        self.writes.append("note")
        await self.book.add_note(contact_id, body, idempotency_key=idempotency_key, **extra)

    async def upsert_training_record(self, contact_id: str, record_key: str, properties: Any) -> None:
        self.writes.append("record")
        hook, self.before_record = self.before_record, None
        if hook is not None:
            await hook()
        await self.book.upsert_training_record(contact_id, record_key, properties)

    async def upsert_company_summary(self, company_key: str, properties: Any) -> None:
        self.writes.append("summary")
        await self.book.upsert_company_summary(company_key, properties)


class GatedBook(CountingBook):
    """Holds the first company summary write until released: a slow pusher's write landing last."""

    def __init__(self, book: LocalContactBook) -> None:
        super().__init__(book)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.summaries: list[dict[str, Any]] = []

    async def upsert_company_summary(self, company_key: str, properties: Any) -> None:
        first = not self.entered.is_set()
        self.entered.set()
        if first:
            await self.release.wait()
        self.summaries.append(dict(properties))
        await super().upsert_company_summary(company_key, properties)


async def learners_of_one_company(clock: Clock, count: int) -> list[Enrollment]:
    """`count` enrollments of learners at COMPANY, none of them completed yet."""
    workspace, _ = await ensure_standalone_workspace(uow=PiccoloUnitOfWork(), clock=clock)
    book = LocalContactBook(workspace.id)
    learners = []
    for n in range(count):
        email = f"learner{n}@acme.test"
        contact = await book.upsert_contact(first_name="L", last_name=str(n), email=email)
        await book.set_company(contact.id, COMPANY)
        done = await completed_enrollment(clock, email)
        started = replace(
            done,
            completion=Completion.IN_PROGRESS,
            success=Success.UNKNOWN,
            score_percent=None,
            completed_at=None,
        )
        async with PiccoloUnitOfWork() as uow:
            await uow.enrollments.save(started)
            await uow.commit()
        learners.append(started)
    return learners


def completion(clock: Clock, score: float) -> RegistrationProgress:
    return RegistrationProgress(
        updated_at=clock.now(),
        completion=Completion.COMPLETED,
        success=Success.PASSED,
        score_percent=score,
        score_raw=score,
        total_seconds=300,
        attempts=1,
        first_access_at=clock.now(),
        last_access_at=clock.now(),
        completed_at=clock.now(),
    )


async def committed_summary(enrollment: Enrollment) -> dict[str, Any]:
    async with PiccoloUnitOfWork() as uow:
        return await uow.enrollments.company_summary(enrollment.workspace_id, COMPANY)


async def test_learners_of_one_company_completing_at_once_leave_the_committed_summary(pool: None) -> None:
    clock, jobs = Clock(), Jobs()
    learners = await learners_of_one_company(clock, 8)
    everyone_decided = asyncio.Barrier(len(learners))

    class CommitTogether(PiccoloUnitOfWork):
        """Every sync has decided what to write before any commits: none can see the others' changes."""

        async def commit(self) -> None:
            await everyone_decided.wait()
            await super().commit()

    await asyncio.gather(
        *(
            sync.sync_enrollment(
                e.workspace_id,
                e.id,
                uow=CommitTogether(),
                jobs=jobs,
                clock=clock,
                progress=completion(clock, 60.0 + n),
            )
            for n, e in enumerate(learners)
        )
    )
    book = LocalContactBook(learners[0].workspace_id)
    await push(learners[0], book, clock)

    truth = await committed_summary(learners[0])
    assert truth["completions"] == len(learners)
    assert await book.company_summaries() == [truth]


async def test_a_slow_pusher_s_older_summary_never_has_the_last_word(pool: None) -> None:
    clock, jobs = Clock(), Jobs()
    first, second = await learners_of_one_company(clock, 2)
    book = GatedBook(LocalContactBook(first.workspace_id))
    await sync.sync_enrollment(
        first.workspace_id,
        first.id,
        uow=PiccoloUnitOfWork(),
        jobs=jobs,
        clock=clock,
        progress=completion(clock, 70),
    )
    slow = asyncio.create_task(push(first, book, clock))
    await book.entered.wait()  # the slow pusher holds one learner's summary, not yet written

    await sync.sync_enrollment(
        second.workspace_id,
        second.id,
        uow=PiccoloUnitOfWork(),
        jobs=jobs,
        clock=clock,
        progress=completion(clock, 90),
    )
    await push(second, book, clock)
    book.release.set()
    await slow

    truth = await committed_summary(first)
    assert truth["completions"] == 2
    assert book.summaries[-1] == truth
    assert await book.book.company_summaries() == [truth]


async def commit(enrollment: Enrollment, clock: Clock, n: int) -> Enrollment:
    """A learner's commit through the built-in player: the result flips between passed and failed."""
    changed = replace(
        enrollment,
        success=Success.PASSED if n % 2 == 0 else Success.FAILED,
        score_percent=85.0 if n % 2 == 0 else 45.0,
        total_seconds=300 + n,
        updated_at=clock.now(),
    )
    async with PiccoloUnitOfWork() as uow:
        await uow.enrollments.save(changed)
        await uow.commit()
    await sync.sync_enrollment(
        enrollment.workspace_id, enrollment.id, uow=PiccoloUnitOfWork(), jobs=Jobs(), clock=clock
    )
    return changed


async def test_a_learner_s_churning_commits_reach_the_crm_as_the_settled_result(pool: None) -> None:
    clock = Clock()
    enrollment = await completed_enrollment(clock)
    book = CountingBook(LocalContactBook(enrollment.workspace_id))

    for n in range(150):
        enrollment = await commit(enrollment, clock, n)
        if n % 50 == 49:  # a pusher comes by now and then while the learner keeps committing
            await push(enrollment, book, clock)
    await push(enrollment, book, clock)

    async with PiccoloUnitOfWork() as uow:
        queued = await uow.outbox.counts(enrollment.workspace_id)
    assert sum(queued.values()) <= 12
    assert queued["sent"] == sum(queued.values())
    assert len(book.writes) <= 12
    contact = await book.book.get_contact(enrollment.contact_id)
    assert contact is not None
    assert set(contact.tags) == {"scorm_completed", "scorm_failed", "scorm_score_0_49"}
    [record] = await book.book.training_records(enrollment.contact_id)
    assert (record["result"], record["time_spent_seconds"]) == ("failed", 449)


async def test_a_commit_during_the_delivery_of_the_old_result_is_delivered_after_it(pool: None) -> None:
    clock = Clock()
    enrollment = await completed_enrollment(clock)  # passed
    book = CountingBook(LocalContactBook(enrollment.workspace_id))
    await sync.sync_enrollment(
        enrollment.workspace_id, enrollment.id, uow=PiccoloUnitOfWork(), jobs=Jobs(), clock=clock
    )

    async def learner_fails_meanwhile() -> None:
        await commit(enrollment, clock, 1)

    book.before_record = learner_fails_meanwhile
    outcome = await push(enrollment, book, clock)

    contact = await book.book.get_contact(enrollment.contact_id)
    assert contact is not None
    assert set(contact.tags) == {"scorm_completed", "scorm_failed", "scorm_score_0_49"}
    [record] = await book.book.training_records(enrollment.contact_id)
    assert record["result"] == "failed"
    assert outcome.next_due_at is None
    records = [i for i in await outbox(enrollment.workspace_id) if i.write.kind is WriteKind.TRAINING_RECORD]
    assert [i.status for i in records] == [OutboxStatus.SENT]
