"""Export writers (CSV, XLSX, PDF) and the logo fetcher's SSRF guard, against respx-faked hosts."""

from __future__ import annotations

import codecs
import contextlib
import csv
import gc
import http.server
import io
import re
import ssl
import tempfile
import threading
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import respx
from PIL import Image

from pdf_text import PdfText, read_pdf
from scormhub.domain.errors import LogoRefused
from scormhub.domain.model import Branding, Logo
from scormhub.domain.reports import ExportRow
from scormhub.integrations import branding
from scormhub.integrations import pdf as report_pdf
from scormhub.integrations.exports import XlsxReport, csv_chunks, neutralise
from scormhub.integrations.pdf import FALLBACK_FONT_PATHS, render_report_pdf, write_report_pdf
from scormhub.integrations.render_pool import RenderPool

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


def text_rows(rows: list[ExportRow]) -> list[tuple[object, ...]]:
    """ExportRows in the shape csv_chunks takes (the report query yields them so, in batches)."""
    return [
        (r.learner_name, r.learner_email, r.course_title, r.completion, r.success, *r.as_text()[5:])
        for r in rows
    ]


async def batches(*groups: list[ExportRow]) -> AsyncIterator[list[tuple[object, ...]]]:
    for group in groups:
        yield text_rows(group)


async def csv_text(*groups: list[ExportRow]) -> bytes:
    return b"".join([chunk async for chunk in csv_chunks(batches(*groups))])


def pdf_text(pdf: bytes) -> PdfText:
    assert pdf.startswith(b"%PDF")
    return read_pdf(pdf)


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


def render(rows: list[ExportRow], organization: str = "Acme") -> bytes:
    return render_report_pdf(
        rows,
        branding=Branding(organization, primary_color="#AA0000", logo_bytes=png_bytes()),
        title="Learner report",
        filter_text="All time",
        generated_at=datetime(2026, 11, 22, tzinfo=UTC),
    )


def test_pdf_renders_unicode_names_across_pages_with_page_numbers() -> None:
    pdf = render([row(NAMES[i % len(NAMES)]) for i in range(60)], "Zażółć Academy")
    assert b"/Count 3 " in pdf or b"/Count 3>" in pdf  # 22 + 30 + 8 rows
    text = pdf_text(pdf)
    assert text.has("Zażółć Academy")
    assert "Page 3 of 3" in text.pages[2]
    assert text.has("Enrollment date (UTC)")
    assert text.has("Zażółć Gęślą")
    assert text.has("'=HYPERLINK") is False  # the PDF prints names as given: no formula escaping needed
    assert text.has(EVIL)
    assert text.unmapped == 0


def test_cjk_names_are_set_in_the_fallback_font_not_replaced() -> None:
    assert any(p.exists() for p in FALLBACK_FONT_PATHS), "no CJK font: run scripts/ensure-chromium as root"
    names = ["李小龍", "山田太郎", "ひらがな カタカナ", "김민준", "Ada Lovelace 李小龍"]
    text = pdf_text(render([row(name) for name in names], "学院 Academy"))
    for name in names:
        assert text.has(name), name
    assert text.has("学院 Academy")
    assert "?" not in text.text
    assert text.unmapped == 0
    assert text.fonts == {"DejaVuSans", "WenQuanYiMicroHei"}


def test_the_cjk_font_is_embedded_only_with_the_characters_used() -> None:
    latin = render([row("Ada")])
    cjk = render([row("李小龍")])
    # The full font file is 5 MB; its subset for three characters plus ASCII is a few KB.
    assert len(cjk) - len(latin) < 60_000
    assert pdf_text(latin).fonts == {"DejaVuSans"}


def test_right_to_left_names_are_drawn_in_visual_order_and_arabic_letters_joined() -> None:
    text = pdf_text(render([row("שלום עליכם"), row("محمد علي"), row("Dr. כהן 2")]))
    # Drawn left to right: the last letter first. Arabic letters take their joined forms (ﻣ ﺤ ﻤ ﺪ), which
    # NFKC reads back as the plain letters.
    assert text.has("םכילע םולש")
    assert text.has("يلع دمحم")
    assert "\ufee3\ufea4\ufee4\ufeaa"[::-1] in text.text  # محمد, joined, in visual order
    assert text.has("Dr. 2 ןהכ")  # as a browser shows it: the number sits with the Hebrew word
    assert text.unmapped == 0


