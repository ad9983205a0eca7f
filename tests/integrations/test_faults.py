"""Faults, each against the real `scormhub serve` process: killed -9 mid-work and started again, its
PostgreSQL restarted under it, SCORM Cloud not answering. Every verdict is read from the database.

The server runs with SCORMHUB_RECOVERY_INTERVAL_S=2 (faultkit.RECOVERY_INTERVAL_S): the recovery crons run
every 2 s and a job whose process stopped beating for 2 s is taken up again; production uses 60 s.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from faultkit import (
    RECOVERY_INTERVAL_S,
    Hub,
    StandInScormCloud,
    Upload,
    connect,
    connect_scorm_cloud,
    csrf_header,
    eventually,
    postback,
    postback_seq,
    process_alive,
    registration,
    scorm_package,
    standalone_workspace,
)
from processes import scormhub_env

from scormhub.domain.courses import new_course
from scormhub.domain.crm_writes import SyncSettings, desired_tags, plan_sync
from scormhub.domain.enrollments import enroll_contact
from scormhub.domain.model import CourseStatus, EngineKind, Enrollment, SyncedState
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.domain.scorm.package import PackageReport, Sco
from scormhub.domain.sync import facts_of
from scormhub.integrations.clock import SystemClock
from scormhub.integrations.db.database import EmbeddedPostgres, engine, ensure_database
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.local_crm import LocalContactBook

MB = 1024 * 1024
COURSE_TITLE = "Golf Explained"
# What "answers quickly" means while PostgreSQL is down: a person gets a clear page, not a spinner.
OUTAGE_ANSWER_S = 5.0
# The engine's timeout for these tests (SCORM_CLOUD_TIMEOUT_S); production uses 20 s.
# Long enough that waiting it out twice (the defect these tests guard against) stands clear of a loaded
# machine's slowness, which the bounds below tolerate up to one more timeout's worth.
ENGINE_TIMEOUT_S = 2


@pytest.fixture
async def piccolo(db: str) -> AsyncIterator[str]:
    """The test's own Piccolo pool on the run's database, for making rows through the domain's use cases."""
    started = engine().pool is None
    if started:
        await engine().start_connection_pool(min_size=1, max_size=4)
    try:
        yield db
    finally:
        if started:
            await engine().close_connection_pool()


@pytest.fixture
async def hub(tmp_path: Path, db: str) -> AsyncIterator[Hub]:
    server = Hub(tmp_path, database_url=db)
    try:
        yield server
    finally:
        server.stop()


# --- rows made through the domain ------------------------------------------------------------------------


async def ready_course(workspace_id: uuid.UUID, engine_kind: EngineKind) -> uuid.UUID:
    report = PackageReport(
        valid=True,
        standard="scorm12",
        edition=None,
        title=COURSE_TITLE,
        scos=(Sco("sco-1", "Lesson", "index.html"),),
        mastery_score=None,
        warnings=(),
        errors=(),
    )
    course = new_course(
        workspace_id=workspace_id,
        engine=engine_kind,
        report=report,
        package_key="faults",
        package_bytes=1,
        file_name="golf.zip",
        now=datetime.now(UTC),
    )
    async with PiccoloUnitOfWork() as uow:
        await uow.courses.add(replace(course, status=CourseStatus.READY))
        await uow.commit()
    return course.id


async def enroll(workspace_id: uuid.UUID, course_id: uuid.UUID, count: int) -> list[Enrollment]:
    """`count` contacts in the contact book, each enrolled through the real use case (not started)."""
    book, clock = LocalContactBook(workspace_id), SystemClock()
    enrolled = []
    for n in range(count):
        contact = await book.upsert_contact(
            first_name="Learner", last_name=f"N{n:03d}", email=f"learner{n:03d}@faults.example.com"
        )
        result = await enroll_contact(
            workspace_id, course_id, contact.id, uow=PiccoloUnitOfWork(), contacts=book, clock=clock
        )
        enrolled.append(result.enrollment)
    return enrolled


