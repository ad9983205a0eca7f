"""Reports issue figures: CSV and XLSX of 100,000 records, a PDF of 2,000, and the dashboard over
100,000 enrollments in 200 courses.

The real server (`scormhub serve`) as a separate process on a throwaway database
`scormhub_bench_<random>` on the machine's PostgreSQL (127.0.0.1:5432, trust), dropped at the end. The
data is seeded with COPY after the server has migrated and created its workspace, then VACUUM ANALYZE.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import re
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from bench.report import Section, Table, median, mib, seconds
from bench.server import HealthzProber, RssSampler, admin_client, display, running_server, scratch_database

COURSES = 200
ENROLLMENTS = 100_000
PDF_COURSES = 4  # "PDF sample A".."D": 4 x 500 = 2,000 records
RUNS = 3
CSV_TARGET_S, RSS_TARGET = 3.0, 100e6  # 100 MB (95.4 MiB)
XLSX_RATIO_TARGET = 1.3
DASHBOARD_TARGET_S = 0.150
PROBE_EVERY_S = 0.050
IDLE_PROBE_S = 5.0
LOG_LINE = re.compile(r"GET /app/reports (\d{3}) ([\d.]+)ms")


def run() -> Section:
    section = Section(
        key="reports",
        title="Reports: exports of 100,000 records, a 2,000-record PDF, the dashboard",
        command=".venv/bin/python -m bench --only reports",
    )
    with scratch_database() as url:
        with running_server(
            DATABASE_URL=url, SCORMHUB_DB_POOL_SIZE="5", SCORMHUB_EXPORT_DIRECT_ROWS=str(ENROLLMENTS)
        ) as server:
            started_rss = psutil.Process(server.pid).memory_info().rss  # up, not one request served
            seeded_s = asyncio.run(_seed(url))
            client, _ = admin_client(server)
            with ServerRss(server.pid) as sampler:
                _measure(section, server, client, sampler, url, started_rss)
            client.close()
        section.notes.append(
            f"Server: `{display(server.command)}` with DATABASE_URL on the throwaway database; stopped with "
            f"SIGTERM: exit code {server.exit_code}. Seeding {ENROLLMENTS:,} enrollments over {COURSES} "
            f"courses with COPY + VACUUM ANALYZE took {seconds(seeded_s)}."
        )
    return section


async def _seed(url: str) -> float:
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        workspace_id = await conn.fetchval("SELECT id FROM workspace ORDER BY created_at LIMIT 1")
        now = datetime.now(UTC)
        courses = []
        for i in range(COURSES):
            title = f"PDF sample {'ABCD'[i]}" if i < PDF_COURSES else f"Course {i:03d}"
            courses.append(
                (
                    uuid.uuid4(),
                    workspace_id,
                    title,
                    "scorm12",
                    None,
                    "ready",
                    None,
                    "builtin",
                    f"k{i}",
                    1,
                    "x.zip",
                    uuid.uuid4().hex,
                    "[]",
                    "[]",
                    None,
                    None,
                    0,
                    now,
                    now,
                )
            )
        await conn.copy_records_to_table(
            "course",
            records=courses,
            columns=[
                "id",
                "workspace_id",
                "title",
                "standard",
                "edition",
                "status",
                "status_message",
                "engine",
                "package_key",
                "package_bytes",
                "file_name",
                "self_enroll_token",
                "warnings",
                "scos",
                "mastery_score",
                "import_handle",
                "import_attempts",
                "created_at",
                "updated_at",
            ],
        )
        rng = random.Random(7)
        # 7 names: 200 courses is not a multiple of 7, so every course gets each of them.
        names = [
            "Ada Lovelace",
            "Zażółć Gęślą",
            "שלום עליכם",
            "李小龍",
            '=HYPERLINK("x")',
            "Émile Zola 😀",
            "김민준",
        ]
        records = []
        for i in range(ENROLLMENTS):
            course = courses[i % COURSES][0]
            created = now - timedelta(days=rng.randint(0, 364), seconds=rng.randint(0, 86399))
            done = rng.random() < 0.6
            completed = created + timedelta(hours=rng.randint(1, 240)) if done else None
            if completed and completed > now:
                completed = now
            records.append(
                (
                    uuid.uuid4(),
                    workspace_id,
                    course,
                    f"c{i}",
                    f"{names[i % len(names)]} {i}",
                    f"learner{i}@example.com",
                    uuid.uuid4().hex,
                    False,
                    "completed" if done else "in_progress",
                    ("passed" if rng.random() < 0.8 else "failed") if done else "unknown",
                    None,
                    float(rng.randint(40, 100)) if done else None,
                    0.0,
                    0,
                    None,
                    None,
                    completed,
                    created,
                    created,
                    "{}",
                    None,
                    None,
                )
            )
        await conn.copy_records_to_table(
            "enrollment",
            records=records,
            columns=[
                "id",
                "workspace_id",
                "course_id",
                "contact_id",
                "learner_name",
                "learner_email",
                "launch_token",
                "self_enrolled",
                "completion",
                "success",
                "score_raw",
                "score_percent",
                "total_seconds",
                "attempts",
                "first_access_at",
                "last_access_at",
                "completed_at",
                "created_at",
                "updated_at",
                "synced",
                "engine_updated_at",
                "company_key",
            ],
        )
        await conn.execute("VACUUM ANALYZE enrollment")
        await conn.execute("VACUUM ANALYZE course")
    finally:
        await conn.close()
    return time.perf_counter() - started


class ServerRss(RssSampler):
    """The server process alone. The render pool's workers are its children: they are reported apart,
    since the target is the server's memory (a PDF's borb lives in a worker by design)."""

    def _processes(self) -> list[psutil.Process]:
        return [self._process]


def _workers_rss(server_pid: int) -> int:
    total = 0
    for child in psutil.Process(server_pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return total


def _timed_download(
    client: httpx.Client, sampler: RssSampler, path: str, params: dict[str, str]
) -> dict[str, Any]:
    baseline = sampler.settled()
    kernel = sampler.reset_peak()
    start = time.monotonic()
    size = 0
    with client.stream("GET", path, params=params) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
        for chunk in response.iter_bytes():
            size += len(chunk)
    end = time.monotonic()
    samples = sampler.between(start, end)
    peak = max([*samples, (sampler.kernel_peak() or 0) if kernel else 0])
    return {"s": end - start, "growth": peak - baseline, "peak": peak, "bytes": size, "baseline": baseline}


def _plain_xlsxwriter(url: str) -> float:
    """The same rows written by xlsxwriter alone (constant_memory, same cell types), rows in memory."""
    import xlsxwriter

    async def fetch() -> list[Any]:
        conn = await asyncpg.connect(url)
        try:
            return list(
                await conn.fetch(
                    "SELECT e.learner_name, e.learner_email, c.title, e.completion, e.success, "
                    "e.score_percent, e.created_at, e.completed_at "
                    "FROM enrollment e JOIN course c ON c.id = e.course_id ORDER BY e.created_at DESC, e.id"
                )
            )
        finally:
            await conn.close()

    rows = asyncio.run(fetch())
    with tempfile.TemporaryDirectory() as temp:
        start = time.perf_counter()
        book = xlsxwriter.Workbook(str(Path(temp) / "plain.xlsx"), {"constant_memory": True, "tmpdir": temp})
        sheet = book.add_worksheet()
        fmt = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        sheet.write_row(0, 0, ["a", "b", "c", "d", "e", "f", "g", "h"])
        for r, row in enumerate(rows, start=1):
            for col in range(5):
                sheet.write_string(r, col, row[col])
            if row[5] is not None:
                sheet.write_number(r, 5, row[5])
            sheet.write_datetime(r, 6, row[6].astimezone(UTC).replace(tzinfo=None), fmt)
            if row[7] is not None:
                sheet.write_datetime(r, 7, row[7].astimezone(UTC).replace(tzinfo=None), fmt)
        book.close()
        return time.perf_counter() - start


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def _measure(
    section: Section, server: Any, client: httpx.Client, sampler: RssSampler, url: str, started_rss: int
) -> None:
    # Warm-up: first queries, first template renders, the render pool's workers and their font.
    client.get("/app/reports")
    client.get("/app/reports/export.pdf", params={"q": "PDF sample A"})
    idle = sampler.settled()
    with HealthzProber(server.base_url, PROBE_EVERY_S) as idle_probe:
        time.sleep(IDLE_PROBE_S)
    rows: list[list[str]] = []

    csv_runs = [_timed_download(client, sampler, "/app/reports/export.csv", {}) for _ in range(RUNS)]
    csv_s = median([r["s"] for r in csv_runs])
    csv_peak = max(r["peak"] for r in csv_runs)
    rows.append(
        [
            "CSV, 100,000 records: time to last byte",
            seconds(csv_s),
            seconds(max(r["s"] for r in csv_runs)),
            f"< {seconds(CSV_TARGET_S)}",
            _verdict(csv_s < CSV_TARGET_S),
        ]
    )
    rows.append(
        [
            "CSV: server peak RSS",
            _mb(median([r["peak"] for r in csv_runs])),
            _mb(csv_peak),
            f"< {_mb(RSS_TARGET)}",
            _verdict(csv_peak < RSS_TARGET),
        ]
    )
    rows.append(
        [
            "  growth over the RSS before the request",
            mib(median([r["growth"] for r in csv_runs])),
            mib(max(r["growth"] for r in csv_runs)),
            "",
            "",
        ]
    )

    xlsx_runs, plain = [], []
    for _ in range(RUNS):  # interleaved, so both see the same machine load
        xlsx_runs.append(_timed_download(client, sampler, "/app/reports/export.xlsx", {}))
        plain.append(_plain_xlsxwriter(url))
    xlsx_s, plain_s = median([r["s"] for r in xlsx_runs]), median(plain)
    ratio = xlsx_s / plain_s
    xlsx_peak = max(r["peak"] for r in xlsx_runs)
    rows += [
        [
            "XLSX, 100,000 records: time to last byte",
            seconds(xlsx_s),
            seconds(max(r["s"] for r in xlsx_runs)),
            "",
            "",
        ],
        [
            "Plain xlsxwriter, same rows (in the bench process, rows in memory)",
            seconds(plain_s),
            seconds(max(plain)),
            "",
            "",
        ],
        [
            "XLSX / plain xlsxwriter",
            f"{ratio:.2f}x",
            f"{max(r['s'] / p for r, p in zip(xlsx_runs, plain, strict=True)):.2f}x",
            f"< {XLSX_RATIO_TARGET}x",
            _verdict(ratio < XLSX_RATIO_TARGET),
        ],
        [
            "XLSX: server peak RSS",
            _mb(median([r["peak"] for r in xlsx_runs])),
            _mb(xlsx_peak),
            f"< {_mb(RSS_TARGET)}",
            _verdict(xlsx_peak < RSS_TARGET),
        ],
        [
            "  growth over the RSS before the request",
            mib(median([r["growth"] for r in xlsx_runs])),
            mib(max(r["growth"] for r in xlsx_runs)),
            "",
            "",
        ],
    ]

    # PDF of 2,000 while another client polls /healthz: the server must keep answering.
    pdf_runs, during = [], []
    for _ in range(RUNS):
        with HealthzProber(server.base_url, PROBE_EVERY_S) as probe:
            pdf_runs.append(_timed_download(client, sampler, "/app/reports/export.pdf", {"q": "PDF sample"}))
        during.append(probe)
    workers = _workers_rss(server.pid)
    pdf_s = median([r["s"] for r in pdf_runs])
    latencies = [value for probe in during for value in probe.latencies]
    rows += [
        [
            "PDF, 2,000 records: time to last byte",
            seconds(pdf_s),
            seconds(max(r["s"] for r in pdf_runs)),
            "measured",
            "",
        ],
        [
            "  /healthz p95 while the PDF renders (another client, every 50 ms)",
            seconds(median([_p95(p.latencies) for p in during])),
            seconds(max(_p95(p.latencies) for p in during)),
            "measured",
            "",
        ],
        [
            "  /healthz p95 with the server idle (same prober)",
            seconds(_p95(idle_probe.latencies)),
            seconds(max(idle_probe.latencies)),
            "",
            "",
        ],
        [
            "  /healthz answers while the PDF renders: count per run, slowest",
            ", ".join(str(len(p.latencies)) for p in during),
            seconds(max(latencies)),
            "> 0, none failed",
            _verdict(min(len(p.latencies) for p in during) > 0 and not any(p.failures for p in during)),
        ],
        [
            "  server peak RSS while the PDF renders",
            _mb(median([r["peak"] for r in pdf_runs])),
            _mb(max(r["peak"] for r in pdf_runs)),
            "",
            "",
        ],
    ]

    # Dashboard: server time from the server's own request log line.
    before = len(LOG_LINE.findall(server.log_path.read_text(errors="replace")))
    variants = [{}, {"range": "30d"}, {"q": "Course 1"}, {"range": "year", "q": "sample"}]
    for _ in range(5):
        for params in variants:
            client.get("/app/reports", params=params)
    times = [
        float(ms) / 1000
        for status, ms in LOG_LINE.findall(server.log_path.read_text(errors="replace"))[before:]
        if status == "200"
    ]
    dash = median(times)
    rows.append(
        [
            "Dashboard over 100,000 enrollments / 200 courses: server time",
            seconds(dash),
            seconds(max(times)),
            f"< {seconds(DASHBOARD_TARGET_S)}",
            _verdict(dash < DASHBOARD_TARGET_S),
        ]
    )
    section.tables.append(
        Table(headers=["Measure", f"median of {RUNS}", "max", "target", "verdict"], rows=rows)
    )
    section.notes += [
        f"RSS is the server process's alone (`/proc/PID/status`: the higher of 20 ms samples and VmHWM, "
        f"reset before each request); MB = 10^6 bytes. Server RSS once up (only /healthz answered yet): "
        f"{_mb(started_rss)}; idle after warm-up (sign-in, dashboard, one PDF): {_mb(idle)}. That floor is "
        "the web app itself (frameworks and drivers imported at start-up), not the exports: the growth "
        "rows are what an export adds. The render pool's worker processes (children of the server; "
        f"borb, its fonts, xlsxwriter) held {_mb(workers)} together after the exports: not the server's "
        "memory, and never on its event loop.",
        f"Sizes: CSV {mib(csv_runs[0]['bytes'])}, XLSX {mib(xlsx_runs[0]['bytes'])}, "
        f"PDF {mib(pdf_runs[0]['bytes'])}.",
        f"SCORMHUB_EXPORT_DIRECT_ROWS={ENROLLMENTS} lifts the server's CSV/XLSX direct-download limit "
        "(50,000 by default; above it an export runs as a SAQ job with a progress page) so the 100,000-row "
        "exports are measured as direct downloads.",
        "XLSX: a render-pool worker process streams the rows from a server-side cursor into xlsxwriter "
        "(constant_memory) and writes a temp file, which the server then sends; the plain baseline writes "
        "the same rows and cell types from memory in the bench process (fetching not timed). The two "
        "alternate run by run, so both see the same machine load.",
        "PDF: rendered by borb in the render pool (a worker process; the server sends the rows as text "
        "tuples and never imports borb). A prober thread asks /healthz (one database and one queue query) "
        f"every {PROBE_EVERY_S * 1000:.0f} ms on its own connection, during each PDF and for "
        f"{IDLE_PROBE_S:.0f} s with the server idle; {len(latencies)} answers during the PDFs. Before the "
        "pool (borb in a server thread, 2026-11-22 16:18 UTC), the slowest /healthz during a PDF took "
        "770 ms (median) to 995 ms.",
        f"Dashboard: the duration the server logs per request (RequestLogMiddleware), {len(times)} requests "
        f"over {len(variants)} filters (all time, last 30 days, a course search, this year + search).",
        "The machine has 2 cores shared with other users: times are noisy; ratios taken in the same run "
        "(XLSX / plain) are the figures to trust.",
    ]
    for label, ok in (
        ("CSV time", csv_s < CSV_TARGET_S),
        ("dashboard time", dash < DASHBOARD_TARGET_S),
        ("XLSX ratio", ratio < XLSX_RATIO_TARGET),
        ("CSV server peak RSS", csv_peak < RSS_TARGET),
        ("XLSX server peak RSS", xlsx_peak < RSS_TARGET),
    ):
        if not ok:
            section.notes.append(f"Target missed: {label}.")


def _mb(value: float) -> str:
    return f"{value / 1e6:.1f} MB"


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    print(run().markdown())
    os._exit(0)
