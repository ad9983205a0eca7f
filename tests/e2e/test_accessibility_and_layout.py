"""Every admin and learner page in Chromium at 1280x800: an axe-core audit with no serious or critical
violation, no table wider than its card (every row action visible or in the row's menu), the row menu usable
by keyboard alone with visible focus, and the same pages at 390 px without sideways scrolling.

axe-core is vendored under tests/e2e/vendor (pinned, checksummed). The app's CSP allows only its own
scripts, so the audit runs in a context that bypasses the CSP for the injected script; the pages are
otherwise the real ones of a running `scormhub serve`. A course with learners (one completed, with a
certificate) is seeded into the run's database and removed at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest_asyncio
from PIL import Image
from playwright.async_api import Browser, BrowserContext, Page, expect
from test_learning_journeys import BASIC_12, _sign_in, _upload

from pdf_text import read_pdf

if TYPE_CHECKING:
    from conftest import LiveServer

AXE = next((Path(__file__).parent / "vendor" / "axe-core").glob("axe-*.min.js"))
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SCREENSHOTS = Path("/tmp")


@dataclass(frozen=True)
class Seeded:
    course_id: str
    enroll_token: str
    launch_token: str
    done_enrollment: str
    contact_id: str


async def _seed(database_url: str, course_id: str, tag: str) -> Seeded:
    """Learners on the uploaded course: one completed (certificate), a few in progress, one long name."""
    conn = await asyncpg.connect(database_url)
    try:
        course = await conn.fetchrow(
            "SELECT workspace_id, self_enroll_token FROM course WHERE id = $1", uuid.UUID(course_id)
        )
        now = datetime.now(UTC)
        ids = []
        for i, (name, done) in enumerate(
            [
                ("Ada Lovelace", True),
                ("Grace Hopper", False),
                ("Maximilian-Alexander von Hohenzollern-Sigmaringen", False),
                ("李小龍", True),
            ]
        ):
            enrollment_id = uuid.uuid4()
            ids.append(enrollment_id)
            await conn.execute(
                "INSERT INTO enrollment (id, workspace_id, course_id, contact_id, learner_name, "
                "learner_email, launch_token, completion, success, score_percent, score_raw, "
                "total_seconds, attempts, "
                "first_access_at, last_access_at, completed_at, created_at, updated_at) VALUES "
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 754, 2, $11, $12, $13, $11, $12)",
                enrollment_id,
                course["workspace_id"],
                uuid.UUID(course_id),
                f"contact-{tag}-{i}",
                name,
                f"a-very-long-address-{i}-{tag}@training.example-company.com",
                f"{tag}{i}".ljust(40, "x"),
                "completed" if done else "in_progress",
                "passed" if done else "unknown",
                95.0 if done else None,
                now - timedelta(days=3 + i),
                now - timedelta(hours=i),
                now - timedelta(hours=i) if done else None,
            )
        contact = uuid.uuid4()
        await conn.execute(
            "INSERT INTO contact (id, workspace_id, first_name, last_name, email, tags, created_at) "
            "VALUES ($1, $2, 'Ada', 'Lovelace', $3, '[\"scorm_completed\"]'::jsonb, $4)",
            contact,
            course["workspace_id"],
            f"ada-{tag}@example.com",
            now,
        )
        return Seeded(
            course_id=course_id,
            enroll_token=course["self_enroll_token"],
            launch_token=f"{tag}1".ljust(40, "x"),
            done_enrollment=str(ids[0]),
            contact_id=str(contact),
        )
    finally:
        await conn.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def audited(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A 1280x800 context in which the injected axe script may run (the app's CSP allows only its own)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    context.set_default_timeout(60_000)
    try:
        yield context
    finally:
        await context.close()


async def _axe(page: Page) -> list[str]:
    """Serious and critical violations on the page as it is now, one line each."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = await page.evaluate(
        # The course's own content (in the player's frame) is the customer's, not ours: not audited.
        "async (tags) => await axe.run(document, "
        "{runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'], iframes: false})",
        WCAG,
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


