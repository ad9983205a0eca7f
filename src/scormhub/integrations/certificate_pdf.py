"""The completion certificate as a PDF (borb, AGPL-3.0): A4 landscape, the workspace's branding, the
certificate's snapshot, and its verification link as text and as a QR code.

Run `render_certificate_pdf` through `Deps.render_pool` (a worker process). This module imports borb
only inside the render, so the server can name the function without loading borb (and its ~80 MB).
"""

from __future__ import annotations

import copy
import functools
import io
import math
import re
from dataclasses import dataclass
from typing import Any

from scormhub.domain.model import DEFAULT_COLOUR, Branding, Certificate
from scormhub.integrations.render_pool import RenderPool

PAGE_WIDTH, PAGE_HEIGHT = 842, 595  # A4 landscape, points
MARGIN = 56
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
LEADING = 1.2  # borb's default line height, as a multiple of the font size
LOGO_BOX = (200, 56)  # points: the largest the logo is drawn
LOGO_PIXELS_PER_POINT = 2  # enough for print, small enough to embed in milliseconds
QR_SIZE = 84
FOOTER_BOTTOM = 44
FOOTER_TOP = FOOTER_BOTTOM + QR_SIZE + 8


@dataclass(frozen=True)
class Fitted:
    """Text broken into lines that fit a width at one font size."""

    lines: tuple[str, ...]
    size: int

    @property
    def height(self) -> int:
        return int(len(self.lines) * self.size * LEADING) + 1


# borb keeps every document's layout objects cached until they are released (integrations.pdf); a
# certificate is small, so the release runs every this many renders rather than after each one.
RELEASE_EVERY = 20
_renders = 0


def render_certificate_pdf(certificate: Certificate, branding: Branding, verify_url: str) -> bytes:
    """The certificate as PDF bytes. Blocking and CPU-bound: run it in the render pool."""
    global _renders
    try:
        return _render(certificate, branding, verify_url)
    finally:
        _renders += 1
        if _renders % RELEASE_EVERY == 0:
            from scormhub.integrations import pdf

            pdf.release_memory()


