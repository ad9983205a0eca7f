"""CRM sync issue figures: the CRM writes a completion costs, and Sync All of 1,000 enrollments under a
100-requests-per-10-s limit.

In-process, against the machine's PostgreSQL (postgresql://postgres@127.0.0.1:5432, trust): a throwaway
database `scormhub_bench_<random>` is created and migrated, used through the app's Piccolo pool
(max_size=10), and dropped at the end. The CRM is a fake in both parts; everything else is the real code
(the domain use cases, the Piccolo unit of work, the outbox, the PostgreSQL throttle, the sync jobs).

a. 100 learners of one course complete (passed, failed, no score), each enrollment is synced
   (`sync_enrollment`) and the outbox pushed (`push_to_crm`) to a counting CRM: the writes per learner.
   Then the same 100 are synced again with nothing changed (must cost no write), and 10 results change
   from passed to failed (remove + add tags + record).
b. 1,000 completed enrollments in a workspace that syncs tags only (notes and records off), so each costs
   exactly one CRM request. Sync All fans out through a recording job queue; the recorded
   `sync_enrollment` jobs are run by the real job function, 10 at a time. Then two `push_to_crm`
   coroutines deliver the outbox through the real PostgresThrottle to a CRM that states
   RateLimit(100, 10) and enforces it: a strict sliding window (a request with 100 others accepted in the
   10 s before it gets a 429). The minimum time that window allows for 1,000 requests is 90 s.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from bench.report import Section, Table, median, seconds
from bench.server import scratch_database

POOL_SIZE = 10
LEARNERS = 100
CHANGED = 10
SYNC_ALL_ENROLLMENTS = 1000
FAN_OUT_CONCURRENCY = 10
PUSHERS = 2
LIMIT_REQUESTS, LIMIT_SECONDS = 100, 10.0
# 1,000 requests, 100 per sliding 10 s: batches start at 0, 10, ..., 90 s.
MINIMUM_PUSH_S = (SYNC_ALL_ENROLLMENTS // LIMIT_REQUESTS - 1) * LIMIT_SECONDS
# ≥ 90% of the throughput the limit allows: the push may take at most the minimum / 0.9.
TARGET_SHARE = 0.90
TARGET_RATIO = 1 / TARGET_SHARE
MAX_WRITES_PER_COMPLETION = 3
PUSH_DEADLINE_S = 150.0  # the push phase is stopped (and reported as such) past this
OVERALL_TIMEOUT_S = 300.0  # everything in the database, set-up included


def run() -> Section:
    section = Section(
        key="sync",
        title="CRM sync: writes per completion, Sync All under a rate limit",
        command=".venv/bin/python -m bench --only sync",
    )
    with scratch_database(migrate=False):  # _measure migrates, and times it
        asyncio.run(asyncio.wait_for(_measure(section), OVERALL_TIMEOUT_S))
    section.notes.append(
        "In-process, against the machine's PostgreSQL 127.0.0.1:5432 (a throwaway database "
        "`scormhub_bench_<random>`, migrated, used through the app's Piccolo pool with max_size="
        f"{POOL_SIZE}, dropped at the end). The CRM is a fake in both parts; the use cases, unit of work, "
        "outbox, throttle and sync jobs are the real code."
    )
    print(section.markdown())
    return section


async def _measure(section: Section) -> None:
    from scormhub.integrations.db.database import engine, migrate

    await migrate()
    await engine().start_connection_pool(max_size=POOL_SIZE)
    try:
        await writes_per_completion(section)
        await sync_all_under_the_limit(section)
    finally:
        await engine().close_connection_pool()


# --- fakes ---------------------------------------------------------------------------------------------


class RecordingJobs:
    """A JobQueue that only records; like the real one, a key already queued is not queued again."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, dict[str, Any]]] = []
        self.keys: set[str] = set()
        self.collapsed = 0

    async def enqueue(self, job: str, *, key: str | None = None, **kwargs: Any) -> str | None:
        if key is not None and key in self.keys:
            self.collapsed += 1
            return None
        if key is not None:
            self.keys.add(key)
        for option in ("timeout_s", "retries", "delay_s"):
            kwargs.pop(option, None)
        self.jobs.append((job, kwargs))
        return str(len(self.jobs))

    def of(self, job: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.jobs if name == job]


