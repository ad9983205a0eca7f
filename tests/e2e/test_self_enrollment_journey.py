"""Journey 2: a learner enrolls themself through the shared link, leaves mid-way, and resumes later.

The learner has no account and none of the admin's cookies. Their browser keeps the proof that it enrolled
(a cookie), which is what finds the enrollment again; another device that only knows the email gets a
review, which plays the course from the start and records nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.async_api import Browser, BrowserContext, Page, expect
from test_learning_journeys import (
    BASIC_12,
    PLAYER_URL,
    PlayerWatch,
    _cell,
    _close_tab,
    _commit_log,
    _delete_course,
    _email,
    _expect_golf_page,
    _next,
    _row,
    _sign_in,
    _upload,
    _wait_for,
)

from conftest import ACTION_TIMEOUT_MS

if TYPE_CHECKING:
    from conftest import LiveServer


async def _browser(browser: Browser, watch: PlayerWatch) -> BrowserContext:
    """A browser of the learner's own: none of the admin's cookies."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    watch.attach(context)
    return context


async def _enroll_through_the_link(
    context: BrowserContext, link: str, email: str, watch: PlayerWatch
) -> Page:
    """The learner's browser opens the link, fills the form and lands in the player."""
    learner = await context.new_page()
    watch.watch(learner)
    await learner.goto(link)
    await learner.get_by_label("First name").fill("Chidi")
    await learner.get_by_label("Last name").fill("Anagonye")
    await learner.get_by_label("Email").fill(email)
    await learner.get_by_role("button", name="Start the course").click()
    await expect(learner).to_have_url(PLAYER_URL)
    return learner


async def test_a_self_enrolled_learner_leaves_mid_way_and_resumes_with_the_same_email(
    page: Page, live_server: LiveServer, console_errors: list[str]
) -> None:
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await _sign_in(page, live_server)
    course_id = await _upload(page, BASIC_12)
    link = await page.locator("#enroll-link").input_value()
    await page.get_by_role("button", name="Copy").click()
    await expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == link
    browser = page.context.browser
    assert browser is not None
    email = _email()
    watch = PlayerWatch()

    own = await _browser(browser, watch)
    learner = await _enroll_through_the_link(own, link, email, watch)
    await _expect_golf_page(learner, 0)
    await _next(learner, 2)
    commits = _commit_log(live_server, learner)
    await _close_tab(learner)
    await _wait_for(lambda: commits() >= 1, "the closing tab's commit to reach the server")

    # Days later, in the same browser: the same link, the same email (in another case).
    again = await _enroll_through_the_link(own, link, email.upper(), watch)
    await _expect_golf_page(again, 2)
    assert watch.dialogs == ["confirm: Would you like to resume from where you previously left off?"]
    assert await again.evaluate("API.LMSGetValue('cmi.core.entry')") == "resume"
    await own.close()

    # Someone on another device who only knows the email: a review from the start, nothing of theirs.
    elsewhere = await _browser(browser, watch)
    review = await _enroll_through_the_link(elsewhere, link, email, watch)
    await _expect_golf_page(review, 0)
    assert await review.evaluate("API.LMSGetValue('cmi.core.entry')") == "ab-initio"
    assert len(watch.dialogs) == 1, "no offer to resume someone else's attempt"
    await elsewhere.close()

    await page.reload()
    row = _row(page, email)
    await expect(row).to_have_count(1)  # one enrollment, found again by email, not a second one
    await expect(_cell(row, "Status")).to_have_text("In Progress")
    assert watch.errors == []
    await _delete_course(page, live_server, course_id)
    assert console_errors == []