FIT = """() => {
  const problems = [];
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px`);
  for (const table of document.querySelectorAll('main table')) {
    const box = table.getBoundingClientRect();
    const card = (table.closest('.card, section') || document.querySelector('main')).getBoundingClientRect();
    if (box.right > card.right + 1 || box.width > card.width + 1)
      problems.push(`table ${table.className} is ${box.width} px in a ${card.width} px card`);
    let wrap = table.parentElement;
    while (wrap && wrap.tagName !== 'MAIN') {
      if (wrap.scrollWidth > wrap.clientWidth + 1 && getComputedStyle(wrap).overflowX !== 'visible')
        problems.push(`${wrap.className || wrap.tagName} around table ${table.className} scrolls sideways`);
      wrap = wrap.parentElement;
    }
    for (const el of table.querySelectorAll('tbody a, tbody button, tbody summary')) {
      if (el.closest('details.row-menu:not([open]) ul')) continue;  // in a closed row menu: reachable by it
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.right > card.right + 1 || r.left < card.left - 1)
        problems.push(`"${el.textContent.trim().slice(0, 30)}" in ${table.className} is cut off`);
    }
  }
  return problems;
}"""


async def _visit(page: Page, url: str, problems: list[str], *, fit: bool = True) -> None:
    """Open `url`; add what is wrong with it to `problems` (all pages are checked before failing)."""
    response = await page.goto(url)
    assert response is not None
    if response.status >= 500:
        problems.append(f"{url}: {response.status}")
    problems.extend(f"{url}: {violation}" for violation in await _axe(page))
    if fit:
        problems.extend(f"{url}: {problem}" for problem in await page.evaluate(FIT))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def seeded_course(
    audited: BrowserContext, live_server: LiveServer, database_url: str
) -> AsyncIterator[tuple[Page, Seeded]]:
    page = await audited.new_page()
    await _sign_in(page, live_server)
    course_id = await _upload(page, BASIC_12)
    seeded = await _seed(database_url, course_id, uuid.uuid4().hex[:8])
    try:
        yield page, seeded
    finally:
        await page.goto(f"{live_server.base_url}/app/courses/{course_id}/delete")
        await page.get_by_role("button", name="Delete course").click()
        await expect(page).to_have_url(f"{live_server.base_url}/app/courses")


async def test_every_admin_and_learner_page_passes_axe_and_every_table_fits_at_1280(
    seeded_course: tuple[Page, Seeded], live_server: LiveServer, audited: BrowserContext, tmp_path: Path
) -> None:
    page, s = seeded_course
    base = live_server.base_url
    course = f"{base}/app/courses/{s.course_id}"

    # The certificate exists once downloaded (the first render loads the PDF library: allow it time);
    # its details page and public verification page follow.
    pdf = await page.request.get(f"{base}/app/enrollments/{s.done_enrollment}/certificate", timeout=180_000)
    assert pdf.ok
    assert (await pdf.body()).startswith(b"%PDF")
    await page.goto(f"{base}/app/enrollments/{s.done_enrollment}/certificate/details")
    verify_url = await page.locator("#certificate-status a[target=_blank]").get_attribute("href")
    assert verify_url

    problems: list[str] = []
    for url in (
        f"{base}/app/courses",
        f"{base}/app/courses?q=RuntimeBasic&sort=title",
        course,
        f"{course}?q=ada",
        f"{course}/delete",
        f"{base}/app/contacts",
        f"{base}/app/reports",
        f"{base}/app/settings",
        f"{base}/app/settings/branding",
        f"{base}/app/sync",
        f"{base}/app/sync?enrollment={s.done_enrollment}",
        f"{base}/app/enrollments/{s.done_enrollment}/certificate/details",
    ):
        await _visit(page, url, problems)
    await _visit(page, f"{base}/app/contacts/{s.contact_id}", problems)
    await page.goto(course)
    await page.screenshot(path=str(SCREENSHOTS / "ux-course.png"), full_page=True)
    await page.goto(f"{base}/app/reports")
    await page.screenshot(path=str(SCREENSHOTS / "ux-reports.png"), full_page=True)

    # A rebrand, through the form (the colour picker keeps the text field in step): learner pages take the
    # new look, while the certificate issued before keeps the one it was issued with, on its public page
    # and on its PDF downloaded again.
    issued_by = await page.evaluate("document.querySelector('.workspace-name').textContent.trim()")
    await page.goto(f"{base}/app/settings/branding")
    await page.get_by_label("Organization name").fill("Acme Golf Academy")
    await page.locator("[data-colour-picker]").fill("#0f766e")
    await expect(page.locator("[data-colour-text]")).to_have_value("#0F766E")
    await expect(page.locator("[data-preview-name]").first).to_have_text("Acme Golf Academy")
    logo = tmp_path / "logo.png"
    Image.new("RGB", (180, 48), (15, 118, 110)).save(logo)
    await page.locator("input[name=logo_file]").set_input_files(logo)
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")
    public = await audited.new_page()
    await public.goto(verify_url)
    await expect(public.locator("main")).to_contain_text(issued_by)
    await expect(public.locator("main")).not_to_contain_text("Acme Golf Academy")
    await public.close()
    again = await page.request.get(f"{base}/app/enrollments/{s.done_enrollment}/certificate", timeout=180_000)
    text = read_pdf(await again.body()).text
    assert issued_by in text
    assert "Acme Golf Academy" not in text
    assert "a-very-long-address-0-" in text  # the learner's email is on the certificate

    # Learner pages, each in a page of its own (the player navigates by itself when left).
    for url in (
        f"{base}/enroll/{s.enroll_token}",
        f"{base}/enroll/no-such-course-link",
        f"{base}/play/{s.launch_token}",
        f"{base}/play/{s.launch_token}/exit",
        verify_url,
    ):
        learner = await audited.new_page()
        await _visit(learner, url, problems, fit=False)
        if "/enroll/" in url and "no-such" not in url:
            await expect(learner.locator(".learner-brand img")).to_have_attribute("alt", "Acme Golf Academy")
            await learner.screenshot(path=str(SCREENSHOTS / "ux-learner.png"))
        await learner.close()

    # The signed-out page.
    signed_out = await audited.browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)  # type: ignore[union-attr]
    try:
        stranger = await signed_out.new_page()
        await _visit(stranger, f"{base}/app/courses", problems, fit=False)
        await expect(stranger.locator("main")).not_to_contain_text("`")
    finally:
        await signed_out.close()
    assert problems == [], "\n".join(problems)