class CountingCrm:
    """A CrmWriter that accepts everything and records each call: (kind, contact, payload)."""

    rate_limit: Any = None
    self_throttling = False

    def __init__(self) -> None:
        from scormhub.domain.model import RateLimit

        self.rate_limit = RateLimit(requests=1000, per_seconds=1)
        self.calls: list[tuple[str, str, Any]] = []

    async def add_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        self.calls.append(("add_tags", contact_id, tuple(tags)))

    async def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        self.calls.append(("remove_tags", contact_id, tuple(tags)))

    async def add_note(self, contact_id: str, body: str, *, idempotency_key: str) -> None:
        self.calls.append(("note", contact_id, idempotency_key))

    async def upsert_training_record(self, contact_id: str, record_key: str, properties: Any) -> None:
        self.calls.append(("record", contact_id, dict(properties)))


class StrictWindowCrm:
    """The CRM side of a 100-per-10-s limit: a request with `requests` others accepted in the `per_seconds`
    before it is refused with a 429 (CrmRateLimited). Accepted and refused requests are timestamped."""

    def __init__(self, requests: int, per_seconds: float) -> None:
        self.requests, self.per_seconds = requests, per_seconds
        self.accepted: list[tuple[float, str, str]] = []  # (monotonic time, pusher, contact)
        self.rejected: list[tuple[float, str, str, float]] = []  # ... and the gap to the 100th before

    def call(self, pusher: str, contact_id: str) -> None:
        from scormhub.domain.errors import CrmRateLimited

        now = time.monotonic()
        recent = [t for t, _, _ in self.accepted[-self.requests :] if now - t < self.per_seconds]
        if len(recent) >= self.requests:
            self.rejected.append((now, pusher, contact_id, now - recent[0]))
            raise CrmRateLimited("429 Too Many Requests", retry_after=recent[0] + self.per_seconds - now)
        self.accepted.append((now, pusher, contact_id))


class PusherCrm:
    """One pusher's CrmWriter: its own call count, the CRM's shared window."""

    def __init__(self, crm: StrictWindowCrm, name: str) -> None:
        from scormhub.domain.model import RateLimit

        self.crm, self.name = crm, name
        self.self_throttling = False
        self.rate_limit = RateLimit(requests=crm.requests, per_seconds=crm.per_seconds)
        self.kinds: Counter[str] = Counter()

    def _call(self, kind: str, contact_id: str) -> None:
        self.kinds[kind] += 1
        self.crm.call(self.name, contact_id)

    async def add_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        self._call("add_tags", contact_id)

    async def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        self._call("remove_tags", contact_id)

    async def add_note(self, contact_id: str, body: str, *, idempotency_key: str) -> None:
        self._call("note", contact_id)

    async def upsert_training_record(self, contact_id: str, record_key: str, properties: Any) -> None:
        self._call("record", contact_id)


# --- set-up --------------------------------------------------------------------------------------------


@dataclass
class Course:
    workspace_id: UUID
    course_id: UUID
    enrollments: list[Any]  # domain Enrollment, as enrolled (not started)


