"""Learner journeys through the built-in SCORM player, in a real Chromium against a real `scormhub serve`.

The content is Rustici's Golf examples, driven the way a learner drives them: its own Next/Exit buttons
inside the player's frame (`#sco-frame` > launch page > `#contentFrame`), its quiz form, its "resume?"
question. Each test signs in with its own link, uploads its own course and enrolls its own learner, so
the tests do not depend on one another's order; they share the module's server and workspace (the trial
plan allows 10 registrations), and each deletes its course at the end, since later modules expect none.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from playwright.async_api import BrowserContext, Dialog, FrameLocator, Locator, Page, expect

from shared_packages import PACKAGES as SHARED_PACKAGES

if TYPE_CHECKING:  # conftest modules are not imported by tests; the type is for readers and editors
    from conftest import LiveServer

PACKAGES = SHARED_PACKAGES / "valid"
BASIC_12 = PACKAGES / "RuntimeBasicCalls_SCORM12.zip"
BASIC_2004 = PACKAGES / "RuntimeBasicCalls_SCORM20043rdEdition.zip"
MINIMUM_12 = PACKAGES / "RuntimeMinimumCalls_SCORM12.zip"

COURSE_URL = re.compile(r"/app/courses/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
PLAYER_URL = re.compile(r"/play/[^/?]+(\?sco=[^&]+)?$")
IMPORT_TIMEOUT_MS = 30_000
# The Golf "basic calls" launch page's pages, in its order (shared/launchpage.html, pageArray).
GOLF_PAGES = (
    "Play of the game",
    "Par",
    "Scoring",
    "Other Scoring Systems",
    "The Rules of Golf",
    "Etiquette - Care For the Course",
    "Etiquette - Avoiding Distraction",
    "Etiquette - Playing the Game",
    "Handicapping",
    "Calculating a Handicap",
    "Calculating a Score",
    "Handicaping Example",
    "How to Have Fun Golfing",
    "How to Make Friends on the Golf Course",
    "Knowledge Check",  # the quiz: 15 questions from the four questions.js files
)
QUIZ_QUESTIONS = 15
PLAYING_QUESTIONS = 5  # the first five questions (Playing/questions.js)
# The 1.2 launch page reports session time in whole seconds: a learner faster than this records 0 s.
MIN_SESSION_S = 1.5


@dataclass
class PlayerWatch:
    """What the player tabs of one browser context said: errors, and the dialogs the content showed."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        async def on_dialog(dialog: Dialog) -> None:
            # The Golf content asks with confirm() whether to resume; a learner says yes. Anything else
            # (an alert about a missing API, a failed LMS call) is noted and fails the test below.
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            await dialog.accept()

        context.on("dialog", on_dialog)

    def watch(self, player: Page) -> None:
        def on_console(message: object) -> None:
            if getattr(message, "type", None) == "error":
                where = message.location  # type: ignore[attr-defined]
                self.errors.append(
                    f"console error at {where.get('url')}:{where.get('lineNumber')}: {message.text}"  # type: ignore[attr-defined]
                )

        player.on("console", on_console)
        player.on("pageerror", lambda error: self.errors.append(f"uncaught {error.name}: {error.message}"))


# --- admin side -------------------------------------------------------------------------------------------


async def _sign_in(page: Page, live_server: LiveServer) -> None:
    await page.goto(live_server.new_login_url())
    await expect(page).to_have_url(f"{live_server.base_url}/app/courses")


async def _upload(page: Page, package: Path) -> str:
    """Upload from /app/courses; wait until the course page offers enrollment; return the course id."""
    await page.locator("#package-input").set_input_files(package)
    await expect(page).to_have_url(COURSE_URL, timeout=IMPORT_TIMEOUT_MS)
    # The page reloads itself once the import is done; only then are the enrollment cards there.
    await expect(page.get_by_role("heading", name="Self-enrollment link")).to_be_visible(
        timeout=IMPORT_TIMEOUT_MS
    )
    found = COURSE_URL.search(page.url)
    assert found is not None
    return found.group(1)


async def _enroll_new_contact(page: Page, first: str, last: str, email: str) -> Locator:
    """Enroll someone who is not a contact yet; return their row of the enrolled table."""
    await page.get_by_text("Enroll someone who is not a contact yet").click()
    form = page.locator("#enroll details.new-contact form")
    await form.get_by_label("First name").fill(first)
    await form.get_by_label("Last name").fill(last)
    await form.get_by_label("Email").fill(email)
    await form.get_by_role("button", name="Enroll").click()
    await expect(page.locator("#enrolled").get_by_role("status")).to_have_text(f"{first} {last} is enrolled.")
    row = _row(page, email)
    await expect(row).to_have_count(1)
    await expect(row.locator("td .primary-text").first).to_have_text(f"{first} {last}")
    await expect(_cell(row, "Status")).to_have_text("Not Started")
    return row


