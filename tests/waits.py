"""Waiting for a condition instead of for a length of time, so a loaded machine only makes tests slower."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import asyncpg

DEADLINE_S = 30.0  # an upper bound: a condition that holds returns at the next poll


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s:.0f} s for {what}")
        time.sleep(0.01)


async def until_waiting_on_a_lock(
    database_url: str, sessions: int = 1, timeout_s: float = DEADLINE_S
) -> None:
    """Returns once `sessions` backends of this database are blocked on a lock (a row, an index entry)."""
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if waiting >= sessions:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout_s:.0f} s for {sessions} session(s) to wait on a lock")
            await asyncio.sleep(0.01)
    finally:
        await conn.close()