async def new_workspace_with_course(name: str, *, notes: bool, records: bool) -> tuple[UUID, UUID]:
    """A live (no trial limit) standalone-style workspace on the local CRM, with one Ready course."""
    from scormhub.domain.courses import new_course
    from scormhub.domain.model import CourseStatus, CrmKind, EngineKind, PlanMode, Workspace, WorkspaceKind
    from scormhub.domain.scorm.package import PackageReport, Sco
    from scormhub.integrations.db.uow import PiccoloUnitOfWork

    now = datetime.now(UTC)
    workspace = Workspace(
        id=uuid.uuid4(),
        name=name,
        kind=WorkspaceKind.HIGHLEVEL,
        plan=PlanMode.LIVE,
        engine=EngineKind.BUILTIN,
        crm=CrmKind.LOCAL,
        created_at=now,
        crm_location_id=f"bench-{uuid.uuid4().hex[:8]}",
        sync_tags=True,
        sync_notes=notes,
        sync_records=records,
    )
    report = PackageReport(
        valid=True,
        standard="scorm12",
        edition=None,
        title="Golf Explained",
        scos=(Sco("sco-1", "Lesson", "index.html"),),
        mastery_score=None,
        warnings=(),
        errors=(),
    )
    course = replace(
        new_course(
            workspace_id=workspace.id,
            engine=EngineKind.BUILTIN,
            report=report,
            package_key="bench",
            package_bytes=1,
            file_name="golf.zip",
            now=now,
        ),
        status=CourseStatus.READY,
    )
    async with PiccoloUnitOfWork() as uow:
        await uow.workspaces.add(workspace)
        await uow.workspaces.save(workspace)  # add() leaves the sync settings at their defaults
        await uow.courses.add(course)
        await uow.commit()
    async with PiccoloUnitOfWork() as uow:
        stored = await uow.workspaces.get(workspace.id)
    assert stored is not None
    assert (stored.sync_notes, stored.sync_records) == (notes, records)
    return workspace.id, course.id


async def enroll_learners(workspace_id: UUID, course_id: UUID, count: int, tag: str) -> Course:
    """`count` contacts in the local contact book, each enrolled through the real use case."""
    from scormhub.domain.enrollments import enroll_contact
    from scormhub.integrations.clock import SystemClock
    from scormhub.integrations.db.uow import PiccoloUnitOfWork
    from scormhub.integrations.local_crm import LocalContactBook

    book, clock = LocalContactBook(workspace_id), SystemClock()
    semaphore = asyncio.Semaphore(POOL_SIZE)

    async def one(i: int) -> Any:
        async with semaphore:
            contact = await book.upsert_contact(
                first_name="Learner", last_name=f"{tag}{i:04d}", email=f"learner{i:04d}@{tag}.example.com"
            )
            result = await enroll_contact(
                workspace_id, course_id, contact.id, uow=PiccoloUnitOfWork(), contacts=book, clock=clock
            )
            return result.enrollment

    enrollments = await asyncio.gather(*(one(i) for i in range(count)))
    return Course(workspace_id, course_id, list(enrollments))


def completed(enrollment: Any, i: int) -> Any:
    """The i-th learner's result: passed with a score in any band, failed with a low score, or a
    completion-only course (no score, success unknown)."""
    from scormhub.domain.scorm.cmi import Completion, Success

    now = datetime.now(UTC)
    kind = i % 10
    if kind < 6:
        success, score = Success.PASSED, [72.0, 78.5, 85.0, 88.0, 93.0, 100.0][kind]
    elif kind < 9:
        success, score = Success.FAILED, [12.0, 45.0, 58.0][kind - 6]
    else:
        success, score = Success.UNKNOWN, None
    return replace(
        enrollment,
        completion=Completion.COMPLETED,
        success=success,
        score_percent=score,
        score_raw=score,
        total_seconds=300 + 7 * i,
        attempts=1 + i % 3,
        first_access_at=now,
        last_access_at=now,
        completed_at=now,
        updated_at=now,
    )


async def save(enrollments: Sequence[Any]) -> None:
    """What the built-in engine's commits do: the enrollment row takes the new result."""
    from scormhub.integrations.db.uow import PiccoloUnitOfWork

    async with PiccoloUnitOfWork() as uow:
        for enrollment in enrollments:
            await uow.enrollments.save(enrollment)
        await uow.commit()


