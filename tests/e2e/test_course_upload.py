"""Course upload journeys in a real Chromium against a real `scormhub serve`.

Each test signs in with its own one-time link and brings its own course, so the tests do not depend on
one another's order. They share the module's server and workspace, so courses are found by their id
(the link to /app/courses/<uuid>), never by title alone.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest_asyncio
from playwright.async_api import ConsoleMessage, Dialog, Frame, Page, Request, Response, expect

from shared_packages import PACKAGES

if TYPE_CHECKING:  # conftest modules are not imported by tests; the type is for readers and editors
    from conftest import LiveServer

GOLF_SCORM12 = PACKAGES / "valid" / "RuntimeMinimumCalls_SCORM12.zip"
GOLF_SCORM12_BASIC = PACKAGES / "valid" / "RuntimeBasicCalls_SCORM12.zip"
MISSING_LAUNCH = PACKAGES / "invalid" / "missing_launch_file.zip"

GOLF_TITLE = "Golf Explained - Minimum Run-time Calls"
GOLF_SCO_COUNT = 18
COURSE_URL = re.compile(r"/app/courses/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
UPLOAD_THROUGHPUT = 100 * 1024  # bytes per second: the 355 KB package takes about 3.5 s
IMPORT_TIMEOUT_MS = 30_000
WATCH_ATTEMPTS = 5  # uploads at most, to see a course page while its import is still running
MAX_PACKAGE_MB = 50  # the server's default SCORMHUB_MAX_PACKAGE_MB; the e2e server does not change it

# Records every value the upload bar takes, from inside the page: upload.js sets `bar.value`, which
# reflects into the `value` attribute. A binding call is sent at once, so the last value (100) is
# recorded even though upload.js leaves the page right after it.
WATCH_PROGRESS = """() => {
  const bar = document.querySelector("#upload-panel progress");
  new MutationObserver(() => window.recordProgress(bar.value))
    .observe(bar, {attributes: true, attributeFilter: ["value"]});
}"""


@pytest_asyncio.fixture(loop_scope="session")
async def created(page: Page, live_server: LiveServer) -> AsyncIterator[list[str]]:
    """Ids of the courses a test uploads, deleted afterwards: the run's later e2e modules share the
    workspace, and test_smoke expects an empty Courses page."""
    course_ids: list[str] = []
    yield course_ids
    for course_id in course_ids:
        await _delete_course(page, live_server.base_url, course_id)


async def _delete_course(page: Page, base: str, course_id: str) -> None:
    """Delete through the app's own confirm form (with its CSRF token); a course already gone is fine."""
    confirm = await page.request.get(f"{base}/app/courses/{course_id}/delete")
    if confirm.status == 404:
        return
    assert confirm.ok, f"GET the delete page of {course_id}: HTTP {confirm.status}"
    token = re.search(r'name="_csrf_token" value="([^"]+)"', await confirm.text())
    assert token is not None, "the delete page has no CSRF token"
    deleted = await page.request.post(
        f"{base}/app/courses/{course_id}/delete", form={"_csrf_token": token.group(1)}, max_redirects=0
    )
    assert deleted.status == 303, f"deleting {course_id} answered HTTP {deleted.status}"


def _is_status(url: str) -> bool:
    return urlsplit(url).path.endswith("/status")


async def _sign_in(page: Page, live_server: LiveServer) -> None:
    await page.goto(live_server.new_login_url())
    await expect(page).to_have_url(f"{live_server.base_url}/app/courses")


async def _upload_until_ready(page: Page, package: Path) -> str:
    """Upload `package` from /app/courses without throttling; wait for Ready; return the course id."""
    await page.locator("#package-input").set_input_files(package)
    await expect(page).to_have_url(COURSE_URL, timeout=IMPORT_TIMEOUT_MS)
    await expect(page.locator("#course-status h2")).to_have_text("Ready", timeout=IMPORT_TIMEOUT_MS)
    found = COURSE_URL.search(page.url)
    assert found is not None
    return found.group(1)