async def test_the_row_menu_works_by_keyboard_alone_with_visible_focus(
    seeded_course: tuple[Page, Seeded], live_server: LiveServer
) -> None:
    page, s = seeded_course
    await page.goto(f"{live_server.base_url}/app/courses/{s.course_id}?sort=name")
    row = page.locator("#enrolled tbody tr").filter(has_text="Ada Lovelace")
    launch = row.get_by_role("link", name="Launch")
    menu = row.locator("details.row-menu")

    await launch.focus()
    await page.keyboard.press("Tab")
    summary = menu.locator("summary")
    await expect(summary).to_be_focused()
    assert await _outline(page) != "none", "the menu button shows no focus"
    await page.keyboard.press("Enter")
    await expect(menu).to_have_attribute("open", "")
    for name in ("Certificate", "Certificate details", "Sync", "Sync log", "Remove"):
        await expect(menu.get_by_text(name, exact=True)).to_be_visible()
    await page.keyboard.press("Tab")
    await expect(menu.get_by_role("link", name="Certificate", exact=True)).to_be_focused()
    assert await _outline(page) != "none", "the first menu item shows no focus"
    await page.keyboard.press("Escape")
    await expect(menu).not_to_have_attribute("open", "")
    await expect(summary).to_be_focused()

    # Enter on "Sync log" opens that learner's log, and the navigation stays on Courses.
    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")
    for _ in range(3):
        await page.keyboard.press("Tab")
    await expect(menu.get_by_role("link", name="Sync log")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Sync log: Ada Lovelace")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Courses", exact=True)).to_have_attribute(
        "aria-current", "page"
    )


WIDER_THAN_SCREEN = """() => [...document.querySelectorAll('body *')]
  .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
  .slice(-5).map((el) => `${el.tagName}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`)"""


async def _outline(page: Page) -> str:
    style: str = await page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement); "
        "return s.outlineStyle === 'none' || s.outlineWidth === '0px' ? 'none' : s.outlineStyle; }"
    )
    return style


async def test_the_same_pages_read_on_a_phone_without_sideways_scrolling(
    seeded_course: tuple[Page, Seeded], live_server: LiveServer
) -> None:
    page, s = seeded_course
    await page.set_viewport_size({"width": 390, "height": 844})
    try:
        for path in (
            "/app/courses",
            f"/app/courses/{s.course_id}",
            "/app/contacts",
            "/app/reports",
            "/app/sync",
        ):
            await page.goto(live_server.base_url + path)
            width = await page.evaluate("document.documentElement.scrollWidth")
            wide = await page.evaluate(WIDER_THAN_SCREEN)
            assert width <= 390, f"{path} is {width} px wide at 390: {wide}"
    finally:
        await page.set_viewport_size({"width": 1280, "height": 800})
