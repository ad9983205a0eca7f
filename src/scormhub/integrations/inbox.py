"""The webhook inbox's hot path: postbacks arriving together are stored by one INSERT (group commit).

A postback must be stored before it is acknowledged, and SCORM Cloud may send hundreds a second. Each
request still waits until its own row is committed, but while INSERTs are in flight (two at most) the
rows of the requests that arrive meanwhile queue up, and the next INSERT stores them all: under load one
round trip (and one commit) serves many postbacks; a lone postback is written at once, as before.
"""

from __future__ import annotations

import asyncio
import weakref
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from scormhub.integrations.db.database import engine

# The id is the column's default, gen_random_uuid(): PostgreSQL makes it without a system call per
# postback (uuid.uuid4() reads os.urandom each time, 3% of the endpoint's CPU).
_INSERT_MANY = (
    "INSERT INTO inbox (workspace_id, source, content_type, body, received_at) "
    "SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])"
)
# Rows per INSERT at most: a few MB of bodies under the heaviest burst.
MAX_BATCH = 500
# INSERTs in flight at once: while one waits for its commit (a round trip and a WAL flush), the next
# batch is already on its way, so requests do not queue behind a single statement's latency.
IN_FLIGHT = 2

Row = tuple[UUID, str, str, str, datetime]


class _GroupWriter:
    """One per event loop: up to IN_FLIGHT flusher tasks drain the queue of waiting rows, each taking
    every row waiting when it is free, a batch per INSERT."""

    def __init__(self) -> None:
        self._waiting: list[tuple[Row, asyncio.Future[None]]] = []
        self._flushers: set[asyncio.Task[None]] = set()

    async def store(self, row: Row) -> None:
        loop = asyncio.get_running_loop()
        stored: asyncio.Future[None] = loop.create_future()
        self._waiting.append((row, stored))
        if len(self._flushers) < IN_FLIGHT:
            flusher = loop.create_task(self._flush())
            self._flushers.add(flusher)
            flusher.add_done_callback(self._flushers.discard)
        await stored

    async def _flush(self) -> None:
        while self._waiting:
            pool = engine().pool
            try:
                if pool is None:  # no pool (a one-off script): Piccolo connects per statement
                    await self._write_batches(None)
                    continue
                # One connection for as long as rows keep coming: no acquire and reset per batch.
                async with pool.acquire() as connection:
                    await self._write_batches(connection)
            except Exception as exc:  # no connection to be had: fail who waits, never leave them hanging
                self._fail(exc)
            except BaseException:
                self._fail(None)
                raise

    def _fail(self, exc: Exception | None) -> None:
        waiting, self._waiting = self._waiting, []
        for _, stored in waiting:
            if stored.done():
                continue
            if exc is None:
                stored.cancel()
            else:
                stored.set_exception(exc)

    async def _write_batches(self, connection: Any) -> None:
        """Write batches until none waits; return early (to get a new connection) after a failure."""
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                await _insert(connection, [row for row, _ in batch])
            except asyncpg.PostgresError as refused:
                if len(batch) == 1:
                    _answer(batch, refused)
                    continue
                # PostgreSQL refused a row: that one must not fail the others batched with it.
                for waiting in batch:
                    try:
                        await _insert(connection, [waiting[0]])
                    except asyncpg.PostgresError as one_refused:
                        _answer([waiting], one_refused)
                    else:
                        _answer([waiting], None)
                continue
            except Exception as exc:
                # Nothing of this batch is stored: each of its requests answers with the error (never
                # a 2xx). The rest waits for a fresh connection.
                _answer(batch, exc)
                return
            except BaseException:  # cancelled: the loop is closing (_flush tells the others)
                for _, stored in batch:
                    stored.cancel()
                raise
            _answer(batch, None)


def _answer(batch: list[tuple[Row, asyncio.Future[None]]], exc: Exception | None) -> None:
    """Wake the requests of a batch: stored (None), or not, with why. A request cancelled meanwhile (its
    client gone) is skipped: its row is kept all the same."""
    for _, stored in batch:
        if stored.done():
            continue
        if exc is None:
            stored.set_result(None)
        else:
            stored.set_exception(exc)


async def _insert(connection: Any, rows: list[Row]) -> None:
    if connection is None:
        from scormhub.integrations.db.tables import InboxRow

        await InboxRow.insert(
            *(
                InboxRow(
                    workspace_id=workspace_id,
                    source=source,
                    content_type=content_type,
                    body=body,
                    received_at=received_at,
                )
                for workspace_id, source, content_type, body, received_at in rows
            )
        )
        return
    columns: list[list[Any]] = [list(column) for column in zip(*rows, strict=True)]
    await connection.execute(_INSERT_MANY, *columns)


class PostbackInbox:
    """The postback endpoint's way into the inbox (handed out by the composition root as
    `deps.postback_inbox`); it owns the group writers, one per event loop."""

    def __init__(self) -> None:
        self._writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _GroupWriter] = (
            weakref.WeakKeyDictionary()
        )

    async def store(
        self, *, workspace_id: UUID, source: str, content_type: str, body: str, received_at: datetime
    ) -> None:
        """Store one postback; returns once its row is committed (raises if it could not be)."""
        # PostgreSQL text cannot hold NUL and no valid JSON or form body has a raw one: replace it, or the
        # INSERT fails (and with it every postback batched into the same statement).
        body, content_type = body.replace("\x00", "\ufffd"), content_type.replace("\x00", "\ufffd")
        loop = asyncio.get_running_loop()
        writer = self._writers.get(loop)
        if writer is None:
            writer = self._writers[loop] = _GroupWriter()
        await writer.store((workspace_id, source, content_type[:200], body, received_at))