def finished(enrollment: Enrollment, n: int) -> Enrollment:
    """What the built-in player's commits leave: completed, passed or failed, scores across the bands."""
    now = datetime.now(UTC)
    success = Success.FAILED if n % 4 == 3 else Success.PASSED
    score = float(40 + (n * 13) % 60)
    return replace(
        enrollment,
        completion=Completion.COMPLETED,
        success=success,
        score_percent=score,
        score_raw=score,
        total_seconds=120.0 + n,
        attempts=1,
        first_access_at=now,
        last_access_at=now,
        completed_at=now,
        updated_at=now,
    )


async def save(enrollments: Sequence[Enrollment]) -> None:
    async with PiccoloUnitOfWork() as uow:
        for enrollment in enrollments:
            await uow.enrollments.save(enrollment)
        await uow.commit()


def expected_writes(enrollment: Enrollment) -> Counter[str]:
    """The CRM writes one sync of this enrollment should deliver, by kind, from the domain's own policy."""
    plan = plan_sync(facts_of(enrollment, COURSE_TITLE), SyncedState(), SyncSettings())
    return Counter(write.kind.value for write in plan.writes)


async def crm_side(conn: asyncpg.Connection, workspace_id: uuid.UUID) -> dict[str, Any]:
    """The contact book as the admin would read it: tags, notes and training records per contact."""
    tags = {
        str(row["id"]): set(row["tags"])
        for row in await conn.fetch(
            "SELECT id, tags::text[] AS tags FROM (SELECT id, ARRAY(SELECT jsonb_array_elements_text(tags)) "
            "AS tags FROM contact WHERE workspace_id = $1) AS c",
            workspace_id,
        )
    }
    notes = Counter(
        str(row["contact_id"])
        for row in await conn.fetch(
            "SELECT contact_id FROM contact_note WHERE workspace_id = $1", workspace_id
        )
    )
    records = Counter(
        str(row["contact_id"])
        for row in await conn.fetch(
            "SELECT contact_id FROM training_record WHERE workspace_id = $1", workspace_id
        )
    )
    return {"tags": tags, "notes": notes, "records": records}


async def outbox_by_enrollment(conn: asyncpg.Connection, workspace_id: uuid.UUID) -> dict[str, Counter[str]]:
    rows = await conn.fetch(
        "SELECT enrollment_id, kind, status FROM outbox WHERE workspace_id = $1", workspace_id
    )
    by_enrollment: dict[str, Counter[str]] = {}
    for row in rows:
        by_enrollment.setdefault(str(row["enrollment_id"]), Counter())[f"{row['kind']}:{row['status']}"] += 1
    return by_enrollment


async def all_writes_sent(conn: asyncpg.Connection, workspace_id: uuid.UUID, expected: int) -> bool:
    counts = dict(
        await conn.fetch(
            "SELECT status, count(*) FROM outbox WHERE workspace_id = $1 GROUP BY status", workspace_id
        )
    )
    return counts.get("sent", 0) == expected and sum(counts.values()) == expected


# --- kill -9 ---------------------------------------------------------------------------------------------


async def test_a_kill_during_an_upload_leaves_no_course_and_the_next_upload_works(hub: Hub) -> None:
    await hub.start()
    admin = await hub.admin(timeout=60)
    # 24 MB sent in 256 KB chunks with a pause between them: several seconds on the wire.
    upload = Upload(scorm_package("Half uploaded", blob_bytes=24 * MB), pause_s=0.02)
    sending = asyncio.create_task(upload.send(admin))
    packages = hub.data_dir / "packages"

    async def streaming_into_storage() -> list[Path]:
        parts = [p for p in packages.glob(".*.part") if p.stat().st_size >= 2 * MB]
        return parts

    (partial,) = await eventually(streaming_into_storage, within_s=30, what="the upload streaming to disk")
    hub.kill()
    with pytest.raises(httpx.TransportError):
        await sending
    assert partial.exists(), "the crash left the partial file behind"
    # An hour on, the next start clears it (a fresher one could be another process's upload in progress).
    an_hour_ago = time.time() - 3601
    os.utime(partial, (an_hour_ago, an_hour_ago))

    await hub.start()
    admin = await hub.admin(timeout=60)
    async with connect(hub.database_url) as conn:
        assert await conn.fetch("SELECT id, title, status FROM course") == []
    listing = await admin.get("/app/courses")
    assert listing.status_code == 200
    assert "Half uploaded" not in listing.text
    assert list(packages.glob("*.zip")) == [], "no partial upload was kept as a package"
    assert not partial.exists()

    again = await Upload(scorm_package("Uploaded after the crash")).send(admin)
    assert again.status_code == 303, again.text
    course_id = uuid.UUID(again.headers["location"].rsplit("/", 1)[1])
    async with connect(hub.database_url) as conn:
        status = await eventually(
            lambda: conn.fetchval(
                "SELECT status FROM course WHERE id = $1 AND status <> 'processing'", course_id
            ),
            within_s=30,
            what="the new upload reaching a final status",
        )
    assert status == "ready"
    assert "unhandled error" not in hub.log()