async def test_admin_uploads_scorm12_package_and_watches_it_become_ready_without_reloading(
    page: Page, live_server: LiveServer, console_errors: list[str], created: list[str]
) -> None:
    base = live_server.base_url
    await _sign_in(page, live_server)

    # Slow the upload down so the progress bar has something to show on a small package.
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": UPLOAD_THROUGHPUT},
    )
    progress_values: list[int] = []
    await page.expose_function("recordProgress", lambda value: progress_values.append(value))
    await page.evaluate(WATCH_PROGRESS)

    await page.locator("#package-input").set_input_files(GOLF_SCORM12)

    progress = page.locator("#upload-panel .upload-progress")
    await expect(progress).to_be_visible()
    await expect(progress.locator(".upload-file-name")).to_have_text(GOLF_SCORM12.name)
    await expect(page.locator("#upload-panel .drop-zone")).to_be_hidden()
    await expect(page).to_have_url(COURSE_URL, timeout=IMPORT_TIMEOUT_MS)
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    moving = sorted({value for value in progress_values if 0 < value < 100})
    assert len(moving) >= 2, f"the bar should move while uploading; it took the values {progress_values}"
    assert progress_values == sorted(progress_values), f"the bar went backwards: {progress_values}"
    assert progress_values[-1] == 100, f"the bar never reached 100: {progress_values}"

    # The course page, straight after the upload: Importing… until the import job is done, then Ready
    # by itself. The import takes about 0.2 s and can beat the browser to the page; then nothing is
    # left to watch, so upload the package again (a few times at most) to see the card change.
    observed = await _watch_until_ready(page, created)
    for _ in range(WATCH_ATTEMPTS - 1):
        if observed:
            break
        await page.goto(f"{base}/app/courses")
        await page.locator("#package-input").set_input_files(GOLF_SCORM12)
        await expect(page).to_have_url(COURSE_URL, timeout=IMPORT_TIMEOUT_MS)
        observed = await _watch_until_ready(page, created)
    if not observed:
        warnings.warn(
            f"the import beat the browser to the course page {WATCH_ATTEMPTS} times: "
            "Importing… → Ready was not observed in this run",
            stacklevel=1,
        )
    assert created, "the course was uploaded"
    status = page.locator("#course-status")
    await expect(status).to_contain_text("Learners can take this course.")
    await expect(page.get_by_role("heading", name=GOLF_TITLE, level=1)).to_be_visible()
    await expect(page.locator(".page-head")).to_contain_text(f"SCORM 1.2 · {GOLF_SCO_COUNT} SCOs")

    contents = page.locator("section.card").filter(
        has=page.get_by_role("heading", name="Contents", exact=True)
    )
    await expect(contents.locator("ol.sco-list > li")).to_have_count(GOLF_SCO_COUNT)
    await expect(contents.locator("ol.sco-list > li").first).to_have_text("How to Play")
    await expect(contents.locator("ol.sco-list > li").nth(1)).to_have_text("Par")

    # Polling stopped: the final status card htmx swapped in has no trigger left (htmx polls only
    # elements that carry one; asserting on the DOM needs no wait for a request that never comes).
    await expect(status).not_to_have_attribute("hx-trigger", re.compile(".*"))
    await expect(status).not_to_have_attribute("hx-get", re.compile(".*"))

    # Preview opens in a new tab, where the content finds the SCORM API of the player.
    dialogs: list[str] = []
    preview_errors: list[str] = []

    async def on_dialog(dialog: Dialog) -> None:
        # Nothing in this journey should alert: note the dialog, dismiss it so nothing hangs, fail below.
        dialogs.append(f"{dialog.type}: {dialog.message}")
        await dialog.dismiss()

    page.context.on("dialog", on_dialog)

    def on_preview_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            preview_errors.append(f"console error at {message.location.get('url')}: {message.text}")

    async with page.context.expect_page() as new_page_info:
        await status.get_by_role("link", name="Preview").click()
    preview = await new_page_info.value
    preview.on("console", on_preview_console)
    preview.on("pageerror", lambda error: preview_errors.append(f"uncaught {error.name}: {error.message}"))

    # The preview plays on the content origin (another host, without the admin's cookie).
    content = base.replace("//127.0.0.1:", "//localhost:")
    await expect(preview).to_have_url(re.compile(rf"^{re.escape(content)}/play/[\w-]{{43}}$"))
    player = preview.url
    toc = preview.get_by_role("navigation", name="Course contents").get_by_role("link")
    await expect(toc).to_have_count(GOLF_SCO_COUNT)
    await expect(toc.first).to_have_attribute("aria-current", "true")
    frame = preview.frame_locator("#sco-frame")
    await expect(frame.get_by_role("heading", name="Play of the game")).to_be_visible()
    sco = await _sco_frame(preview)
    assert sco.url == f"{player}/content/Playing/Playing.html"
    assert await sco.evaluate("typeof window.parent.API") == "object"
    assert await sco.evaluate("initialized") is True, "LMSInitialize did not succeed in the content"

    await toc.nth(1).click()

    await expect(preview).to_have_url(re.compile(r"/play/[\w-]{43}\?sco=playing_par_item$"))
    await expect(toc.nth(1)).to_have_attribute("aria-current", "true")
    await expect(frame.locator("h1")).not_to_have_text("Play of the game")
    sco = await _sco_frame(preview)
    assert sco.url == f"{player}/content/Playing/Par.html"
    assert await sco.evaluate("typeof window.parent.API") == "object"
    assert await sco.evaluate("initialized") is True, "LMSInitialize did not succeed in the second SCO"

    assert dialogs == [], f"the content showed dialogs: {dialogs}"
    assert preview_errors == []
    assert console_errors == []