def _render(certificate: Certificate, branding: Branding, verify_url: str) -> bytes:
    b = _borb()
    snapshot = certificate.snapshot
    colour = _colour(b, branding.primary_color)
    grey = b.HexColor("#4B5563")
    logo = _logo(branding.logo_bytes)
    facts = [f"Completed on {snapshot.completion_date}"]
    if snapshot.score_label:
        facts.append(f"Score {snapshot.score_label}")
    if snapshot.printed_result:
        facts.append(snapshot.printed_result)
    # The organization's name is always printed: it is also what stands in for a logo that is missing
    # or will not decode.
    organization = branding.organization_name or snapshot.organization_name
    # The product promises the learner's email on the certificate: it tells two people of one name apart.
    learner_email = snapshot.learner_email
    blocks = [
        _Block(organization, 22 if logo is None else 14, 9, 2, colour, 0),
        _Block(snapshot.title, 34, 20, 1, colour, 22),
        _Block("This certifies that", 13, 13, 1, grey, 16),
        _Block(snapshot.learner_name, 32, 11, 3, None, 8),
        *([_Block(learner_email, 12, 8, 1, grey, 2)] if learner_email else []),
        _Block(snapshot.statement, 13, 13, 1, grey, 8),
        _Block(snapshot.course_title, 22, 10, 3, None, 8),
        _Block(" · ".join(facts), 13, 9, 2, None, 14),
    ]
    footer = [
        _Block(f"Certificate ID: {certificate.id}", 9, 6, 1, grey, 0),
        _Block(f"Verify at {verify_url}", 9, 6, 1, grey, 0),
        _Block(_issued_line(certificate), 8, 6, 1, grey, 0),
    ]
    # Each text gets one font: DejaVu Sans, or the CJK fallback (subset to this document) when that
    # shows more of it; right-to-left text comes back in visual order.
    fonts = b.FontSet([block.text for block in [*blocks, *footer]])
    shown = [fonts.fit(block.text) for block in [*blocks, *footer]]
    document_fonts = _document_fonts(shown)

    document = b.Document()
    page = b.Page(width_in_points=PAGE_WIDTH, height_in_points=PAGE_HEIGHT)
    document.append_page(page)
    _frame(b, page, colour)
    fitted = [
        (
            document_fonts[id(font)],
            fit(text, font, CONTENT_WIDTH, block.max_size, block.min_size, block.max_lines),
        )
        for (font, text), block in zip(shown, blocks, strict=False)
    ]
    logo_height = logo[1][1] + 8 if logo is not None else 0
    body = logo_height + sum(
        f.height + block.space_before for (_, f), block in zip(fitted, blocks, strict=True)
    )
    # The body is centred in the space between the frame's top and the footer.
    room_top, room_bottom = PAGE_HEIGHT - 44, FOOTER_TOP
    top = room_top - max(0, (room_top - room_bottom - body) // 2)
    if logo is not None:
        image, (width, height) = logo
        b.Image(image, size=(width, height), horizontal_alignment=b.Image.HorizontalAlignment.MIDDLE).paint(
            (MARGIN, top - height, CONTENT_WIDTH, height), page
        )
        top -= height + 8
    for (font, lines), block in zip(fitted, blocks, strict=True):
        top = _paint_lines(b, page, font, lines, top - block.space_before, block.colour)
    _qr_code(b, page, verify_url, PAGE_WIDTH - MARGIN - QR_SIZE, FOOTER_BOTTOM)
    width = CONTENT_WIDTH - QR_SIZE - 24
    y = FOOTER_BOTTOM + 34
    for (font, text), block in zip(shown[len(blocks) :], footer, strict=True):
        lines = fit(text, font, width, block.max_size, block.min_size, block.max_lines)
        height = int(lines.size * LEADING) + 1
        b.Paragraph(
            " ".join(lines.lines), font=document_fonts[id(font)], font_size=lines.size, font_color=grey
        ).paint((MARGIN, y, width, height), page)
        y -= height + 2
    out = io.BytesIO()
    b.PDF.write(what=document, where_to=out)
    return out.getvalue()


def _issued_line(certificate: Certificate) -> str:
    issued = f"Issued {certificate.issued_at.date().isoformat()}"
    if certificate.expires_at is None:
        return issued
    return f"{issued} · valid until {certificate.expires_at.date().isoformat()}"


@dataclass(frozen=True)
class _Block:
    text: str
    max_size: int
    min_size: int
    max_lines: int
    colour: Any
    space_before: int


@functools.cache
def _borb() -> Any:
    """borb.pdf, with its telemetry (and its replacing of signal handlers) switched off before any PDF
    exists, plus the shared font handling of integrations.pdf."""
    import types

    from borb.pdf.license.usage_statistics import UsageStatistics

    UsageStatistics.opt_out()
    import borb.pdf as borb_pdf

    from scormhub.integrations import pdf

    namespace = types.SimpleNamespace(**{name: getattr(borb_pdf, name) for name in dir(borb_pdf)})
    namespace.FontSet = pdf.FontSet
    return namespace


def _document_fonts(shown: list[tuple[Any, str]]) -> dict[int, Any]:
    """Each font used, by id, as this document embeds it (see `_document_font`)."""
    used: dict[int, tuple[Any, set[str]]] = {}
    for font, text in shown:
        used.setdefault(id(font), (font, set()))[1].update(text)
    return {key: _document_font(font, characters) for key, (font, characters) in used.items()}


def _document_font(font: Any, characters: set[str]) -> Any:
    """The font with its glyph-width table cut down to the glyphs this document uses.

    borb writes the table's ~6,000 DejaVu entries one object at a time: most of a certificate's
    render time. Every glyph used is listed; viewers never look up the others. The embedded font file
    and the Unicode map are the full font's, shared, not copied.
    """
    used = sorted({font.get_character_code(c) for c in characters} - {None, -1})
    widths = _widths(font)
    cid_font = copy.copy(font["DescendantFonts"][0])
    trimmed: list[Any] = []
    for code in used:
        trimmed += [code, [widths.get(code, 0)]]
    cid_font["W"] = trimmed
    document_font = copy.copy(font)
    document_font["DescendantFonts"] = [cid_font]
    return document_font


_widths_by_font: dict[int, dict[int, Any]] = {}


def _widths(font: Any) -> dict[int, Any]:
    """The full font's widths by glyph code, read from borb's `[code [width]]` pairs once per process."""
    if id(font) in _widths_by_font:
        return _widths_by_font[id(font)]
    raw = list(font["DescendantFonts"][0].get("W", []))
    widths: dict[int, Any] = {}
    i = 0
    while i + 1 < len(raw):
        first, rest = raw[i], raw[i + 1]
        if isinstance(rest, list):
            for offset, width in enumerate(rest):
                widths[int(first) + offset] = width
            i += 2
        else:  # the `first last width` form
            for code in range(int(first), int(rest) + 1):
                widths[code] = raw[i + 2]
            i += 3
    _widths_by_font[id(font)] = widths
    return widths


def _colour(b: Any, raw: str) -> Any:
    try:
        return b.HexColor(raw)
    except Exception:
        return b.HexColor(DEFAULT_COLOUR)


def _frame(b: Any, page: Any, colour: Any) -> None:
    inset = 22
    width, height = PAGE_WIDTH - 2 * inset, PAGE_HEIGHT - 2 * inset
    rectangle = [(0, 0), (width, 0), (width, height), (0, height), (0, 0)]
    b.Shape(rectangle, stroke_color=colour, fill_color=None, line_width=3).paint(
        (inset, inset, width, height), page
    )


def _paint_lines(b: Any, page: Any, font: Any, fitted: Fitted, top: int, colour: Any) -> int:
    """Paint fitted lines centred below `top`; return the new top."""
    for line in fitted.lines:
        if not line:
            continue
        height = int(fitted.size * LEADING) + 1
        b.Paragraph(
            line,
            font=font,
            font_size=fitted.size,
            font_color=colour if colour is not None else b.X11Color.BLACK,
            horizontal_alignment=b.Paragraph.HorizontalAlignment.MIDDLE,
            text_alignment=b.Paragraph.TextAlignment.CENTERED,
        ).paint((MARGIN, top - height, CONTENT_WIDTH, height), page)
        top -= height
    return top


def fit(text: str, font: Any, width: int, max_size: int, min_size: int, max_lines: int) -> Fitted:
    """The largest font size (down to `min_size`) at which the text fits in `max_lines` lines of
    `width`; at `min_size` it wraps onto as many lines as it takes, breaking words too long for a line.

    Each character is measured once; borb rounds every word's width up on its own, hence the slack.
    """
    words = re.sub(r"\s+", " ", text).strip().split(" ")
    units = {c: font.get_width(text=c, font_size=1000) / 1000 for c in {*text, " "}}
    room = width - 2
    for size in range(max_size, min_size - 1, -1):
        lines = _wrap(words, units, size, room)
        if lines is not None and len(lines) <= max_lines:
            return Fitted(tuple(lines), size)
    pieces = [piece for word in words for piece in _break(word, units, min_size, room)]
    return Fitted(tuple(_wrap(pieces, units, min_size, room) or pieces), min_size)


def _measure(word: str, units: dict[str, float], size: int) -> int:
    return math.ceil(sum(units[c] for c in word) * size)


def _wrap(words: list[str], units: dict[str, float], size: int, width: int) -> list[str] | None:
    """Greedy line breaking; None when a single word is wider than the line."""
    space = _measure(" ", units, size)
    lines: list[str] = []
    current: list[str] = []
    used = 0
    for word in words:
        measured = _measure(word, units, size)
        if measured > width:
            return None
        if current and used + space + measured > width:
            lines.append(" ".join(current))
            current, used = [], 0
        used += (space if current else 0) + measured
        current.append(word)
    lines.append(" ".join(current))
    return lines


def _break(word: str, units: dict[str, float], size: int, width: int) -> list[str]:
    pieces: list[str] = []
    current, used = "", 0.0
    for character in word:
        step = units[character] * size
        if current and math.ceil(used + step) > width:
            pieces.append(current)
            current, used = "", 0.0
        current += character
        used += step
    return [*pieces, current]


@functools.lru_cache(maxsize=8)
def _logo(content: bytes | None) -> tuple[Any, tuple[int, int]] | None:
    """The logo flattened onto white and scaled down once per process, with its size in points; None
    when there is none or it will not decode (the organization's name then stands alone)."""
    if not content:
        return None
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(content)) as source:
            source.load()
            image = source.convert("RGBA")
        scale = min(LOGO_BOX[0] / image.width, LOGO_BOX[1] / image.height, 1.0)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image.thumbnail((size[0] * LOGO_PIXELS_PER_POINT, size[1] * LOGO_PIXELS_PER_POINT))
        # borb embeds an opaque image as JPEG in milliseconds, a transparent one pixel by pixel in Python.
        flat = PILImage.new("RGB", image.size, (255, 255, 255))
        flat.paste(image, mask=image.getchannel("A"))
        return flat, size
    except Exception:
        return None