async def test_a_kill_during_an_import_is_recovered_to_ready_never_left_processing(hub: Hub) -> None:
    await hub.start()
    admin = await hub.admin(timeout=60)
    # Thousands of small files: extracting them keeps import_course busy long enough to be cut off.
    package = scorm_package("Interrupted import", files=3000, file_bytes=2048)
    uploaded = await Upload(package).send(admin)
    assert uploaded.status_code == 303, uploaded.text
    course_id = uuid.UUID(uploaded.headers["location"].rsplit("/", 1)[1])
    content = hub.data_dir / "content"

    async with connect(hub.database_url) as conn:

        async def extracting() -> bool:
            status = await conn.fetchval("SELECT status FROM course WHERE id = $1", course_id)
            # Extraction stages in a folder of its own (.{course id}.{random}.partial) before publishing.
            return status == "processing" and any(content.glob(f".{course_id}.*.partial"))

        await eventually(extracting, within_s=30, what="import_course extracting the package", every_s=0.005)
        hub.kill()
        left = await conn.fetchrow("SELECT status, import_attempts FROM course WHERE id = $1", course_id)
        assert left["status"] == "processing", "the kill must interrupt the import, not follow it"

        await hub.start()
        final = await eventually(
            lambda: conn.fetchrow(
                "SELECT status, status_message FROM course WHERE id = $1 AND status <> 'processing'",
                course_id,
            ),
            within_s=60,
            what="the interrupted import reaching Ready or Error",
        )
    assert final["status"] == "ready", final["status_message"]
    assert (hub.data_dir / "content" / str(course_id) / ".scormhub.json").exists()
    page = await admin.get(f"/app/courses/{course_id}")
    assert page.status_code == 200
    assert "Interrupted import" in page.text


