"""The Reports journey in a real Chromium against a real `scormhub serve`: filter, then export.

An admin narrows the Reports tab to one course search and a custom date range (the URL follows the filter,
so a reload keeps it), then downloads the CSV, the Excel workbook and the PDF through the page's links. Each
file must hold exactly the rows the filter shows: the records inside the range, none of those just outside
it. The learners are seeded straight into the run's database (enrollments on chosen dates cannot be made
through the app), and removed at the end: later modules expect a workspace without courses.
"""

from __future__ import annotations

import codecs
import csv
import html
import io
import re
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import pytest_asyncio
from playwright.async_api import Download, Page, expect

from pdf_text import read_pdf

if TYPE_CHECKING:  # conftest modules are not imported by tests; the type is for readers and editors
    from conftest import LiveServer

FROM, TO = "2026-03-01", "2026-03-31"


@dataclass(frozen=True)
class Learner:
    name: str
    email: str
    enrolled_at: datetime
    completed: bool = False


@dataclass(frozen=True)
class Seeded:
    tag: str  # in every course title of this test: the course search that selects them
    inside: list[Learner]
    outside: list[Learner]


def _learners(tag: str) -> tuple[list[Learner], list[Learner]]:
    def at(day: str, time: str = "12:00:00") -> datetime:
        return datetime.fromisoformat(f"{day}T{time}+00:00")

    inside = [
        Learner("Ada Lovelace", f"ada-{tag}@example.com", at(FROM, "00:00:00"), completed=True),
        Learner("李小龍", f"lee-{tag}@example.com", at("2026-03-15")),
        Learner("שלום עליכם", f"shalom-{tag}@example.com", at(TO, "23:59:59"), completed=True),
    ]
    outside = [
        Learner("Before Range", f"before-{tag}@example.com", at("2026-02-28", "23:59:59")),
        Learner("After Range", f"after-{tag}@example.com", at("2026-04-01", "00:00:00")),
    ]
    return inside, outside


@pytest_asyncio.fixture(loop_scope="session")
async def seeded(live_server: LiveServer, database_url: str) -> AsyncIterator[Seeded]:
    """Two courses of this test's own, five learners around the range; all removed afterwards."""
    live_server.new_login_url()  # creates the standalone workspace if a truncation removed it
    tag = uuid.uuid4().hex[:8]
    inside, outside = _learners(tag)
    conn = await asyncpg.connect(database_url)
    courses = [uuid.uuid4(), uuid.uuid4()]
    try:
        workspace_id = await conn.fetchval(
            "SELECT id FROM workspace WHERE kind = 'standalone' ORDER BY created_at LIMIT 1"
        )
        now = datetime.now(UTC)
        for number, course_id in enumerate(courses, start=1):
            await conn.execute(
                "INSERT INTO course (id, workspace_id, title, standard, status, engine, package_key, "
                "package_bytes, file_name, self_enroll_token, created_at, updated_at) "
                "VALUES ($1, $2, $3, 'scorm12', 'ready', 'builtin', $4, 1, 'x.zip', $5, $6, $6)",
                course_id,
                workspace_id,
                f"Journey {tag} course {number}",
                str(course_id),
                uuid.uuid4().hex,
                now,
            )
        for i, learner in enumerate([*inside, *outside]):
            await conn.execute(
                "INSERT INTO enrollment (id, workspace_id, course_id, contact_id, learner_name, "
                "learner_email, launch_token, completion, success, score_percent, completed_at, "
                "created_at, updated_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
                uuid.uuid4(),
                workspace_id,
                courses[i % 2],
                uuid.uuid4().hex,
                learner.name,
                learner.email,
                uuid.uuid4().hex,
                "completed" if learner.completed else "in_progress",
                "passed" if learner.completed else "unknown",
                90.0 if learner.completed else None,
                learner.enrolled_at if learner.completed else None,
                learner.enrolled_at,
            )
        yield Seeded(tag, inside, outside)
    finally:
        await conn.execute("DELETE FROM enrollment WHERE course_id = ANY($1::uuid[])", courses)
        await conn.execute("DELETE FROM course WHERE id = ANY($1::uuid[])", courses)
        await conn.close()


