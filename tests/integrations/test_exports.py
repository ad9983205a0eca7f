"""Export writers (CSV, XLSX, PDF) and the logo fetcher's SSRF guard, against respx-faked hosts."""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import respx
from PIL import Image

from scormhub.domain.reports import Branding, ExportRow
from scormhub.integrations import branding
from scormhub.integrations.exports import XlsxReport, csv_chunks, neutralise, text_rows
from scormhub.integrations.pdf import render_report_pdf, unicode_font

EVIL = '=HYPERLINK("http://evil.example","click")'
NAMES = [
    "Zażółć Gęślą 😀",
    "שלום עליכם",
    EVIL,
    "+1 555",
    "-2+3",
    "@SUM(A1)",
    "\tTab",
    "\rCR",
    "Ada",
    "李小龍",
]


def row(name: str, score: float | None = 85.0, completed: bool = True) -> ExportRow:
    return ExportRow(
        learner_name=name,
        learner_email="a@example.com",
        course_title="Golf",
        completion="completed" if completed else "in_progress",
        success="passed" if completed else "unknown",
        score_percent=score,
        enrolled_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        completed_at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC) if completed else None,
    )


async def batches(*groups: list[ExportRow]) -> AsyncIterator[list[tuple[object, ...]]]:
    for group in groups:
        yield text_rows(group)


async def csv_text(*groups: list[ExportRow]) -> bytes:
    return b"".join([chunk async for chunk in csv_chunks(batches(*groups))])


def pdf_has_words(pdf: bytes, text: str) -> bool:
    """borb writes each word as a TJ array of glyph codes in the embedded font's encoding."""
    font = unicode_font()
    streams = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            streams.append(zlib.decompress(match.group(1)))
        except zlib.error:
            streams.append(match.group(1))
    content = b"".join(streams).lower()
    for word in text.split():
        codes = b"".join(b"<%04x>" % font.get_character_code(c) for c in word)
        if b"[" + codes + b"]" not in content:
            return False
    return True


# --- CSV -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx", EVIL])
def test_cells_that_a_spreadsheet_would_evaluate_are_made_text(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Ada", "", "1+1", "a=b", "2026-01-01 10:00:00"])
def test_ordinary_cells_are_left_alone(cell: str) -> None:
    assert neutralise(cell) == cell


async def test_csv_is_utf8_with_bom_and_neutralised_and_keeps_unicode() -> None:
    body = await csv_text([row(n) for n in NAMES[:4]], [row(n) for n in NAMES[4:]])
    assert body.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(body[3:].decode("utf-8"))))
    assert rows[0] == [
        "Learner name",
        "Email",
        "Course",
        "Status",
        "Result",
        "Score",
        "Enrollment date (UTC)",
        "Completion date (UTC)",
    ]
    names = [r[0] for r in rows[1:]]
    assert names[0] == "Zażółć Gęślą 😀"
    assert names[1] == "שלום עליכם"
    assert names[2] == "'" + EVIL
    assert all(not n.startswith(("=", "+", "-", "@", "\t", "\r")) for n in names)
    assert rows[1][3:] == ["Completed", "Passed", "85", "2026-03-01 09:30:00", "2026-03-02 10:00:00"]


async def test_a_csv_of_nothing_has_the_header_only() -> None:
    body = await csv_text()
    assert body.decode("utf-8-sig").strip().count("\n") == 0
    assert body.decode("utf-8-sig").startswith("Learner name,Email")


# --- XLSX ------------------------------------------------------------------------------------------------


