"""Smoke journeys in a real Chromium against a real `scormhub serve`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from playwright.async_api import Page, expect

if TYPE_CHECKING:  # conftest modules are not imported by tests; the type is for readers and editors
    from conftest import LiveServer

HTMX_VERSION = "2.0.11"


async def test_admin_opens_printed_login_link_and_lands_on_courses(
    page: Page, live_server: LiveServer
) -> None:
    base = live_server.base_url

    await page.goto(live_server.login_url)

    await expect(page).to_have_url(f"{base}/app/courses")
    await expect(page.get_by_role("heading", name="Courses", exact=True)).to_be_visible()
    await expect(page.get_by_text("Upload your first course")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    for tab in ("Courses", "Reports", "Settings"):
        await expect(nav.get_by_role("link", name=tab, exact=True)).to_be_visible()
    await expect(nav.get_by_role("link", name="Courses", exact=True)).to_have_attribute(
        "aria-current", "page"
    )

    await nav.get_by_role("link", name="Settings", exact=True).click()

    await expect(page).to_have_url(f"{base}/app/settings")
    await expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    await expect(page.get_by_text("Built-in SCORM player")).to_be_visible()

    await page.get_by_role("button", name="Sign out").click()

    await expect(page).to_have_url(f"{base}/signed-out")
    await expect(page.get_by_role("heading", name="Sign in to SCORM Hub")).to_be_visible()

    await page.goto(f"{base}/app/courses")

    await expect(page).to_have_url(f"{base}/signed-out")
    await expect(page.get_by_role("heading", name="Sign in to SCORM Hub")).to_be_visible()


async def test_htmx_loads_and_pages_log_no_console_errors(
    page: Page, live_server: LiveServer, console_errors: list[str]
) -> None:
    base = live_server.base_url

    await page.goto(live_server.new_login_url())

    await expect(page).to_have_url(re.compile(r"/app/courses$"))
    assert await page.evaluate("typeof htmx") == "object"
    version = await page.evaluate("htmx.version")
    assert version.startswith(HTMX_VERSION), f"htmx {version} loaded, expected {HTMX_VERSION}"
    # The other admin pages and the sign-in page share the layout, scripts and CSP: visit them too.
    for path, heading in (("/app/reports", "Reports"), ("/app/settings", "Settings")):
        await page.goto(f"{base}{path}")
        await expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        assert await page.evaluate("typeof htmx") == "object", f"htmx did not load on {path}"
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in to SCORM Hub")).to_be_visible()
    assert console_errors == []


async def test_the_page_icon_loads(page: Page, live_server: LiveServer) -> None:
    """Chromium logs a console error on every page whose icon does not load (checked here, not racily)."""
    await page.goto(f"{live_server.base_url}/signed-out")
    await expect(page.get_by_role("heading", name="Sign in to SCORM Hub")).to_be_visible()

    icon = await page.evaluate(
        """() => document.querySelector('link[rel~="icon"]')?.href
            ?? new URL("/favicon.ico", location.href).href"""
    )

    if not icon.startswith("data:"):
        response = await page.request.get(icon)
        assert response.ok, f"the browser asks for the page icon at {icon} and gets HTTP {response.status}"
