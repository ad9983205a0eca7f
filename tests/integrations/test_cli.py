"""`scormhub` as an operator runs it: start-up messages, the login link, and clean shutdown."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from processes import free_port, scormhub_env, start_scormhub, stop, wait_for_text


def run_scormhub(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scormhub", *args], env=env, capture_output=True, text=True, timeout=60
    )


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_the_default_serve_starts_embedded_postgres_prints_a_login_link_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    data_dir = tmp_path / "data"
    server = start_scormhub(["serve", "--port", str(port)], scormhub_env(data_dir), log)
    try:
        output = wait_for_text(log, "Uvicorn running", timeout_s=60, process=server)
        link = re.search(rf"http://127\.0\.0\.1:{port}/login/\S+", output)
        assert link, output
        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(link.group(0), timeout=10)
        assert redirect.value.code == 303
        assert redirect.value.headers["location"] == "/app/courses"
        assert "scormhub_session=" in redirect.value.headers["set-cookie"]
        assert (data_dir / "pgdata" / "postmaster.pid").exists()
    finally:
        code = stop(server)

    assert code == 0
    assert not (data_dir / "pgdata" / "postmaster.pid").exists(), "the embedded PostgreSQL was stopped"
    assert "Traceback" not in log.read_text()
    assert link.group(0).split("/login/")[1] not in log.read_text().split("Need another?")[1], (
        "the login token is printed once and never logged"
    )


def test_a_malformed_setting_stops_start_up_with_one_line_naming_it(tmp_path: Path) -> None:
    result = run_scormhub(["serve"], scormhub_env(tmp_path, PORT="eighty"))

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "scormhub: configuration error: PORT: a whole number from 1 to 65535, got 'eighty'"
    ]


def test_an_unreachable_database_gives_a_clear_message_and_no_traceback(tmp_path: Path) -> None:
    env = scormhub_env(tmp_path, DATABASE_URL=f"postgresql://scormhub@127.0.0.1:{free_port()}/scormhub")

    result = run_scormhub(["serve"], env)

    assert result.returncode == 1
    assert "cannot connect to PostgreSQL at postgresql://scormhub@127.0.0.1" in result.stderr
    assert "Is PostgreSQL running, and is DATABASE_URL right?" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_password_never_appears_in_the_error(tmp_path: Path) -> None:
    env = scormhub_env(tmp_path, DATABASE_URL=f"postgresql://app:hunter2-secret@127.0.0.1:{free_port()}/x")

    result = run_scormhub(["migrate"], env)

    assert result.returncode == 1
    assert "hunter2-secret" not in result.stderr
    assert "app:***@" in result.stderr


def test_login_link_prints_a_fresh_one_time_link(tmp_path: Path, database_url: str) -> None:
    env = scormhub_env(tmp_path, DATABASE_URL=database_url, SCORMHUB_PUBLIC_URL="https://hub.example.com")

    first = run_scormhub(["login-link"], env)
    second = run_scormhub(["login-link"], env)

    assert first.returncode == 0, first.stderr
    assert re.fullmatch(r"https://hub\.example\.com/login/[\w-]{40,}", first.stdout.strip())
    assert first.stdout != second.stdout