async def _watch_until_ready(page: Page, created: list[str]) -> bool:
    """On a course page just reached from the upload, wait for Ready without touching the page.

    While Importing… the card polls /status; when a poll finds the import done, the server answers with
    HX-Refresh and htmx reloads the page once (commit 54efea1, so that enrolling appears with Ready), or
    the card is swapped in place. Either way the admin does nothing, and nothing else loads. Returns
    whether the page was still Importing… when it loaded, i.e. whether the change was seen.
    """
    found = COURSE_URL.search(page.url)
    assert found is not None
    created.append(found.group(1))
    course_url = page.url
    await page.wait_for_load_state("domcontentloaded")
    await page.evaluate("window.__notReloaded = 1")
    documents: list[str] = []
    polls: list[tuple[str, str | None]] = []

    def on_request(request: Request) -> None:
        if request.resource_type == "document":
            documents.append(request.url)

    def on_response(response: Response) -> None:
        if _is_status(response.url):
            polls.append((response.url, response.headers.get("hx-refresh")))

    page.on("request", on_request)
    page.on("response", on_response)
    try:
        title = page.locator("#course-status h2")
        first_status = (await title.inner_text()).strip()
        assert first_status in {"Importing…", "Ready"}, f"unexpected first status {first_status!r}"

        await expect(title).to_have_text("Ready", timeout=IMPORT_TIMEOUT_MS)

        await expect(page).to_have_url(course_url)
        if first_status == "Ready":
            assert documents == [], f"the browser loaded pages on its own: {documents}"
            return False
        assert polls, "the card turned Ready without asking the server"
        if documents:  # the app reloaded the page itself, right after a poll that told it to
            assert documents == [course_url], f"the browser loaded other pages: {documents}"
            assert polls[-1][1] == "true", f"a reload nobody asked for; the polls were {polls}"
        else:  # the card was swapped in place
            assert await page.evaluate("window.__notReloaded") == 1, "the course page reloaded"
        return True
    finally:
        page.remove_listener("request", on_request)
        page.remove_listener("response", on_response)


async def _sco_frame(preview: Page) -> Frame:
    frame = await (await preview.locator("#sco-frame").element_handle()).content_frame()
    assert frame is not None, "the player has no content frame"
    await frame.wait_for_load_state("load")
    return frame


