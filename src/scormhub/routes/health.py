"""/healthz: is the database answering, and is the job queue usable?"""

from __future__ import annotations

import asyncio

from litestar import Response, get

from scormhub.routes.providers import DepsDep

CHECK_TIMEOUT_S = 2.0


async def _database_ok(deps: DepsDep) -> bool:
    try:
        await asyncio.wait_for(deps.ping_database(), timeout=CHECK_TIMEOUT_S)
    except Exception:
        return False
    return True


async def _queue_ok(deps: DepsDep) -> bool:
    try:
        await asyncio.wait_for(deps.queue.count("queued"), timeout=CHECK_TIMEOUT_S)
    except Exception:
        return False
    return True


@get("/healthz", cache=False, include_in_schema=False)
async def healthz(deps: DepsDep) -> Response[dict[str, str]]:
    database, queue = await asyncio.gather(_database_ok(deps), _queue_ok(deps))
    body = {"database": "ok" if database else "failing", "queue": "ok" if queue else "failing"}
    healthy = database and queue
    body["status"] = "ok" if healthy else "unhealthy"
    return Response(content=body, status_code=200 if healthy else 503)
