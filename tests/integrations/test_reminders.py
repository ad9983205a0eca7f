"""Due dates, reminders and recertification with a controlled clock, including two workers racing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID

import asyncpg
import pytest

from learner_rows import add_course, add_enrollments, complete, issue_certificate
from scormhub.domain import schedule
from scormhub.domain.model import Branding
from scormhub.domain.workspaces import ensure_standalone_workspace
from scormhub.integrations.db.database import engine
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from smtp_server import MovableClock


@pytest.fixture
async def conn(db: str) -> AsyncIterator[asyncpg.Connection]:
    await engine().start_connection_pool(min_size=1, max_size=6)
    connection = await asyncpg.connect(db)
    yield connection
    await connection.close()
    await engine().close_connection_pool()


@pytest.fixture
async def workspace(conn: asyncpg.Connection) -> UUID:
    created, _ = await ensure_standalone_workspace(uow=PiccoloUnitOfWork(), clock=MovableClock())
    return created.id


class Pushes:
    def __init__(self) -> None:
        self.workspaces: list[UUID] = []

    async def __call__(self, workspace_id: UUID) -> None:
        self.workspaces.append(workspace_id)


async def run_pass(clock: MovableClock, pushes: Pushes | None = None) -> schedule.PassResult:
    async def branding_for(workspace_id: UUID, name: str) -> Branding:
        return Branding(organization_name=name or "Acme")

    return await schedule.daily_pass(
        uow=PiccoloUnitOfWork,
        clock=clock,
        branding_for=branding_for,
        play_url=lambda token: f"https://hub.test/play/{token}",
        enqueue_crm_push=pushes or Pushes(),
    )


async def mails(conn: asyncpg.Connection) -> list[tuple[str, str, str]]:
    rows = await conn.fetch(
        "SELECT kind, to_address, subject FROM mail_outbox ORDER BY created_at, to_address"
    )
    return [(row["kind"], row["to_address"], row["subject"]) for row in rows]


async def test_reminders_come_at_their_offsets_once_each_and_none_after_completion(
    conn: asyncpg.Connection, workspace: UUID
) -> None:
    clock = MovableClock()
    now = clock.now()
    course = await add_course(conn, workspace, "Fire safety", now)
    [ada, bob] = await add_enrollments(conn, workspace, course, 2, now, due_at=now + timedelta(days=10))

    assert (await run_pass(clock)).reminders == 0  # 10 days out: nothing yet
    clock.offset = timedelta(days=3, minutes=1)  # 7 days before the due date
    first = await run_pass(clock)
    again = await run_pass(clock)
    await complete(conn, bob, clock.now())
    clock.offset = timedelta(days=11, minutes=1)  # a day after the due date
    late = await run_pass(clock)
    later = await run_pass(clock)

    assert (first.reminders, again.reminders, late.reminders, later.reminders) == (2, 0, 1, 0)
    sent = await mails(conn)
    assert [(kind, to) for kind, to, _ in sent] == [
        ("course_due_soon", "learner1@example.com"),
        ("course_due_soon", "learner2@example.com"),
        ("course_overdue", "learner1@example.com"),  # bob completed: no overdue reminder for him
    ]
    assert sent[0][2].startswith("Reminder: “Fire safety” is due on")
    events = await conn.fetch(
        "SELECT kind, enrollment_id, published_at FROM learner_event ORDER BY occurred_at"
    )
    assert [(e["kind"], e["enrollment_id"]) for e in events][-1] == ("course_overdue", ada)
    assert all(e["published_at"] is None for e in events)  # left for workflow triggers to deliver


async def test_a_reminder_already_past_when_the_due_date_was_set_is_not_sent(
    conn: asyncpg.Connection, workspace: UUID
) -> None:
    clock = MovableClock()
    now = clock.now()
    course = await add_course(conn, workspace, "Fire safety", now)
    await add_enrollments(conn, workspace, course, 1, now, due_at=now + timedelta(days=2))

    result = await run_pass(clock)

    assert result.reminders == 0  # "7 days before" was 5 days ago when the date was set


async def test_two_workers_crossing_a_reminder_time_together_send_each_reminder_once(
    conn: asyncpg.Connection, workspace: UUID
) -> None:
    clock = MovableClock()
    now = clock.now()
    course = await add_course(conn, workspace, "Fire safety", now)
    await add_enrollments(conn, workspace, course, 200, now, due_at=now + timedelta(days=8))
    clock.offset = timedelta(days=1, minutes=1)

    results = await asyncio.gather(run_pass(clock), run_pass(clock), run_pass(clock))

    assert sum(r.reminders for r in results) == 200
    assert await conn.fetchval("SELECT count(*) FROM mail_outbox") == 200
    assert await conn.fetchval("SELECT count(DISTINCT to_address) FROM mail_outbox") == 200


async def test_a_due_date_in_the_past_is_refused_with_what_to_do(
    conn: asyncpg.Connection, workspace: UUID
) -> None:
    clock = MovableClock()
    now = clock.now()
    course = await add_course(conn, workspace, "Fire safety", now)
    [enrollment] = await add_enrollments(conn, workspace, course, 1, now)
    yesterday = (now - timedelta(days=1)).date().isoformat()

    with pytest.raises(schedule.BadSchedule, match=r"in the past\. Choose today or a later day"):
        await schedule.set_due_date(workspace, enrollment, yesterday, uow=PiccoloUnitOfWork, clock=clock)
    with pytest.raises(schedule.BadSchedule, match="YYYY-MM-DD"):
        await schedule.set_due_date(workspace, enrollment, "31/01/2030", uow=PiccoloUnitOfWork, clock=clock)
    assert await conn.fetchval("SELECT due_at FROM enrollment WHERE id = $1", enrollment) is None


async def test_recertification_re_enrolls_before_expiry_keeps_history_and_tells_the_crm_at_expiry(
    conn: asyncpg.Connection, workspace: UUID
) -> None:
    clock = MovableClock()
    now = clock.now()
    course = await add_course(conn, workspace, "Fire safety", now)
    await conn.execute("UPDATE course SET validity_days = 365 WHERE id = $1", course)
    [renews, lapses] = await add_enrollments(conn, workspace, course, 2, now)
    certificates = []
    for enrollment in (renews, lapses):
        await complete(conn, enrollment, now)
        certificates.append(await issue_certificate(workspace, enrollment, now))
    expiry = await conn.fetchval("SELECT expires_at FROM certificate WHERE id = $1", certificates[0].id)
    assert expiry == now + timedelta(days=365)

    clock.offset = timedelta(days=365 - 30, minutes=1)  # the 30-day notice begins
    pushes = Pushes()
    notice = await run_pass(clock, pushes)
    notice_again = await run_pass(clock, pushes)

    assert (notice.re_enrolled, notice_again.re_enrolled) == (2, 0)
    state = await conn.fetchrow("SELECT completion, due_at FROM enrollment WHERE id = $1", renews)
    assert state["completion"] == "not_started"
    assert state["due_at"] == expiry  # due again by the day the certificate runs out
    history = await conn.fetchrow(
        "SELECT snapshot, certificate_id FROM enrollment_attempt WHERE enrollment_id = $1", renews
    )
    assert history["certificate_id"] == certificates[0].id
    assert '"completion": "completed"' in history["snapshot"]
    # The old certificate stays verifiable.
    assert await conn.fetchval("SELECT count(*) FROM certificate WHERE id = $1", certificates[0].id) == 1
    assert [kind for kind, _, _ in await mails(conn)] == ["certificate_expiring", "certificate_expiring"]

    await complete(conn, renews, clock.now())  # one learner renews in time
    clock.offset = timedelta(days=365, minutes=1)
    expired = await run_pass(clock, pushes)
    expired_again = await run_pass(clock, pushes)

    assert (expired.expired, expired_again.expired) == (1, 0)
    writes = await conn.fetch("SELECT kind, contact_id, payload::text AS payload FROM outbox ORDER BY kind")
    assert [(w["kind"], w["contact_id"]) for w in writes] == [
        ("add_tags", "contact-learner2"),
        ("training_record", "contact-learner2"),
    ]
    assert "scorm_expired" in writes[0]["payload"]
    assert f'"certificate_expires_on": "{expiry.date().isoformat()}"' in writes[1]["payload"]
    assert pushes.workspaces == [workspace]
    assert [kind for kind, _, _ in await mails(conn)][-1] == "certificate_expired"


async def test_shortening_a_validity_leaves_issued_certificates_as_issued(
    conn: asyncpg.Connection, workspace: UUID
) -> None:
    clock = MovableClock()
    now = clock.now()
    course = await add_course(conn, workspace, "Fire safety", now)
    await conn.execute("UPDATE course SET validity_days = 730 WHERE id = $1", course)
    [before, after] = await add_enrollments(conn, workspace, course, 2, now)
    await complete(conn, before, now)
    issued_before = await issue_certificate(workspace, before, now)

    async with PiccoloUnitOfWork() as uow:
        assert await uow.learners.set_validity(workspace, course, 365)
        await uow.commit()
    await complete(conn, after, now)
    issued_after = await issue_certificate(workspace, after, now)

    expiry = {
        row["id"]: row["expires_at"] for row in await conn.fetch("SELECT id, expires_at FROM certificate")
    }
    assert expiry[issued_before.id] == now + timedelta(days=730)
    assert expiry[issued_after.id] == now + timedelta(days=365)
