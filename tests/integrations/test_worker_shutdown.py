"""Stopping a worker never loses a job: a running job finishes, or goes back to the queue."""

from __future__ import annotations

import asyncio
from typing import Any

from saq import Queue

from scormhub.integrations.jobqueue import create_queue
from scormhub.worker import build_worker, stop_gracefully


async def slow(ctx: dict[str, Any], *, seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "finished"


async def start_worker_with_a_running_job(db: str, seconds: float, grace_s: float) -> tuple[Queue, Any, str]:
    queue = create_queue(db, pool_size=4)
    await queue.connect()
    worker = build_worker(queue, concurrency=2, deps=None, shutdown_grace_s=grace_s)
    worker.functions["slow"] = slow
    task = asyncio.create_task(worker.start())
    job = await queue.enqueue("slow", seconds=seconds, retries=3, timeout=60)
    assert job is not None
    for _ in range(200):
        await job.refresh()
        if job.status == "active":
            break
        await asyncio.sleep(0.02)
    assert job.status == "active"
    return queue, (worker, task), job.key


async def test_a_job_that_fits_in_the_grace_period_finishes(db: str) -> None:
    queue, (worker, task), key = await start_worker_with_a_running_job(db, seconds=0.3, grace_s=5)

    await stop_gracefully(worker)
    await task
    job = await queue.job(key)
    await queue.disconnect()

    assert job is not None
    assert job.status == "complete"
    assert job.result == "finished"


async def test_a_job_that_overruns_the_grace_period_goes_back_to_the_queue(db: str) -> None:
    queue, (worker, task), key = await start_worker_with_a_running_job(db, seconds=30, grace_s=0.2)

    await stop_gracefully(worker)
    await task
    job = await queue.job(key)
    await queue.disconnect()

    assert job is not None
    assert job.status == "queued"
    assert job.error == "cancelled"