@pytest.mark.parametrize(
    ("logical", "visual"),
    [
        ("abc", "abc"),
        ("שלום", "םולש"),
        ("שלום עליכם", "םכילע םולש"),
        ("Ada שלום", "Ada םולש"),
        ("שלום (Ada)", "(Ada) םולש"),
        ("שלום 123", "123 םולש"),
        ("(שלום)", "(םולש)"),
        # Points (niqqud) stay after the letter they belong to.
        ("\u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd", "\u05dd\u05d5\u05b9\u05dc\u05e9\u05b8\u05c1"),
    ],
)
def test_visual_order(logical: str, visual: str) -> None:
    assert report_pdf.visual_order(logical) == visual


def test_arabic_shaping_uses_initial_medial_final_and_lam_alef_forms() -> None:
    assert report_pdf.shape_arabic("محمد") == "\ufee3\ufea4\ufee4\ufeaa"
    assert report_pdf.shape_arabic("لا") == "\ufefb"
    assert report_pdf.shape_arabic("سلام") == "\ufeb3\ufefc\ufee1"
    assert report_pdf.shape_arabic("Ada") == "Ada"


def test_an_emoji_no_installed_font_has_prints_as_a_question_mark() -> None:
    # DejaVu Sans has a few emoji (😀) but not most (🦄); no colour-emoji font is installed, and borb
    # would refuse the whole document for one glyph it cannot show.
    text = pdf_text(render([row("Émile 😀 🦄")]))
    assert text.has("Émile 😀 ?")


def test_a_render_leaves_no_layout_objects_behind() -> None:
    """borb memoises layout on its classes; without clearing, every cell of every report would stay in
    the worker's memory (about 70 MB per 2,000 rows) until the worker is replaced."""
    render([row(NAMES[i % len(NAMES)]) for i in range(60)])
    gc.collect()
    kinds = {"Chunk", "Paragraph", "HeterogeneousParagraph", "TableCell", "FixedColumnWidthTable", "Page"}
    assert [type(o).__name__ for o in gc.get_objects() if type(o).__name__ in kinds] == []


def test_a_pdf_of_nothing_says_no_records() -> None:
    pdf = render_report_pdf(
        [],
        branding=Branding("Acme"),
        title="Learner report",
        filter_text="All time",
        generated_at=datetime.now(UTC),
    )
    assert pdf_text(pdf).has("No records match this filter.")


async def test_the_report_renders_in_a_worker_process_from_plain_tuples(tmp_path: Path) -> None:
    pool = RenderPool(workers=1)
    cells = report_pdf.report_cells([row("李小龍"), row("Ada")])
    options = {
        "branding": Branding("Acme"),
        "title": "Learner report",
        "filter_text": "All time",
        "generated_at": datetime(2026, 11, 22, tzinfo=UTC),
    }
    try:
        content = await pool.run(render_report_pdf, cells, **options)
        size = await pool.run(write_report_pdf, str(tmp_path / "r.pdf"), cells, **options)
    finally:
        pool.shutdown()
    assert pdf_text(content).has("李小龍 a@example.com Golf Completed Passed 85")
    assert size == (tmp_path / "r.pdf").stat().st_size
    assert pdf_text((tmp_path / "r.pdf").read_bytes()).has("Ada")


# --- logo fetching (SSRF guard) --------------------------------------------------------------------------


def png_bytes(size: tuple[int, int] = (40, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 0, 0)).save(out, "PNG")
    return out.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
LOGOS_IP, CDN_IP = "93.184.216.34", "93.184.216.35"
# The fetcher connects to the address it vetted, so requests are mocked at that address.
LOGOS, CDN = f"https://{LOGOS_IP}", f"https://{CDN_IP}"


