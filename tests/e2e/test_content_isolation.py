"""A package's script, opened by a signed-in admin, cannot act as that admin (issue 19).

The package below tries what the issue's attacker did: read an admin page, call an admin endpoint (add a
contact, with the admin's cookie if the browser would send it), read the app's cookies, and read an admin
page framed beside it. It writes what it found into its own page, where the test reads it. The admin
opens it the way admins do, with Preview, while signed in; then the app is checked for any change.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

from playwright.async_api import Page, expect

from conftest import LiveServer

IMPORT_TIMEOUT_MS = 60_000
COURSE_URL = re.compile(r"/app/courses/([0-9a-f-]{36})$")

MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="probe" version="1" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="org"><organization identifier="org"><title>Probe course</title>
    <item identifier="item" identifierref="res"><title>Probe</title></item>
  </organization></organizations>
  <resources><resource identifier="res" type="webcontent" adlcp:scormtype="sco" href="index.html">
    <file href="index.html"/></resource></resources>
</manifest>
"""

# Every attempt records what it got; "blocked: …" is the browser (or our server) refusing.
PROBE = """<!doctype html><meta charset="utf-8"><title>Probe</title>
<pre id="findings">running</pre>
<script>
const APP = "__APP__";
const findings = {cookie: document.cookie};
function done() { document.getElementById("findings").textContent = JSON.stringify(findings); }
async function attempt(name, run) {
  try { findings[name] = await run(); } catch (error) { findings[name] = "blocked: " + error.name; }
}
(async () => {
  await attempt("same_origin_admin_page", async () => {
    const answer = await fetch("/app/contacts", {credentials: "include"});
    return answer.status + " " + (await answer.text()).includes("Add a contact");
  });
  await attempt("app_admin_page", async () => {
    const answer = await fetch(APP + "/app/contacts", {credentials: "include"});
    return answer.status + " " + (await answer.text()).slice(0, 200);
  });
  await attempt("app_admin_post", async () => {
    const form = new URLSearchParams(
      {first_name: "Mallory", last_name: "Probe", email: "mallory@example.com"});
    const answer = await fetch(APP + "/app/contacts",
      {method: "POST", body: form, credentials: "include", mode: "no-cors"});
    return "sent (" + answer.type + ")";
  });
  await attempt("app_cookie_via_frame", () => new Promise((resolve) => {
    const frame = document.createElement("iframe");
    frame.src = APP + "/app/contacts";
    frame.onload = () => {
      try {
        const framed = frame.contentDocument;
        resolve("read: " + framed.cookie + framed.body.innerText.slice(0, 100));
      }
      catch (error) { resolve("blocked: " + error.name); }
    };
    document.body.appendChild(frame);
  }));
  await attempt("top_window", async () => String(window.top.location.href));
  done();
})();
</script>
"""


def probe_package(tmp_path: Path, app_url: str) -> Path:
    package = tmp_path / "probe.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("imsmanifest.xml", MANIFEST)
        archive.writestr("index.html", PROBE.replace("__APP__", app_url))
    return package


async def test_a_packages_script_opened_by_a_signed_in_admin_cannot_read_or_act_as_the_admin(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    base = live_server.base_url
    await page.goto(live_server.new_login_url())
    await expect(page).to_have_url(f"{base}/app/courses")
    await page.locator("#package-input").set_input_files(probe_package(tmp_path, base))
    await expect(page).to_have_url(COURSE_URL, timeout=IMPORT_TIMEOUT_MS)
    course_id = COURSE_URL.search(page.url).group(1)  # type: ignore[union-attr]
    status = page.locator("#course-status")
    await expect(status.locator("h2")).to_have_text("Ready", timeout=IMPORT_TIMEOUT_MS)
    admin_cookies = {c["name"] for c in await page.context.cookies(base)}
    assert "scormhub_session" in admin_cookies, "the admin is signed in while the package runs"

    async with page.context.expect_page() as opened:
        await status.get_by_role("link", name="Preview").click()
    preview = await opened.value
    frame = preview.frame_locator("#sco-frame")
    findings_text = frame.locator("#findings")
    await expect(findings_text).not_to_have_text("running")
    findings = json.loads(await findings_text.inner_text())

    assert preview.url.startswith(base.replace("//127.0.0.1:", "//localhost:")), "content has its own origin"
    assert findings["cookie"] == "", "no cookie of the app (nor any other) is readable by the content"
    assert findings["same_origin_admin_page"].startswith("404"), findings
    assert findings["app_admin_page"].startswith("blocked"), findings
    assert findings["app_cookie_via_frame"].startswith("blocked"), findings
    contacts = await page.request.get(f"{base}/app/contacts")
    assert "Mallory" not in await contacts.text(), "the admin endpoint did nothing for the content"
    for denied in (f"/app/courses/{course_id}", "/app/contacts", "/app/settings"):
        answer = await preview.request.get(preview.url.split("/play/")[0] + denied)
        assert answer.status == 404, f"the content origin serves no admin page ({denied})"
    await _delete(page, base, course_id)  # later e2e modules share the workspace


async def _delete(page: Page, base: str, course_id: str) -> None:
    confirm = await page.request.get(f"{base}/app/courses/{course_id}/delete")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', await confirm.text())
    assert token is not None
    deleted = await page.request.post(
        f"{base}/app/courses/{course_id}/delete", form={"_csrf_token": token.group(1)}, max_redirects=0
    )
    assert deleted.status == 303
