"""The Throttle port in PostgreSQL: a sliding log of send times per workspace, shared by every process.

A sliding log is what a CRM's "N requests per window" limit actually checks, so keeping to it means no
429s; and it allows the full burst up front, so a long Sync All finishes in the minimum time the limit
allows (a fixed spacing would take 10% longer for 1,000 requests at 100 per 10 s).
"""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

from scormhub.domain.sync import RateLimit
from scormhub.integrations.db.database import engine
from scormhub.integrations.db.tables import CrmThrottleRow


class PostgresThrottle:
    async def wait_turn(self, workspace_id: UUID, limit: RateLimit) -> None:
        delay = await self._reserve(workspace_id, limit)
        if delay > 0:
            await asyncio.sleep(delay)

    async def _reserve(self, workspace_id: UUID, limit: RateLimit) -> float:
        """Book the earliest send time that keeps `requests` sends inside any `per_seconds` window."""
        async with engine().transaction():
            await CrmThrottleRow.raw(
                "INSERT INTO crm_throttle (workspace_id, slots) VALUES ({}, '{{}}') ON CONFLICT DO NOTHING",
                workspace_id,
            )
            rows = await CrmThrottleRow.raw(
                "SELECT slots FROM crm_throttle WHERE workspace_id = {} FOR UPDATE", workspace_id
            )
            now = time.time()
            window = limit.per_seconds
            # Keep only sends that still count: the last `requests` ones within the window.
            slots = [t for t in (rows[0]["slots"] or []) if t > now - window][-limit.requests :]
            if len(slots) < limit.requests:
                at = max([now, *slots[-1:]]) if slots else now
            else:
                at = max(now, slots[-limit.requests] + window)
            slots.append(at)
            await CrmThrottleRow.update({CrmThrottleRow.slots: slots[-limit.requests :]}).where(
                CrmThrottleRow.workspace_id == workspace_id
            )
        return at - now