async def _delete_course(page: Page, live_server: LiveServer, course_id: str) -> None:
    """Leave the shared workspace as it was found: later modules (test_smoke) expect no courses."""
    await page.goto(f"{live_server.base_url}/app/courses/{course_id}/delete")
    await page.get_by_role("button", name="Delete course").click()
    await expect(page).to_have_url(re.compile(r"/app/courses$"))


def _row(page: Page, email: str) -> Locator:
    return page.locator("#enrolled tbody tr").filter(has=page.get_by_text(email, exact=True))


def _cell(row: Locator, column: str) -> Locator:
    """One figure of a learner's row (Status, Result, Score, Raw, Time, Attempts): the table shows several
    per column, each marked with its data-field."""
    return row.locator(f'[data-field="{column.lower()}"]')


async def _row_action(row: Locator, name: str) -> Locator:
    """A secondary action of a row: open its menu (the ⋯ button), then the item."""
    menu = row.locator("details.row-menu")
    if await menu.get_attribute("open") is None:
        await menu.locator("summary").click()
    return menu.get_by_role("link", name=name, exact=True)


async def _launch(page: Page, email: str, watch: PlayerWatch) -> Page:
    """Click the learner's Launch link; return the player tab it opens."""
    async with page.context.expect_page() as opened:
        await _row(page, email).get_by_role("link", name="Launch").click()
    player = await opened.value
    watch.watch(player)
    await expect(player).to_have_url(PLAYER_URL)
    return player


async def _close_tab(player: Page) -> None:
    """Close the tab as a person does: beforeunload runs (the Golf content suspends there), then pagehide
    (the player's beacon) and unload (the content's Terminate, sent as a beacon by scorm-again)."""
    async with player.expect_event("close"):
        await player.close(run_before_unload=True)


def _commit_log(live_server: LiveServer, player: Page) -> Callable[[], int]:
    """Counts the commits the server has logged for the player's launch link (beacons from a closing tab
    are not reported to Playwright, but the server logs every request)."""
    line = f"POST {urlsplit(player.url).path}/commit "
    return lambda: sum(line in output for output in live_server.output)


async def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout_s:.0f} s for {what}")
        await asyncio.sleep(0.05)


def _email() -> str:
    return f"learner-{uuid.uuid4().hex[:12]}@example.com"


# --- learner side: the Golf launch page -------------------------------------------------------------------


def _launch_page(player: Page) -> FrameLocator:
    return player.frame_locator("#sco-frame")


def _golf_page(player: Page) -> FrameLocator:
    return _launch_page(player).frame_locator("#contentFrame")


async def _expect_golf_page(player: Page, index: int) -> None:
    await expect(_golf_page(player).locator("h1")).to_have_text(GOLF_PAGES[index])


async def _next(player: Page, times: int, start: int = 0) -> None:
    for step in range(start + 1, start + times + 1):
        await _launch_page(player).get_by_role("button", name="Next ->").click()
        await _expect_golf_page(player, step)


async def _answer_quiz(quiz: FrameLocator, *, correct: int) -> None:
    """Answer the first `correct` questions right and the rest wrong, as a learner would (no blanks:
    the quiz counts a blank choice as the first answer)."""
    questions = quiz.locator("#frmTest div.question")
    await expect(questions).to_have_count(QUIZ_QUESTIONS)
    for index in range(QUIZ_QUESTIONS):
        question = questions.nth(index)
        # The quiz marks the right answer's line with the class correctAnswer; a numeric question shows
        # the expected number after its box, "(18)".
        right = question.locator("div.correctAnswer")
        number = right.locator("input[type=text]")
        if await number.count():
            expected = re.search(r"\((\d+)\)", await right.inner_text())
            assert expected is not None, await right.inner_text()
            await number.fill(expected.group(1) if index < correct else str(int(expected.group(1)) + 1))
        elif index < correct:
            await right.locator("input[type=radio]").check()
        else:
            await question.locator("div.answer input[type=radio]").first.check()
    await quiz.get_by_role("button", name="Submit Answers").click()
    await expect(quiz.locator("#test h3").first).to_have_text(
        f"Score: {round(correct * 100 / QUIZ_QUESTIONS)}"
    )


