"""A learner answers the Golf quiz in Chromium; the admin's question report shows each question with the
right % correct. The content is Rustici's "advanced run-time calls" Golf example (SCORM 2004 3rd edition),
whose quiz records every answer as a cmi.interaction (id, type, learner_response, correct pattern, result).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from playwright.async_api import Page, expect
from test_learning_journeys import (
    PACKAGES,
    QUIZ_QUESTIONS,
    PlayerWatch,
    _answer_quiz,
    _delete_course,
    _email,
    _enroll_new_contact,
    _golf_page,
    _launch,
    _launch_page,
    _sign_in,
    _upload,
)

if TYPE_CHECKING:
    from conftest import LiveServer

ADVANCED_2004 = PACKAGES / "RunTimeAdvancedCalls_SCORM20043rdEdition.zip"
# The launch page's pages in order (shared/launchpage.html, pageArray): a few are shown twice.
ADVANCED_PAGES = (
    "Play of the game",
    "Par",
    "Scoring",
    "Other Scoring Systems",
    "The Rules of Golf",
    "Etiquette - Care For the Course",
    "Etiquette - Care For the Course",
    "Etiquette - Playing the Game",
    "Handicapping",
    "Calculating a Handicap",
    "Calculating a Score",
    "Calculating a Score",
    "How to Have Fun Golfing",
    "How to Make Friends on the Golf Course",
    "Knowledge Check",
)
CORRECT = 10


async def test_a_golf_quiz_answered_in_the_browser_shows_up_in_the_question_report(
    page: Page, live_server: LiveServer, console_errors: list[str]
) -> None:
    watch = PlayerWatch()
    watch.attach(page.context)
    await _sign_in(page, live_server)
    course_id = await _upload(page, ADVANCED_2004)
    email = _email()
    await _enroll_new_contact(page, "Quinn", "Quiz", email)

    player = await _launch(page, email, watch)
    heading = _golf_page(player).locator("h1")
    await expect(heading).to_have_text(ADVANCED_PAGES[0])
    for title in ADVANCED_PAGES[1:]:
        await _launch_page(player).get_by_role("button", name="Next ->").click()
        await expect(heading).to_have_text(title)
    await _answer_quiz(_golf_page(player), correct=CORRECT)
    await _launch_page(player).get_by_role("button", name="Exit").click()
    await expect(player).to_have_url(re.compile(r"/play/[^/]+/exit$"))

    await page.goto(f"{live_server.base_url}/app/courses/{course_id}/questions")
    rows = page.locator("#questions tbody tr")
    await expect(rows).to_have_count(QUIZ_QUESTIONS)
    await expect(rows.first).to_have_attribute("data-question", re.compile(r"golfsamples\.interactions"))
    # The first ten were answered right, the last five wrong: one learner, so 100% or 0% each.
    await expect(page.locator("#questions td.percent-correct")).to_have_text(
        ["100.0%"] * CORRECT + ["0.0%"] * (QUIZ_QUESTIONS - CORRECT)
    )
    await expect(rows.nth(QUIZ_QUESTIONS - 1).locator("td").nth(3)).not_to_have_text("—")
    await page.get_by_text("Quinn Quiz").click()  # the learner's own answers
    await expect(page.locator("details.learner-answers[open] tbody tr")).to_have_count(QUIZ_QUESTIONS)

    # Not asserted: watch.errors. This content also sets cmi.objectives.n.* for objectives it expects the
    # LMS to seed from its manifest (issue #18, the run-time data model's initialisation); until then
    # scorm-again logs each such call. Its answers, which this test is about, are all recorded.
    await _delete_course(page, live_server, course_id)
    assert console_errors == []
