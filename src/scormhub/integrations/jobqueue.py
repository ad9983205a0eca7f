"""The JobQueue port on SAQ, which keeps its jobs in the same PostgreSQL as everything else."""

from __future__ import annotations

import time
from typing import Any

from saq import Queue
from saq.job import Job

QUEUE_NAME = "scormhub"


def create_queue(database_url: str, *, pool_size: int) -> Queue:
    """A PostgresQueue; call `await queue.connect()` before use (SAQ fails with PoolClosed otherwise).

    SAQ's own pool checks connections before handing them out, so a database restart costs the next
    job a reconnect, not a failure.
    """
    return Queue.from_url(database_url, name=QUEUE_NAME, min_size=1, max_size=pool_size)


class SaqJobQueue:
    """Enqueues by function name; `key` makes the enqueue idempotent while the job is queued or running."""

    def __init__(self, queue: Queue) -> None:
        self._queue = queue

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
            options["scheduled"] = int(time.time() + delay_s)
        enqueued: Job | None = await self._queue.enqueue(Job(function=job, **options))
        return enqueued.id if enqueued is not None else None
