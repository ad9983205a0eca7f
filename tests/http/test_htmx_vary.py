"""Every URL that answers an htmx request differently from a plain one (a page and its fragment, or a
fragment and a redirect to its page) says so with `Vary: HX-Request` on both answers, so that no cache
(the browser's back button included) serves the fragment where the page belongs, or the other way round.

The dual-mode URLs are found, not listed: every GET route of the app's route table is requested twice,
plainly and as htmx, aimed at the signed-in workspace's own ids (as test_csrf_everywhere aims them), and
the two answers are compared. `KNOWN_DUAL_MODE` only checks that the comparison still finds the ones we
know of; a new dual-mode URL is covered without being added there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from test_csrf_everywhere import url_for
from two_workspaces import World, client_for, route_table, serving_two_tenants

HX = {"HX-Request": "true"}
# Answers that are files or the job dashboard's own UI (no htmx of ours reaches them), and one-time login
# links (the first request uses the link up, so the second differs whatever its headers).
SKIPPED_PREFIXES = ("/static/", "/app/jobs", "/schema", "/login/")

KNOWN_DUAL_MODE = {
    "/app/courses/{course_id:uuid}/status",
    "/app/courses/{course_id:uuid}/contacts",
    "/app/courses/{course_id:uuid}/enrollments",
    "/app/courses/{course_id:uuid}/sync",
    "/app/contacts",
    "/app/sync",
    "/app/reports",
    "/app/reports/exports/{export_id:uuid}",
    "/play/{token:str}/exit/result",
}


@pytest.fixture(scope="module")
async def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with serving_two_tenants(database_url, tmp_path_factory.mktemp("vary")) as built:
        yield built


def shape(response: httpx.Response) -> tuple[int, str | None, bool]:
    """What a cache could confuse: the status, where a redirect leads, and whether it is a whole page."""
    return (
        response.status_code,
        response.headers.get("location"),
        "<html" in response.text[:2000].lower(),
    )


def varies_on_htmx(response: httpx.Response) -> bool:
    return "hx-request" in [v.strip().lower() for v in response.headers.get("vary", "").split(",")]


async def test_every_dual_mode_url_varies_on_hx_request(world: World) -> None:
    owner = world.alpha
    routes = sorted(
        {
            path
            for method, path, _handler in route_table(world.app)
            if method == "GET" and not path.startswith(SKIPPED_PREFIXES)
        }
    )
    dual_mode: set[str] = set()
    missing: list[str] = []
    async with client_for(world.app, cookie=owner.session) as browser:
        for path in routes:
            url = url_for(("GET", path), owner)
            plain = await browser.get(url)
            fragment = await browser.get(url, headers=HX)
            if shape(plain) == shape(fragment):
                continue
            dual_mode.add(path)
            for label, response in (("page", plain), ("htmx", fragment)):
                if not varies_on_htmx(response):
                    missing.append(f"{path} ({label} answer, {response.status_code})")
    assert not missing, f"dual-mode answers without Vary: HX-Request: {missing}"
    assert dual_mode >= KNOWN_DUAL_MODE, f"not found dual-mode any more: {KNOWN_DUAL_MODE - dual_mode}"