async def test_a_broken_package_is_explained_before_anything_is_imported(
    page: Page, live_server: LiveServer, console_errors: list[str]
) -> None:
    base = live_server.base_url
    await _sign_in(page, live_server)
    before = await page.locator("table.data tbody tr").count()

    await page.locator("#package-input").set_input_files(MISSING_LAUNCH)

    error = page.locator("#upload-panel .inline-error")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text(f"{MISSING_LAUNCH.name} can't be used yet:")
    await expect(error).to_contain_text("LaunchPage.html")
    await expect(error).to_contain_text("upper/lower case")
    await expect(page).to_have_url(f"{base}/app/courses")
    # The panel is ready for another try.
    await expect(page.locator("#upload-panel .drop-zone")).to_be_visible()
    await expect(page.locator("#upload-panel .upload-progress")).to_be_hidden()

    await page.reload()
    await expect(page.get_by_role("heading", name="Courses", exact=True)).to_be_visible()
    await expect(page.locator("table.data tbody tr")).to_have_count(before)
    await expect(page.get_by_text("Invalid test: missing_launch")).to_have_count(0)
    # Chromium logs every HTTP error response as "Failed to load resource", and 422 is the right answer
    # to this upload: that one line is expected, anything else is not.
    rejected = (
        f"console error at {base}/app/courses:0: Failed to load resource: "
        "the server responded with a status of 422 (Unprocessable Entity)"
    )
    assert [error for error in console_errors if error != rejected] == []


async def test_a_file_over_the_size_limit_is_refused_in_the_browser_before_it_is_sent(
    page: Page, live_server: LiveServer, console_errors: list[str], tmp_path: Path
) -> None:
    base = live_server.base_url
    big = tmp_path / "big.zip"
    with big.open("wb") as sparse:
        sparse.truncate((MAX_PACKAGE_MB + 1) * 1024 * 1024)
    await _sign_in(page, live_server)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    await page.locator("#package-input").set_input_files(big)

    error = page.locator("#upload-panel .inline-error")
    await expect(error).to_contain_text(
        f"big.zip is {MAX_PACKAGE_MB + 1}.0 MB; the limit is {MAX_PACKAGE_MB}.0 MB."
    )
    await expect(page.locator("#upload-panel .upload-progress")).to_be_hidden()
    await expect(page.locator("#upload-panel .drop-zone")).to_be_visible()
    # A barrier instead of a wait: the change handler that showed the message has returned, so an upload
    # it started was issued before this fetch, and Playwright reports requests in the order they were sent.
    async with page.expect_request(lambda r: r.url.endswith("/healthz")):
        await page.evaluate("fetch('/healthz')")
    assert posts == [], f"the browser sent {posts}"
    await expect(page).to_have_url(f"{base}/app/courses")
    assert console_errors == []


async def test_deleting_a_course_asks_first(
    page: Page, live_server: LiveServer, console_errors: list[str], created: list[str]
) -> None:
    base = live_server.base_url
    await _sign_in(page, live_server)
    course_id = await _upload_until_ready(page, GOLF_SCORM12_BASIC)
    created.append(course_id)
    title = (await page.get_by_role("heading", level=1).inner_text()).strip()
    course_link = f'table.data a[href="/app/courses/{course_id}"]'
    await page.goto(f"{base}/app/courses")
    await expect(page.locator(course_link)).to_have_text(title)
    await page.locator(course_link).click()
    await expect(page).to_have_url(f"{base}/app/courses/{course_id}")

    await page.get_by_role("link", name="Delete course").click()

    await expect(page).to_have_url(f"{base}/app/courses/{course_id}/delete")
    await expect(page.get_by_role("heading", name=f"Delete “{title}”?")).to_be_visible()
    await expect(page.get_by_role("link", name="Keep it")).to_have_attribute(
        "href", f"/app/courses/{course_id}"
    )

    await page.get_by_role("button", name="Delete course").click()

    await expect(page).to_have_url(re.compile(rf"^{re.escape(base)}/app/courses$"))
    await expect(page.get_by_role("status")).to_have_text(f"“{title}” was deleted.")
    await expect(page.locator(course_link)).to_have_count(0)
    response = await page.request.get(f"{base}/app/courses/{course_id}")
    assert response.status == 404, f"the deleted course still answers HTTP {response.status}"
    assert console_errors == []
