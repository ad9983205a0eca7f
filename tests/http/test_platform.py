"""Health, security headers and the site root."""

from __future__ import annotations

import dataclasses

import httpx
from litestar import Litestar

from appserver import serving
from scormhub.app import create_app
from scormhub.integrations.db.database import engine
from scormhub.settings import Settings


async def test_healthz_reports_database_and_queue_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "queue": "ok"}


async def test_healthz_answers_503_naming_the_queue_when_it_is_down(
    client: httpx.AsyncClient, app: Litestar
) -> None:
    await app.state.deps.queue.disconnect()

    response = await client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy", "database": "ok", "queue": "failing"}


async def test_healthz_answers_503_naming_the_database_when_it_is_unreachable(
    client: httpx.AsyncClient,
) -> None:
    db = engine()
    real_dsn = db.config["dsn"]
    await db.close_connection_pool()
    db.config["dsn"] = "postgresql://scormhub@127.0.0.1:9/nowhere"
    try:
        response = await client.get("/healthz")
    finally:
        db.config["dsn"] = real_dsn
        await db.start_connection_pool(min_size=1, max_size=4)

    assert response.status_code == 503
    assert response.json()["database"] == "failing"


async def test_pages_carry_a_csp_whose_frame_ancestors_come_from_settings(
    db: str, settings: Settings
) -> None:
    custom = dataclasses.replace(settings, frame_ancestors="'self' https://crm.example-agency.com")
    async with serving(create_app(custom)) as client:
        response = await client.get("/signed-out")

    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://crm.example-agency.com" in csp
    assert "script-src 'self'" in csp
    assert "x-frame-options" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_answers_no_route_produced_carry_the_security_headers_too(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/no-such-page", headers={"accept": "text/html"})
    wrong_method = await client.delete("/signed-out")

    for response in (unknown, wrong_method):
        assert response.status_code in (404, 405), response.status_code
        assert "frame-ancestors" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
    assert "There is nothing here" in unknown.text  # still the friendly page


async def test_the_root_sends_visitors_to_sign_in_and_admins_to_courses(client: httpx.AsyncClient) -> None:
    response = await client.get("/")

    assert response.status_code == 303
    assert response.headers["location"] == "/signed-out"


async def test_the_pinned_htmx_is_served_from_static(client: httpx.AsyncClient) -> None:
    page = await client.get("/signed-out")
    script = await client.get("/static/vendor/htmx/htmx-2.0.11.min.js")

    assert "/static/vendor/htmx/htmx-2.0.11.min.js" in page.text
    assert script.status_code == 200
    assert "htmx" in script.text[:2000]