def qr_matrix(text: str) -> list[list[bool]] | None:
    """The QR symbol's modules, row by row (True = dark), without the quiet zone; None if it cannot hold
    the text. segno encodes it (ISO/IEC 18004, level M: readable with a bit of the print damaged)."""
    # Imported here: only rendering a certificate needs it, not the web process that imports this module.
    import segno

    try:
        symbol = segno.make_qr(text, error="m", boost_error=False)
    except segno.DataOverflowError:
        return None
    return [[bool(module) for module in row] for row in symbol.matrix]


def _qr_code(b: Any, page: Any, text: str, x: int, y: int) -> None:
    """The QR code as vector rectangles, one per run of dark modules, filled as one path: sharp at any
    zoom or print size. Written to the page's content stream in one piece (a borb Shape would append
    each corner separately, which took longer than the rest of the page)."""
    matrix = qr_matrix(text)
    if matrix is None:
        return  # the link is printed as text as well
    module = QR_SIZE / len(matrix)
    rectangles = []
    for row_index, row in enumerate(matrix):
        bottom = y + QR_SIZE - (row_index + 1) * module
        start = None
        for column, dark in enumerate([*row, False]):
            if dark and start is None:
                start = column
            elif not dark and start is not None:
                left = x + start * module
                rectangles.append(f"{left:.3f} {bottom:.3f} {(column - start) * module:.3f} {module:.3f} re")
                start = None
    b.LayoutElement._append_newline_to_content_stream(page)
    b.LayoutElement._append_to_content_stream(page, "q\n0 0 0 rg\n" + "\n".join(rectangles) + "\nf\nQ\n")


class PooledCertificateRenderer:
    """The CertificateRenderer port: renders in a worker process, so the event loop keeps serving while
    borb works."""

    def __init__(self, pool: RenderPool) -> None:
        self.pool = pool

    async def render(self, certificate: Certificate, branding: Branding, verify_url: str) -> bytes:
        content: bytes = await self.pool.run(render_certificate_pdf, certificate, branding, verify_url)
        return content
