"""The Reports tab over HTTP: dashboard, filters in the URL, exports, bad input, and Settings → Branding."""

from __future__ import annotations

import codecs
import csv
import html
import io
import json
import os
import re
import subprocess
import sys
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import respx
from litestar import Litestar
from PIL import Image

from appserver import csrf_of
from pdf_text import PdfText, read_pdf
from scormhub.domain.branding import MAX_LOGO_BYTES
from scormhub.domain.model import Branding
from scormhub.integrations import branding as branding_store
from scormhub.integrations.db.tables import CourseRow, EnrollmentRow, WorkspaceRow
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.jobs.reports import export_report
from scormhub.routes import exports as export_routes

EVIL = '=HYPERLINK("http://evil.example","click")'
NOW = datetime.now(UTC)


async def standalone_id() -> UUID:
    async with PiccoloUnitOfWork() as uow:
        workspace = await uow.workspaces.get_standalone()
    assert workspace is not None
    return workspace.id


async def add_course(workspace_id: UUID, title: str) -> UUID:
    course_id = uuid.uuid4()
    await CourseRow.insert(
        CourseRow(
            id=course_id,
            workspace_id=workspace_id,
            title=title,
            standard="scorm12",
            status="ready",
            engine="builtin",
            package_key=str(course_id),
            package_bytes=1,
            file_name="x.zip",
            self_enroll_token=uuid.uuid4().hex,
            created_at=NOW,
            updated_at=NOW,
        )
    )
    return course_id


async def add_enrollment(
    workspace_id: UUID,
    course_id: UUID,
    name: str,
    *,
    days_ago: int = 1,
    completed: bool = False,
    score: float | None = None,
) -> None:
    created = NOW - timedelta(days=days_ago)
    await EnrollmentRow.insert(
        EnrollmentRow(
            id=uuid.uuid4(),
            workspace_id=workspace_id,
            course_id=course_id,
            contact_id=uuid.uuid4().hex,
            learner_name=name,
            learner_email=f"{uuid.uuid4().hex[:6]}@example.com",
            launch_token=uuid.uuid4().hex,
            completion="completed" if completed else "in_progress",
            success="passed" if completed else "unknown",
            score_percent=score,
            completed_at=created + timedelta(hours=2) if completed else None,
            created_at=created,
            updated_at=created,
        )
    )


@pytest.fixture
async def seeded(admin: httpx.AsyncClient) -> dict[str, Any]:
    """Two courses here (five learners, odd names), and another workspace's data that must never show."""
    workspace_id = await standalone_id()
    golf = await add_course(workspace_id, "Golf Basics")
    safety = await add_course(workspace_id, "Fire Safety")
    await add_enrollment(workspace_id, golf, "Zażółć Gęślą 😀", completed=True, score=90)
    await add_enrollment(workspace_id, golf, "שלום עליכם", completed=True, score=70, days_ago=3)
    await add_enrollment(workspace_id, golf, EVIL, days_ago=40)
    await add_enrollment(workspace_id, safety, "Ada Lovelace 李小龍", days_ago=2)
    await add_enrollment(workspace_id, safety, "Old Timer", completed=True, score=50, days_ago=400)
    other = uuid.uuid4()
    await WorkspaceRow.insert(WorkspaceRow(id=other, name="Other", kind="location", created_at=NOW))
    secret = await add_course(other, "Secret Course of Other")
    await add_enrollment(other, secret, "Mallory Other", completed=True, score=100)
    return {"workspace_id": workspace_id, "golf": golf}


def pdf_text(pdf: bytes) -> PdfText:
    assert pdf.startswith(b"%PDF")
    return read_pdf(pdf)


