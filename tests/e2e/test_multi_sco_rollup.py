"""In Chromium: a SCORM 1.2 course whose SCOs only call LMSInitialize and LMSFinish (the Golf "minimum
calls" example) completes once the learner has opened every SCO, with time and one attempt."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from playwright.async_api import Page, expect
from test_learning_journeys import (
    MINIMUM_12,
    PlayerWatch,
    _cell,
    _close_tab,
    _commit_log,
    _delete_course,
    _email,
    _enroll_new_contact,
    _launch,
    _row,
    _sign_in,
    _upload,
    _wait_for,
)

from scormhub.domain.scorm.archive import validate_package

if TYPE_CHECKING:
    from conftest import LiveServer

# The manifest's SCO items, in outline order.
ITEMS = tuple(sco.identifier for sco in validate_package(MINIMUM_12).scos)


async def test_the_minimum_calls_course_completes_when_every_sco_has_been_visited(
    page: Page, live_server: LiveServer, console_errors: list[str]
) -> None:
    watch = PlayerWatch()
    watch.attach(page.context)
    await _sign_in(page, live_server)
    course_id = await _upload(page, MINIMUM_12)
    email = _email()
    await _enroll_new_contact(page, "Ada", "Lovelace", email)

    player = await _launch(page, email, watch)
    base = player.url.split("?", 1)[0]
    commits = _commit_log(live_server, player)
    await expect(player.frame_locator("#sco-frame").locator("h1")).not_to_have_count(0)
    for item in ITEMS[1:]:
        # The learner opens the next SCO and closes the one before: closing unloads it, it calls
        # LMSFinish without having set a status, and the player sends its final commit. (A tab of its
        # own per SCO: the player leaves for its exit page 300 ms after LMSFinish, which would cut short
        # a navigation in the same tab on a slow server.)
        following = await page.context.new_page()
        watch.watch(following)
        await following.goto(f"{base}?sco={item}")
        await expect(following.frame_locator("#sco-frame").locator("h1")).not_to_have_count(0)
        before = commits()
        await _close_tab(player)
        await _wait_for(lambda before=before: commits() > before, f"the commit of the SCO before {item}")
        player = following
    before = commits()
    await _close_tab(player)
    await _wait_for(lambda: commits() > before, "the last SCO's commit")

    row = _row(page, email)
    for _ in range(50):  # the last commit may still be on its way: reload until the table shows it
        await page.reload()
        if (await _cell(row, "Status").inner_text()).strip() == "Completed":
            break
    await expect(_cell(row, "Status")).to_have_text("Completed")
    await expect(_cell(row, "Time")).not_to_have_text(re.compile(r"^(—|0s)?$"))
    await expect(_cell(row, "Attempts")).to_have_text("1")

    assert watch.dialogs == [], f"the content showed dialogs: {watch.dialogs}"
    assert watch.errors == []
    await _delete_course(page, live_server, course_id)
    assert console_errors == []
