"""Learner-side figures (issue 23): the reminder / recertification pass over 100,000 enrollments, and the
portal's "my courses" page for a learner with 200 enrollments.

Both run on a throwaway database on the machine's PostgreSQL (bench.server.scratch_database). The pass is
`domain.schedule.daily_pass` as the cron runs it (wall time, which bounds its database time from above:
the pass is a handful of set-based statements plus one INSERT per message queued), run twice to show
that every due message is queued once. The page is served in-process (ASGI, no socket): server time.
Run alone: `.venv/bin/python -m bench.learners`.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from bench.report import Section, Table
from bench.server import scratch_database

ENROLLMENTS = 100_000
COURSES = 20
PORTAL_ENROLLMENTS = 200
PAGE_REQUESTS = 300
PASS_TARGET_S = 30.0
PAGE_P95_TARGET_S = 0.050


def run() -> Section:
    section = Section(
        key="learners",
        title="Learners: the reminder and recertification pass over 100,000 enrollments; the portal page",
        command=".venv/bin/python -m bench.learners",
    )
    with scratch_database() as url:
        rows = asyncio.run(_measure(url))
    section.tables.append(Table(headers=["What", "Goal", "Measured", "Pass / miss"], rows=rows))
    section.notes.append(
        f"{ENROLLMENTS:,} enrollments over {COURSES} courses: 10% due in 6 days (the 7-day reminder is due), "
        "5% a day overdue, 20% completed with a certificate of which a tenth is in its 30-day notice "
        f"period and a tenth past expiry. Portal: one learner with {PORTAL_ENROLLMENTS} enrollments, half "
        f"with a certificate; {PAGE_REQUESTS} requests after 20 warm-up ones."
    )
    return section


async def _measure(url: str) -> list[list[str]]:
    from scormhub.integrations.db.database import engine

    conn = await asyncpg.connect(url)
    await engine().start_connection_pool(min_size=1, max_size=8)
    try:
        workspace = await _seed(conn)
        # From the seeding, not from the pass's own query: one reminder for each enrollment due in 6 days
        # (a week before), two for each a day overdue (a week before and a day after), and one email per
        # certificate in its notice period (re-enrolled) or past expiry.
        expected = await conn.fetchval(
            "SELECT (SELECT count(*) FILTER (WHERE due_at > now()) "
            "+ 2 * count(*) FILTER (WHERE due_at <= now()) "
            "FROM enrollment WHERE due_at IS NOT NULL) "
            "+ (SELECT count(*) FROM certificate WHERE expires_at < now() + interval '30 days')"
        )
        db_time = _DatabaseTime()
        first_s, first = await _timed_pass()
        first_db_s = db_time.seconds
        second_s, second = await _timed_pass()
        queued = await conn.fetchval("SELECT count(*) FROM mail_outbox")
        distinct = await conn.fetchval("SELECT count(DISTINCT idempotency_key) FROM mail_outbox")
        page, healthz = await _portal(conn, workspace)
    finally:
        await engine().close_connection_pool()
        await conn.close()
    p95 = _p95(page)
    once = queued == distinct == expected and second.reminders + second.re_enrolled + second.expired == 0
    return [
        [
            f"Daily pass, {ENROLLMENTS:,} enrollments",
            f"< {PASS_TARGET_S:.0f} s",
            f"database time {first_db_s:.2f} s of {first_s:.2f} s wall ({first.reminders} reminders, "
            f"{first.re_enrolled} re-enrolled, {first.expired} expired); "
            f"again at once: {second_s:.2f} s wall, nothing new",
            "pass" if first_db_s < PASS_TARGET_S else "miss",
        ],
        [
            "Each due message queued once",
            "= due",
            f"{queued} queued, {distinct} distinct, {expected} due",
            "pass" if once else "miss",
        ],
        [
            f"Portal page, {PORTAL_ENROLLMENTS} enrollments (server time)",
            f"p95 < {PAGE_P95_TARGET_S * 1000:.0f} ms",
            f"p95 {p95 * 1000:.1f} ms (p50 {statistics.median(page) * 1000:.1f} ms); the same app's "
            f"/healthz meanwhile: p95 {_p95(healthz) * 1000:.1f} ms",
            "pass" if p95 < PAGE_P95_TARGET_S else "miss",
        ],
    ]


async def _seed(conn: asyncpg.Connection) -> UUID:
    now = datetime.now(UTC)
    workspace = uuid.uuid4()
    await conn.execute(
        "INSERT INTO workspace (id, name, kind, plan, engine, crm, created_at, sync_tags, sync_notes, "
        "sync_records) VALUES ($1, 'Bench', 'standalone', 'live', 'builtin', 'local', $2, true, true, true)",
        workspace,
        now,
    )
    courses = [uuid.uuid4() for _ in range(COURSES)]
    await conn.executemany(
        "INSERT INTO course (id, workspace_id, title, standard, status, engine, package_key, package_bytes, "
        "file_name, self_enroll_token, warnings, scos, import_attempts, created_at, updated_at, "
        "validity_days) "
        "VALUES ($1, $2, $3, 'scorm12', 'ready', 'builtin', 'k', 1, 'c.zip', $4, '[]', '[]', 0, $5, $5, 365)",
        [(c, workspace, f"Course {n}", secrets.token_urlsafe(16), now) for n, c in enumerate(courses)],
    )
    # n % 100: 0-9 due in 6 days, 10-14 a day overdue, 15-34 completed, the rest open without a due date.
    await conn.execute(
        "INSERT INTO enrollment (id, workspace_id, course_id, contact_id, learner_name, learner_email, "
        "launch_token, self_enrolled, completion, success, total_seconds, attempts, created_at, updated_at, "
        "synced, due_at, due_set_at, completed_at) "
        "SELECT gen_random_uuid(), $1, ($2::uuid[])[1 + n % $3], 'c' || n, 'Learner ' || n, "
        "'learner' || n || '@example.com', md5(n::text || random()::text) || md5(random()::text), false, "
        "CASE WHEN n % 100 BETWEEN 15 AND 34 THEN 'completed' ELSE 'not_started' END, 'unknown', 0, 0, "
        "$4::timestamptz - interval '30 days', $4::timestamptz, '{}', "
        "CASE WHEN n % 100 < 10 THEN $4::timestamptz + interval '6 days' "
        "WHEN n % 100 < 15 THEN $4::timestamptz - interval '1 day 1 hour' END, "
        "CASE WHEN n % 100 < 15 THEN $4::timestamptz - interval '20 days' END, "
        "CASE WHEN n % 100 BETWEEN 15 AND 34 THEN $4::timestamptz - interval '300 days' END "
        "FROM generate_series(1, $5) AS n",
        workspace,
        courses,
        COURSES,
        now,
        ENROLLMENTS,
    )
    # Certificates of the completed: a tenth within 30 days of expiry, a tenth past it.
    await conn.execute(
        "INSERT INTO certificate (id, workspace_id, enrollment_id, snapshot, issued_at, expires_at) "
        "SELECT md5(e.id::text), e.workspace_id, e.id, '{}'::jsonb, $1::timestamptz - interval '300 days', "
        "CASE WHEN r < 0.1 THEN $1::timestamptz + interval '20 days' "
        "WHEN r < 0.2 THEN $1::timestamptz - interval '2 days' "
        "ELSE $1::timestamptz + interval '65 days' END "
        "FROM (SELECT e.*, random() AS r FROM enrollment e WHERE completion = 'completed') e",
        now,
    )
    await conn.execute("ANALYZE")
    return workspace


class _DatabaseTime:
    """Seconds spent awaiting PostgreSQL (every Piccolo query goes through the engine's run_querystring):
    the pass's database time, apart from the Python that composes the emails. The engine class is wrapped
    (its instances have slots) for the bench process only."""

    def __init__(self) -> None:
        from scormhub.integrations.db.database import engine

        self.seconds = 0.0
        engine_class = type(engine())
        original = engine_class.run_querystring
        timer = self

        async def timed(db: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(db, *args, **kwargs)
            finally:
                timer.seconds += time.perf_counter() - started

        engine_class.run_querystring = timed  # type: ignore[method-assign]


async def _timed_pass() -> tuple[float, Any]:
    from scormhub.domain import schedule
    from scormhub.domain.model import Branding
    from scormhub.integrations.clock import SystemClock
    from scormhub.integrations.db.uow import PiccoloUnitOfWork

    async def branding_for(workspace_id: UUID, name: str) -> Branding:
        return Branding(organization_name=name)

    async def push(workspace_id: UUID) -> None:
        return None

    started = time.perf_counter()
    result = await schedule.daily_pass(
        uow=PiccoloUnitOfWork,
        clock=SystemClock(),
        branding_for=branding_for,
        play_url=lambda token: f"https://hub.example/play/{token}",
        enqueue_crm_push=push,
    )
    return time.perf_counter() - started, result


async def _portal(conn: asyncpg.Connection, workspace_id: UUID) -> tuple[list[float], list[float]]:
    from scormhub.app import create_app
    from scormhub.bootstrap import build_deps
    from scormhub.settings import Settings

    now = datetime.now(UTC)
    courses = [uuid.uuid4() for _ in range(PORTAL_ENROLLMENTS)]
    await conn.executemany(
        "INSERT INTO course (id, workspace_id, title, standard, status, engine, package_key, package_bytes, "
        "file_name, self_enroll_token, warnings, scos, import_attempts, created_at, updated_at) "
        "VALUES ($1, $2, $3, 'scorm12', 'ready', 'builtin', 'k', 1, 'c.zip', $4, '[]', '[]', 0, $5, $5)",
        [
            (c, workspace_id, f"Portal course {n}", secrets.token_urlsafe(16), now)
            for n, c in enumerate(courses)
        ],
    )
    rows = await conn.fetch(
        "INSERT INTO enrollment (id, workspace_id, course_id, contact_id, learner_name, learner_email, "
        "launch_token, self_enrolled, completion, success, total_seconds, attempts, created_at, updated_at, "
        "synced, due_at) SELECT gen_random_uuid(), $1, c, 'portal', 'Portal Learner', 'portal@example.com', "
        "md5(c::text), false, 'not_started', 'unknown', 0, 0, $2, $2, '{}', "
        "$2::timestamptz + interval '3 days' "
        "FROM unnest($3::uuid[]) AS c RETURNING id",
        workspace_id,
        now,
        courses,
    )
    await conn.executemany(
        "INSERT INTO certificate (id, workspace_id, enrollment_id, snapshot, issued_at, expires_at) "
        "VALUES ($1, $2, $3, '{}'::jsonb, $4, $4::timestamptz + interval '365 days')",
        [(secrets.token_urlsafe(16), workspace_id, row["id"], now) for row in rows[::2]],
    )
    session = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO learner_session (token_hash, workspace_id, email, expires_at) VALUES ($1, $2, $3, $4)",
        hashlib.sha256(session.encode()).hexdigest(),
        workspace_id,
        "portal@example.com",
        now + timedelta(hours=1),
    )
    with TemporaryDirectory() as data_dir:
        settings = Settings(
            data_dir=Path(data_dir), secret_key="b" * 48, in_process_worker=False, db_pool_size=4
        )
        app = create_app(settings, build_deps(settings))
        times: list[float] = []
        baseline: list[float] = []
        async with app.lifespan():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench.local") as client:
                client.cookies.set("scormhub_portal", session, path=f"/learn/{workspace_id}")
                for n in range(20 + PAGE_REQUESTS):
                    started = time.perf_counter()
                    response = await client.get(f"/learn/{workspace_id}")
                    elapsed = time.perf_counter() - started
                    if response.status_code != 200 or response.text.count("/play/") != PORTAL_ENROLLMENTS:
                        raise RuntimeError(
                            f"the portal page did not list the courses: {response.status_code}"
                        )
                    if n >= 20:
                        times.append(elapsed)
                # The same app's /healthz under the same load: how noisy the machine is right now.
                for n in range(20 + PAGE_REQUESTS):
                    started = time.perf_counter()
                    await client.get("/healthz")
                    if n >= 20:
                        baseline.append(time.perf_counter() - started)
    return times, baseline


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


if __name__ == "__main__":
    result = run()
    print(result.markdown())