async def test_a_kill_during_a_postback_flood_loses_no_acknowledged_postback(hub: Hub, piccolo: str) -> None:
    learners, flood, kill_after = 30, 300, 100
    with StandInScormCloud(delay_s=0.03) as cloud:
        hub.env["SCORM_CLOUD_API_URL"] = cloud.url
        await hub.start()
        async with connect(hub.database_url) as conn:
            workspace_id = await standalone_workspace(conn)
            password = await connect_scorm_cloud(conn, workspace_id)
        course_id = await ready_course(workspace_id, EngineKind.SCORM_CLOUD)
        enrollments = await enroll(workspace_id, course_id, learners)
        for n, enrollment in enumerate(enrollments):
            cloud.registrations[str(enrollment.id)] = registration(str(enrollment.id), n)

        acknowledged: set[int] = set()
        killed = asyncio.Event()
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        async with httpx.AsyncClient(base_url=hub.base_url, timeout=10, limits=limits) as client:
            slots = asyncio.Semaphore(16)

            async def send(seq: int) -> None:
                async with slots:
                    if killed.is_set():
                        return
                    enrollment = enrollments[seq % learners]
                    body, headers = postback(seq, cloud.registrations[str(enrollment.id)], password)
                    try:
                        answer = await client.post(
                            f"/hooks/scorm-cloud/{workspace_id}", content=body, headers=headers
                        )
                    except httpx.TransportError:
                        return
                    assert answer.status_code == 200, answer.text
                    acknowledged.add(seq)
                    if len(acknowledged) >= kill_after and not killed.is_set():
                        killed.set()
                        hub.kill()

            await asyncio.gather(*(send(seq) for seq in range(flood)))
        assert killed.is_set()

        async with connect(hub.database_url) as conn:
            stored = await conn.fetch(
                "SELECT content_type, body, processed_at FROM inbox WHERE workspace_id = $1", workspace_id
            )
            seqs = {postback_seq(row["content_type"], row["body"]) for row in stored}
            assert acknowledged <= seqs, f"acknowledged but not stored: {sorted(acknowledged - seqs)}"
            waiting = sum(row["processed_at"] is None for row in stored)
            assert waiting > 0, "the kill must leave stored postbacks unprocessed"

            await hub.start()
            await eventually(
                lambda: conn.fetchval(
                    "SELECT count(*) = 0 FROM inbox WHERE workspace_id = $1 AND processed_at IS NULL",
                    workspace_id,
                ),
                within_s=60,
                what="every stored postback processed after the restart",
            )
            outcomes = Counter(
                row["outcome"].split(":")[0]
                for row in await conn.fetch("SELECT outcome FROM inbox WHERE workspace_id = $1", workspace_id)
            )
            assert outcomes.keys() == {"synced"}, outcomes

            posted_about = {seq % learners for seq in seqs if seq is not None}
            expected = sum(
                sum(expected_writes(_as_reported(enrollments[n], n)).values()) for n in posted_about
            )
            await eventually(
                lambda: all_writes_sent(conn, workspace_id, expected),
                within_s=60,
                what="every CRM write of the synced enrollments delivered",
            )
            rows = {
                str(row["id"]): row
                for row in await conn.fetch("SELECT * FROM enrollment WHERE workspace_id = $1", workspace_id)
            }
            outbox = await outbox_by_enrollment(conn, workspace_id)
            crm = await crm_side(conn, workspace_id)

    for n, enrollment in enumerate(enrollments):
        row = rows[str(enrollment.id)]
        if n not in posted_about:
            assert row["completion"] == Completion.NOT_STARTED.value
            assert str(enrollment.id) not in outbox
            continue
        reported = cloud.registrations[str(enrollment.id)]
        assert row["completion"] == "completed"
        assert row["success"] == reported["registrationSuccess"].lower()
        assert row["score_percent"] == reported["score"]["scaled"]
        # Its several postbacks (some read again after the crash) came to one sync: each write went once.
        assert outbox[str(enrollment.id)] == Counter(
            {f"{kind}:sent": 1 for kind in expected_writes(_as_reported(enrollment, n))}
        )
        assert crm["notes"][enrollment.contact_id] == 1
        assert crm["records"][enrollment.contact_id] == 1
        assert crm["tags"][enrollment.contact_id] == set(
            desired_tags(facts_of(_as_reported(enrollment, n), COURSE_TITLE))
        )


def _as_reported(enrollment: Enrollment, n: int) -> Enrollment:
    """The enrollment after SCORM Cloud's report of learner n is applied (for the expected CRM writes)."""
    reported = registration(str(enrollment.id), n)
    success = Success.PASSED if reported["registrationSuccess"] == "PASSED" else Success.FAILED
    moment = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    return replace(
        enrollment,
        completion=Completion.COMPLETED,
        success=success,
        score_percent=reported["score"]["scaled"],
        total_seconds=reported["totalSecondsTracked"],
        attempts=1,
        completed_at=moment,
    )