async def _download(page: Page, link: str) -> Download:
    async with page.expect_download() as info:
        await page.locator("#learner-records").get_by_role("link", name=link, exact=True).click()
    return await info.value


async def _bytes(download: Download) -> bytes:
    return Path(await download.path()).read_bytes()


def _xlsx_rows(content: bytes) -> list[list[str]]:
    """Rows of the first sheet as text (openpyxl is not installed: read the sheet's XML, where the
    writer's constant_memory mode keeps every string inline)."""
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    rows = []
    for row in re.findall(r"<row [^>]*>(.*?)</row>", sheet):
        cells = re.findall(r'<c r="[A-Z]+\d+"[^>]*?(?:/>|>(.*?)</c>)', row)
        rows.append(
            [html.unescape(m.group(1)) if (m := re.search(r"<t[^>]*>(.*?)</t>", c)) else "" for c in cells]
        )
    return rows


async def test_admin_filters_by_date_range_and_exports_exactly_those_rows(
    page: Page, live_server: LiveServer, seeded: Seeded, console_errors: list[str]
) -> None:
    base = live_server.base_url
    search = f"Journey {seeded.tag}"
    wanted = {learner.email for learner in seeded.inside}
    unwanted = {learner.email for learner in seeded.outside}

    await page.goto(live_server.new_login_url())
    await expect(page).to_have_url(f"{base}/app/courses")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports", exact=True).click()
    await expect(page).to_have_url(f"{base}/app/reports")

    # The filter: a course search, then a custom range. htmx swaps the results and pushes the URL.
    await page.get_by_label("Course", exact=True).fill(search)
    await expect(page).to_have_url(re.compile(rf"q=Journey(%20|\+){seeded.tag}"))
    records = page.locator("#learner-records tbody tr")
    await expect(records).to_have_count(5)
    await page.get_by_label("Enrolled").select_option("custom")
    await page.get_by_label("From", exact=True).fill(FROM)
    await page.get_by_label("To", exact=True).fill(TO)
    await expect(page).to_have_url(re.compile(rf"range=custom&from={FROM}&to={TO}"))
    await expect(records).to_have_count(3)
    await expect(page.locator("#report-results")).to_contain_text(f"Enrolled {FROM} to {TO}")
    for learner in seeded.inside:
        await expect(page.locator("#learner-records")).to_contain_text(learner.email)

    # A reload (or a shared link) keeps the filter.
    await page.reload()
    await expect(page.get_by_label("Course", exact=True)).to_have_value(search)
    await expect(page.get_by_label("From", exact=True)).to_have_value(FROM)
    await expect(records).to_have_count(3)

    csv_file = await _download(page, "CSV")
    assert csv_file.suggested_filename == f"learners_{FROM}_{TO}_UTC.csv"
    content = await _bytes(csv_file)
    assert content.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Learner name", "Email", "Course"]
    assert {row[1] for row in rows[1:]} == wanted
    assert len(rows) == 1 + len(wanted)
    by_email = {row[1]: row for row in rows[1:]}
    assert by_email[f"lee-{seeded.tag}@example.com"][0] == "李小龍"
    assert by_email[f"ada-{seeded.tag}@example.com"][6] == f"{FROM} 00:00:00"

    xlsx_file = await _download(page, "Excel")
    assert xlsx_file.suggested_filename.endswith(".xlsx")
    sheet = _xlsx_rows(await _bytes(xlsx_file))
    assert sheet[0][0] == "Learner name"
    assert {row[1] for row in sheet[1:]} == wanted
    assert len(sheet) == 1 + len(wanted)

    pdf_file = await _download(page, "PDF")
    assert pdf_file.suggested_filename.endswith(".pdf")
    pdf = read_pdf(await _bytes(pdf_file))
    emails = set(re.findall(rf"[a-z]+-{seeded.tag}@example\.com", pdf.text))
    assert emails == wanted
    assert not emails & unwanted
    assert pdf.has("李小龍")
    assert pdf.has("םכילע םולש")  # Hebrew, drawn right to left
    assert pdf.has(f"Enrolled {FROM} to {TO}")
    assert pdf.has("Page 1 of 1")

    assert console_errors == []
