"""Journey 4: the admin pages inside HighLevel's iframe, signed in by SSO, with third-party cookies blocked.

The parent page is a stand-in for HighLevel on another site (127.0.0.1 frames localhost): it answers the
iframe's REQUEST_USER_DATA with a payload the test encrypted with the app's shared secret, as HighLevel
does. Every Set-Cookie the app sends into the frame is dropped on the way, so the only way the pages
can work is the session token the page keeps in memory and sends as a header.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import pytest
from playwright.async_api import Frame, Page, Request, Route, expect

from conftest import E2E_SECRET_KEY, LiveServer, serve_app
from highlevel_sso import encrypt_sso
from scormhub.integrations.crypto import SecretBox

SSO_KEY = "e2e-highlevel-shared-secret"
LOCATION = "e2eLocation0000000001"
ATTACKER_LOCATION = "e2eLocation0000000666"
USER = {
    "userId": "e2eUser000000000001",
    "companyId": "e2eCompany00000001",
    "role": "admin",
    "type": "location",
    "userName": "Ada Admin",
    "email": "ada@example.com",
    "activeLocation": LOCATION,
}


class _ParentPage(http.server.BaseHTTPRequestHandler):
    """HighLevel's side: a page framing SCORM Hub that answers REQUEST_USER_DATA like the CRM does.

    With `siblings`, it also frames other pages next to the app (any site can be framed in the CRM:
    widgets, other apps). When the app asks for the user, each sibling first posts a sign-in message of
    its own to the app's frame, and only once every sibling has said it did so does the parent answer:
    the forged messages are the first the app receives.
    """

    frame_url = ""
    payload = ""
    siblings: tuple[str, ...] = ()

    def do_GET(self) -> None:
        if self.path.startswith("/sibling"):
            self._send(_SIBLING_PAGE)
            return
        frames = "".join(f'<iframe class="sibling" src="{url}"></iframe>' for url in self.siblings)
        body = f"""<!doctype html><title>CRM</title>
<h1>Fake CRM</h1>
<iframe id="app" src="{self.frame_url}" style="width:1200px;height:700px"></iframe>
{frames}
<script>
// Siblings say they are ready; once the app has asked too, each forges its message, then the CRM answers.
const siblings = [...document.querySelectorAll("iframe.sibling")].map((frame) => frame.contentWindow);
const reply = {{message: "REQUEST_USER_DATA_RESPONSE", payload: {self.payload!r}}};
let asker = null, ready = 0, forged = 0, started = false;
const step = () => {{
  if (!asker || ready < siblings.length || started) return;
  started = true;
  if (!siblings.length) asker.postMessage(reply, "*");
  siblings.forEach((sibling) => sibling.postMessage({{message: "FORGE"}}, "*"));
}};
window.addEventListener("message", (event) => {{
  const message = event.data && event.data.message;
  if (message === "REQUEST_USER_DATA") {{ asker = event.source; step(); }}
  if (message === "READY") {{ ready += 1; step(); }}
  if (message === "FORGED" && ++forged === siblings.length) asker.postMessage(reply, "*");
}});
</script>"""
        self._send(body)

    def _send(self, text: str) -> None:
        body = text.encode()
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


# A page next to the app in the CRM: told to, it posts a sign-in message (with a payload for another
# location, as an attacker who has their own HighLevel account could) straight to the app's frame.
_SIBLING_PAGE = """<!doctype html><title>Widget</title><script>
window.addEventListener("message", (event) => {
  if (event.data && event.data.message === "FORGE") {
    const forged = new URLSearchParams(location.search).get("payload");
    window.parent.frames[0].postMessage({message: "REQUEST_USER_DATA_RESPONSE", payload: forged}, "*");
    window.parent.postMessage({message: "FORGED"}, "*");
  }
});
window.parent.postMessage({message: "READY"}, "*");
</script>"""


@pytest.fixture(scope="module")
def parent() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ParentPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def foreign() -> Iterator[http.server.ThreadingHTTPServer]:
    """Another site than the CRM's (another port is another origin)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ParentPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def embedded_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, parent: http.server.ThreadingHTTPServer
) -> Iterator[LiveServer]:
    parent_origin = f"http://127.0.0.1:{parent.server_address[1]}"
    with serve_app(
        database_url,
        tmp_path_factory,
        {
            "HIGHLEVEL_CLIENT_ID": "e2eapp-suffix",
            "HIGHLEVEL_CLIENT_SECRET": "e2e-client-secret",
            "HIGHLEVEL_SSO_KEY": SSO_KEY,
            # Nothing listens there: calls to HighLevel fail fast, and the pages must say so and go on.
            "HIGHLEVEL_API_URL": "http://127.0.0.1:9",
            "SCORMHUB_FRAME_ANCESTORS": f"'self' {parent_origin}",
            # The CRM frames the app as localhost (another site than the parent's 127.0.0.1), which is the
            # development default's content origin: content goes elsewhere (these journeys play nothing).
            "SCORMHUB_CONTENT_URL": "http://content.invalid",
        },
    ) as server:
        yield server