async def test_a_kill_during_sync_all_delivers_every_crm_write_exactly_once(hub: Hub, piccolo: str) -> None:
    count = 200
    await hub.start()
    admin = await hub.admin(timeout=60)
    async with connect(hub.database_url) as conn:
        workspace_id = await standalone_workspace(conn)
    course_id = await ready_course(workspace_id, EngineKind.BUILTIN)
    enrollments = [finished(e, n) for n, e in enumerate(await enroll(workspace_id, course_id, count))]
    await save(enrollments)
    expected = {str(e.id): expected_writes(e) for e in enrollments}
    total_writes = sum(sum(c.values()) for c in expected.values())

    started = await admin.post(f"/app/courses/{course_id}/sync", headers=csrf_header(admin))
    assert started.status_code == 303, started.text
    async with connect(hub.database_url) as conn:

        async def mid_way() -> bool:
            row = await conn.fetchrow(
                "SELECT done + failed AS n FROM sync_run WHERE course_id = $1", course_id
            )
            return row is not None and count // 4 <= row["n"] <= count * 3 // 4

        await eventually(mid_way, within_s=60, what="Sync All a quarter of the way", every_s=0.005)
        hub.kill()
        run = await conn.fetchrow("SELECT * FROM sync_run WHERE course_id = $1", course_id)
        assert run["finished_at"] is None, "the kill must interrupt Sync All"
        sent_at_kill = await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'sent'")
        assert sent_at_kill < total_writes

        await hub.start()
        await eventually(
            lambda: conn.fetchval(
                "SELECT finished_at IS NOT NULL FROM sync_run WHERE course_id = $1", course_id
            ),
            within_s=90,
            what="the interrupted Sync All finishing",
        )
        await eventually(
            lambda: all_writes_sent(conn, workspace_id, total_writes),
            within_s=60,
            what="every CRM write delivered",
        )
        run = await conn.fetchrow("SELECT * FROM sync_run WHERE course_id = $1", course_id)
        outbox = await outbox_by_enrollment(conn, workspace_id)
        crm = await crm_side(conn, workspace_id)
        failed = await conn.fetch("SELECT last_error FROM outbox WHERE status = 'failed'")

    assert failed == []
    assert run["failed"] == 0
    # A job killed after counting itself but before SAQ recorded it as complete runs (and counts) again.
    assert run["done"] >= run["total"] == count
    for enrollment in enrollments:
        assert outbox[str(enrollment.id)] == Counter(
            {f"{kind}:sent": n for kind, n in expected[str(enrollment.id)].items()}
        )
        assert crm["tags"][enrollment.contact_id] == set(desired_tags(facts_of(enrollment, COURSE_TITLE)))
        assert crm["notes"][enrollment.contact_id] == 1, "one completion note, never two"
        assert crm["records"][enrollment.contact_id] == 1
    progress = await admin.get(f"/app/courses/{course_id}/sync", headers={"hx-request": "true"})
    assert progress.status_code == 200
    assert "Synced" in progress.text
    assert "failed" not in progress.text


# --- PostgreSQL restarted under the running app ---------------------------------------------------------


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL this test may stop and start. Not under pytest's temp root: pytest makes that 0700 again
    on every run, and the server's own system user must still reach its data dir to start a second time."""
    root = Path(tempfile.mkdtemp(prefix="scormhub-faults-pg-"))
    postgres = EmbeddedPostgres(root)
    try:
        yield postgres
    finally:
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


