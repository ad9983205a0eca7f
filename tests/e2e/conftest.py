"""Browser tests: the real `scormhub serve` as a subprocess, driven by Debian's Chromium through Playwright.

Why Playwright's *async* API: the sync API keeps its private event loop marked as the running loop of
the main thread between calls, for as long as Playwright is started. With a session-scoped browser that
is the rest of the run, and every later coroutine fails: pytest-asyncio's session loop raises "Runner.run()
cannot be called from a running event loop" for every async test after the first browser test, and the
`database_url` fixture's `asyncio.run()` raises "asyncio.run() cannot be called from a running event loop"
(checked with pytest-asyncio 1.5 and Playwright 1.65). The async API runs on pytest-asyncio's session loop
instead (pyproject sets asyncio_mode=auto and session loop scopes), so browser tests are plain
`async def test_...` functions that `await` Playwright, and they mix freely with the rest of the suite.

Chromium is Debian's (`scripts/ensure-chromium`): Playwright cannot download its own browser here.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import Browser, ConsoleMessage, Error, Page, async_playwright, expect

REPO = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
ARTIFACTS_DIR = REPO / "test-artifacts" / "e2e"
DEFAULT_CHROMIUM = "/usr/lib/chromium/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests may run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # The machine's network is closed: without these Chromium keeps trying to reach Google's hosts.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
E2E_SECRET_KEY = "e2e-secret-key-that-is-long-enough-for-hkdf-0123456789"
LOGIN_URL = re.compile(r"http://127\.0\.0\.1:\d+/login/\S+")
LISTENING = re.compile(r"Uvicorn running on https?://[^:\s]+:(\d+)")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
LOGIN_LINK_TIMEOUT_S = 60.0
# Upper bounds, not expectations: a passing step returns as soon as it can, so generous limits cost nothing
# on a quiet machine and keep a loaded one (CI beside another CPU-heavy process, a PDF rendered on a busy
# core) from failing a journey that was only slow. Playwright's `expect` has its own default (5 s).
ACTION_TIMEOUT_MS = 60_000
EXPECT_TIMEOUT_MS = 30_000
expect.set_options(timeout=EXPECT_TIMEOUT_MS)
# Variables the app reads that must not leak from the developer's shell into the server under test.
APP_ENV_PREFIXES = ("SCORMHUB_", "DATABASE_URL", "PORT", "HIGHLEVEL_", "SCORM_CLOUD_")

REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


# --- collection and reporting hooks -------------------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is an `e2e` test (`-m e2e` / `-m "not e2e"` select them)."""
    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so `page` knows at teardown whether the test failed."""
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


# --- the browser --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium, or the binary named by SCORMHUB_CHROMIUM; a missing browser fails, never skips."""
    path = os.environ.get("SCORMHUB_CHROMIUM") or DEFAULT_CHROMIUM
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("Chromium is missing: run scripts/ensure-chromium", pytrace=False)
    return path


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A fresh context (no cookies) and page per test; a failed test leaves a screenshot and its HTML."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    new_page = await context.new_page()
    try:
        yield new_page
        reports = request.node.stash.get(REPORTS, {})
        # A page that never left about:blank (say, the server did not start) has nothing to show.
        if any(report.failed for report in reports.values()) and new_page.url != "about:blank":
            await _save_artifacts(new_page, request.node.name)
    finally:
        await context.close()


