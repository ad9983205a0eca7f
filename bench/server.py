"""The real server as a separate process on 127.0.0.1, a signed-in client, and an RSS sampler.

Shared by every benchmark that needs load on the app: a throwaway database with `scratch_database()`,
start the server with `running_server()`, sign in with `admin_client()`, watch its memory with
`RssSampler` and its responsiveness with `HealthzProber`.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import psutil

from bench.report import REPO

HOST = "127.0.0.1"  # load stays on loopback, always
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0
SAMPLE_EVERY_S = 0.020
# The machine's own PostgreSQL, for benchmarks that seed a database larger than the embedded default's.
SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def scratch_database(*, migrate: bool = True) -> Iterator[str]:
    """A throwaway database `scormhub_bench_<random>` on SERVER_URL (migrated unless told not to: `serve`
    migrates only the embedded default), with DATABASE_URL and PICCOLO_CONF pointing at it; dropped, and
    the environment restored, afterwards. Yields its URL."""
    import asyncio

    from scormhub.integrations.db import database

    name = f"scormhub_bench_{uuid.uuid4().hex[:10]}"
    saved_env = {key: os.environ.get(key) for key in ("DATABASE_URL", "PICCOLO_CONF")}
    try:
        url = database.ensure_database(SERVER_URL, name)
        database.configure(url)
        if migrate:
            asyncio.run(database.migrate())
        yield url
    finally:
        asyncio.run(_drop_database(name))
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def _drop_database(name: str) -> None:
    conn = await asyncpg.connect(SERVER_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


class HealthzProber:
    """Another client asking for /healthz (a database and a queue query) every `every_s`, in a thread."""

    def __init__(self, base_url: str, every_s: float) -> None:
        self.base_url = base_url
        self.every_s = every_s
        self.latencies: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="healthz-prober", daemon=True)

    def __enter__(self) -> HealthzProber:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as other:
            while not self._stop.is_set():
                started = time.perf_counter()
                if other.get("/healthz").status_code != 200:
                    self.failures += 1
                self.latencies.append(time.perf_counter() - started)
                self._stop.wait(self.every_s)


def scormhub_command() -> list[str]:
    """The `scormhub` entry point of the interpreter running the bench (`.venv/bin/scormhub`)."""
    script = Path(sys.executable).parent / "scormhub"
    return [str(script)] if script.exists() else [sys.executable, "-m", "scormhub"]


def display(command: list[str]) -> str:
    """A command as someone would type it from the repo root."""
    shown = []
    for part in command:
        with contextlib.suppress(ValueError):
            part = str(Path(part).relative_to(REPO))
        shown.append(part)
    return " ".join(shown)


@dataclass
class Server:
    base_url: str
    port: int
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    login_path: str
    command: list[str]
    exit_code: int | None = None
    final_log: str = ""  # the whole log, kept when the server stops (the temp dir is then deleted)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running_server(**extra_env: str) -> Iterator[Server]:
    """`scormhub serve` with the zero-setup default (embedded PostgreSQL) in a temporary data dir.

    Stopped with SIGTERM on exit (its exit code is kept in `exit_code`); the data dir is then deleted.
    """
    with tempfile.TemporaryDirectory(prefix="scormhub-bench-") as temp:
        data_dir = Path(temp) / "data"
        log_path = Path(temp) / "server.log"
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SCORMHUB_", "DATABASE_URL"))}
        env.update(
            SCORMHUB_DATA_DIR=str(data_dir),
            SCORMHUB_SECRET_KEY=secrets.token_urlsafe(48),
            PYTHONUNBUFFERED="1",
            **extra_env,
        )
        command = [*scormhub_command(), "serve", "--host", HOST, "--port", str(port)]
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        server = Server(f"http://{HOST}:{port}", port, process, data_dir, log_path, "", command)
        try:
            server.login_path = _wait_until_up(server)
            yield server
        finally:
            server.exit_code = _stop(process)
            server.final_log = log_path.read_text(errors="replace")


def _wait_until_up(server: Server) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    link = re.compile(rf"http://{re.escape(HOST)}:{server.port}(/login/[A-Za-z0-9_-]+)")
    login_path = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"scormhub serve exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        if login_path is None and (found := link.search(server.log_path.read_text(errors="replace"))):
            login_path = found.group(1)
        if login_path is not None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{server.base_url}/healthz", timeout=5).status_code == 200:
                    return login_path
        time.sleep(0.2)
    raise RuntimeError(f"scormhub serve was not up within {START_TIMEOUT_S:.0f} s:\n{server.log_tail()}")


def _stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()  # only the process this module started
        process.wait()
        return -signal.SIGKILL


def admin_client(server: Server, *, timeout_s: float = 300.0) -> tuple[httpx.Client, str]:
    """A client signed in through the one-time link, and the CSRF token forms must send."""
    client = httpx.Client(base_url=server.base_url, timeout=timeout_s, follow_redirects=False)
    response = client.get(server.login_path)
    if response.status_code != 303 or "scormhub_session" not in client.cookies:
        raise RuntimeError(f"login link answered {response.status_code} without a session cookie")
    response = client.get("/app/courses")
    token = client.cookies.get("csrftoken")
    if response.status_code != 200 or not token:
        raise RuntimeError(f"/app/courses answered {response.status_code} without a csrftoken cookie")
    return client, token


class RssSampler:
    """Samples the resident memory of a process and its children every 20 ms, in a thread."""

    def __init__(self, pid: int, every_s: float = SAMPLE_EVERY_S) -> None:
        self._process = psutil.Process(pid)
        self._every_s = every_s
        self._samples: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _processes(self) -> list[psutil.Process]:
        processes = [self._process]
        with contextlib.suppress(psutil.Error):
            processes += self._process.children(recursive=True)
        return processes

    def rss(self) -> int:
        total = 0
        for process in self._processes():
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
        return total

    def reset_peak(self) -> bool:
        """Reset the kernel's peak-RSS counter (VmHWM) to the current RSS (Linux: clear_refs 5)."""
        try:
            for process in self._processes():
                Path(f"/proc/{process.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def kernel_peak(self) -> int | None:
        """The kernel's peak RSS since `reset_peak()`, summed like `rss()`: no spike escapes it."""
        total = 0
        try:
            for process in self._processes():
                status = Path(f"/proc/{process.pid}/status").read_text()
                total += int(status.split("VmHWM:", 1)[1].split()[0]) * 1024
        except (OSError, IndexError, ValueError):
            return None
        return total

    def sample_now(self) -> int:
        value = self.rss()
        with self._lock:
            self._samples.append((time.monotonic(), value))
        return value

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample_now()
            self._stop.wait(self._every_s)

    def between(self, start: float, end: float) -> list[int]:
        with self._lock:
            return [value for at, value in self._samples if start <= at <= end]

    def settled(self, window_s: float = 0.5) -> int:
        """The median RSS over the next `window_s` seconds: a baseline taken while nothing happens."""
        start = time.monotonic()
        time.sleep(window_s)
        values = sorted(self.between(start, time.monotonic()) or [self.sample_now()])
        return values[len(values) // 2]