async def installed_location(
    database_url: str, *, location: str = LOCATION, name: str = "Acme Training"
) -> uuid.UUID:
    """A location that installed the app (what the OAuth callback stores), with a current token."""
    workspace_id = uuid.uuid4()
    box = SecretBox(E2E_SECRET_KEY)
    now = datetime.now(UTC)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO workspace (id, name, kind, plan, engine, crm, crm_location_id, created_at, "
            "sync_tags, sync_notes, sync_records) VALUES ($1, $4, 'highlevel', 'trial', "
            "'builtin', 'highlevel', $2, $3, true, true, true)",
            workspace_id,
            location,
            now,
            name,
        )
        await conn.execute(
            "INSERT INTO crm_connection (workspace_id, location_id, company_id, access_token_enc, "
            "refresh_token_enc, expires_at, scope, installer_user_id, status, provisioned, installed_at, "
            "updated_at) VALUES ($1, $2, 'e2eCompany00000001', $3, $4, $5, '', 'e2eUser000000000001', "
            "'connected', '{}'::jsonb, $6, $6)",
            workspace_id,
            location,
            box.encrypt("e2e-access-token"),
            box.encrypt("e2e-refresh-token"),
            now + timedelta(hours=20),
            now,
        )
    finally:
        await conn.close()
    return workspace_id


async def block_cookies(page: Page, app_origin: str) -> list[str]:
    """Drop every Set-Cookie the app sends (the browser's third-party cookie blocking, made certain).

    The requests are made here, not with route.fetch(), which would store the cookies in the
    browser context on its own.
    """
    dropped: list[str] = []

    async def strip(route: Route) -> None:
        request = route.request
        headers = {k: v for k, v in (await request.all_headers()).items() if not k.startswith(":")}
        async with httpx.AsyncClient() as client:
            response = await client.request(
                request.method, request.url, headers=headers, content=request.post_data_buffer
            )
        kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "set-cookie"]
        if len(kept) != len(response.headers.multi_items()):
            dropped.append(request.url)
        forwarded = {k: v for k, v in kept if k.lower() not in ("content-encoding", "content-length")}
        await route.fulfill(status=response.status_code, headers=forwarded, body=response.content)

    await page.context.route(f"{app_origin}/**", strip)
    return dropped


async def app_frame(page: Page) -> Frame:
    for _ in range(100):
        frame = next((f for f in page.frames if "localhost" in f.url), None)
        if frame is not None:
            return frame
        await asyncio.sleep(0.05)
    raise AssertionError(f"the app's frame never appeared: {[f.url for f in page.frames]}")