@pytest_asyncio.fixture(loop_scope="session")
async def console_errors(page: Page) -> list[str]:
    """Console errors and uncaught exceptions of `page`, from now on (CSP violations are console errors).

    One message is left out: Chromium fetches the page's icon after the page has loaded, so a failed
    icon fetch is logged at a moment no test can wait for, and the list would differ from run to run.
    Test the icon directly instead (see test_smoke). Async only because subscribing to Playwright's
    events needs the running loop.
    """
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        where = message.location
        if message.type != "error" or _is_icon(where.get("url", "")):
            return
        errors.append(f"console error at {where.get('url')}:{where.get('lineNumber')}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"uncaught {error.name}: {error.message}"))
    return errors


def _is_icon(url: str) -> bool:
    return urlsplit(url).path == "/favicon.ico"


async def _save_artifacts(page: Page, test_name: str) -> None:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = ARTIFACTS_DIR / re.sub(r"[^\w.-]+", "_", test_name)
    try:
        await page.screenshot(path=f"{stem}.png", full_page=True)
        stem.with_suffix(".html").write_text(await page.content(), encoding="utf-8")
    except Error as exc:  # a crashed or closed page: the test's own failure is what matters
        print(f"could not save browser artifacts for {test_name}: {exc}", file=sys.stderr)
    else:
        print(f"browser artifacts: {stem}.png, {stem}.html (page was at {page.url})", file=sys.stderr)


# --- the app under test -------------------------------------------------------------------------------


class LiveServer:
    """A running `scormhub serve` on its own port, on the run's database."""

    def __init__(self, base_url: str, login_url: str, env: dict[str, str], lines: list[str]) -> None:
        self.base_url = base_url
        self.login_url = login_url  # the link the server printed; one-time, so one test may open it
        self._env = env
        self._lines = lines

    @property
    def output(self) -> list[str]:
        """What the server printed so far (stdout and stderr), one item per line."""
        return list(self._lines)

    def new_login_url(self) -> str:
        """A fresh one-time admin link from `scormhub login-link` (it creates the workspace if missing)."""
        result = subprocess.run(
            [sys.executable, "-m", "scormhub", "login-link"],
            env=self._env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=LOGIN_LINK_TIMEOUT_S,
            check=False,
        )
        found = LOGIN_URL.search(result.stdout)
        if result.returncode != 0 or found is None:
            pytest.fail(
                f"`scormhub login-link` exited with {result.returncode} and printed no login link.\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}",
                pytrace=False,
            )
        return found.group(0)


# Module scope: starting the server takes about 4 s, too long to pay per test. It shares the run's
# database, whose `db` fixture (tests/conftest.py) TRUNCATEs the workspace and login tables before each
# test that uses it. A module-scoped server is started by the first test of an e2e module that needs it
# and stopped before pytest moves to another module (also under xdist, which tears module fixtures down
# whenever the next test on the worker is from another module), so no truncating test runs while it
# serves, and the link it printed stays valid. That link works once: the first test that opens
# `login_url` consumes it, so every other test signs in with its own `new_login_url()`, which also
# recreates the standalone workspace if a truncation removed it.
@pytest.fixture(scope="module")
def live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve_app(database_url, tmp_path_factory) as server:
        yield server


@contextlib.contextmanager
def serve_app(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, extra_env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """`scormhub serve` on a free port with the test environment (plus `extra_env`), stopped by SIGTERM."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith(APP_ENV_PREFIXES)}
    env.update(
        DATABASE_URL=database_url,
        SCORMHUB_SECRET_KEY=E2E_SECRET_KEY,
        SCORMHUB_DATA_DIR=str(tmp_path_factory.mktemp("scormhub-data")),
        SCORMHUB_PUBLIC_URL=base_url,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra_env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "scormhub", "serve", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
    )
    assert process.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(
        target=_collect_lines, args=(process.stdout, lines), name="live-server-output", daemon=True
    )
    reader.start()
    try:
        login_url = _wait_until_ready(process, port, lines)
    except BaseException:
        process.kill()
        process.wait()
        raise
    try:
        yield LiveServer(base_url, login_url, env, lines)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            reader.join(timeout=5)
            pytest.fail(
                f"scormhub serve did not stop within {STOP_TIMEOUT_S:.0f} s of SIGTERM (killed it).\n"
                + _tail(lines),
                pytrace=False,
            )
        reader.join(timeout=5)
        if code != 0:
            pytest.fail(
                f"scormhub serve exited with {code} after SIGTERM, not 0.\n" + _tail(lines), pytrace=False
            )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _collect_lines(stream: IO[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))


def _wait_until_ready(process: subprocess.Popen[str], port: int, lines: list[str]) -> str:
    """Wait for /healthz to answer 200 and for the printed login link; return the link."""
    health_url = f"http://127.0.0.1:{port}/healthz"
    # Straight to localhost, whatever http_proxy says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + START_TIMEOUT_S
    healthy = False
    login_url: str | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            time.sleep(0.2)  # let the reader take the last lines
            pytest.fail(
                f"scormhub serve exited with {process.returncode} while starting.\n" + _tail(lines),
                pytrace=False,
            )
        output = list(lines)
        for line in output:
            listening = LISTENING.search(line)
            if listening and int(listening.group(1)) != port:
                pytest.fail(
                    f"`scormhub serve --port {port}` listens on port {listening.group(1)} instead "
                    f"(SCORMHUB_PUBLIC_URL={health_url.removesuffix('/healthz')} was set).\n" + _tail(lines),
                    pytrace=False,
                )
        if login_url is None:
            login_url = next((m.group(0) for line in output if (m := LOGIN_URL.search(line))), None)
        if not healthy:
            try:
                with opener.open(health_url, timeout=2) as response:
                    healthy = response.status == 200
            except (urllib.error.URLError, OSError):
                healthy = False
        if healthy and login_url is not None:
            return login_url
        time.sleep(0.1)
    pytest.fail(
        f"scormhub serve was not ready within {START_TIMEOUT_S:.0f} s "
        f"(/healthz 200: {healthy}; login link printed: {login_url is not None}).\n" + _tail(lines),
        pytrace=False,
    )


def _tail(lines: list[str], count: int = 60) -> str:
    return "server output (last lines):\n" + "\n".join(lines[-count:])
