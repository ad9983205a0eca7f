"""What the fault tests need: `scormhub serve` as a process they may kill -9 and start again, a SCORM Cloud
stand-in that answers or hangs, SCORM packages and postbacks, and waiting on conditions with deadlines."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import random
import re
import signal
import subprocess
import threading
import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import asyncpg
import httpx
from processes import TEST_SECRET, free_port, scormhub_env, start_scormhub

T = TypeVar("T")

# Short enough that a test sees recovery in seconds, long enough that a busy 2-core CI machine does not take
# a live job for a dead one. Production uses the defaults (60 s, 20 s).
RECOVERY_INTERVAL_S = 2
START_TIMEOUT_S = 60.0
POSTBACK_USER = "scormhub-faults"


async def eventually(
    check: Callable[[], Awaitable[T | None]], *, within_s: float, what: str, every_s: float = 0.05
) -> T:
    """Poll `check` until it returns something truthy; fail with `what` once the deadline passes."""
    deadline = time.monotonic() + within_s
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within_s:.0f} s (last: {value!r})")
        await asyncio.sleep(every_s)


# --- the server ----------------------------------------------------------------------------------------


@dataclass
class Hub:
    """`scormhub serve` (web + in-process worker) on a fixed port and data dir, so a restart is the same
    deployment coming back: same database, same secret key, same packages."""

    root: Path
    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    login_path: str = ""

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / f"serve-{self.starts}.log"

    async def start(self) -> None:
        self.starts += 1
        env = scormhub_env(
            self.data_dir,
            DATABASE_URL=self.database_url,
            SCORMHUB_RECOVERY_INTERVAL_S=str(RECOVERY_INTERVAL_S),
            SCORMHUB_WORKER_CONCURRENCY="4",
            SCORMHUB_DB_POOL_SIZE="5",
            **self.env,
        )
        self.process = start_scormhub(["serve", "--port", str(self.port)], env, self.log_path)
        link = re.compile(rf"http://127\.0\.0\.1:{self.port}(/login/[\w-]+)")

        async def up() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"scormhub serve exited with {self.process.returncode}:\n{self.log()}")
            found = link.search(self.log_path.read_text(errors="replace"))
            if found is None:
                return False
            self.login_path = found.group(1)
            with contextlib.suppress(httpx.HTTPError):
                async with httpx.AsyncClient(timeout=2) as client:
                    return (await client.get(f"{self.base_url}/healthz")).status_code == 200
            return False

        await eventually(up, within_s=START_TIMEOUT_S, what="scormhub serve answering /healthz", every_s=0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no graceful drain, connections cut where they are."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()  # only the process this test started
                self.process.wait()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        """Every start's output, for failure messages."""
        parts = []
        for n in range(1, self.starts + 1):
            path = self.root / f"serve-{n}.log"
            if path.exists():
                parts.append(f"--- serve #{n} ---\n{path.read_text(errors='replace')[-6000:]}")
        return "\n".join(parts)

    async def admin(self, **client_options: Any) -> httpx.AsyncClient:
        """A client signed in through this start's one-time link, holding the CSRF cookie. The session
        survives a restart (it is sealed with the server's secret key, not kept in memory)."""
        client = httpx.AsyncClient(base_url=self.base_url, follow_redirects=False, **client_options)
        signed_in = await client.get(self.login_path)
        assert signed_in.status_code == 303, signed_in.text
        assert (await client.get("/app/courses")).status_code == 200
        return client


def csrf_header(client: httpx.AsyncClient) -> dict[str, str]:
    token = client.cookies.get("csrftoken")
    assert token, "a page visit sets the CSRF cookie"
    return {"x-csrftoken": token}


# --- the database, as the test sees it -------------------------------------------------------------------


