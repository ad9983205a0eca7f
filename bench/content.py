"""Course content served by the player (filesystem storage, the default) against Debian's nginx serving
the same files from disk, in the same run.

The real server (`scormhub serve`, embedded PostgreSQL, in-process worker) imports the Golf SCORM 1.2
example; the bench then asks for every file of the course through a preview pass on the content origin
(`http://localhost:PORT/play/{pass}/content/…`), round-robin, with a fixed number of requests kept in
flight, and does the same against nginx (installed with apt-get when missing) pointed at the course's
extracted folder. Each round is bounded in requests; the median of the rounds is reported.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.packages import GOLF_12
from bench.report import Section, Table, median
from bench.server import admin_client, free_port, running_server

REQUESTS_PER_ROUND = 2000
IN_FLIGHT = 16
ROUNDS = 3
IMPORT_TIMEOUT_S = 120


async def _load(urls: list[str]) -> tuple[float, list[float]]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        queue: asyncio.Queue[str] = asyncio.Queue()
        for n in range(REQUESTS_PER_ROUND):
            queue.put_nowait(urls[n % len(urls)])

        async def worker() -> None:
            while not queue.empty():
                url = queue.get_nowait()
                started = time.perf_counter()
                answer = await client.get(url)
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    raise RuntimeError(f"{url} answered {answer.status_code}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        elapsed = time.perf_counter() - started
    return REQUESTS_PER_ROUND / elapsed, latencies


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] * 1000


def _nginx() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light"], check=True, capture_output=True)
    return found


def _rounds(urls: list[str]) -> tuple[float, float]:
    results = [asyncio.run(_load(urls)) for _ in range(ROUNDS)]
    return median([rate for rate, _ in results]), median([_p95(lat) for _, lat in results])


def run() -> Section:
    section = Section(
        key="content",
        title="Content: course files from the player vs nginx",
        command=".venv/bin/python -m bench --only content",
    )
    with running_server(SCORMHUB_IN_PROCESS_WORKER="true") as server:
        client, token = admin_client(server)
        uploaded = client.post(
            "/app/courses",
            data={"_csrf_token": token},
            files={"package": (GOLF_12.name, GOLF_12.read_bytes(), "application/zip")},
        )
        course_url = uploaded.headers["location"]
        deadline = time.monotonic() + IMPORT_TIMEOUT_S
        while "Learners can take this course." not in client.get(course_url).text:
            if time.monotonic() > deadline:
                raise RuntimeError("the course was not imported in time")
            time.sleep(0.2)
        course_id = course_url.rsplit("/", 1)[1]
        player = client.get(f"{course_url}/preview").headers["location"].split("?")[0]
        folder = server.data_dir / "content" / course_id
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        files = [f for f in files if not f.startswith(".") and not re.search(r"\s", f)]
        player_rate, player_p95 = _rounds([f"{player}/content/{f}" for f in files])
        with tempfile.TemporaryDirectory() as temp:
            port = free_port()
            conf = Path(temp) / "nginx.conf"
            conf.write_text(
                f"worker_processes 1; pid {temp}/nginx.pid; error_log {temp}/error.log;\n"
                "events { worker_connections 256; }\n"
                f"http {{ access_log off; include /etc/nginx/mime.types; server {{ listen 127.0.0.1:{port};"
                f" location /content/ {{ alias {folder}/; }} }} }}\n"
            )
            nginx = subprocess.Popen([_nginx(), "-c", str(conf), "-g", "daemon off;"])
            try:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    try:
                        httpx.get(f"http://127.0.0.1:{port}/content/{files[0]}", timeout=2)
                        break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                nginx_rate, nginx_p95 = _rounds([f"http://127.0.0.1:{port}/content/{f}" for f in files])
            finally:
                nginx.terminate()
                nginx.wait(timeout=20)
        client.close()
    ratio = player_rate / nginx_rate
    section.tables.append(
        Table(
            headers=["Server", "requests/s (median of rounds)", "p95 latency", "ratio"],
            rows=[
                [
                    "SCORM Hub player, content origin",
                    f"{player_rate:.0f}",
                    f"{player_p95:.1f} ms",
                    f"{ratio:.0%}",
                ],
                ["nginx (Debian, 1 worker), same files", f"{nginx_rate:.0f}", f"{nginx_p95:.1f} ms", "100%"],
            ],
            caption=(
                f"{len(files)} files of the Golf SCORM 1.2 course, {REQUESTS_PER_ROUND} requests per round, "
                f"{IN_FLIGHT} in flight, {ROUNDS} rounds; the load generator (httpx) shares the 2 cores."
            ),
        )
    )
    section.notes.append(
        f"Goal: ≥ 50% of nginx's requests/s — {'pass' if ratio >= 0.5 else 'miss'} ({ratio:.0%})."
    )
    if ratio < 0.5:
        section.failures.append(f"the player served {ratio:.0%} of nginx's requests/s (goal ≥ 50%)")
    return section
