"""Journey 1, end to end in the standalone app: from the printed login link to a verified certificate.

Upload a Golf package, enroll a new contact, take the course to a pass in the built-in player, see the
result in the enrolled table, see what reached the contact (tags, note, training record: written by the
server's own job worker through the outbox), download the certificate and open its verification page.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from playwright.async_api import Page, expect
from test_learning_journeys import (
    BASIC_12,
    GOLF_PAGES,
    MIN_SESSION_S,
    QUIZ_QUESTIONS,
    PlayerWatch,
    _answer_quiz,
    _cell,
    _delete_course,
    _email,
    _enroll_new_contact,
    _expect_golf_page,
    _golf_page,
    _launch,
    _launch_page,
    _next,
    _row,
    _row_action,
    _sign_in,
    _upload,
)

if TYPE_CHECKING:
    from conftest import LiveServer

SYNC_TIMEOUT_MS = 20_000  # the in-process worker syncs and pushes within a second or two; CI is slower


async def test_login_upload_enroll_learn_results_in_the_crm_and_a_verified_certificate(
    page: Page, live_server: LiveServer, console_errors: list[str]
) -> None:
    watch = PlayerWatch()
    watch.attach(page.context)
    await _sign_in(page, live_server)
    course_id = await _upload(page, BASIC_12)
    email = _email()
    await _enroll_new_contact(page, "Grace", "Hopper", email)

    player = await _launch(page, email, watch)
    started = time.monotonic()
    await _expect_golf_page(player, 0)
    await _next(player, len(GOLF_PAGES) - 1)
    await _answer_quiz(_golf_page(player), correct=QUIZ_QUESTIONS)
    if (left := MIN_SESSION_S - (time.monotonic() - started)) > 0:
        await player.wait_for_timeout(left * 1000)
    await _launch_page(player).get_by_role("button", name="Exit").click()
    await expect(player.get_by_role("heading", name="Your progress is saved")).to_be_visible()
    await player.close()

    # The enrolled table shows the result.
    await page.reload()
    row = _row(page, email)
    await expect(_cell(row, "Status")).to_have_text("Completed")
    await expect(_cell(row, "Result")).to_have_text("Passed")
    await expect(_cell(row, "Score")).to_have_text("100%")
    await expect(_cell(row, "Raw")).to_have_text("100.0")

    # The contact book (the CRM of a standalone workspace) got tags, a note and a training record.
    await page.goto(f"{live_server.base_url}/app/contacts?q={email}")
    await page.get_by_role("link", name="Grace Hopper").click()
    tags = page.locator("section", has=page.get_by_role("heading", name="Tags"))
    for tag in ("scorm_completed", "scorm_passed", "scorm_score_90_100"):
        await expect(tags.get_by_text(tag, exact=True)).to_be_visible(timeout=SYNC_TIMEOUT_MS)
    notes = page.locator("section", has=page.get_by_role("heading", name="Notes"))
    await expect(notes.locator("li")).to_have_count(1, timeout=SYNC_TIMEOUT_MS)
    records = page.locator("section", has=page.get_by_role("heading", name="Training records"))
    await expect(records.locator("tbody tr")).to_have_count(1, timeout=SYNC_TIMEOUT_MS)
    await expect(records.locator("tbody tr td").nth(1)).to_have_text("Completed")

    # The certificate: downloaded from the row, then checked on its public verification page.
    await page.goto(f"{live_server.base_url}/app/courses/{course_id}")
    async with page.expect_download() as downloading:
        await (await _row_action(_row(page, email), "Certificate")).click()
    download = await downloading.value
    pdf = await download.path()
    assert pdf is not None
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert download.suggested_filename.endswith(".pdf")

    await (await _row_action(_row(page, email), "Certificate details of Grace Hopper")).click()
    verify_link = page.locator("#certificate-status a[target=_blank]")
    verify_url = await verify_link.get_attribute("href")
    assert verify_url is not None
    public = await page.context.browser.new_context()  # type: ignore[union-attr]
    visitor = await public.new_page()
    await visitor.goto(verify_url)
    await expect(visitor.get_by_role("heading", name="Valid certificate")).to_be_visible()
    await expect(visitor.locator("main")).to_contain_text("Grace Hopper")
    await expect(visitor.locator("main")).not_to_contain_text(email)  # the public page shows no email
    await public.close()

    assert watch.dialogs == []
    assert watch.errors == []
    await _delete_course(page, live_server, course_id)
    assert console_errors == []
