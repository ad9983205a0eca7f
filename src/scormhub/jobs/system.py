"""Jobs about the job system itself."""

from __future__ import annotations

import os
import socket
from typing import Any

from scormhub.domain import storage_cleanup
from scormhub.jobs.context import JobContext


async def probe_worker(ctx: JobContext) -> dict[str, Any]:
    """Say which process ran it: lets an operator (and a test) see whether the web or a worker runs jobs."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "worker": ctx["worker"].id}


async def remove_stale_uploads(ctx: JobContext) -> dict[str, Any]:
    """Delete the `.part` files of uploads cut off by a crash, once they are clearly abandoned."""
    deps = ctx["deps"]
    return {"removed": deps.storage.remove_stale_partials(deps.clock.now().timestamp())}


async def remove_orphan_objects(ctx: JobContext) -> dict[str, Any]:
    """Delete stored packages and content that no course names any more (see domain.storage_cleanup)."""
    deps = ctx["deps"]
    return await storage_cleanup.remove_orphan_objects(
        store=deps.storage.store, uow=deps.uow(), now=deps.clock.now()
    )
