"""Jobs about the job system itself."""

from __future__ import annotations

import os
import socket
from typing import Any


async def probe_worker(ctx: dict[str, Any]) -> dict[str, Any]:
    """Say which process ran it: lets an operator (and a test) see whether the web or a worker runs jobs."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "worker": ctx["worker"].id}