async def test_a_postgres_restart_gives_clear_503s_and_the_same_process_recovers(
    tmp_path: Path, own_postgres: EmbeddedPostgres
) -> None:
    server_url = await asyncio.to_thread(own_postgres.start)
    settings = await asyncpg.connect(server_url)
    try:
        # The embedded server is tuned for streams of writes (database.EMBEDDED_SETTINGS).
        assert await settings.fetchval("SHOW max_wal_size") == "4GB"
    finally:
        await settings.close()
    url = await asyncio.to_thread(ensure_database, server_url, "scormhub")
    migrated = await asyncio.create_subprocess_exec(
        *_scormhub("migrate"),
        env=scormhub_env(tmp_path / "data", DATABASE_URL=url),
        stdout=asyncio.subprocess.DEVNULL,
    )
    assert await migrated.wait() == 0
    hub = Hub(tmp_path, database_url=url)
    try:
        await hub.start()
        admin = await hub.admin(timeout=30)
        pid = hub.pid

        await asyncio.to_thread(own_postgres.stop)
        down_since = time.time()
        try:
            for path, headers in (
                ("/app/courses", {}),
                ("/app/courses", {"accept": "application/json"}),
                ("/app/settings", {}),
            ):
                began = time.monotonic()
                answer = await admin.get(path, headers=headers)
                took = time.monotonic() - began
                assert answer.status_code == 503, (path, answer.status_code, answer.text[:500])
                assert took < OUTAGE_ANSWER_S, f"{path} took {took:.1f}s while the database was down"
                assert answer.headers.get("retry-after")
                if headers:
                    assert answer.json()["error"] == "The database is not answering"
                else:
                    assert "The database is not answering" in answer.text
            # A postback that cannot be stored is never acknowledged: a 503, and SCORM Cloud sends it again.
            began = time.monotonic()
            answer = await admin.post(
                f"/hooks/scorm-cloud/{uuid.uuid4()}", json={"id": "reg-1"}, auth=("user", "password")
            )
            assert answer.status_code == 503, (answer.status_code, answer.text[:500])
            assert answer.headers.get("retry-after")
            assert time.monotonic() - began < OUTAGE_ANSWER_S
            began = time.monotonic()
            health = await admin.get("/healthz")
            assert time.monotonic() - began < OUTAGE_ANSWER_S
            assert health.status_code == 503
            assert health.json()["database"] == "failing"
            # The outage lasts a few recovery intervals: the worker's loops and both pools (asyncpg for
            # requests, psycopg for SAQ) keep failing and retrying meanwhile.
            await asyncio.sleep(max(0.0, down_since + 3 * RECOVERY_INTERVAL_S - time.time()))
        finally:
            log_at_restart = len(hub.log_path.read_text())
            assert await asyncio.to_thread(own_postgres.start) == server_url

        await eventually(
            lambda: _status(admin, "/healthz", 200), within_s=30, what="/healthz ok again after the restart"
        )
        assert (await admin.get("/app/courses")).status_code == 200
        assert hub.pid == pid, "the app recovered without being restarted"
        assert process_alive(pid)
        uploaded = await Upload(scorm_package("After the outage")).send(admin)
        assert uploaded.status_code == 303, uploaded.text
        course_id = uuid.UUID(uploaded.headers["location"].rsplit("/", 1)[1])
        async with connect(url) as conn:
            status = await eventually(
                lambda: conn.fetchval(
                    "SELECT status FROM course WHERE id = $1 AND status <> 'processing'", course_id
                ),
                within_s=30,
                what="a job queued after the outage running (import_course)",
            )
        assert status == "ready"

        async def crons_ran_again() -> bool:
            # The schedules resume too: the recovery crons run again after the outage.
            return "job recover_stuck_imports complete" in hub.log_path.read_text()[log_at_restart:]

        await eventually(crons_ran_again, within_s=30, what="the recovery crons running after the outage")
        assert "unhandled error" not in hub.log(), "an outage is a 503, never a 500 with a traceback"
    finally:
        hub.stop()


async def _status(client: httpx.AsyncClient, path: str, status: int) -> bool:
    try:
        return (await client.get(path)).status_code == status
    except httpx.TransportError:
        return False


def _scormhub(*args: str) -> list[str]:
    return [sys.executable, "-m", "scormhub", *args]


# --- SCORM Cloud not answering ----------------------------------------------------------------------------


