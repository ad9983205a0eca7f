"""The SAQ worker process (not the SCORM run-time): built and stopped here, run by `lifespan.running`.

Part of the composition layer beside `bootstrap` and `lifespan`: it puts the queue adapter's heartbeat
and the job functions of `jobs/` together, which neither side should know about the other.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from saq import Queue, Worker
from saq.types import PartialTimersDict

from scormhub.integrations.jobqueue import beat
from scormhub.jobs import TASKS, cron_jobs
from scormhub.jobs.context import JobContext

if TYPE_CHECKING:
    from scormhub.bootstrap import Deps

log = logging.getLogger("scormhub.job")

# In-flight jobs get this long to finish on shutdown; after that SAQ cancels them and puts them back
# in the queue (`job.retry("cancelled")`), so a deploy never loses work. Heroku allows 30 s in all.
SHUTDOWN_GRACE_S = 20
# How long an idle worker slot waits for a job before looking again; bounds how fast an idle worker stops.
DEQUEUE_TIMEOUT_S = 1.0


async def _before(ctx: JobContext) -> None:
    ctx["started_at"] = time.perf_counter()


async def _after(ctx: JobContext) -> None:
    job = ctx.get("job")
    if job is None:
        return
    started = ctx.get("started_at", time.perf_counter())
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


class HeartbeatWorker(Worker[JobContext]):
    """SAQ's worker, beating for the jobs it runs (SAQ leaves heartbeats to each job function), so that
    when this process dies its jobs are swept and retried within a heartbeat (see create_queue)."""

    beat_every_s: float = 0.0

    async def upkeep(self) -> list[asyncio.Task[None]]:
        tasks = await super().upkeep()
        if self.beat_every_s > 0:
            tasks.append(asyncio.create_task(self._beat(), name="heartbeat"))
        return tasks

    async def _beat(self) -> None:
        while not self.event.is_set():
            await asyncio.sleep(self.beat_every_s)
            running = [job.key for job, run in list(self.job_task_contexts.items()) if not run["task"].done()]
            try:
                await beat(self.queue, self.id, running)
            except Exception as exc:  # the database is down: the next beat tries again
                log.warning("job heartbeat failed: %s", exc)


def build_worker(
    queue: Queue,
    *,
    concurrency: int,
    deps: Deps | None,
    shutdown_grace_s: float = SHUTDOWN_GRACE_S,
    recovery_interval_s: int = 60,
) -> Worker[JobContext]:
    """Jobs find `deps` in their context (None only in tests that register their own functions).

    `recovery_interval_s` (Settings.recovery_interval_s) sets the recovery crons' cadence and how often
    abandoned jobs are swept; the worker beats four times per interval for the jobs it runs."""
    # SAQ's defaults, but the sweep for abandoned jobs runs once per recovery interval.
    timers: PartialTimersDict = {"schedule": 1, "worker_info": 10, "abort": 1, "sweep": recovery_interval_s}
    worker = HeartbeatWorker(
        queue,
        functions=list(TASKS),
        cron_jobs=list(cron_jobs(recovery_interval_s)),
        concurrency=concurrency,
        timers=timers,
        before_process=[_before],
        after_process=[_after],
        dequeue_timeout=DEQUEUE_TIMEOUT_S,
        # SAQ's stop() waits this long for running jobs, then cancels them, which puts them back in the
        # queue (job.retry("cancelled")) for the next worker.
        shutdown_grace_period_s=shutdown_grace_s,  # type: ignore[arg-type]
    )
    worker.beat_every_s = recovery_interval_s / 4
    if deps is not None:
        worker.context["deps"] = deps
    # SAQ would install its own SIGINT/SIGTERM handlers; `serve` lets uvicorn own the signals and
    # `scormhub worker` installs its own, both ending in stop_gracefully().
    worker.SIGNALS = []
    return worker


async def stop_gracefully(worker: Worker[JobContext]) -> None:
    """Let running jobs finish (within the grace period), then stop; the rest goes back to the queue.

    SAQ's stop() would also wait on its upkeep loops, which sleep up to a minute between runs; they hold no
    work, so they are cancelled first and an idle worker stops within DEQUEUE_TIMEOUT_S. The heartbeat
    stops with them: the default heartbeat (60 s) outlasts the grace period (20 s), so a job finishing
    during a deploy is never taken for abandoned by another process's sweeper.
    """
    worker.event.set()
    upkeep = [task for task in list(worker.tasks) if task.get_name() != "process" and not task.done()]
    for task in upkeep:
        task.cancel()
    await asyncio.gather(*upkeep, return_exceptions=True)
    await worker.stop()