def public_dns(mapping: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    table = {"logos.example.com": LOGOS_IP, "cdn.example.com": CDN_IP, **(mapping or {})}

    async def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return [table[host]]
        return await branding.resolve_host(host, port)

    return resolve


async def fetch(url: str, resolve=None) -> Logo:  # type: ignore[no-untyped-def]
    async with branding.build_client() as client:
        return await branding.fetch_logo(url, client=client, resolve=resolve or public_dns())


@respx.mock
async def test_a_public_png_is_fetched_and_kept() -> None:
    route = respx.get(f"{LOGOS}/logo.png").respond(200, content=png_bytes(), content_type="image/png")
    logo = await fetch("https://logos.example.com/logo.png")
    assert logo.content_type == "image/png"
    assert logo.content == png_bytes()
    # Sent to the vetted address, named as the host for HTTP (Host) and TLS (SNI, certificate check).
    request = route.calls.last.request
    assert request.url.host == LOGOS_IP
    assert request.headers["host"] == "logos.example.com"
    assert request.extensions["sni_hostname"] == "logos.example.com"


@respx.mock
async def test_a_host_that_rebinds_its_dns_to_a_private_address_is_still_fetched_from_the_vetted_one() -> (
    None
):
    answers = iter([[LOGOS_IP], ["127.0.0.1"], ["127.0.0.1"]])
    asked: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    public = respx.get(f"{LOGOS}/logo.png").respond(200, content=png_bytes(), content_type="image/png")
    private = respx.get(url__regex=r"https://(127\.0\.0\.1|localhost|logos\.example\.com)/.*").respond(
        200, content=png_bytes(), content_type="image/png"
    )
    await fetch("https://logos.example.com/logo.png", rebinding)
    assert asked == ["logos.example.com"]  # one answer, checked and then used
    assert public.call_count == 1
    assert not private.called


@respx.mock
async def test_a_name_with_several_public_addresses_falls_back_to_the_next_on_connect_failure() -> None:
    async def two(host: str, port: int) -> list[str]:
        return [LOGOS_IP, CDN_IP]

    respx.get(f"{LOGOS}/logo.png").mock(side_effect=httpx.ConnectError("refused"))
    second = respx.get(f"{CDN}/logo.png").respond(200, content=png_bytes(), content_type="image/png")
    assert (await fetch("https://logos.example.com/logo.png", two)).content == png_bytes()
    assert second.calls.last.request.headers["host"] == "logos.example.com"


async def test_a_name_with_one_private_address_among_public_ones_is_refused() -> None:
    async def mixed(host: str, port: int) -> list[str]:
        return [LOGOS_IP, "10.0.0.7"]

    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(url__regex=r".*").respond(200, content=png_bytes(), content_type="image/png")
        with pytest.raises(LogoRefused, match="private or local"):
            await fetch("https://logos.example.com/logo.png", mixed)
        assert not route.called


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/logo.png",
        "https://[::1]/logo.png",
        "https://169.254.169.254/latest",
        "https://10.0.0.5/x.png",
        "https://[::ffff:127.0.0.1]/x.png",
    ],
)
async def test_local_and_private_addresses_are_refused_before_any_request(url: str) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(url__regex=r".*").respond(200, content=png_bytes(), content_type="image/png")
        with pytest.raises(LogoRefused, match="private or local"):
            await fetch(url)
        assert not route.called


async def test_a_host_name_that_resolves_to_a_private_address_is_refused() -> None:
    with pytest.raises(LogoRefused, match="private or local"):
        await fetch(
            "https://intranet.example.com/logo.png", public_dns({"intranet.example.com": "192.168.1.10"})
        )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://logos.example.com/logo.png", "https://"),
        ("https://user:secret@logos.example.com/logo.png", "user name or password"),
        ("https:///logo.png", "no host name|not a valid address"),
    ],
)
async def test_urls_that_are_not_plain_https_to_a_host_are_refused(url: str, message: str) -> None:
    with pytest.raises(LogoRefused, match=message):
        await fetch(url)


@respx.mock
async def test_a_redirect_to_a_private_address_is_refused() -> None:
    respx.get(f"{LOGOS}/logo.png").respond(302, headers={"Location": "https://127.0.0.1/admin"})
    inner = respx.get("https://127.0.0.1/admin").respond(200, content=png_bytes(), content_type="image/png")
    with pytest.raises(LogoRefused, match="private or local"):
        await fetch("https://logos.example.com/logo.png")
    assert not inner.called


@respx.mock
async def test_a_redirect_to_a_public_host_is_followed_and_pinned_too() -> None:
    respx.get(f"{LOGOS}/logo.png").respond(301, headers={"Location": "https://cdn.example.com/l.png"})
    cdn = respx.get(f"{CDN}/l.png").respond(200, content=png_bytes(), content_type="image/png")
    assert (await fetch("https://logos.example.com/logo.png")).content_type == "image/png"
    assert cdn.calls.last.request.headers["host"] == "cdn.example.com"


@respx.mock
async def test_a_relative_redirect_resolves_against_the_host_name_not_the_address() -> None:
    respx.get(f"{LOGOS}/logo.png").respond(302, headers={"Location": "/v2/logo.png"})
    moved = respx.get(f"{LOGOS}/v2/logo.png").respond(200, content=png_bytes(), content_type="image/png")
    await fetch("https://logos.example.com/logo.png")
    assert moved.calls.last.request.headers["host"] == "logos.example.com"


