"""Start-up and shutdown of one process, shared by `scormhub serve` (the app's lifespan) and `worker`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from saq import Worker

from scormhub.bootstrap import Deps
from scormhub.integrations.db.database import engine, start_pool
from scormhub.jobs.context import JobContext
from scormhub.worker import build_worker, stop_gracefully


@dataclass(frozen=True)
class Running:
    """What `running()` started: the job worker and its task, when this process runs jobs."""

    worker: Worker[JobContext] | None = None
    worker_task: asyncio.Task[None] | None = None


@contextlib.asynccontextmanager
async def running(deps: Deps, *, worker: bool) -> AsyncIterator[Running]:
    """The database pool, the queue and the HTTP clients, and (with `worker`) a job worker, for the block.

    On the way out the worker lets running jobs finish within its grace period (or puts them back in the
    queue) before anything it uses is closed.
    """
    settings = deps.settings
    db = engine()
    await start_pool(max_size=settings.db_pool_size)
    try:
        await deps.queue.connect()
        deps.http.open()
        started = Running()
        if worker:
            jobs = build_worker(
                deps.queue,
                concurrency=settings.worker_concurrency,
                deps=deps,
                recovery_interval_s=settings.recovery_interval_s,
            )
            started = Running(jobs, asyncio.create_task(jobs.start()))
        try:
            yield started
        finally:
            if started.worker is not None:
                await stop_gracefully(started.worker)
                if started.worker_task is not None:
                    await started.worker_task
            await deps.queue.disconnect()
            deps.render_pool.shutdown()
            await deps.http.aclose()
    finally:
        await db.close_connection_pool()
