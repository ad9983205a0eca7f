"""Helpers for tests that run `scormhub` as a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

TEST_SECRET = "integration-secret-key-long-enough-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def scormhub_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCORMHUB_", "DATABASE_URL"))}
    env.update(
        SCORMHUB_DATA_DIR=str(data_dir),
        SCORMHUB_SECRET_KEY=TEST_SECRET,
        SCORMHUB_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def start_scormhub(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "scormhub", *args], env=env, stdout=handle, stderr=subprocess.STDOUT
    )


def wait_for_text(log: Path, text: str, *, timeout_s: float, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace") if log.exists() else ""
        if text in content:
            return content
        if process.poll() is not None:
            raise AssertionError(
                f"scormhub exited with {process.returncode} before printing {text!r}:\n{content}"
            )
        time.sleep(0.1)
    raise AssertionError(f"{text!r} did not appear within {timeout_s}s:\n{log.read_text(errors='replace')}")


def stop(process: subprocess.Popen[bytes], *, timeout_s: float = 20) -> int:
    """SIGTERM, as a platform would on deploy; the exit code tells whether shutdown was clean."""
    process.terminate()
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"scormhub did not stop within {timeout_s}s of SIGTERM") from None
