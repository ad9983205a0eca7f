"""Journey: a learner asks the portal for a sign-in link, reads it from the mail server the suite runs,
opens it, sees their two courses and a certificate, and resumes one.

The server sends mail over SMTP (SCORMHUB_SMTP_URL) to a real aiosmtpd server started here; the learner's
browser has none of the admin's cookies.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import asyncpg
import pytest
from playwright.async_api import Page, expect
from test_learning_journeys import (
    BASIC_12,
    MINIMUM_12,
    PLAYER_URL,
    _delete_course,
    _enroll_new_contact,
    _sign_in,
    _upload,
)

from conftest import ACTION_TIMEOUT_MS, serve_app
from learner_rows import complete, issue_certificate
from smtp_server import Mailbox, smtp_server, text_part

if TYPE_CHECKING:
    from conftest import LiveServer

SIGN_IN_LINK = re.compile(r"(http://127\.0\.0\.1:\d+/learn/[0-9a-f-]+/link/[A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, str]]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def mail_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, mailbox: tuple[Mailbox, str]
) -> Iterator[LiveServer]:
    with serve_app(
        database_url,
        tmp_path_factory,
        {"SCORMHUB_SMTP_URL": mailbox[1], "SCORMHUB_MAIL_FROM": "Training <training@acme.test>"},
    ) as server:
        yield server


async def _mail_to(box: Mailbox, email: str, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    while not box.messages_to(email):
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout_s:.0f} s for an email to {email}")
        await asyncio.sleep(0.05)
    return text_part(box.messages_to(email)[-1])


async def test_a_learner_signs_in_with_an_emailed_link_sees_two_courses_and_a_certificate_and_resumes(
    page: Page,
    mail_server: LiveServer,
    mailbox: tuple[Mailbox, str],
    database_url: str,
    console_errors: list[str],
) -> None:
    email = f"learner-{uuid.uuid4().hex[:12]}@example.com"
    await _sign_in(page, mail_server)
    first_id = await _upload(page, BASIC_12)
    first_title = (await page.get_by_role("heading", level=1).text_content() or "").strip()
    await _enroll_new_contact(page, "Eleanor", "Shellstrop", email)
    await page.goto(f"{mail_server.base_url}/app/courses")
    second_id = await _upload(page, MINIMUM_12)
    second_title = (await page.get_by_role("heading", level=1).text_content() or "").strip()
    await _enroll_new_contact(page, "Eleanor", "Shellstrop", email)
    # The first course was completed and its certificate issued (the player journey covers how).
    conn = await asyncpg.connect(database_url)
    try:
        done = await conn.fetchrow(
            "SELECT id, workspace_id FROM enrollment WHERE course_id = $1 AND learner_email = $2",
            uuid.UUID(first_id),
            email,
        )
        await complete(conn, done["id"], await conn.fetchval("SELECT now()"))
    finally:
        await conn.close()
    await issue_certificate(done["workspace_id"], done["id"], datetime.now(UTC))
    await page.goto(f"{mail_server.base_url}/app/settings")
    portal = await page.locator("#learners a[href^='/learn/']").first.get_attribute("href")
    assert portal is not None

    browser = page.context.browser
    assert browser is not None
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    learner = await context.new_page()
    await learner.goto(f"{mail_server.base_url}{portal}")
    await learner.get_by_label("Email").fill(email)
    await learner.get_by_role("button", name="Email me a sign-in link").click()
    await expect(learner.get_by_role("heading", name="Check your email")).to_be_visible()

    found = SIGN_IN_LINK.search(await _mail_to(mailbox[0], email))
    assert found is not None
    await learner.goto(found.group(1))
    await learner.get_by_role("button", name="Continue to my courses").click()

    courses = learner.locator("table.portal-courses tbody tr")
    await expect(courses).to_have_count(2)
    done_row = courses.filter(has_text=first_title)
    open_row = courses.filter(has_text=second_title)
    await expect(done_row.get_by_role("link", name="Certificate")).to_be_visible()
    await expect(done_row).to_contain_text("Completed")
    await expect(open_row).to_contain_text("Not started")

    await open_row.get_by_role("link", name="Launch").click()
    await expect(learner).to_have_url(PLAYER_URL)
    await learner.goto(f"{mail_server.base_url}{portal}")
    await expect(open_row.get_by_role("link", name="Resume")).to_be_visible()
    await open_row.get_by_role("link", name="Resume").click()
    await expect(learner).to_have_url(PLAYER_URL)

    await context.close()
    await _delete_course(page, mail_server, first_id)
    await _delete_course(page, mail_server, second_id)
    assert console_errors == []