def xlsx_names(body: bytes) -> set[str]:
    """The first column of every row but the header (inline strings, as constant_memory writes them)."""
    with zipfile.ZipFile(io.BytesIO(body)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    cells = re.findall(r'<c r="A(\d+)"[^>]*t="inlineStr"><is><t[^>]*>(.*?)</t></is></c>', sheet)
    return {html.unescape(text) for number, text in cells if number != "1"}


def csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


# --- dashboard ----------------------------------------------------------------------------------------


async def test_dashboard_shows_totals_per_course_figures_and_records_of_this_workspace_only(
    admin: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    response = await admin.get("/app/reports")
    assert response.status_code == 200
    page = response.text
    assert "Golf Basics" in page
    assert "Fire Safety" in page
    assert "Secret Course of Other" not in page
    assert "Mallory" not in page
    assert "Zażółć Gęślą 😀" in page
    assert "שלום עליכם" in page
    # Totals: 2 courses, 5 enrollments, 3 completions, 60 %.
    assert "<strong>5</strong>" in page
    assert "<strong>3</strong>" in page
    assert "60%" in page
    # Golf: 3 enrolled, 2 completed, 67 %, average 80.0.
    assert "67%" in page
    assert "80.0" in page
    assert "<svg" in page
    assert "<rect" in page
    # Autoescaped: the formula is text, and no markup can be injected.
    assert "=HYPERLINK(&#34;http://evil.example&#34;" in page or "=HYPERLINK(&quot;" in page


async def test_filter_by_course_name_and_preset(admin: httpx.AsyncClient, seeded: dict[str, Any]) -> None:
    page = (await admin.get("/app/reports", params={"q": "golf", "range": "7d"})).text
    assert "Golf Basics" in page
    assert "Fire Safety" not in page
    assert "Zażółć" in page
    assert "שלום" in page
    assert "HYPERLINK" not in page  # enrolled 40 days ago
    assert 'value="golf"' in page
    assert '<option value="7d" selected>' in page


async def test_htmx_gets_the_results_partial_and_the_page_varies_on_it(
    admin: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    response = await admin.get("/app/reports", params={"q": "fire"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="report-results">')
    assert "<html" not in response.text
    assert "Fire Safety" in response.text
    assert response.headers["vary"] == "HX-Request"
    restore = await admin.get(
        "/app/reports?q=fire", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.text


async def test_the_form_works_without_javascript_and_keeps_the_filter_in_links(
    admin: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    page = (
        await admin.get("/app/reports", params={"range": "custom", "from": "2000-01-01", "to": "2100-01-01"})
    ).text
    assert 'method="get" action="/app/reports"' in page
    assert 'hx-push-url="true"' in page
    assert "/app/reports/export.csv?range=custom&amp;from=2000-01-01&amp;to=2100-01-01" in page


async def test_pagination(admin: httpx.AsyncClient, seeded: dict[str, Any]) -> None:
    workspace_id, golf = seeded["workspace_id"], seeded["golf"]
    for i in range(55):
        await add_enrollment(workspace_id, golf, f"Learner {i:02d}", days_ago=5)
    first = (await admin.get("/app/reports")).text
    assert "Page 1 of 2" in first
    assert "page=2" in first
    second = (await admin.get("/app/reports", params={"page": "2"})).text
    assert "Page 2 of 2" in second
    assert "Old Timer" in second


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"range": "custom", "from": "2026-05-01", "to": "2026-01-01"}, "reversed"),
        ({"range": "custom", "from": "31/01/2026"}, "is not a date"),
        ({"range": "custom", "to": "2026-02-30"}, "is not a date"),
    ],
)
async def test_a_bad_date_range_shows_a_message_not_an_error(
    admin: httpx.AsyncClient, seeded: dict[str, Any], params: dict[str, str], message: str
) -> None:
    response = await admin.get("/app/reports", params=params)
    assert response.status_code == 200
    assert message in response.text
    assert 'role="alert"' in response.text
    export = await admin.get("/app/reports/export.csv", params=params)
    assert export.status_code == 200


async def test_no_data_yet_links_to_courses(admin: httpx.AsyncClient) -> None:
    page = (await admin.get("/app/reports")).text
    assert "No records match this filter." in page
    assert "/app/courses" in page


async def test_reports_need_a_session(client: httpx.AsyncClient) -> None:
    assert (await client.get("/app/reports")).status_code == 303
    assert (await client.get("/app/reports/export.csv")).status_code == 303


# --- exports --------------------------------------------------------------------------------------------


async def test_csv_export_is_the_active_filter_neutralised_and_scoped(
    admin: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    response = await admin.get("/app/reports/export.csv", params={"q": "golf"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "UTC" in response.headers["content-disposition"]
    rows = csv_rows(response.content)
    assert rows[0][6] == "Enrollment date (UTC)"
    by_name = {r[0]: r for r in rows[1:]}
    first = by_name["Zażółć Gęślą 😀"]
    assert first[2:6] == ["Golf Basics", "Completed", "Passed", "90"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", first[6])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", first[7])
    assert by_name["'" + EVIL][3:6] == ["In progress", "", ""]
    assert by_name["'" + EVIL][7] == ""
    names = sorted(r[0] for r in rows[1:])
    assert names == sorted(["Zażółć Gęślą 😀", "שלום עליכם", "'" + EVIL])
    everything = csv_rows((await admin.get("/app/reports/export.csv")).content)
    assert len(everything) == 6
    assert not any("Mallory" in cell for r in everything for cell in r)


async def test_exports_of_a_filter_matching_nothing_have_headers_only(
    admin: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    params = {"q": "no such course"}
    rows = csv_rows((await admin.get("/app/reports/export.csv", params=params)).content)
    assert len(rows) == 1
    assert rows[0][0] == "Learner name"
    xlsx = await admin.get("/app/reports/export.xlsx", params=params)
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "Learner name" in sheet
    assert '<row r="2"' not in sheet
    pdf = await admin.get("/app/reports/export.pdf", params=params)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert pdf_text(pdf.content).has("No records match this filter.")


async def test_xlsx_export_is_typed_and_scoped(admin: httpx.AsyncClient, seeded: dict[str, Any]) -> None:
    response = await admin.get("/app/reports/export.xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    with zipfile.ZipFile(io.BytesIO(response.content)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert 'state="frozen"' in sheet
    assert '<autoFilter ref="A1:H6"/>' in sheet
    assert "Zażółć" in sheet
    assert "<f>" not in sheet
    assert "Mallory" not in sheet


async def test_pdf_export_is_branded_and_renders_any_name(
    admin: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    await branding_store.save_branding(
        seeded["workspace_id"],
        Branding(
            organization_name="Ąćme Academy",
            primary_color="#AA0000",
            logo_bytes=png(),
            logo_content_type="image/png",
        ),
        NOW,
    )
    response = await admin.get("/app/reports/export.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.content)
    assert text.has("Ąćme Academy")
    assert text.has("Zażółć Gęślą 😀")
    assert text.has("םכילע םולש")  # drawn right to left
    assert text.has("Ada Lovelace 李小龍")  # CJK from the fallback font, not "?"
    assert text.has(EVIL)
    assert text.has("Page 1 of 1")
    assert "Mallory" not in text.text
    assert "?" not in text.text
    assert text.fonts == {"DejaVuSans", "WenQuanYiMicroHei"}


# Run in a fresh interpreter: the test process itself imports borb (tests/integrations render PDFs in it).
SERVER_PROCESS = """
import asyncio, json, sys
from pathlib import Path
from scormhub.integrations.db import database
database.configure(sys.argv[1])
from appserver import login_link_token, serving
from scormhub.app import create_app
from scormhub.settings import Settings

async def main():
    settings = Settings(data_dir=Path(sys.argv[2]), secret_key="k" * 64, public_url="http://testserver.local",
                        in_process_worker=False, db_pool_size=2)
    async with serving(create_app(settings)) as client:
        assert (await client.get("/login/" + await login_link_token())).status_code == 303
        statuses = {}
        for kind in ("pdf", "xlsx", "csv"):
            response = await client.get("/app/reports/export." + kind)
            statuses[kind] = response.status_code
            Path(sys.argv[2], "export." + kind).write_bytes(response.content)
    loaded = sorted(name for name in ("borb", "fontTools", "xlsxwriter") if name in sys.modules)
    print(json.dumps({"statuses": statuses, "loaded": loaded}))

asyncio.run(main())
"""


async def test_the_server_process_never_loads_borb_or_xlsxwriter_while_exporting(
    seeded: dict[str, Any], database_url: str, tmp_path: Path
) -> None:
    """PDFs and workbooks are made in the render pool's worker processes: the server exports a PDF, an
    XLSX and a CSV through the HTTP app and still has not imported borb, fontTools or xlsxwriter."""
    tests_dir = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests_dir), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", SERVER_PROCESS, database_url, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"statuses": {"pdf": 200, "xlsx": 200, "csv": 200}, "loaded": []}
    text = pdf_text((tmp_path / "export.pdf").read_bytes())
    assert text.has("Ada Lovelace 李小龍")
    assert xlsx_names((tmp_path / "export.xlsx").read_bytes()) == {
        "Zażółć Gęślą 😀",
        "שלום עליכם",
        EVIL,
        "Ada Lovelace 李小龍",
        "Old Timer",
    }


EXPORT_CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


@pytest.mark.parametrize("kind", ["csv", "xlsx", "pdf"])
async def test_an_export_over_the_direct_limit_runs_as_a_job_with_progress_and_a_link(
    admin: httpx.AsyncClient,
    app: Litestar,
    seeded: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    monkeypatch.setitem(export_routes.MAX_DIRECT_ROWS, kind, 2)
    enqueued: list[dict[str, Any]] = []

    async def record(job: str, **kwargs: Any) -> str:
        enqueued.append({"job": job, **kwargs})
        return "job-1"

    deps = app.state.deps
    monkeypatch.setattr(deps.jobs, "enqueue", record)
    response = await admin.get(f"/app/reports/export.{kind}", params={"q": "golf"})
    assert response.status_code == 303
    progress_url = response.headers["location"]
    page = await admin.get(progress_url)
    assert page.status_code == 200
    assert "Waiting to start" in page.text
    assert 'hx-trigger="load delay:1s"' in page.text
    (job,) = enqueued
    assert job["job"] == "export_report"
    assert job["params"] == {"q": "golf"}
    result = await export_report(
        {"deps": deps},
        workspace_id=job["workspace_id"],
        export_id=job["export_id"],
        kind=job["kind"],
        params=job["params"],
    )
    assert result == {"rows": 3, "kind": kind}
    fragment = await admin.get(progress_url, headers={"HX-Request": "true"})
    assert "Ready: 3 records" in fragment.text
    assert "hx-get" not in fragment.text
    download = await admin.get(f"{progress_url}/download")
    assert download.status_code == 200
    assert f".{kind}" in download.headers["content-disposition"]
    assert download.headers["content-type"] == EXPORT_CONTENT_TYPES[kind]
    golf = {"Zażółć Gęślą 😀", "שלום עליכם", EVIL}
    if kind == "csv":
        assert {r[0] for r in csv_rows(download.content)[1:]} == {"Zażółć Gęślą 😀", "שלום עליכם", "'" + EVIL}
    elif kind == "xlsx":
        assert xlsx_names(download.content) == golf
    else:
        text = pdf_text(download.content)
        assert text.has("Zażółć Gęślą 😀")
        assert text.has("םכילע םולש")
        assert text.has(EVIL)
        assert "Ada Lovelace" not in text.text
    # Another workspace's session could never reach it: the id lives under this workspace's folder.
    assert (await admin.get(f"/app/reports/exports/{uuid.uuid4()}")).status_code == 404


# --- branding -------------------------------------------------------------------------------------------


def png(size: tuple[int, int] = (40, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (0, 120, 0)).save(out, "PNG")
    return out.getvalue()


async def post_branding(
    admin: httpx.AsyncClient, files: dict[str, Any] | None = None, **fields: str
) -> httpx.Response:
    await admin.get("/app/settings/branding")
    data = {"_csrf_token": csrf_of(admin), "organization_name": "Acme", "primary_color": "#112233", **fields}
    return await admin.post("/app/settings/branding", data=data, files=files or {"none": ("", b"")})


async def test_branding_defaults_to_the_workspace_and_saves(admin: httpx.AsyncClient) -> None:
    page = await admin.get("/app/settings/branding")
    assert page.status_code == 200
    assert "#2563EB" in page.text
    response = await post_branding(admin, files={"logo_file": ("logo.png", png(), "image/png")})
    assert response.status_code == 303, response.text
    page = await admin.get("/app/settings/branding")
    assert "Saved" not in page.text
    assert 'value="#112233"' in page.text
    logo = await admin.get("/app/settings/branding/logo")
    assert logo.status_code == 200
    assert logo.headers["content-type"] == "image/png"
    assert logo.content == png()
    assert "/app/settings/branding" in (await admin.get("/app/settings")).text


async def test_branding_needs_the_csrf_token(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/app/settings/branding", data={"organization_name": "Acme", "primary_color": "#112233"}
    )
    assert response.status_code == 403


@pytest.mark.parametrize("colour", ["red", "#12345", "#GGGGGG"])
async def test_a_colour_that_is_not_rrggbb_is_refused(admin: httpx.AsyncClient, colour: str) -> None:
    response = await post_branding(admin, primary_color=colour)
    assert response.status_code == 422
    assert "#RRGGBB" in response.text


async def test_a_logo_url_at_127_0_0_1_is_refused(admin: httpx.AsyncClient) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(url__regex=".*").respond(200, content=png(), content_type="image/png")
        response = await post_branding(admin, logo_url="https://127.0.0.1/logo.png")
        assert not route.called
    assert response.status_code == 422
    assert "private or local network address" in response.text


@respx.mock
async def test_a_logo_url_redirecting_to_a_private_address_is_refused(
    admin: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(branding_store, "resolve_host", fake_dns)
    respx.get("https://93.184.216.34/logo.png").respond(302, headers={"Location": "https://10.1.2.3/x.png"})
    response = await post_branding(admin, logo_url="https://logos.example.com/logo.png")
    assert response.status_code == 422
    assert "private or local" in response.text


@respx.mock
async def test_a_50_mb_logo_is_refused(admin: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(branding_store, "resolve_host", fake_dns)
    respx.get("https://93.184.216.34/big.png").respond(
        200, content=b"\x89PNG" + b"\0" * (50 * 1024 * 1024), content_type="image/png"
    )
    response = await post_branding(admin, logo_url="https://logos.example.com/big.png")
    assert response.status_code == 422
    assert "larger than 1024 KB" in response.text


@respx.mock
async def test_an_svg_logo_with_script_is_refused(
    admin: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(branding_store, "resolve_host", fake_dns)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    respx.get("https://93.184.216.34/logo.svg").respond(200, content=svg, content_type="image/svg+xml")
    response = await post_branding(admin, logo_url="https://logos.example.com/logo.svg")
    assert response.status_code == 422
    assert "SVG is not accepted" in response.text
    upload = await post_branding(admin, files={"logo_file": ("logo.png", svg, "image/png")})
    assert upload.status_code == 422
    assert "not a PNG" in upload.text


@respx.mock
async def test_a_public_logo_url_is_fetched_once_and_stored(
    admin: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(branding_store, "resolve_host", fake_dns)
    route = respx.get("https://93.184.216.34/logo.png").respond(200, content=png(), content_type="image/png")
    assert (await post_branding(admin, logo_url="https://logos.example.com/logo.png")).status_code == 303
    assert (await post_branding(admin, logo_url="https://logos.example.com/logo.png")).status_code == 303
    assert route.call_count == 1
    assert (await admin.get("/app/settings/branding/logo")).content == png()


async def test_an_oversized_upload_is_refused(admin: httpx.AsyncClient) -> None:
    big = png((1200, 1200))
    big += b"\0" * (MAX_LOGO_BYTES + 10 - len(big))
    response = await post_branding(admin, files={"logo_file": ("logo.png", big, "image/png")})
    assert response.status_code == 422
    assert "larger than" in response.text


async def fake_dns(host: str, port: int) -> list[str]:
    return {"logos.example.com": ["93.184.216.34"]}.get(host, ["127.0.0.1"])