async def sync_each(workspace_id: UUID, enrollments: Sequence[Any], jobs: RecordingJobs) -> int:
    from scormhub.domain import sync
    from scormhub.integrations.clock import SystemClock
    from scormhub.integrations.db.uow import PiccoloUnitOfWork

    clock = SystemClock()
    semaphore = asyncio.Semaphore(POOL_SIZE)

    async def one(enrollment: Any) -> int:
        async with semaphore:
            outcome = await sync.sync_enrollment(
                workspace_id, enrollment.id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock
            )
            return outcome.queued

    return sum(await asyncio.gather(*(one(e) for e in enrollments)))


async def outbox_counts(workspace_id: UUID) -> dict[str, int]:
    from scormhub.integrations.db.uow import PiccoloUnitOfWork

    async with PiccoloUnitOfWork() as uow:
        return await uow.outbox.counts(workspace_id)


# --- a. writes per completion --------------------------------------------------------------------------


async def push_counting(workspace_id: UUID, crm: CountingCrm) -> Any:
    from scormhub.domain import sync
    from scormhub.integrations.clock import SystemClock
    from scormhub.integrations.crm_throttle import PostgresThrottle
    from scormhub.integrations.db.uow import PiccoloUnitOfWork

    return await sync.push_to_crm(
        workspace_id,
        uow_factory=PiccoloUnitOfWork,
        crm=crm,
        throttle=PostgresThrottle(),
        clock=SystemClock(),
        jitter=random.random,
    )