def test_xlsx_has_typed_cells_a_frozen_header_and_an_autofilter(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    report = XlsxReport(path)
    report.write([row(EVIL), row("Ada", score=None, completed=False)])
    report.close()
    with zipfile.ZipFile(path) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert 'state="frozen"' in sheet
    assert '<autoFilter ref="A1:H3"/>' in sheet
    assert "<cols>" in sheet
    # The evil name is a string cell, never a formula.
    assert "<f>" not in sheet
    assert "HYPERLINK" in sheet
    assert 't="inlineStr"' in sheet
    # Score and dates are numbers (Excel serial dates), not text.
    assert re.search(r'<c r="F2" s="\d+"><v>85</v></c>', sheet)
    assert re.search(r'<c r="G2" s="\d+"><v>46082\.39583', sheet)
    assert '<c r="H3"' not in sheet  # no completion date: an empty cell


def test_an_xlsx_of_nothing_has_the_header_only(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    report = XlsxReport(path)
    report.close()
    with zipfile.ZipFile(path) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "Learner name" in sheet
    assert '<row r="2"' not in sheet


# --- PDF -------------------------------------------------------------------------------------------------


def test_pdf_renders_unicode_names_across_pages_with_page_numbers() -> None:
    rows = [row(NAMES[i % len(NAMES)]) for i in range(60)]
    pdf = render_report_pdf(
        rows,
        branding=Branding("Zażółć Academy", primary_color="#AA0000", logo_bytes=png_bytes()),
        title="Learner report",
        filter_text="All time",
        generated_at=datetime(2026, 11, 22, tzinfo=UTC),
    )
    assert pdf.startswith(b"%PDF")
    assert b"/Count 3 " in pdf or b"/Count 3>" in pdf  # 22 + 30 + 8 rows
    assert pdf_has_words(pdf, "Zażółć Academy")
    assert pdf_has_words(pdf, "Page 3 of 3")
    assert pdf_has_words(pdf, "שלום")
    assert pdf_has_words(pdf, "Enrollment date (UTC)")


def test_a_pdf_of_nothing_says_no_records() -> None:
    pdf = render_report_pdf(
        [],
        branding=Branding("Acme"),
        title="Learner report",
        filter_text="All time",
        generated_at=datetime.now(UTC),
    )
    assert pdf_has_words(pdf, "No records match this filter.")


# --- logo fetching (SSRF guard) --------------------------------------------------------------------------


def png_bytes(size: tuple[int, int] = (40, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 0, 0)).save(out, "PNG")
    return out.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def public_dns(mapping: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    table = {"logos.example.com": "93.184.216.34", "cdn.example.com": "93.184.216.35", **(mapping or {})}

    async def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return [table[host]]
        return await branding.resolve_host(host, port)

    return resolve


async def fetch(url: str, resolve=None) -> branding.Logo:  # type: ignore[no-untyped-def]
    async with branding.build_client() as client:
        return await branding.fetch_logo(url, client=client, resolve=resolve or public_dns())


@respx.mock
async def test_a_public_png_is_fetched_and_kept() -> None:
    respx.get("https://logos.example.com/logo.png").respond(
        200, content=png_bytes(), content_type="image/png"
    )
    logo = await fetch("https://logos.example.com/logo.png")
    assert logo.content_type == "image/png"
    assert logo.content == png_bytes()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/logo.png",
        "https://[::1]/logo.png",
        "https://169.254.169.254/latest",
        "https://10.0.0.5/x.png",
    ],
)
async def test_local_and_private_addresses_are_refused_before_any_request(url: str) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(url__regex=r".*").respond(200, content=png_bytes(), content_type="image/png")
        with pytest.raises(branding.LogoRefused, match="private or local"):
            await fetch(url)
        assert not route.called


async def test_a_host_name_that_resolves_to_a_private_address_is_refused() -> None:
    with pytest.raises(branding.LogoRefused, match="private or local"):
        await fetch(
            "https://intranet.example.com/logo.png", public_dns({"intranet.example.com": "192.168.1.10"})
        )


async def test_plain_http_is_refused() -> None:
    with pytest.raises(branding.LogoRefused, match="https://"):
        await fetch("http://logos.example.com/logo.png")


@respx.mock
async def test_a_redirect_to_a_private_address_is_refused() -> None:
    respx.get("https://logos.example.com/logo.png").respond(
        302, headers={"Location": "https://127.0.0.1/admin"}
    )
    inner = respx.get("https://127.0.0.1/admin").respond(200, content=png_bytes(), content_type="image/png")
    with pytest.raises(branding.LogoRefused, match="private or local"):
        await fetch("https://logos.example.com/logo.png")
    assert not inner.called


@respx.mock
async def test_a_redirect_to_a_public_host_is_followed() -> None:
    respx.get("https://logos.example.com/logo.png").respond(
        301, headers={"Location": "https://cdn.example.com/l.png"}
    )
    respx.get("https://cdn.example.com/l.png").respond(200, content=png_bytes(), content_type="image/png")
    assert (await fetch("https://logos.example.com/logo.png")).content_type == "image/png"


@respx.mock
async def test_a_50_mb_image_is_refused_while_streaming() -> None:
    def huge() -> httpx.Response:
        chunks = (b"\x89PNG" + b"\0" * (1024 * 1024 - 4) for _ in range(50))
        return httpx.Response(
            200, headers={"Content-Type": "image/png"}, stream=httpx.ByteStream(b"".join(chunks))
        )

    respx.get("https://logos.example.com/big.png").mock(side_effect=lambda request: huge())
    with pytest.raises(branding.LogoRefused, match="larger than 1024 KB"):
        await fetch("https://logos.example.com/big.png")


@respx.mock
async def test_a_declared_50_mb_image_is_refused_before_reading() -> None:
    respx.get("https://logos.example.com/big.png").respond(
        200, headers={"Content-Type": "image/png", "Content-Length": str(50 * 1024 * 1024)}, content=b"x"
    )
    with pytest.raises(branding.LogoRefused, match="larger than"):
        await fetch("https://logos.example.com/big.png")


@respx.mock
async def test_an_svg_is_refused_by_content_type() -> None:
    respx.get("https://logos.example.com/logo.svg").respond(200, content=SVG, content_type="image/svg+xml")
    with pytest.raises(branding.LogoRefused, match="SVG is not accepted"):
        await fetch("https://logos.example.com/logo.svg")


@respx.mock
async def test_an_svg_served_as_png_is_refused_by_its_bytes() -> None:
    respx.get("https://logos.example.com/logo.png").respond(200, content=SVG, content_type="image/png")
    with pytest.raises(branding.LogoRefused, match="not a PNG"):
        await fetch("https://logos.example.com/logo.png")


@respx.mock
async def test_a_host_that_times_out_gets_a_clear_message() -> None:
    respx.get("https://logos.example.com/logo.png").mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(branding.LogoRefused, match="did not answer in time"):
        await fetch("https://logos.example.com/logo.png")


@respx.mock
async def test_a_404_says_so() -> None:
    respx.get("https://logos.example.com/logo.png").respond(404)
    with pytest.raises(branding.LogoRefused, match="answered 404"):
        await fetch("https://logos.example.com/logo.png")


def test_writing_a_pdf_on_the_main_thread_leaves_the_signal_handlers_alone() -> None:
    import signal

    before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    render_report_pdf(
        [row("Ada")], branding=Branding("Acme"), title="t", filter_text="f", generated_at=datetime.now(UTC)
    )
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
