"""Helpers for HTTP-level tests: serve the app in-process, mint login links, read the CSRF token.

Litestar's AsyncTestClient runs the app in a thread with its own event loop; the app's database pool
would then live on another loop than the test's own queries. `serving` keeps everything on one loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from litestar import Litestar

from scormhub.domain.workspaces import ensure_standalone_workspace, issue_login_token
from scormhub.integrations.clock import SystemClock
from scormhub.integrations.db.uow import PiccoloUnitOfWork

# The tests' content origin: another registrable name than the app's testserver.local, so httpx's cookie
# jar (which, unlike a browser, sends host-only cookies to subdomains) behaves as a browser would.
CONTENT = "http://content.test"


@contextlib.asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, and a client that talks to it in-process.

    The lifespan lives in a task of its own: pytest-asyncio tears fixtures down in another task than
    the one that set them up, and anyio's cancel scopes inside the lifespan must exit where they began.
    """
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    lifespan = asyncio.create_task(run_lifespan())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({lifespan, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if lifespan.done():
        waiter.cancel()
        lifespan.result()  # start-up failed: raise its error here
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
            yield client
    finally:
        stop.set()
        await lifespan


async def login_link_token() -> str:
    workspace, _ = await ensure_standalone_workspace(uow=PiccoloUnitOfWork(), clock=SystemClock())
    return await issue_login_token(workspace.id, uow=PiccoloUnitOfWork(), clock=SystemClock())


def csrf_of(client: httpx.AsyncClient) -> str:
    token = client.cookies.get("csrftoken")
    assert token, "a page visit sets the CSRF cookie"
    return token
