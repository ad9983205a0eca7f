"""The built-in player's commit endpoint: 1,000 learners each committing every 10 s (100 commits/s).

The real server (`scormhub serve`, embedded PostgreSQL, in-process worker) runs as a separate process. A
SCORM 2004 Golf course is uploaded through the admin form and imported by the worker; 1,000 enrollments are
written straight into its database (the enrollment form would only slow the set-up down); each learner's
tab is opened once (GET /play/{token}), as a browser would, which starts the session its commits name.

a. Open loop: the load generator of `bench.postbacks` (its own process, raw HTTP/1.1 over keep-alive
   connections) sends POST /play/{token}/commit at 100/s for 30 s: learner n % 1,000 sends its commit
   number n // 1,000, each carrying its number in `suspend_data` and `location` (what scorm-again sends
   every 15 s while the learner works, as JSON). Latency is client wall time from the request's slot.
b. Nothing lost: afterwards, every learner's stored state holds its last commit's number.
c. Closed loop against a bare Litestar endpoint answering the same JSON on the same path (16 connections,
   5 s, three rounds alternating with the real endpoint): the ratio of throughputs.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import asyncpg
import httpx

from bench.packages import GOLF_12, VALID
from bench.postbacks import bare_app, database_url, loadgen, ms, percentile, query, raw_request, verdict
from bench.report import Section, Table, median
from bench.server import Server, admin_client, running_server

LEARNERS = 1_000
RATE = 100  # commits/s: 1,000 learners, one commit each per 10 s
OPEN_SECONDS = 30.0
WARMUP_REQUESTS = 200
CONCURRENCY = 16
ROUNDS = 3
READY_TIMEOUT_S = 120.0
TARGET_P95_MS = 25.0

GOLF_2004 = VALID / "RuntimeBasicCalls_SCORM20043rdEdition.zip"
_CONFIG = re.compile(r'<script type="application/json" id="player-config">(.*?)</script>', re.S)

BARE_APP = '''\
"""A bare Litestar app: the commit path, answering what the real endpoint answers, for the ceiling."""

from litestar import Litestar, post


@post("/play/{token:str}/commit", status_code=200)
async def commit(token: str, data: dict) -> dict:
    return {"result": True, "errorCode": 0, "rejected": []}


app = Litestar(route_handlers=[commit], logging_config=None, debug=False)
'''


def run() -> Section:
    section = Section(
        key="commits",
        title="Player commits: 1,000 learners committing every 10 s",
        command=".venv/bin/python -m bench --only commits",
    )
    with running_server(SCORMHUB_IN_PROCESS_WORKER="true") as server:
        measure(section, server)
    if server.exit_code != 0:
        section.failures.append(f"the server exited with {server.exit_code} after SIGTERM")
    if tracebacks := server.final_log.count("Traceback"):
        section.failures.append(f"the server log holds {tracebacks} tracebacks")
    print(section.markdown())
    return section


def commit_body(number: int | str) -> bytes:
    cmi = {
        "completion_status": "incomplete",
        "location": f"page-{number}",
        "suspend_data": f"commit-{number}",
        "session_time": "PT10S",
        "score": {"raw": "50", "min": "0", "max": "100", "scaled": "0.5"},
    }
    return json.dumps(cmi, separators=(",", ":")).encode()


def commit_request(commit_path: str, number: int | str) -> str:
    return raw_request(commit_path, commit_body(number), {"Content-Type": "application/json"})


def measure(section: Section, server: Server) -> None:
    url = database_url(server)
    course_id, workspace_id = upload_course(server)
    tokens = enroll(url, workspace_id, course_id)
    commit_paths = open_tabs(server, tokens)
    rounds = int(OPEN_SECONDS * RATE) // LEARNERS
    requests = [commit_request(commit_paths[n % LEARNERS], n // LEARNERS) for n in range(LEARNERS * rounds)]

    warm = [commit_request(path, "warm") for path in commit_paths[:WARMUP_REQUESTS]]
    loadgen(server.port, warm, mode="open", rate=RATE, count=len(warm), offset=0)
    opened = loadgen(server.port, requests, mode="open", rate=RATE, count=len(requests), offset=0)
    results = opened["results"]
    ok = [r for r in results if r[3] == 200]
    errors = Counter(str(r[3]) for r in results if r[3] != 200)
    from_slot = [(d - s) * 1000 for s, _, d, _ in ok]
    p95 = percentile(from_slot, 95)

    last = rounds - 1
    states = query(
        url,
        "SELECT e.launch_token, s.state->>'suspend_data' AS data FROM enrollment e "
        "LEFT JOIN sco_state s ON s.enrollment_id = e.id WHERE e.course_id = $1",
        course_id,
    )
    kept = sum(1 for row in states if row["data"] == f"commit-{last}")
    lost = LEARNERS - kept

    section.tables.append(
        Table(
            caption=(
                f"a/b. Open loop: {len(results)} commits at {RATE}/s ({LEARNERS} learners, {rounds} each), "
                f"after {WARMUP_REQUESTS} warm-up commits; latency from each request's slot."
            ),
            headers=["", "p50", "p95", "p99", "max", "target", "verdict"],
            rows=[
                [
                    f"Client: slot → answer ({len(ok)} answers)",
                    *(ms(percentile(from_slot, p)) for p in (50, 95, 99)),
                    ms(max(from_slot, default=float("nan"))),
                    f"< {TARGET_P95_MS:.0f} ms (p95)",
                    verdict(p95 < TARGET_P95_MS and not errors),
                ],
                [
                    f"Learners whose last commit is stored ({kept} of {LEARNERS})",
                    "",
                    "",
                    "",
                    "",
                    "0 lost",
                    verdict(lost == 0),
                ],
            ],
        )
    )
    if errors:
        section.failures.append(f"commits answered other than 200: {dict(errors)}")
    if lost:
        section.failures.append(f"{lost} learners' last commit is not what the server holds")

    ratios, real_rates, bare_rates = [], [], []
    closed_requests = requests[:LEARNERS]
    with bare_app(BARE_APP, probe=("/play/probe/commit", {"cmi": 1})) as bare_port:
        for _ in range(ROUNDS):
            bare = loadgen(bare_port, closed_requests, **closed_config())
            real = loadgen(server.port, closed_requests, **closed_config())
            bare_rate = bare["window_ok"] / bare["window_s"]
            real_rate = real["window_ok"] / real["window_s"]
            bare_rates.append(bare_rate)
            real_rates.append(real_rate)
            ratios.append(real_rate / bare_rate if bare_rate else 0.0)
    section.tables.append(
        Table(
            caption=(
                f"c. Closed loop, {CONCURRENCY} connections, 5 s per round, {ROUNDS} rounds alternating "
                "(median): the commit endpoint against a bare endpoint on the same path."
            ),
            headers=["", "commits/s", "ratio to bare"],
            rows=[
                ["Bare Litestar endpoint", f"{median(bare_rates):.0f}", "1.00"],
                ["SCORM Hub commit endpoint", f"{median(real_rates):.0f}", f"{median(ratios):.2f}"],
            ],
        )
    )
    section.notes.append(
        "Each commit is validated against the SCORM 2004 data model, merged into the stored state under the "
        "enrollment's row lock and written in one transaction; the ratio is what that costs against a route "
        "that answers without reading its body's meaning."
    )


def closed_config() -> dict[str, object]:
    return {"mode": "closed", "concurrency": CONCURRENCY, "warmup_s": 1.0, "duration_s": 5.0}


def upload_course(server: Server) -> tuple[uuid.UUID, uuid.UUID]:
    package = GOLF_2004 if GOLF_2004.exists() else GOLF_12
    client, token = admin_client(server)
    with package.open("rb") as stream:
        answer = client.post(
            "/app/courses",
            data={"_csrf_token": token},
            files={"package": (package.name, stream, "application/zip")},
        )
        if answer.status_code != 303:
            raise RuntimeError(f"the upload answered {answer.status_code}: {answer.text[:500]}")
    location = answer.headers["location"]
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while "status-ready" not in client.get(f"{location}/status", headers={"HX-Request": "true"}).text:
            if time.monotonic() > deadline:
                raise RuntimeError("the course was not ready in time")
            time.sleep(0.1)
    finally:
        client.close()
    course_id = uuid.UUID(location.rstrip("/").rsplit("/", 1)[1])
    rows = query(database_url(server), "SELECT workspace_id FROM course WHERE id = $1", course_id)
    return course_id, rows[0]["workspace_id"]


def enroll(url: str, workspace_id: uuid.UUID, course_id: uuid.UUID) -> list[str]:
    now = datetime.now(UTC)
    tokens = [secrets.token_urlsafe(32) for _ in range(LEARNERS)]
    rows = [
        (
            uuid.uuid4(),
            workspace_id,
            course_id,
            f"bench-{i}",
            f"Learner {i}",
            f"l{i}@bench.example",
            token,
            now,
        )
        for i, token in enumerate(tokens)
    ]

    async def insert() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.executemany(
                "INSERT INTO enrollment (id, workspace_id, course_id, contact_id, learner_name, "
                "learner_email, launch_token, self_enrolled, completion, success, total_seconds, attempts, "
                "created_at, updated_at, synced) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, false, 'not_started', 'unknown', 0, 0, $8, $8, '{}')",
                rows,
            )
        finally:
            await conn.close()

    asyncio.run(insert())
    return tokens


def open_tabs(server: Server, tokens: list[str]) -> list[str]:
    """GET each learner's player page once, as their browser would, and keep its commit URL's path."""
    paths = []
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        for token in tokens:
            page = client.get(f"/play/{token}")
            found = _CONFIG.search(page.text)
            if page.status_code != 200 or not found:
                raise RuntimeError(f"/play answered {page.status_code} without a player config")
            commit_url = json.loads(found.group(1))["commitUrl"]
            paths.append(httpx.URL(commit_url).raw_path.decode())
    return paths