async def writes_per_completion(section: Section) -> None:
    from scormhub.domain.crm_writes import desired_tags
    from scormhub.domain.scorm.cmi import Success
    from scormhub.domain.sync import facts_of

    workspace_id, course_id = await new_workspace_with_course("Bench writes", notes=True, records=True)
    course = await enroll_learners(workspace_id, course_id, LEARNERS, "writes")
    contacts = [e.contact_id for e in course.enrollments]
    failures = section.failures
    rows: list[list[str]] = []

    # 1. Everyone completes; each enrollment is synced, then the outbox pushed.
    done = [completed(e, i) for i, e in enumerate(course.enrollments)]
    await save(done)
    jobs, crm = RecordingJobs(), CountingCrm()
    queued = await sync_each(workspace_id, done, jobs)
    pushed = await push_counting(workspace_id, crm)
    per_contact = Counter(contact for _, contact, _ in crm.calls)
    counts = [per_contact[c] for c in contacts]
    kinds = Counter(kind for kind, _, _ in crm.calls)
    worst = max(counts)
    verdict = "met" if worst <= MAX_WRITES_PER_COMPLETION and kinds["remove_tags"] == 0 else "MISSED"
    rows.append(
        [
            f"First completion ({LEARNERS} learners: 60 passed, 30 failed, 10 no score)",
            f"{worst}",
            f"{sum(counts) / len(counts):.2f}",
            f"{len(crm.calls)} ({_kinds(kinds)})",
            f"≤ {MAX_WRITES_PER_COMPLETION}: add_tags, note, record",
            verdict,
        ]
    )
    if verdict != "met":
        failures.append(f"a first completion cost up to {worst} CRM writes ({_kinds(kinds)})")
    if kinds["remove_tags"]:
        failures.append(f"{kinds['remove_tags']} remove_tags on a first completion (nothing was tagged)")
    if queued != len(crm.calls) or pushed.sent != len(crm.calls) or pushed.retrying or pushed.failed:
        failures.append(f"queued {queued} writes, pushed {pushed}, the CRM saw {len(crm.calls)}")
    pushes = jobs.of("push_to_crm")
    # The tags the CRM ends up with must be the ones the result calls for.
    wrong_tags = _wrong_tags(crm, done, desired_tags, facts_of)

    # 2. The same 100 again, nothing changed.
    crm_again = CountingCrm()
    queued_again = await sync_each(workspace_id, done, jobs)
    pushed_again = await push_counting(workspace_id, crm_again)
    rows.append(
        [
            f"Sync again with nothing changed ({LEARNERS} learners)",
            f"{max(Counter(c for _, c, _ in crm_again.calls).values(), default=0)}",
            f"{len(crm_again.calls) / LEARNERS:.2f}",
            f"{len(crm_again.calls)} (queued {queued_again})",
            "0",
            "met" if not crm_again.calls and not queued_again else "MISSED",
        ]
    )
    if crm_again.calls or queued_again or pushed_again.sent:
        failures.append(f"a sync that changed nothing queued {queued_again} and sent {len(crm_again.calls)}")

    # 3. Ten passed results become failed (a retake scored lower).
    passed = [e for e in done if e.success is Success.PASSED][:CHANGED]
    changed = [
        replace(e, success=Success.FAILED, score_percent=40.0, score_raw=40.0, attempts=e.attempts + 1)
        for e in passed
    ]
    await save(changed)
    crm_changed = CountingCrm()
    queued_changed = await sync_each(workspace_id, changed, jobs)
    await push_counting(workspace_id, crm_changed)
    per_changed = Counter(c for _, c, _ in crm_changed.calls)
    changed_counts = [per_changed[e.contact_id] for e in changed]
    changed_kinds = Counter(kind for kind, _, _ in crm_changed.calls)
    expected_kinds = {"remove_tags": CHANGED, "add_tags": CHANGED, "record": CHANGED}
    rows.append(
        [
            f"Result changed, passed → failed ({CHANGED} learners)",
            f"{max(changed_counts)}",
            f"{sum(changed_counts) / len(changed_counts):.2f}",
            f"{len(crm_changed.calls)} ({_kinds(changed_kinds)})",
            "3: remove_tags, add_tags, record",
            "met" if dict(changed_kinds) == expected_kinds and set(changed_counts) == {3} else "MISSED",
        ]
    )
    if dict(changed_kinds) != expected_kinds or set(changed_counts) != {3}:
        failures.append(f"a passed → failed change cost {_kinds(changed_kinds)}")
    if queued_changed != len(crm_changed.calls):
        failures.append(
            f"queued {queued_changed} writes for the change, the CRM saw {len(crm_changed.calls)}"
        )
    wrong_tags += _wrong_tags(crm, changed, desired_tags, facts_of, extra=crm_changed)
    removed = {tag for kind, _, tags in crm_changed.calls if kind == "remove_tags" for tag in tags}
    if wrong_tags:
        failures.append(f"{len(wrong_tags)} contacts end with the wrong tags, e.g. {wrong_tags[0]}")

    section.tables.append(
        Table(
            headers=["Sync", "writes per learner, max", "mean", "CRM calls", "target", "verdict"],
            rows=rows,
            caption=(
                f"a. {LEARNERS} learners of one course complete; each enrollment is synced "
                "(`sync_enrollment`, the real use case on PostgreSQL) and the outbox pushed (`push_to_crm`, "
                "PostgresThrottle) to a counting CRM that records every call. The workspace syncs tags, "
                "notes and records."
            ),
        )
    )
    section.notes += [
        f"a. Jobs: each sync that queued writes asked for a push (`push_to_crm` key per workspace): "
        f"{len(pushes)} queued, {jobs.collapsed} collapsed into it. After the three rounds, the tags each "
        f"contact has (replaying the add/remove calls) are the ones its result calls for: "
        f"{'yes' if not wrong_tags else f'NO for {len(wrong_tags)}'}.",
        "a. No remove_tags on a first completion: nothing had been sent for these enrollments (a learner "
        "not yet started has no tags, no note and no record). The passed → failed change removes "
        "scorm_passed and the old score band in one call (tags removed over the 10: "
        f"{', '.join(sorted(removed))}) and adds scorm_failed and the new band in another; the note is "
        "written once, on the first completion, so it is not repeated.",
    ]


def _kinds(kinds: Counter[str]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())) or "none"


def _wrong_tags(
    crm: CountingCrm, enrollments: Sequence[Any], desired_tags: Any, facts_of: Any, extra: Any = None
) -> list[str]:
    tags: dict[str, set[str]] = defaultdict(set)
    for calls in (crm.calls, extra.calls if extra else []):
        for kind, contact, payload in calls:
            if kind == "add_tags":
                tags[contact] |= set(payload)
            elif kind == "remove_tags":
                tags[contact] -= set(payload)
    return [
        f"{e.contact_id}: {sorted(tags[e.contact_id])}"
        for e in enrollments
        if tags[e.contact_id] != set(desired_tags(facts_of(e, "Golf Explained")))
    ]


