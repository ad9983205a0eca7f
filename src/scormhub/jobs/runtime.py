"""Building and running the SAQ worker, in the web process or in `scormhub worker`."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from saq import Queue, Worker
from saq.types import Context

from scormhub.jobs import CRON_JOBS, TASKS

log = logging.getLogger("scormhub.job")

# In-flight jobs get this long to finish on shutdown; after that SAQ cancels them and puts them back
# in the queue (`job.retry("cancelled")`), so a deploy never loses work. Heroku allows 30 s in all.
SHUTDOWN_GRACE_S = 20
# How long an idle worker slot waits for a job before looking again; bounds how fast an idle worker stops.
DEQUEUE_TIMEOUT_S = 1.0


async def _before(ctx: Context) -> None:
    ctx["started_at"] = time.perf_counter()  # type: ignore[typeddict-unknown-key]


async def _after(ctx: Context) -> None:
    job = ctx.get("job")
    if job is None:
        return
    started: float = ctx.get("started_at", time.perf_counter())  # type: ignore[assignment]
    elapsed_ms = (time.perf_counter() - started) * 1000
    workspace = (job.kwargs or {}).get("workspace_id", "-")
    log.info(
        "job %s %s %.1fms attempt=%s workspace=%s",
        job.function,
        getattr(job.status, "value", job.status),
        elapsed_ms,
        job.attempts,
        workspace,
    )


def build_worker(queue: Queue, *, concurrency: int, context: dict[str, Any]) -> Worker[Context]:
    worker: Worker[Context] = Worker(
        queue,
        functions=list(TASKS),
        cron_jobs=list(CRON_JOBS),
        concurrency=concurrency,
        before_process=[_before],
        after_process=[_after],
        dequeue_timeout=DEQUEUE_TIMEOUT_S,
        # stop_gracefully() does the waiting; by the time SAQ's stop() runs, every task is finished.
        shutdown_grace_period_s=1,
    )
    # Our jobs find their adapters under extra keys ("services"); SAQ's Context type doesn't list them.
    worker.context.update(context)  # type: ignore[typeddict-item]
    # SAQ would install SIGINT/SIGTERM handlers that wait for its upkeep loops (up to a minute);
    # `serve` lets uvicorn own the signals and `scormhub worker` installs its own, both ending in
    # stop_gracefully().
    worker.SIGNALS = []
    return worker


async def stop_gracefully(worker: Worker[Context], *, grace_s: float = SHUTDOWN_GRACE_S) -> None:
    """Let running jobs finish (up to `grace_s`), then stop; whatever still runs goes back to the queue."""
    worker.event.set()
    slots = [task for task in worker.tasks if task.get_name() == "process"]
    if slots:
        # Idle slots return within DEQUEUE_TIMEOUT_S; busy ones when their job is done.
        await asyncio.wait(slots, timeout=grace_s)
    # What is left: upkeep loops, and jobs that overran the grace period. A cancelled job is put back in
    # the queue by SAQ (`job.retry("cancelled")`) for the next worker to run.
    leftovers = [task for task in list(worker.tasks) if not task.done()]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)
    await worker.stop()
