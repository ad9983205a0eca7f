"""Bulk enrollment in a real Chromium against a real `scormhub serve`: CSV → preview → progress bar → report.

The workspace goes live for the run (200 learners do not fit the trial's 10) and back to trial after,
with its course deleted: later modules share the workspace and expect the trial plan and no courses.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import pytest_asyncio
from playwright.async_api import Page, expect

from shared_packages import PACKAGES

if TYPE_CHECKING:  # conftest modules are not imported by tests; the type is for readers and editors
    from conftest import LiveServer

GOLF = PACKAGES / "valid" / "RuntimeMinimumCalls_SCORM12.zip"
COURSE_URL = re.compile(r"/app/courses/([0-9a-f-]{36})$")
LEARNERS = 200
JOB_TIMEOUT_MS = 120_000


@pytest_asyncio.fixture(loop_scope="session")
async def live_workspace(database_url: str) -> AsyncIterator[None]:
    yield
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE workspace SET plan = 'trial' WHERE kind = 'standalone'")
        await conn.execute("DELETE FROM billing_account WHERE source = 'operator'")
        await conn.execute("DELETE FROM course WHERE title LIKE 'Golf Explained%'")
    finally:
        await conn.close()


async def operator_sets_live_plan(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        workspace_id = await conn.fetchval("SELECT id FROM workspace WHERE kind = 'standalone'")
        await conn.execute(
            "INSERT INTO billing_account (workspace_id, status, plan_id, plan_name, registration_limit, "
            "free_per_cycle, on_trial, source, updated_at) "
            "VALUES ($1, 'live', NULL, 'Live', NULL, 0, false, 'operator', now()) "
            "ON CONFLICT (workspace_id) DO UPDATE SET status = 'live', registration_limit = NULL",
            workspace_id,
        )
        await conn.execute("UPDATE workspace SET plan = 'live' WHERE id = $1", workspace_id)
    finally:
        await conn.close()


def learners_csv(folder: Path) -> Path:
    lines = ["\ufeffFirst name;Last name;Email"]
    lines += [f"Learner{n};Bulk;bulk{n}@example.com" for n in range(LEARNERS)]
    lines += ["Again;Bulk;BULK0@example.com", "=SUM(A1);Bulk;formula@example.com", "No;Mail;not-an-email"]
    path = folder / "learners.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_admin_bulk_enrolls_from_a_csv_and_watches_the_progress_bar_to_the_report(
    page: Page, live_server: LiveServer, live_workspace: None, tmp_path: Path, database_url: str
) -> None:
    base = live_server.base_url
    await page.goto(live_server.new_login_url())
    await expect(page).to_have_url(f"{base}/app/courses")
    # The operator's live plan (`scormhub plan set live`): the CSV holds more learners than a trial's 10.
    await operator_sets_live_plan(database_url)
    await page.goto(f"{base}/app/courses")
    await page.locator("#package-input").set_input_files(GOLF)
    await expect(page).to_have_url(COURSE_URL, timeout=30_000)
    await expect(page.locator("#course-status h2")).to_have_text("Ready", timeout=30_000)

    await page.get_by_role("link", name="Bulk enroll from a CSV").click()
    await page.locator('input[name="file"]').set_input_files(learners_csv(tmp_path))
    await page.locator('form[action$="/bulk/preview"] button').click()

    await expect(page.locator("#to-enroll")).to_have_text(str(LEARNERS))
    await expect(page.locator("#skipped")).to_have_text("3")
    await expect(page.locator("#plan-room")).to_contain_text("any number")
    await expect(page.locator("#bulk-skips")).to_contain_text("The same email as line 2")
    await page.get_by_role("button", name=f"Enroll {LEARNERS} learners").click()

    # The bar shows while the job runs (htmx replaces the card every second), then the report.
    await expect(page.locator("#bulk-progress progress")).to_be_visible()
    await expect(page.locator("#bulk-report")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    await expect(page.locator("#enrolled-count")).to_have_text(str(LEARNERS))
    await expect(page.locator("#bulk-skips")).to_contain_text("like a spreadsheet formula")
    await expect(page.locator("#bulk-skips")).to_contain_text("Enter an email address like name@example.com.")