@respx.mock
async def test_a_50_mb_image_is_refused_while_streaming() -> None:
    def huge() -> httpx.Response:
        chunks = (b"\x89PNG" + b"\0" * (1024 * 1024 - 4) for _ in range(50))
        return httpx.Response(
            200, headers={"Content-Type": "image/png"}, stream=httpx.ByteStream(b"".join(chunks))
        )

    respx.get(f"{LOGOS}/big.png").mock(side_effect=lambda request: huge())
    with pytest.raises(LogoRefused, match="larger than 1024 KB"):
        await fetch("https://logos.example.com/big.png")


@respx.mock
async def test_a_declared_50_mb_image_is_refused_before_reading() -> None:
    respx.get(f"{LOGOS}/big.png").respond(
        200, headers={"Content-Type": "image/png", "Content-Length": str(50 * 1024 * 1024)}, content=b"x"
    )
    with pytest.raises(LogoRefused, match="larger than"):
        await fetch("https://logos.example.com/big.png")


@respx.mock
async def test_an_svg_is_refused_by_content_type() -> None:
    respx.get(f"{LOGOS}/logo.svg").respond(200, content=SVG, content_type="image/svg+xml")
    with pytest.raises(LogoRefused, match="SVG is not accepted"):
        await fetch("https://logos.example.com/logo.svg")


@respx.mock
async def test_an_svg_served_as_png_is_refused_by_its_bytes() -> None:
    respx.get(f"{LOGOS}/logo.png").respond(200, content=SVG, content_type="image/png")
    with pytest.raises(LogoRefused, match="not a PNG"):
        await fetch("https://logos.example.com/logo.png")


@respx.mock
async def test_a_host_that_times_out_gets_a_clear_message() -> None:
    respx.get(f"{LOGOS}/logo.png").mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(LogoRefused, match="did not answer in time"):
        await fetch("https://logos.example.com/logo.png")


@respx.mock
async def test_a_404_says_so() -> None:
    respx.get(f"{LOGOS}/logo.png").respond(404)
    with pytest.raises(LogoRefused, match="answered 404"):
        await fetch("https://logos.example.com/logo.png")


async def test_over_real_tls_the_pinned_connection_verifies_the_certificate_for_the_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No mock: a TLS server on 127.0.0.1 with a certificate for logos.test only. The fetch connects to
    the vetted address and still checks the certificate against the name (SNI), and a name that the
    certificate does not carry fails the handshake even at the same address."""
    monkeypatch.setattr(branding, "_public", lambda address: address == "127.0.0.1")
    with tls_logo_server("logos.test") as (port, context, seen):

        async def local(host: str, p: int) -> list[str]:
            return ["127.0.0.1"]

        async with httpx.AsyncClient(verify=context, trust_env=False, timeout=5) as client:
            logo = await branding.fetch_logo(
                f"https://logos.test:{port}/logo.png", client=client, resolve=local
            )
            assert logo.content == png_bytes()
            assert seen == [f"logos.test:{port}"]  # the Host header the server received
            with pytest.raises(LogoRefused, match="could not be reached"):
                await branding.fetch_logo(f"https://other.test:{port}/logo.png", client=client, resolve=local)


@contextlib.contextmanager
def tls_logo_server(name: str) -> Iterator[tuple[int, ssl.SSLContext, list[str]]]:
    """An HTTPS server on 127.0.0.1 serving a PNG with a self-signed certificate for `name`; yields its
    port, a client context trusting that certificate, and the Host headers received."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    with tempfile.TemporaryDirectory() as temp:
        cert_path, key_path = Path(temp) / "cert.pem", Path(temp) / "key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_context.load_cert_chain(cert_path, key_path)
        client_context = ssl.create_default_context(cafile=str(cert_path))
        seen: list[str] = []
        body = png_bytes()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.headers["Host"])
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.socket = server_context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.server_address[1], client_context, seen
        finally:
            server.shutdown()
            server.server_close()


def test_writing_a_pdf_on_the_main_thread_leaves_the_signal_handlers_alone() -> None:
    import signal

    before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    render_report_pdf(
        [row("Ada")], branding=Branding("Acme"), title="t", filter_text="f", generated_at=datetime.now(UTC)
    )
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
