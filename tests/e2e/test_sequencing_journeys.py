"""SCORM 2004 sequencing in the built-in player, in a real Chromium against a real `scormhub serve`:
the Golf sequencing examples driven through their own pages and the player's contents and buttons."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from playwright.async_api import Page, expect
from test_learning_journeys import (
    PACKAGES,
    PlayerWatch,
    _answer_quiz,
    _cell,
    _close_tab,
    _delete_course,
    _email,
    _enroll_new_contact,
    _golf_page,
    _launch,
    _launch_page,
    _row,
    _sign_in,
    _upload,
)

if TYPE_CHECKING:
    from conftest import LiveServer

FORCED = PACKAGES / "SequencingForcedSequential_SCORM20043rdEdition.zip"
POST_TEST = PACKAGES / "SequencingPostTestRollup_SCORM20043rdEdition.zip"
CONTENT = ("Playing the Game", "Etiquette", "Handicapping", "Having Fun")
QUIZ_CORRECT = 5  # of 15: a failing score (33%)


def _current(player: Page) -> object:
    return player.locator('.toc-link[aria-current="step"]')


async def _read_to_the_end(player: Page) -> None:
    """Page through a Golf content SCO with its own Next button; its last page completes it."""
    following = _launch_page(player).get_by_role("button", name="Next ->")
    await expect(following).to_be_visible()
    while await following.is_enabled():
        await following.click()


async def _continue(player: Page, title: str) -> None:
    button = player.locator("#nav-continue")
    await expect(button).to_be_visible()  # shown once the SCO's commit satisfied the rules
    await button.click()
    await expect(_current(player)).to_have_text(title)


async def test_forced_sequential_refuses_a_jump_ahead_and_reopens_where_the_tab_closed(
    page: Page, live_server: LiveServer, console_errors: list[str]
) -> None:
    watch = PlayerWatch()
    watch.attach(page.context)
    await _sign_in(page, live_server)
    course_id = await _upload(page, FORCED)
    email = _email()
    await _enroll_new_contact(page, "Zoë", "Ångström", email)

    player = await _launch(page, email, watch)
    await expect(_current(player)).to_have_text("Playing the Game")
    toc = player.locator("#player-toc")
    await expect(toc.get_by_role("button", name="Handicapping")).to_be_disabled()
    await expect(player.locator("#nav-continue")).to_be_hidden()
    await expect(_golf_page(player).locator("h1")).to_have_text("Play of the game")  # the SCO is running
    # The content asks too: adl.nav.request_valid answers from the server's rules.
    asked = "API_1484_11.GetValue('adl.nav.request_valid.choice.{target=handicapping_item}')"
    answer = await player.evaluate(f"[{asked}, API_1484_11.GetLastError()]")
    assert answer == ["false", "0"]

    await _read_to_the_end(player)
    await _continue(player, "Etiquette")
    await expect(toc.locator('[data-activity="playing_item"] .toc-status')).to_have_text("Passed")
    await expect(_golf_page(player).locator("h1")).to_have_text(re.compile("Etiquette"))
    await _close_tab(player)  # mid-way through Etiquette

    reopened = await _launch(page, email, watch)
    await expect(_current(reopened)).to_have_text("Etiquette")
    await expect(_golf_page(reopened).locator("h1")).to_have_text(re.compile("Etiquette"))
    await reopened.close()

    assert watch.errors == []
    await _delete_course(page, live_server, course_id)
    assert console_errors == []


async def test_the_course_result_follows_the_post_test(
    page: Page, live_server: LiveServer, console_errors: list[str]
) -> None:
    watch = PlayerWatch()
    watch.attach(page.context)
    await _sign_in(page, live_server)
    course_id = await _upload(page, POST_TEST)
    email = _email()
    await _enroll_new_contact(page, "Zoë", "Ångström", email)

    player = await _launch(page, email, watch)
    for title, following in zip(CONTENT, (*CONTENT[1:], "Quiz"), strict=True):
        await expect(_current(player)).to_have_text(title)
        await _read_to_the_end(player)
        await _continue(player, following)
    await _answer_quiz(_golf_page(player), correct=QUIZ_CORRECT)
    await player.locator("#player-exit").click()  # these examples leave exiting to the player

    await expect(player).to_have_url(re.compile(r"/play/[^/]+/exit$"))
    await expect(player.locator("main")).to_contain_text("Completed · Failed · 33%")
    await page.reload()
    row = _row(page, email)
    await expect(_cell(row, "Status")).to_have_text("Completed")
    await expect(_cell(row, "Result")).to_have_text("Failed")

    assert watch.errors == []
    await _delete_course(page, live_server, course_id)
    assert console_errors == []