# --- b. Sync All under the limit -----------------------------------------------------------------------


async def sync_all_under_the_limit(section: Section) -> None:
    from scormhub.domain import sync
    from scormhub.integrations.clock import SystemClock
    from scormhub.integrations.db.uow import PiccoloUnitOfWork
    from scormhub.jobs import sync as sync_jobs

    clock = SystemClock()
    failures = section.failures
    started = time.perf_counter()
    workspace_id, course_id = await new_workspace_with_course("Bench Sync All", notes=False, records=False)
    course = await enroll_learners(workspace_id, course_id, SYNC_ALL_ENROLLMENTS, "syncall")
    await save([completed(e, i) for i, e in enumerate(course.enrollments)])
    setup_s = time.perf_counter() - started

    # Fan-out: Sync All queues one sync_enrollment job per enrollment; the job function runs each.
    jobs = RecordingJobs()
    deps = SimpleNamespace(uow=PiccoloUnitOfWork, jobs=jobs, clock=clock)
    started = time.perf_counter()
    await sync.sync_all(workspace_id, course_id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock)
    sync_all_s = time.perf_counter() - started
    to_run = jobs.of("sync_enrollment")
    semaphore = asyncio.Semaphore(FAN_OUT_CONCURRENCY)

    async def job(kwargs: dict[str, Any]) -> int:
        async with semaphore:
            result = await sync_jobs.sync_enrollment({"deps": deps}, **kwargs)
            return int(result["queued"])

    queued = sum(await asyncio.gather(*(job(kwargs) for kwargs in to_run)))
    fan_out_s = time.perf_counter() - started
    async with PiccoloUnitOfWork() as uow:
        finished_run = await uow.sync_runs.latest(workspace_id, course_id)
    pending = (await outbox_counts(workspace_id))["pending"]
    if len(to_run) != SYNC_ALL_ENROLLMENTS or queued != SYNC_ALL_ENROLLMENTS or pending != queued:
        failures.append(
            f"Sync All queued {len(to_run)} jobs, which queued {queued} writes ({pending} pending); "
            f"expected {SYNC_ALL_ENROLLMENTS} of each"
        )
    if finished_run is None or not finished_run.finished or finished_run.done != SYNC_ALL_ENROLLMENTS:
        failures.append(f"the Sync All run did not finish with {SYNC_ALL_ENROLLMENTS} done: {finished_run}")

    # Push: two pushers for the one workspace, one throttle in PostgreSQL, a CRM enforcing the window.
    crm = StrictWindowCrm(LIMIT_REQUESTS, LIMIT_SECONDS)
    pushers = [PusherCrm(crm, f"pusher {i + 1}") for i in range(PUSHERS)]
    push_started = time.monotonic()
    rounds, timed_out = await _push_until_done(workspace_id, pushers, push_started)
    push_s = (crm.accepted[-1][0] if crm.accepted else time.monotonic()) - push_started
    counts = await outbox_counts(workspace_id)
    accepted = len(crm.accepted)
    ratio = push_s / MINIMUM_PUSH_S
    per_contact = Counter(contact for _, _, contact in crm.accepted)
    window_max = _max_in_window(
        [t for t, _, _ in crm.accepted], LIMIT_SECONDS
    )  # the most accepted requests inside any 10 s

    rows = [
        ["Sync All: fan-out queued (`sync_all`)", f"{len(to_run)} jobs", seconds(sync_all_s), "", ""],
        [
            f"Sync All: the {len(to_run)} `sync_enrollment` jobs run, {FAN_OUT_CONCURRENCY} at a time",
            f"{queued} writes queued",
            seconds(fan_out_s),
            "",
            "",
        ],
        [
            f"Push: {PUSHERS} pushers until the CRM accepted the last write",
            f"{accepted} accepted",
            seconds(push_s),
            f"≤ {MINIMUM_PUSH_S * TARGET_RATIO:.0f} s",
            "met" if ratio <= TARGET_RATIO and accepted == SYNC_ALL_ENROLLMENTS else "MISSED",
        ],
        [
            f"Push time / minimum the limit allows ({MINIMUM_PUSH_S:.0f} s)",
            "",
            f"{ratio:.3f}",
            f"≤ {TARGET_RATIO:.2f}",
            "met" if ratio <= TARGET_RATIO else "MISSED",
        ],
        [
            "Throughput / the limit's (the minimum / push time)",
            "",
            f"{100 / ratio:.1f}%" if ratio > 0 else "-",
            f"≥ {TARGET_SHARE * 100:.0f}%",
            "met" if ratio <= TARGET_RATIO else "MISSED",
        ],
        [
            "Rate-limit rejections (429s from the CRM)",
            f"{len(crm.rejected)}",
            "",
            "0",
            "met" if not crm.rejected else "MISSED",
        ],
        [
            "Throughput",
            f"{accepted / push_s:.2f} requests/s" if push_s > 0 else "-",
            "",
            f"limit {LIMIT_REQUESTS / LIMIT_SECONDS:.0f}/s sustained (100 burst)",
            "",
        ],
        [
            f"Most accepted requests in any {LIMIT_SECONDS:.0f} s",
            f"{window_max}",
            "",
            f"≤ {LIMIT_REQUESTS}",
            "",
        ],
    ]
    if ratio > TARGET_RATIO:
        failures.append(f"the push took {push_s:.1f} s, {ratio:.3f} times the {MINIMUM_PUSH_S:.0f} s minimum")
    if crm.rejected:
        failures.append(f"{len(crm.rejected)} requests were refused by the CRM's rate limit")
    if timed_out:
        failures.append(f"the push phase was stopped after {PUSH_DEADLINE_S:.0f} s with {accepted} accepted")
    if accepted != SYNC_ALL_ENROLLMENTS or set(per_contact.values()) != {1} or counts["sent"] != accepted:
        failures.append(
            f"the CRM accepted {accepted} writes for {len(per_contact)} contacts; outbox {counts}"
        )
    section.tables.append(
        Table(
            headers=["Measure", "count", "time", "target", "verdict"],
            rows=rows,
            caption=(
                f"b. {SYNC_ALL_ENROLLMENTS} completed enrollments in a workspace syncing tags only "
                "(notes and records off), so each costs exactly one CRM request (add_tags). Sync All fans "
                "out through a recording job queue and the real `sync_enrollment` job function; then "
                f"{PUSHERS} `push_to_crm` coroutines for the workspace share the real PostgresThrottle, "
                f"delivering to a CRM stating RateLimit({LIMIT_REQUESTS}, {LIMIT_SECONDS:.0f}) that refuses "
                f"(429) any request with {LIMIT_REQUESTS} others accepted in the {LIMIT_SECONDS:.0f} s "
                "before it. One run (about 90 to 100 s)."
            ),
        )
    )
    marks = [t - push_started for t, _, _ in crm.accepted]
    section.notes += [
        f"b. Set-up (workspace, {SYNC_ALL_ENROLLMENTS} contacts and enrollments through `enroll_contact`, "
        f"results saved) took {seconds(setup_s)}, not counted.",
        f"b. Push timeline: request 1 at {_at(marks, 1)}, 100 at {_at(marks, 100)}, "
        f"101 at {_at(marks, 101)}, 501 at {_at(marks, 501)}, 901 at {_at(marks, 901)}, "
        f"1,000 at {_at(marks, 1000)}; "
        + ", ".join(f"{p.name} made {sum(p.kinds.values())} CRM calls" for p in pushers)
        + f"; pusher rounds {rounds} (a round is both pushers until the outbox has nothing due; more than "
        "one only if a write was refused and came back after its backoff; the bench starts the next round "
        "0.25 s later, where the app's push_due_writes cron runs once a minute). Outbox after: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + ".",
        f"b. The minimum: with at most {LIMIT_REQUESTS} requests in any {LIMIT_SECONDS:.0f} s, request "
        f"100k+1 cannot go before {LIMIT_SECONDS:.0f}·k s, so request 901 goes at ≥ {MINIMUM_PUSH_S:.0f} s: "
        f"{MINIMUM_PUSH_S:.0f} s plus the time to send the last burst. The push time is from the pushers' "
        "start to the CRM accepting the last write.",
    ]
    if crm.rejected:
        short = sorted((LIMIT_SECONDS - gap) * 1000 for _, _, _, gap in crm.rejected)
        when = ", ".join(f"{t - push_started:.2f} s" for t, _, _, _ in crm.rejected[:8])
        more = " ..." if len(crm.rejected) > 8 else ""
        section.notes += [
            f"b. The {len(crm.rejected)} refused requests (at {when}{more}) each reached the CRM "
            f"{short[0]:.2f} to {short[-1]:.1f} ms (median {median(short):.1f} ms) short of "
            f"{LIMIT_SECONDS:.0f} s after the {LIMIT_REQUESTS}th accepted request before it.",
            "b. Cause: `PostgresThrottle._reserve` (src/scormhub/integrations/throttle.py) books request "
            "n+100 at exactly the *booked* time of request n plus 10 s, with no margin, but a request "
            "reaches the CRM a variable time after its booked slot (the booking transaction's UPDATE and "
            "COMMIT, the asyncio.sleep wake-up, the event loop serving the other pusher; 1 to 123 ms, "
            "median 5 ms, in a separate run with an instrumented copy of `_reserve`). When request n was "
            "later after its slot than request n+100 is, the two land less than 10 s apart and the CRM "
            "refuses the second. Each refusal also wastes a slot: the throttle's log keeps the booking and "
            "`push_to_crm` (src/scormhub/domain/sync.py) puts the write back after a 1 to 2 s backoff, so "
            f"{SYNC_ALL_ENROLLMENTS} writes needed {SYNC_ALL_ENROLLMENTS + len(crm.rejected)} bookings and "
            f"the last {len(crm.rejected)} spilled past the {MINIMUM_PUSH_S:.0f} s batch into the next "
            "window: that is the extra time.",
        ]


