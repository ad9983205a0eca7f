"""The JobQueue port on SAQ, which keeps its jobs in the same PostgreSQL as everything else."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL
from saq import Queue
from saq.job import Job
from saq.queue.postgres import PostgresQueue
from saq.utils import now

from scormhub.integrations.clock import SystemClock

if TYPE_CHECKING:
    from scormhub.domain.ports import Clock

QUEUE_NAME = "scormhub"


def create_queue(database_url: str, *, pool_size: int, heartbeat_s: int = 0) -> Queue:
    """A PostgresQueue; call `await queue.connect()` before use (SAQ fails with PoolClosed otherwise).

    SAQ's own pool checks connections before handing them out, so a database restart costs the next
    job a reconnect, not a failure.

    With `heartbeat_s`, every job enqueued here carries that heartbeat: our workers beat for the jobs they
    run (`beat`), and SAQ's sweeper retries a job whose worker went silent for longer. Without it, a
    process killed mid-job (kill -9, out of memory, a lost dyno) would hold the job, and its key, until
    the job's whole timeout ran out: ten minutes for most jobs, an hour for push_to_crm, during which
    every enqueue under that key is swallowed.
    """
    queue = Queue.from_url(database_url, name=QUEUE_NAME, min_size=1, max_size=pool_size)
    if heartbeat_s > 0:

        async def with_heartbeat(job: Job) -> None:
            if not job.heartbeat:
                job.heartbeat = heartbeat_s

        queue.register_before_enqueue(with_heartbeat)
    return queue


async def beat(queue: Queue, worker_id: str, keys: Sequence[str]) -> int:
    """Refresh `touched` on the jobs a worker is running; returns how many were refreshed.

    A compare-and-set on the stored job, and only while it is active under this worker: a job that
    finished, or was swept and queued again, in the meantime is never overwritten with a stale copy (SAQ's
    own `job.update()` rewrites the row whatever became of it).
    """
    if not keys or not isinstance(queue, PostgresQueue):
        return 0
    table = queue.jobs_table
    refreshed = 0
    async with queue.pool.connection() as conn:
        cursor = await conn.execute(
            SQL("SELECT key, job FROM {} WHERE key = ANY(%s) AND status = 'active'").format(table),
            [list(keys)],
        )
        for key, stored in await cursor.fetchall():
            job = queue.deserialize(stored)
            if job is None or job.worker_id != worker_id:
                continue
            job.touched = now()
            updated = await conn.execute(
                SQL("UPDATE {} SET job = %s WHERE key = %s AND status = 'active' AND job = %s").format(table),
                [queue.serialize(job), key, stored],
            )
            refreshed += updated.rowcount
    return refreshed


class SaqJobQueue:
    """Enqueues by function name; `key` makes the enqueue idempotent while the job is queued or running."""

    def __init__(self, queue: Queue, *, clock: Clock | None = None) -> None:
        self._queue = queue
        # SAQ's workers compare `scheduled` with their wall clock, so that is the default time base.
        self._clock = clock or SystemClock()

    @property
    def queue(self) -> Queue:
        return self._queue

    async def enqueue(
        self,
        job: str,
        *,
        key: str | None = None,
        timeout_s: int = 600,
        retries: int = 3,
        delay_s: float = 0,
        **kwargs: Any,
    ) -> str | None:
        options: dict[str, Any] = {
            "timeout": timeout_s,
            "retries": retries,
            "kwargs": kwargs,
            # Transient failures come back after 1 s, 2 s, 4 s … (capped), not in a tight loop.
            "retry_delay": 1.0,
            "retry_backoff": 60.0,
        }
        if key is not None:
            options["key"] = key
        if delay_s > 0:
            # SAQ schedules to the whole second: round up, or the job wakes before what it waits for.
            options["scheduled"] = math.ceil(self._clock.now().timestamp() + delay_s)
        enqueued: Job | None = await self._queue.enqueue(Job(function=job, **options))
        return enqueued.id if enqueued is not None else None
