"""HTTP fixtures: the real app from create_app() on the run's PostgreSQL, driven over ASGI by httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar
from movable_clock import MovableClock

from appserver import login_link_token, serving
from scormhub.app import create_app
from scormhub.bootstrap import build_deps
from scormhub.settings import Settings


@pytest.fixture
def app(db: str, settings: Settings) -> Litestar:
    # A movable clock reads the real time until a test moves it (the `clock` fixture).
    return create_app(settings, build_deps(settings, clock=MovableClock()))


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app) as test_client:
        yield test_client


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The client, signed in to the standalone workspace through a real login link."""
    response = await client.get(f"/login/{await login_link_token()}")
    assert response.status_code == 303
    return client


@pytest.fixture
def clock(app: Litestar) -> MovableClock:
    """The running app's clock, moved by the test instead of waited for."""
    moved = app.state.deps.clock
    assert isinstance(moved, MovableClock)
    return moved
