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


def build_worker(
    queue: Queue, *, concurrency: int, context: dict[str, Any], shutdown_grace_s: float = SHUTDOWN_GRACE_S
) -> Worker[Context]:
    worker: Worker[Context] = Worker(
        queue,
        functions=list(TASKS),
        cron_jobs=list(CRON_JOBS),
        concurrency=concurrency,
        before_process=[_before],
        after_process=[_after],
        dequeue_timeout=DEQUEUE_TIMEOUT_S,
        # SAQ's stop() waits this long for running jobs, then cancels them, which puts them back in the
        # queue (job.retry("cancelled")) for the next worker.
        shutdown_grace_period_s=shutdown_grace_s,  # type: ignore[arg-type]
    )
    # Our jobs find their adapters under extra keys ("services"); SAQ's Context type doesn't list them.
    worker.context.update(context)  # type: ignore[typeddict-item]
    # SAQ would install its own SIGINT/SIGTERM handlers; `serve` lets uvicorn own the signals and
    # `scormhub worker` installs its own, both ending in stop_gracefully().
    worker.SIGNALS = []
    return worker


async def stop_gracefully(worker: Worker[Context]) -> None:
    """Let running jobs finish (within the grace period), then stop; the rest goes back to the queue.

    SAQ's stop() would also wait on its upkeep loops, which sleep up to a minute between runs; they hold no
    work, so they are cancelled first and an idle worker stops within DEQUEUE_TIMEOUT_S.
    """
    worker.event.set()
    upkeep = [task for task in list(worker.tasks) if task.get_name() != "process" and not task.done()]
    for task in upkeep:
        task.cancel()
    await asyncio.gather(*upkeep, return_exceptions=True)
    await worker.stop()
