"""Jobs about the job system itself."""

from __future__ import annotations

import os
import socket
from typing import Any


async def probe_worker(ctx: dict[str, Any]) -> dict[str, Any]:
    """Say which process ran it: lets an operator (and a test) see whether the web or a worker runs jobs."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "worker": ctx["worker"].id}


async def remove_stale_uploads(ctx: dict[str, Any]) -> dict[str, Any]:
    """Delete the `.part` files of uploads cut off by a crash, once they are clearly abandoned."""
    services = ctx["services"]
    return {"removed": services.storage.remove_stale_partials(services.clock.now().timestamp())}
