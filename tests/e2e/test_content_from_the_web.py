"""Course content may load what real packages load from the web (issue 19): the Golf 4th-edition example
takes jQuery and jQuery UI from Google's CDN. A stand-in "CDN" runs on another local origin, and the
browser's requests for the CDN's https URLs are answered from it; the content origin's CSP must let the
scripts run (the app's strict CSP would block them and leave the page without jQuery)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.async_api import Page, Route, expect

from conftest import LiveServer
from shared_packages import PACKAGES

GOLF_4TH = PACKAGES / "valid" / "SequencingPostTestRollup4thEd_SCORM20044thEdition.zip"
CDN = "https://ajax.googleapis.com/ajax/libs/"
IMPORT_TIMEOUT_MS = 60_000
COURSE_URL = re.compile(r"/app/courses/([0-9a-f-]{36})$")
# Enough of jQuery for the launch page: `$(…)` with the calls it makes, marked so the test can tell.
STAND_IN = b"""
window.cdnStandIn = (window.cdnStandIn || 0) + 1;
if (!window.jQuery) {
  const wrap = () => ({dialog() { return this; }, val() { return ""; }, ready(f) { f(); return this; }});
  window.jQuery = window.$ = (arg) => (typeof arg === "function" ? (arg(), wrap()) : wrap());
}
"""


class _Cdn(BaseHTTPRequestHandler):
    served: list[str] = []

    def do_GET(self) -> None:
        _Cdn.served.append(self.path)
        self.send_response(200)
        self.send_header("content-type", "text/javascript")
        self.send_header("content-length", str(len(STAND_IN)))
        self.end_headers()
        self.wfile.write(STAND_IN)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def cdn() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Cdn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Cdn.served = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_the_golf_4th_edition_example_loads_its_cdn_scripts_on_the_content_origin(
    page: Page, live_server: LiveServer, cdn: str
) -> None:
    async def from_stand_in(route: Route) -> None:
        # The machine has no internet: the CDN's URL is answered by the local stand-in, over the network.
        answer = await route.fetch(url=cdn + "/" + route.request.url.removeprefix(CDN))
        await route.fulfill(response=answer)

    await page.context.route(CDN + "**", from_stand_in)
    base = live_server.base_url
    await page.goto(live_server.new_login_url())
    await page.locator("#package-input").set_input_files(GOLF_4TH)
    await expect(page).to_have_url(COURSE_URL, timeout=IMPORT_TIMEOUT_MS)
    course_id = COURSE_URL.search(page.url).group(1)  # type: ignore[union-attr]
    status = page.locator("#course-status")
    await expect(status.locator("h2")).to_have_text("Ready", timeout=IMPORT_TIMEOUT_MS)
    async with page.context.expect_page() as opened:
        await status.get_by_role("link", name="Preview").click()
    preview = await opened.value
    frame = preview.frame_locator("#sco-frame")
    await expect(frame.locator("body")).to_be_visible()
    sco = next(f for f in preview.frames if "/content/" in f.url)
    await sco.wait_for_load_state("load")

    assert await sco.evaluate("window.cdnStandIn") == 2, "both CDN scripts ran in the content"
    assert await sco.evaluate("typeof window.jQuery") == "function"
    assert sorted(_Cdn.served) == ["/jquery/1.4.3/jquery.min.js", "/jqueryui/1.8.5/jquery-ui.min.js"]
    confirm = await page.request.get(f"{base}/app/courses/{course_id}/delete")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', await confirm.text())
    assert token is not None
    await page.request.post(
        f"{base}/app/courses/{course_id}/delete", form={"_csrf_token": token.group(1)}, max_redirects=0
    )