# --- the journeys -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("package", "correct", "result"),
    [
        pytest.param(BASIC_12, QUIZ_QUESTIONS, "Passed", id="scorm12-passed"),
        pytest.param(BASIC_2004, PLAYING_QUESTIONS, "Failed", id="scorm2004-failed"),
    ],
)
async def test_learner_takes_the_course_to_the_quiz_and_the_admin_sees_the_result(
    page: Page,
    live_server: LiveServer,
    console_errors: list[str],
    package: Path,
    correct: int,
    result: str,
) -> None:
    watch = PlayerWatch()
    watch.attach(page.context)
    await _sign_in(page, live_server)
    course_id = await _upload(page, package)
    email = _email()
    await _enroll_new_contact(page, "Zoë", "Ångström", email)

    player = await _launch(page, email, watch)
    started = time.monotonic()
    await _expect_golf_page(player, 0)
    await _next(player, len(GOLF_PAGES) - 1)
    await _answer_quiz(_golf_page(player), correct=correct)
    if (left := MIN_SESSION_S - (time.monotonic() - started)) > 0:
        await player.wait_for_timeout(left * 1000)
    # The quiz page is the last: the content set completed, so Exit finishes without asking.
    await _launch_page(player).get_by_role("button", name="Exit").click()

    await expect(player).to_have_url(re.compile(r"/play/[^/]+/exit$"))
    await expect(player.get_by_role("heading", name="Your progress is saved")).to_be_visible()
    score = round(correct * 100 / QUIZ_QUESTIONS)
    await expect(player.locator("main")).to_contain_text(f"Completed · {result} · {score}%")

    await page.reload()
    row = _row(page, email)
    await expect(_cell(row, "Status")).to_have_text("Completed")
    await expect(_cell(row, "Result")).to_have_text(result)
    await expect(_cell(row, "Score")).to_have_text(f"{score}%")
    await expect(_cell(row, "Raw")).to_have_text(f"{float(score):.1f}")
    await expect(_cell(row, "Time")).to_have_text(re.compile(r"^\d+m \d+s$"))
    assert (await _cell(row, "Time").inner_text()) != "0m 0s"
    await expect(_cell(row, "Attempts")).to_have_text("1")

    assert watch.dialogs == [], f"the content showed dialogs: {watch.dialogs}"
    assert watch.errors == []
    await _delete_course(page, live_server, course_id)
    assert console_errors == []


@pytest.mark.parametrize(
    "package", [pytest.param(BASIC_12, id="scorm12"), pytest.param(BASIC_2004, id="scorm2004")]
)
async def test_a_closed_tab_resumes_where_the_learner_left_off(
    page: Page, live_server: LiveServer, console_errors: list[str], package: Path
) -> None:
    watch = PlayerWatch()
    watch.attach(page.context)
    await _sign_in(page, live_server)
    course_id = await _upload(page, package)
    email = _email()
    await _enroll_new_contact(page, "Zoë", "Ångström", email)

    player = await _launch(page, email, watch)
    await _expect_golf_page(player, 0)
    await _next(player, 3)
    commits = _commit_log(live_server, player)
    assert commits() == 0, "the Golf content commits only when it terminates"
    await _close_tab(player)  # no Exit: the learner just closes the tab

    # The content's beforeunload handler suspends and terminates; scorm-again sends that terminating commit
    # as a beacon. (The player's own pagehide beacon is for content that does not terminate: after a
    # Terminate it stays quiet.)
    await _wait_for(lambda: commits() >= 1, "the content's terminating commit to reach the server")
    await page.reload()
    await expect(_cell(_row(page, email), "Status")).to_have_text("In Progress")
    resumed = await _launch(page, email, watch)
    await _expect_golf_page(resumed, 3)
    assert watch.dialogs == ["confirm: Would you like to resume from where you previously left off?"]
    entry = "API.LMSGetValue('cmi.core.entry')"
    if package == BASIC_2004:
        entry = "API_1484_11.GetValue('cmi.entry')"
    assert await resumed.evaluate(entry) == "resume", "the suspended attempt did not resume"
    # And the content goes on from there.
    await _next(resumed, 1, start=3)
    await resumed.close()

    assert watch.errors == []
    await _delete_course(page, live_server, course_id)
    assert console_errors == []


async def test_a_multi_sco_course_has_a_table_of_contents_and_rolls_up_progress(
    page: Page, live_server: LiveServer, console_errors: list[str]
) -> None:
    watch = PlayerWatch()
    watch.attach(page.context)
    await _sign_in(page, live_server)
    course_id = await _upload(page, MINIMUM_12)
    email = _email()
    await _enroll_new_contact(page, "Zoë", "Ångström", email)

    player = await _launch(page, email, watch)
    toc = player.get_by_role("navigation", name="Course contents").get_by_role("link")
    await expect(toc).to_have_count(18)
    await expect(toc.first).to_have_attribute("aria-current", "true")
    sco = player.frame_locator("#sco-frame")
    await expect(sco.locator("h1")).to_have_text("Play of the game")

    await toc.nth(1).click()
    await expect(player).to_have_url(re.compile(r"\?sco=playing_par_item$"))
    await expect(toc.nth(1)).to_have_attribute("aria-current", "true")
    await expect(sco.locator("h1")).to_have_text("Par")

    await toc.nth(5).click()  # the Playing quiz, a SCO with a launch parameter
    await expect(player).to_have_url(re.compile(r"\?sco=playing_quiz_item$"))
    await expect(sco.locator("h1")).to_have_text("Knowledge Check")
    await expect(sco.locator("#frmTest div.question")).to_have_count(PLAYING_QUESTIONS)

    await page.reload()
    await expect(_cell(_row(page, email), "Status")).to_have_text("In Progress")
    await player.close()

    assert watch.dialogs == [], f"the content showed dialogs: {watch.dialogs}"
    assert watch.errors == []
    await _delete_course(page, live_server, course_id)
    assert console_errors == []
