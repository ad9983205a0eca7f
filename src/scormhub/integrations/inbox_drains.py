"""Requests for a workspace's inbox to be drained: debounced per process, one drain at a time."""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

from scormhub.domain.ports import JobQueue

# A burst of postbacks for one workspace queues one inbox drain per this interval (per process). Each
# drain costs a job (enqueue, dequeue, status updates) on top of its rows, and the drain of an interval
# keeps looking for rows until it ends, so a longer interval costs fewer jobs, not later processing.
DRAIN_DEBOUNCE_S = 0.25


class InboxDrains:
    """Queues `process_inbox` jobs for stored postbacks, and serializes the drains run in this process."""

    def __init__(self, jobs: JobQueue) -> None:
        self._jobs = jobs
        self._requested: dict[UUID, int] = {}
        self._locks: dict[UUID, asyncio.Lock] = {}

    def lock(self, workspace_id: UUID) -> asyncio.Lock:
        """One inbox drain per workspace at a time in this process: overlapping drains would read and
        process the same rows (harmless, being idempotent, but it multiplies the work under a burst)."""
        return self._locks.setdefault(workspace_id, asyncio.Lock())

    async def request(self, workspace_id: UUID) -> None:
        """Ask for the workspace's inbox to be processed (one enqueue per DRAIN_DEBOUNCE_S per process).

        The drain job takes every unprocessed row, so one request covers a burst of postbacks; the key's
        time bucket lets a new drain queue while an older one is still running.
        """
        now = time.time()
        bucket = int(now / DRAIN_DEBOUNCE_S)
        if self._requested.get(workspace_id) == bucket:
            return
        self._requested[workspace_id] = bucket
        await self._jobs.enqueue(
            "process_inbox",
            key=f"process_inbox:{workspace_id}:{bucket}",
            retries=8,
            workspace_id=str(workspace_id),
            # Requests later in this bucket skip the enqueue after storing their row; the job looks once
            # more after the bucket ends, so none of those rows waits for the sweeper.
            settle_at=(bucket + 1) * DRAIN_DEBOUNCE_S,
        )