async def test_an_engine_that_never_answers_leaves_pages_responsive_and_jobs_retrying(
    hub: Hub, piccolo: str
) -> None:
    with StandInScormCloud() as cloud:
        hub.env.update(SCORM_CLOUD_API_URL=cloud.url, SCORM_CLOUD_TIMEOUT_S=str(ENGINE_TIMEOUT_S))
        await hub.start()
        admin = await hub.admin(timeout=60)
        async with connect(hub.database_url) as conn:
            workspace_id = await standalone_workspace(conn)
            password = await connect_scorm_cloud(conn, workspace_id)
        course_id = await ready_course(workspace_id, EngineKind.SCORM_CLOUD)
        (enrollment,) = await enroll(workspace_id, course_id, 1)
        cloud.registrations[str(enrollment.id)] = registration(str(enrollment.id), 0)
        cloud.hang()

        # The live status dot asks SCORM Cloud: it answers within the timeout, and says what is wrong.
        began = time.monotonic()
        status = await admin.get("/app/settings/scorm-cloud/status", headers={"hx-request": "true"})
        took = time.monotonic() - began
        assert status.status_code == 200
        assert "SCORM Cloud did not answer in time" in status.text
        assert took < 2 * ENGINE_TIMEOUT_S, f"the status dot took {took:.1f}s"
        # Pages that only read our own database do not wait on SCORM Cloud at all.
        for path in (f"/app/courses/{course_id}", "/app/courses", "/app/settings"):
            began = time.monotonic()
            page = await admin.get(path)
            assert page.status_code == 200, path
            assert time.monotonic() - began < ENGINE_TIMEOUT_S, path
        # A learner's launch needs SCORM Cloud: a clear page instead of a hang.
        began = time.monotonic()
        # The player is on the content origin: the other loopback name, same port (the default).
        launch = await admin.get(f"http://localhost:{hub.port}/play/{enrollment.launch_token}")
        took = time.monotonic() - began
        assert launch.status_code == 503
        assert "The course player is not answering" in launch.text
        assert took < 2 * ENGINE_TIMEOUT_S, f"the launch took {took:.1f}s"
        # Enrolling someone creates their SCORM Cloud registration: the enrollment is kept, the registration
        # waits for the launch, and the page does not wait out SCORM Cloud's silence more than once.
        began = time.monotonic()
        enrolled = await admin.post(
            f"/app/courses/{course_id}/enrollments",
            data={"first_name": "Grace", "last_name": "Hopper", "email": "grace@faults.example.com"},
            headers=csrf_header(admin),
        )
        took = time.monotonic() - began
        assert enrolled.status_code == 303, enrolled.text
        assert took < 2 * ENGINE_TIMEOUT_S, f"enrolling took {took:.1f}s"
        shown = await admin.get(enrolled.headers["location"])  # the message travels in a flash cookie
        assert "Grace Hopper is enrolled." in shown.text
        # Deleting the course must remove it from SCORM Cloud first: it is refused, clearly, and kept.
        began = time.monotonic()
        refused = await admin.post(f"/app/courses/{course_id}/delete", headers=csrf_header(admin))
        took = time.monotonic() - began
        assert refused.status_code == 503
        assert "Nothing was deleted" in refused.text
        assert took < 2 * ENGINE_TIMEOUT_S, f"the delete took {took:.1f}s"

        # A postback is stored and acknowledged at once; the job that reads SCORM Cloud fails and retries.
        body, headers = postback(1, cloud.registrations[str(enrollment.id)], password)
        async with httpx.AsyncClient(base_url=hub.base_url, timeout=10) as client:
            began = time.monotonic()
            answer = await client.post(f"/hooks/scorm-cloud/{workspace_id}", content=body, headers=headers)
        assert answer.status_code == 200
        assert time.monotonic() - began < 2.0
        async with connect(hub.database_url) as conn:
            retried = await eventually(
                lambda: conn.fetchrow(
                    "SELECT key, status FROM saq_jobs WHERE key LIKE 'process_inbox:%' "
                    "AND convert_from(job, 'UTF8')::jsonb ->> 'error' LIKE '%did not answer%' "
                    "AND status IN ('queued', 'active')"
                ),
                within_s=30,
                what="the inbox job failing on the silent engine and queued again",
            )
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM inbox WHERE workspace_id = $1 AND processed_at IS NULL",
                    workspace_id,
                )
                == 1
            ), "the postback waits for the engine, it is not dropped"

            cloud.answer()
            await eventually(
                lambda: conn.fetchval(
                    "SELECT outcome FROM inbox WHERE workspace_id = $1 AND processed_at IS NOT NULL",
                    workspace_id,
                ),
                within_s=45,
                what=f"the retried job ({retried['key']}) processing the postback once SCORM Cloud answers",
            )
            row = await conn.fetchrow(
                "SELECT completion, success FROM enrollment WHERE id = $1", enrollment.id
            )
            courses = await conn.fetchval("SELECT count(*) FROM course WHERE id = $1", course_id)
            enrollments = await conn.fetchval(
                "SELECT count(*) FROM enrollment WHERE course_id = $1", course_id
            )
    assert (row["completion"], row["success"]) == ("completed", "passed")
    assert courses == 1
    assert enrollments == 2
