"""Jobs enqueued through the JobQueue port run in the web process by default, or in `scormhub worker`."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path
from typing import Any

from processes import scormhub_env, start_scormhub, stop, wait_for_text
from saq import Queue

from appserver import serving
from scormhub.app import create_app
from scormhub.settings import Settings


async def wait_for_result(queue: Queue, job_id: str, timeout_s: float = 15) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        job = await queue.job(job_id)
        if job is not None and job.status == "complete":
            result: dict[str, Any] = job.result
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not complete within {timeout_s}s")


async def test_a_job_runs_in_the_web_process_when_no_worker_is_deployed(db: str, settings: Settings) -> None:
    app = create_app(dataclasses.replace(settings, in_process_worker=True))
    async with serving(app):
        deps = app.state.deps
        job_id = await deps.jobs.enqueue("probe_worker")
        assert job_id is not None
        result = await wait_for_result(deps.queue, job_id)

    assert result["pid"] == os.getpid()


async def test_a_job_runs_in_scormhub_worker_when_the_web_process_does_not_run_jobs(
    db: str, settings: Settings, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    worker = start_scormhub(["worker"], scormhub_env(tmp_path, DATABASE_URL=db), log)
    try:
        wait_for_text(log, "worker started", timeout_s=20, process=worker)
        app = create_app(dataclasses.replace(settings, in_process_worker=False))
        async with serving(app):
            deps = app.state.deps
            assert app.state.worker is None
            job_id = await deps.jobs.enqueue("probe_worker")
            assert job_id is not None
            result = await wait_for_result(deps.queue, job_id)
    finally:
        code = stop(worker)

    assert result["pid"] == worker.pid
    assert code == 0


async def test_enqueueing_the_same_key_twice_queues_one_job(db: str, settings: Settings) -> None:
    app = create_app(settings)  # no worker: the jobs stay queued
    async with serving(app):
        deps = app.state.deps
        first = await deps.jobs.enqueue("probe_worker", key="probe:same")
        second = await deps.jobs.enqueue("probe_worker", key="probe:same")
        queued = await deps.queue.count("queued")

    assert first is not None
    assert second is None
    assert queued == 1