async def test_the_admin_pages_work_inside_the_crm_iframe_with_cookies_blocked(
    page: Page,
    console_errors: list[str],
    embedded_server: LiveServer,
    parent: http.server.ThreadingHTTPServer,
    db: str,
) -> None:
    await installed_location(db)
    app_port = embedded_server.base_url.rsplit(":", 1)[1]
    app_origin = f"http://localhost:{app_port}"  # another site than the parent's 127.0.0.1
    _ParentPage.frame_url = f"{app_origin}/hl"
    _ParentPage.payload = encrypt_sso(USER, SSO_KEY)
    dropped = await block_cookies(page, app_origin)

    await page.goto(f"http://127.0.0.1:{parent.server_address[1]}/")
    frame = await app_frame(page)

    # SSO ran: the Courses page is showing inside the frame, loaded with the header token.
    await expect(frame.get_by_role("heading", name="Courses")).to_be_visible()
    assert dropped, "the app set cookies, and the test dropped them"
    assert await page.context.cookies(app_origin) == []

    # Plain navigation inside the frame keeps working (boosted links carry the header).
    await frame.get_by_role("link", name="Settings").click()
    await expect(frame.get_by_role("heading", name="HighLevel")).to_be_visible()
    await expect(frame.locator("#highlevel .badge")).to_have_text("Connected")

    # A form post works without any CSRF cookie: the header session cannot be forged cross-site.
    await frame.locator("#crm input[name=sync_notes]").uncheck()
    await frame.locator("#crm button[type=submit]").click()
    await expect(frame.locator("#crm .notice")).to_have_text("Saved.")
    await expect(frame.locator("#crm input[name=sync_notes]")).not_to_be_checked()

    await frame.get_by_role("link", name="Contacts").click()
    await expect(frame.get_by_text("Learners are your HighLevel contacts")).to_be_visible()
    assert console_errors == []


async def test_a_location_without_an_installation_is_offered_install_not_a_loop(
    page: Page,
    embedded_server: LiveServer,
    parent: http.server.ThreadingHTTPServer,
    db: str,
) -> None:
    app_port = embedded_server.base_url.rsplit(":", 1)[1]
    app_origin = f"http://localhost:{app_port}"
    _ParentPage.frame_url = f"{app_origin}/hl"
    _ParentPage.payload = encrypt_sso({**USER, "activeLocation": "a-location-that-never-installed"}, SSO_KEY)
    await block_cookies(page, app_origin)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    await page.goto(f"http://127.0.0.1:{parent.server_address[1]}/")
    frame = await app_frame(page)

    await expect(frame.get_by_role("link", name="Install SCORM Hub")).to_be_visible()
    await expect(frame.get_by_text("not installed in this location")).to_be_visible()
    await asyncio.sleep(1)  # a loop would keep requesting the sign-in page
    assert sum(url.endswith("/hl") for url in requests) == 1
    assert sum(url.endswith("/sso/highlevel") for url in requests) == 1


async def test_sign_in_messages_from_frames_other_than_the_crm_page_are_ignored(
    page: Page,
    console_errors: list[str],
    embedded_server: LiveServer,
    parent: http.server.ThreadingHTTPServer,
    foreign: http.server.ThreadingHTTPServer,
    db: str,
) -> None:
    await installed_location(db)
    await installed_location(db, location=ATTACKER_LOCATION, name="Mallory Ltd")
    app_port = embedded_server.base_url.rsplit(":", 1)[1]
    app_origin = f"http://localhost:{app_port}"
    forged = encrypt_sso({**USER, "activeLocation": ATTACKER_LOCATION}, SSO_KEY)
    real = encrypt_sso(USER, SSO_KEY)
    query = urlencode({"payload": forged})
    _ParentPage.frame_url = f"{app_origin}/hl"
    _ParentPage.payload = real
    _ParentPage.siblings = (
        # A frame of another site, not among the CRM origins the app accepts.
        f"http://127.0.0.1:{foreign.server_address[1]}/sibling?{query}",
        # A frame of the CRM's own origin that is not the CRM page framing the app.
        f"http://127.0.0.1:{parent.server_address[1]}/sibling?{query}",
    )
    posted: list[str] = []

    def record(request: Request) -> None:
        if request.url.endswith("/sso/highlevel"):
            posted.append(request.post_data or "")

    page.on("request", record)
    try:
        await page.goto(f"http://127.0.0.1:{parent.server_address[1]}/")
        frame = await app_frame(page)

        await expect(frame.get_by_role("heading", name="Courses")).to_be_visible()
    finally:
        _ParentPage.siblings = ()
    assert [json.loads(body)["payload"] for body in posted] == [real]
    await frame.get_by_role("link", name="Settings").click()
    await expect(frame.locator("#highlevel")).to_contain_text(LOCATION)
    assert console_errors == []