def _at(marks: list[float], n: int) -> str:
    return f"{marks[n - 1]:.3f} s" if len(marks) >= n else "-"


def _max_in_window(times: list[float], window: float) -> int:
    best, start = 0, 0
    ordered = sorted(times)
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def _push_until_done(workspace_id: UUID, pushers: list[PusherCrm], started: float) -> tuple[int, bool]:
    """Rounds of concurrent pushers (as the push_due_writes cron would restart them) until nothing is
    pending; a write refused with a 429 waits for its backoff, then the next round takes it."""
    from scormhub.domain import sync
    from scormhub.integrations.clock import SystemClock
    from scormhub.integrations.crm_throttle import PostgresThrottle
    from scormhub.integrations.db.uow import PiccoloUnitOfWork

    throttle, clock = PostgresThrottle(), SystemClock()
    rounds = 0

    async def push(crm: PusherCrm) -> Any:
        return await sync.push_to_crm(
            workspace_id,
            uow_factory=PiccoloUnitOfWork,
            crm=crm,
            throttle=throttle,
            clock=clock,
            jitter=random.random,
        )

    async def until_done() -> None:
        nonlocal rounds
        while (await outbox_counts(workspace_id))["pending"]:
            rounds += 1
            await asyncio.gather(*(push(crm) for crm in pushers))
            if (await outbox_counts(workspace_id))["pending"]:
                await asyncio.sleep(0.25)  # a refused write is due again after its backoff

    left = PUSH_DEADLINE_S - (time.monotonic() - started)
    try:
        await asyncio.wait_for(until_done(), left)
    except TimeoutError:
        return rounds, True
    return rounds, False