@contextlib.asynccontextmanager
async def connect(url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(url)
    try:
        yield conn
    finally:
        await conn.close()


async def standalone_workspace(conn: asyncpg.Connection) -> Any:
    """The workspace `scormhub serve` creates on its first start, made live (no trial limit)."""
    workspace_id = await conn.fetchval("SELECT id FROM workspace WHERE kind = 'standalone'")
    assert workspace_id is not None, "serve creates the standalone workspace on start"
    await conn.execute("UPDATE workspace SET plan = 'live' WHERE id = $1", workspace_id)
    return workspace_id


async def connect_scorm_cloud(conn: asyncpg.Connection, workspace_id: Any) -> str:
    """What a successful Connect saves, written directly (the stand-in has no Connect flow): credentials
    sealed with the server's key. Returns the postback password."""
    from scormhub.integrations.crypto import SecretBox

    box = SecretBox(TEST_SECRET)
    password = "postback-password-" + "x" * 20
    await conn.execute(
        "INSERT INTO engine_account (workspace_id, app_id, secret_key_enc, postback_user, "
        "postback_password_enc, connected_at) VALUES ($1, 'FAULTAPP', $2, $3, $4, now())",
        workspace_id,
        box.encrypt("scorm-cloud-secret-key"),
        POSTBACK_USER,
        box.encrypt(password),
    )
    await conn.execute("UPDATE workspace SET engine = 'scorm_cloud' WHERE id = $1", workspace_id)
    return password


# --- SCORM packages --------------------------------------------------------------------------------------

MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="fault.test" version="1" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="org1"><organization identifier="org1"><title>{title}</title>
    <item identifier="item1" identifierref="res1"><title>Lesson</title></item>
  </organization></organizations>
  <resources><resource identifier="res1" type="webcontent" adlcp:scormtype="sco" href="index.html">
    <file href="index.html"/></resource></resources>
</manifest>"""


def scorm_package(title: str, *, files: int = 0, file_bytes: int = 0, blob_bytes: int = 0) -> bytes:
    """A valid SCORM 1.2 zip: a manifest and index.html, plus `files` media files of `file_bytes` random
    bytes each (slow to extract) and one incompressible blob of `blob_bytes` (slow to upload)."""
    rng = random.Random(title)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("imsmanifest.xml", MANIFEST.format(title=title))
        zf.writestr("index.html", "<html><body>Lesson</body></html>")
        for n in range(files):
            zf.writestr(f"media/part{n:05d}.bin", rng.randbytes(file_bytes))
        if blob_bytes:
            zf.writestr("media/video.bin", rng.randbytes(blob_bytes), compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


@dataclass
class Upload:
    """A multipart upload the way a browser streams it, optionally slowly (so it can be cut mid-way)."""

    package: bytes
    name: str = "course.zip"
    chunk: int = 256 * 1024
    pause_s: float = 0.0
    boundary: str = "----scormhub-fault-boundary"

    def head(self) -> bytes:
        return (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="package"; filename="{self.name}"\r\n'
            "Content-Type: application/zip\r\n\r\n"
        ).encode()

    def tail(self) -> bytes:
        return f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def length(self) -> int:
        return len(self.head()) + len(self.package) + len(self.tail())

    async def body(self) -> AsyncIterator[bytes]:
        yield self.head()
        for start in range(0, len(self.package), self.chunk):
            yield self.package[start : start + self.chunk]
            if self.pause_s:
                await asyncio.sleep(self.pause_s)
        yield self.tail()

    async def send(self, client: httpx.AsyncClient) -> httpx.Response:
        headers = {
            **csrf_header(client),
            "content-type": f"multipart/form-data; boundary={self.boundary}",
            "content-length": str(self.length),
        }
        return await client.post("/app/courses", content=self.body(), headers=headers)


# --- SCORM Cloud: a stand-in that answers, or holds every connection without a word ---------------------


def registration(registration_id: str, n: int) -> dict[str, Any]:
    """The n-th learner's result as SCORM Cloud reports it (RegistrationSchema): passed or failed, a score
    in a different band for each n, one fixed `updated` stamp (so a replay is never newer)."""
    passed = n % 3 != 2
    return {
        "id": registration_id,
        "instance": 0,
        "updated": "2026-11-22T12:00:00.000Z",
        "registrationCompletion": "COMPLETED",
        "registrationSuccess": "PASSED" if passed else "FAILED",
        "score": {"scaled": float(55 + (n * 7) % 45)},
        "totalSecondsTracked": 300.0 + n,
        "firstAccessDate": "2026-11-22T11:50:00.000Z",
        "lastAccessDate": "2026-11-22T12:00:00.000Z",
        "completedDate": "2026-11-22T12:00:00.000Z",
        "activityDetails": {"id": "golf", "attempts": 1},
    }


class StandInScormCloud:
    """SCORM Cloud's API v2 as far as these tests need it: ping, GET registrations/{id} and an empty
    "changed since" list (anything else is a 404).

        In `hang` mode it accepts every connection, reads the request and never answers, like a vendor whose
        load balancer is up and whose backend is not. `delay_s` is its latency when it does answer.
    """

    def __init__(self, *, delay_s: float = 0.0) -> None:
        self.registrations: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []
        self.hanging = threading.Event()
        self.released = threading.Event()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stand_in.requests.append(self.path)
                if stand_in.hanging.is_set():
                    stand_in.released.wait(60)
                    self.close_connection = True
                    return
                if delay_s:
                    time.sleep(delay_s)  # a real API's latency, so processing lags behind a flood
                path = self.path.split("?", 1)[0].removeprefix("/api/v2/")
                if path == "ping":
                    self._json(200, {"apiMessage": "pong", "currentTime": "2026-11-22T12:00:00.000Z"})
                elif path == "registrations":  # the reconciler's "changed since": nothing here
                    self._json(200, {"registrations": []})
                elif path.startswith("registrations/") and path.count("/") == 1:
                    found = stand_in.registrations.get(path.split("/", 1)[1])
                    if found is None:
                        self._json(404, {"message": "Registration not found"})
                    else:
                        self._json(200, found)
                else:
                    self._json(404, {"message": f"no stand-in for {path}"})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                self.do_GET()

            do_HEAD = do_GET
            do_DELETE = do_POST

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/v2"

    def hang(self) -> None:
        self.released.clear()
        self.hanging.set()

    def answer(self) -> None:
        self.hanging.clear()
        self.released.set()

    def __enter__(self) -> StandInScormCloud:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.answer()
        self.server.shutdown()
        self.server.server_close()


def postback(seq: int, registration_body: dict[str, Any], password: str) -> tuple[bytes, dict[str, str]]:
    """One postback as SCORM Cloud sends it: even `seq` as a form (userName/password/data), odd as JSON
    with HTTP Basic. `seq` rides along in the body so the test can find each one in the inbox."""
    data = json.dumps({**registration_body, "faultSeq": seq}, separators=(",", ":"))
    if seq % 2 == 0:
        body = urlencode({"userName": POSTBACK_USER, "password": password, "data": data}).encode()
        return body, {"content-type": "application/x-www-form-urlencoded"}
    basic = base64.b64encode(f"{POSTBACK_USER}:{password}".encode()).decode()
    return data.encode(), {"content-type": "application/json", "authorization": f"Basic {basic}"}


def postback_seq(content_type: str, body: str) -> int | None:
    from urllib.parse import parse_qs

    if content_type.startswith("application/x-www-form-urlencoded"):
        body = (parse_qs(body).get("data") or [""])[0]
    try:
        seq = json.loads(body).get("faultSeq")
    except ValueError:
        return None
    return seq if isinstance(seq, int) else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
