"""Certificates issue figures: the time to render one certificate PDF (warm), and 50 concurrent downloads
while another client's /healthz keeps answering.

Render time is measured two ways: the render function alone in the bench process (after warm-up), and
through a RenderPool round trip (a spawned worker, as the server uses it: pickling and the pipe
included). The load test runs the real server (`scormhub serve`) as a separate process on a throwaway
database `scormhub_bench_<random>` on the machine's PostgreSQL (127.0.0.1:5432, trust), dropped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import psutil

from bench.report import Section, Table, median, mib, seconds
from bench.server import HealthzProber, admin_client, display, running_server, scratch_database

RENDERS = 60
CONCURRENT = 50
RUNS = 3
PROBE_EVERY_S = 0.020
RENDER_TARGET_S = 0.100
PROBE_P95_TARGET_S = 0.100
LONG_NAME = ("Maximilian-Alexander von Hohenzollern-Sigmaringen " * 5)[:200]


def run() -> Section:
    section = Section(
        key="certificates",
        title="Certificates: PDF render time, and 50 concurrent downloads beside /healthz",
        command=".venv/bin/python -m bench --only certificates",
    )
    _render_times(section)
    _load(section)
    return section


# --- render time ------------------------------------------------------------------------------------------


def _samples() -> list[tuple[str, Any, Any]]:
    from PIL import Image

    from scormhub.domain.certificates import new_certificate_id
    from scormhub.domain.model import Branding, Certificate, CertificateSnapshot

    logo = io.BytesIO()
    Image.new("RGBA", (600, 180), (0, 90, 200, 255)).save(logo, "PNG")

    def certificate(name: str) -> Any:
        return Certificate(
            id=new_certificate_id(),
            workspace_id=uuid.uuid4(),
            enrollment_id=uuid.uuid4(),
            snapshot=CertificateSnapshot(
                learner_name=name,
                learner_email="learner@example.com",
                course_title="Fire Safety for Warehouse Staff, Level 2",
                completed_at=datetime(2026, 11, 20, tzinfo=UTC),
                success="passed",
                score_percent=87.5,
                organization_name="Ąćme Academy",
            ),
            issued_at=datetime.now(UTC),
        )

    branded = Branding(
        organization_name="Ąćme Academy",
        primary_color="#AA0044",
        logo_bytes=logo.getvalue(),
        logo_content_type="image/png",
    )
    plain = Branding(organization_name="Ąćme Academy")
    return [
        ("Latin name, logo (PNG 600x180)", certificate("Zażółć Gęślą Jaźń"), branded),
        ("Latin name, no logo", certificate("Ada Lovelace"), plain),
        ("200-character name, logo", certificate(LONG_NAME), branded),
        ("Hebrew name (visual order), logo", certificate("שלום עליכם"), branded),
        ("Chinese name (fallback font subset per document), logo", certificate("李小龍"), branded),
    ]


def _render_times(section: Section) -> None:
    from scormhub.integrations.certificate_pdf import render_certificate_pdf
    from scormhub.integrations.render_pool import RenderPool

    url = "https://scormhub.example.com/certificates/"
    rows: list[list[str]] = []
    failures: list[str] = []
    samples = _samples()
    render_certificate_pdf(samples[0][1], samples[0][2], url + samples[0][1].id)  # font load, imports
    for label, certificate, branding in samples:
        verify = url + certificate.id
        render_certificate_pdf(certificate, branding, verify)
        times = []
        for _ in range(RENDERS):
            started = time.perf_counter()
            content = render_certificate_pdf(certificate, branding, verify)
            times.append(time.perf_counter() - started)
        p50, p95 = median(times), _p95(times)
        typical = not label.startswith("Chinese")
        verdict = _verdict(p50 < RENDER_TARGET_S) if typical else "see note"
        if typical and p50 >= RENDER_TARGET_S:
            failures.append(f"render p50 {seconds(p50)} for {label}")
        rows.append(
            [label, seconds(p50), seconds(p95), seconds(max(times)), f"{len(content) // 1024} KB", verdict]
        )

    pool = RenderPool(workers=1)
    try:
        certificate, branding = samples[0][1], samples[0][2]
        verify = url + certificate.id
        started = time.perf_counter()
        asyncio.run(_pool_render(pool, certificate, branding, verify, 1))
        cold = time.perf_counter() - started
        trips = asyncio.run(_pool_render(pool, certificate, branding, verify, RENDERS))
    finally:
        pool.shutdown()
    rows.append(
        [
            "Through the RenderPool (spawned worker: pickling + pipe), Latin name, logo",
            seconds(median(trips)),
            seconds(_p95(trips)),
            seconds(max(trips)),
            "",
            _verdict(median(trips) < RENDER_TARGET_S),
        ]
    )
    rows.append(["  first render in a new worker (spawn, imports, font)", seconds(cold), "", "", "", ""])
    section.tables.append(
        Table(
            headers=["Certificate PDF (A4 landscape)", f"p50 of {RENDERS}", "p95", "max", "size", "< 100 ms"],
            rows=rows,
            caption="Render time, warm (after one render of each kind), in the bench process unless noted.",
        )
    )
    section.failures += failures


async def _pool_render(pool: Any, certificate: Any, branding: Any, verify: str, count: int) -> list[float]:
    from scormhub.integrations.certificate_pdf import render_certificate_pdf

    times = []
    for _ in range(count):
        started = time.perf_counter()
        await pool.run(render_certificate_pdf, certificate, branding, verify)
        times.append(time.perf_counter() - started)
    return times


# --- 50 concurrent downloads --------------------------------------------------------------------------


def _load(section: Section) -> None:
    with scratch_database() as url:
        with running_server(DATABASE_URL=url, SCORMHUB_DB_POOL_SIZE="5") as server:
            enrollments = asyncio.run(_seed(url, CONCURRENT * RUNS + 1))
            client, _ = admin_client(server)
            _measure_load(section, server, client, enrollments, url)
            client.close()
        section.notes.append(
            f"Server: `{display(server.command)}` with DATABASE_URL on the throwaway database; stopped with "
            f"SIGTERM: exit code {server.exit_code}."
        )


async def _seed(url: str, count: int) -> list[uuid.UUID]:
    conn = await asyncpg.connect(url)
    try:
        workspace_id = await conn.fetchval("SELECT id FROM workspace ORDER BY created_at LIMIT 1")
        now = datetime.now(UTC)
        course_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO course (id, workspace_id, title, standard, status, engine, package_key, "
            "package_bytes, file_name, self_enroll_token, warnings, scos, import_attempts, created_at, "
            "updated_at) VALUES ($1, $2, 'Fire Safety for Warehouse Staff', 'scorm12', 'ready', 'builtin', "
            "'k', 1, 'x.zip', $3, '[]', '[]', 0, $4, $4)",
            course_id,
            workspace_id,
            uuid.uuid4().hex,
            now,
        )
        names = ["Ada Lovelace", "Zażółć Gęślą", "שלום עליכם", "Émile Zola", LONG_NAME]
        ids = [uuid.uuid4() for _ in range(count)]
        await conn.copy_records_to_table(
            "enrollment",
            records=[
                (
                    enrollment_id,
                    workspace_id,
                    course_id,
                    f"c{i}",
                    names[i % len(names)],
                    f"learner{i}@example.com",
                    uuid.uuid4().hex,
                    False,
                    "completed",
                    "passed",
                    80.0 + i % 20,
                    0.0,
                    1,
                    now - timedelta(days=1),
                    now - timedelta(days=2),
                    now,
                    "{}",
                )
                for i, enrollment_id in enumerate(ids)
            ],
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
                "score_percent",
                "total_seconds",
                "attempts",
                "completed_at",
                "created_at",
                "updated_at",
                "synced",
            ],
        )
        await conn.execute(
            "INSERT INTO branding (workspace_id, organization_name, primary_color, updated_at) "
            "VALUES ($1, 'Ąćme Academy', '#AA0044', $2)",
            workspace_id,
            now,
        )
    finally:
        await conn.close()
    return ids


async def _burst(base_url: str, cookies: httpx.Cookies, enrollment_ids: list[uuid.UUID]) -> list[Any]:
    limits = httpx.Limits(max_connections=CONCURRENT + 5, max_keepalive_connections=CONCURRENT + 5)
    async with httpx.AsyncClient(base_url=base_url, cookies=cookies, timeout=120, limits=limits) as client:

        async def one(enrollment_id: uuid.UUID) -> tuple[float, int, int]:
            started = time.perf_counter()
            response = await client.get(f"/app/enrollments/{enrollment_id}/certificate")
            return time.perf_counter() - started, response.status_code, len(response.content)

        return await asyncio.gather(*(one(e) for e in enrollment_ids))


def _measure_load(
    section: Section, server: Any, client: httpx.Client, enrollments: list[uuid.UUID], url: str
) -> None:
    warm_up, rest = enrollments[0], enrollments[1:]
    # Warm-up: the render pool's workers start on first use (spawn, imports, the font).
    client.get(f"/app/enrollments/{warm_up}/certificate")
    time.sleep(1.0)
    with HealthzProber(server.base_url, PROBE_EVERY_S) as idle:
        time.sleep(3.0)
    rows: list[list[str]] = []
    runs = []
    for number in range(RUNS):
        batch = rest[number * CONCURRENT : (number + 1) * CONCURRENT]
        with HealthzProber(server.base_url, PROBE_EVERY_S) as probe:
            time.sleep(0.2)
            started = time.perf_counter()
            results = asyncio.run(_burst(server.base_url, client.cookies, batch))
            wall = time.perf_counter() - started
        statuses = {status for _, status, _ in results}
        runs.append(
            {
                "wall": wall,
                "download_p50": median([r[0] for r in results]),
                "download_p95": _p95([r[0] for r in results]),
                "probe_p50": median(probe.latencies),
                "probe_p95": _p95(probe.latencies),
                "probe_max": max(probe.latencies),
                "probes": len(probe.latencies),
                "probe_failures": probe.failures,
                "statuses": statuses,
                "size": statistics.mean(r[2] for r in results),
            }
        )
    again_started = time.perf_counter()
    again = asyncio.run(_burst(server.base_url, client.cookies, rest[:CONCURRENT]))
    again_wall = time.perf_counter() - again_started
    issued = asyncio.run(_count_certificates(url))

    def row(label: str, key: str, target: str = "", ok: bool | None = None) -> list[str]:
        values = [r[key] for r in runs]
        return [
            label,
            seconds(median(values)),
            seconds(max(values)),
            target,
            "" if ok is None else _verdict(ok),
        ]

    probe_p95 = median([r["probe_p95"] for r in runs])
    rows.append(
        row(f"{CONCURRENT} concurrent first downloads (each issues a certificate): wall time", "wall")
    )
    rows.append(row("  one download's latency, p50", "download_p50"))
    rows.append(row("  one download's latency, p95", "download_p95"))
    rows.append(
        row(
            "/healthz meanwhile (every 20 ms, another connection), p95",
            "probe_p95",
            f"< {seconds(PROBE_P95_TARGET_S)}",
            probe_p95 < PROBE_P95_TARGET_S,
        )
    )
    rows.append(row("  /healthz meanwhile, p50", "probe_p50"))
    rows.append(row("  /healthz meanwhile, max", "probe_max"))
    rows.append(
        [
            "/healthz with the server idle, p50 / p95",
            seconds(median(idle.latencies)),
            seconds(_p95(idle.latencies)),
            "",
            "",
        ]
    )
    rows.append(
        [
            f"{CONCURRENT} concurrent downloads of already-issued certificates: wall time",
            seconds(again_wall),
            "",
            "",
            "",
        ]
    )
    section.tables.append(
        Table(headers=["Measure", f"median of {RUNS}", "max", "target", "verdict"], rows=rows)
    )
    statuses = set().union(*(r["statuses"] for r in runs)) | {status for _, status, _ in again}
    if statuses != {200}:
        section.failures.append(f"downloads answered {sorted(statuses)}, not only 200")
    if issued != CONCURRENT * RUNS + 1:
        section.failures.append(f"{issued} certificates issued for {CONCURRENT * RUNS + 1} enrollments")
    if probe_p95 >= PROBE_P95_TARGET_S:
        section.notes.append("Target missed: /healthz p95 during the downloads.")
    server_rss, workers_rss = _rss(server.pid)
    section.notes += [
        f"Each run downloads the certificates of {CONCURRENT} other completed learners at once (httpx, "
        f"{CONCURRENT} connections, the admin's session), so each download issues its certificate (an "
        "INSERT ... ON CONFLICT) and renders it in the server's render pool (2 worker processes, spawned on "
        "the first PDF, warmed before the runs). "
        f"{issued} certificates were issued in all, one per enrollment; every download answered "
        f"{', '.join(str(s) for s in sorted(statuses))}; mean PDF size {runs[0]['size'] / 1024:.0f} KB.",
        f"/healthz probes per run: {', '.join(str(r['probes']) for r in runs)}; failed probes: "
        f"{sum(r['probe_failures'] for r in runs)}. The prober is a thread of the bench process, which also "
        "drives the downloads: on 2 shared cores, the server, 2 PDF workers, PostgreSQL and the bench "
        "compete for the CPU, which is what the probe latency shows.",
        f"RSS after the runs: server {mib(server_rss)} (borb is never imported there), PDF workers "
        f"{mib(workers_rss)} together.",
        "Render times: `render_certificate_pdf` called directly; the Chinese name needs a subset of the CJK "
        "fallback font (WenQuanYi) made per document by integrations/pdf.py's FontSet, which is most of that "
        "row; it is reported, not judged against the 100 ms target.",
    ]


async def _count_certificates(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM certificate"))
    finally:
        await conn.close()


def _rss(pid: int) -> tuple[int, int]:
    process = psutil.Process(pid)
    workers = 0
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            workers += child.memory_info().rss
    return process.memory_info().rss, workers


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    print(run().markdown())
    os._exit(0)
