"""The branded PDF report (borb, AGPL-3.0): a paginated learner table, rendered off the event loop.

borb sends usage telemetry and, on the first PDF written in the main thread, replaces the process's
SIGTERM/SIGINT handlers. Opting out at import (before any PDF exists) stops both.
"""

from __future__ import annotations

import contextlib
import io
import math
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from borb.pdf.license.usage_statistics import UsageStatistics

UsageStatistics.opt_out()

from borb.pdf import (  # noqa: E402  (must follow the opt-out)
    PDF,
    Document,
    FixedColumnWidthTable,
    HexColor,
    Image,
    Page,
    Paragraph,
    SingleColumnLayout,
    TrueTypeFont,
    X11Color,
)

from scormhub.domain.reports import EXPORT_COLUMNS, Branding, ExportRow  # noqa: E402

FONT_PATHS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)
# A4 landscape; borb tables never split across pages, so each page gets a table of its own.
PAGE_WIDTH, PAGE_HEIGHT = 842, 595
ROWS_PER_PAGE = 30
ROWS_ON_FIRST_PAGE = 22
COLUMN_WIDTHS = [14, 18, 16, 8, 7, 6, 10, 10]
FONT_SIZE = 7

_font: Any = None
_font_lock = threading.Lock()


class FontMissing(RuntimeError):
    """No Unicode TrueType font is installed (Debian: fonts-dejavu-core)."""


def unicode_font() -> Any:
    """DejaVu Sans, loaded once per process: loading takes most of a second, and Standard-14 fonts
    cover Latin-1 only (a learner called "Zażółć" would fail)."""
    global _font
    with _font_lock:
        if _font is None:
            path = next((p for p in FONT_PATHS if p.exists()), None)
            if path is None:
                raise FontMissing("DejaVuSans.ttf not found: install the fonts-dejavu-core package")
            font = TrueTypeFont.from_file(path)
            _speed_up_widths(font)
            _font = font
        return _font


def _speed_up_widths(font: Any) -> None:
    """borb 3.0.9 scans the whole glyph-width array for every character it measures (seconds per
    page with DejaVu's 6,000 glyphs); index it once into a dict and measure from that instead."""
    descendants = font.get("DescendantFonts") if hasattr(font, "get") else None
    if not descendants:
        return
    cid_font = descendants[0]
    raw = list(cid_font.get("W", []))
    default = float(cid_font.get("DW", 1000))
    widths: dict[int, float] = {}
    i = 0
    while i < len(raw):
        first = int(raw[i])
        if i + 1 < len(raw) and isinstance(raw[i + 1], list):
            for offset, width in enumerate(raw[i + 1]):
                widths[first + offset] = float(width)
            i += 2
        elif i + 2 < len(raw):
            for cid in range(first, int(raw[i + 1]) + 1):
                widths[cid] = float(raw[i + 2])
            i += 3
        else:
            break

    def get_width(
        text: list[tuple[int, str]],
        character_spacing: float = 0,
        font_size: float = 12,
        word_spacing: float = 0,
    ) -> int:
        if not text:
            return 0
        total = 0.0
        for cid, name in text:
            total += widths.get(cid, default) / 1000 + character_spacing
            if name == "space":
                total += word_spacing
        total -= character_spacing
        return math.ceil(total * font_size)

    cid_font.get_width = get_width


def render_report_pdf(
    rows: Sequence[ExportRow],
    *,
    branding: Branding,
    title: str,
    filter_text: str,
    generated_at: datetime,
    time_zone: str = "UTC",
) -> bytes:
    """The report as PDF bytes. Blocking and CPU-bound: call it in a worker thread."""
    font = unicode_font()
    colour = HexColor(branding.primary_color)
    document = Document()
    chunks = _chunks(list(rows))
    total_pages = len(chunks)
    for number, chunk in enumerate(chunks, start=1):
        page = Page(width_in_points=PAGE_WIDTH, height_in_points=PAGE_HEIGHT)
        document.append_page(page)
        layout = SingleColumnLayout(page, margin_top=28, margin_bottom=28, margin_left=28, margin_right=28)
        if number == 1:
            if branding.logo_bytes:
                # A logo that will not decode must not cost the report.
                with contextlib.suppress(Exception):
                    layout.append_layout_element(Image(branding.logo_bytes, size=_logo_size(branding)))
            layout.append_layout_element(
                Paragraph(
                    printable(branding.organization_name, font), font=font, font_size=16, font_color=colour
                )
            )
            layout.append_layout_element(Paragraph(title, font=font, font_size=13))
            layout.append_layout_element(
                Paragraph(
                    printable(
                        f"{filter_text} · Generated {generated_at:%Y-%m-%d %H:%M} {time_zone} · "
                        f"Times in {time_zone}",
                        font,
                    ),
                    font=font,
                    font_size=8,
                    font_color=X11Color.DARK_GRAY,
                )
            )
        if not chunk:
            layout.append_layout_element(Paragraph("No records match this filter.", font=font, font_size=11))
        else:
            layout.append_layout_element(_table(chunk, font, colour, time_zone))
        layout.append_layout_element(
            Paragraph(
                f"Page {number} of {total_pages}",
                font=font,
                font_size=7,
                font_color=X11Color.DARK_GRAY,
                horizontal_alignment=Paragraph.HorizontalAlignment.RIGHT,
            )
        )
    out = io.BytesIO()
    PDF.write(what=document, where_to=out)
    return out.getvalue()


_coverage: dict[str, bool] = {}
MISSING_GLYPH = "?"


def printable(text: str, font: Any) -> str:
    """The text with characters the font has no glyph for (CJK in DejaVu Sans) shown as "?": borb
    refuses the whole document otherwise. Right-to-left text is kept in logical order (no shaping)."""
    out = []
    for c in text:
        known = _coverage.get(c)
        if known is None:
            code = font.get_character_code(c)
            known = _coverage[c] = code is not None and code != -1
        out.append(c if known else MISSING_GLYPH)
    return "".join(out)


def _chunks(rows: list[ExportRow]) -> list[list[ExportRow]]:
    if not rows:
        return [[]]
    chunks = [rows[:ROWS_ON_FIRST_PAGE]]
    rest = rows[ROWS_ON_FIRST_PAGE:]
    chunks += [rest[i : i + ROWS_PER_PAGE] for i in range(0, len(rest), ROWS_PER_PAGE)]
    return chunks


def _logo_size(branding: Branding) -> tuple[int, int]:
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(branding.logo_bytes or b"")) as img:
        width, height = img.size
    scale = min(160 / max(width, 1), 40 / max(height, 1), 1.0)
    return max(1, int(width * scale)), max(1, int(height * scale))


def _table(rows: Sequence[ExportRow], font: Any, colour: Any, time_zone: str) -> Any:
    table = FixedColumnWidthTable(
        number_of_rows=len(rows) + 1,
        number_of_columns=len(EXPORT_COLUMNS),
        column_widths=COLUMN_WIDTHS,
    )
    # The header is repeated on every page: each page is its own table.
    for name in EXPORT_COLUMNS:
        label = f"{name} ({time_zone})" if name.endswith("date") else name
        table.append_layout_element(
            Paragraph(
                label, font=font, font_size=FONT_SIZE, font_color=X11Color.WHITE, background_color=colour
            )
        )
    for row in rows:
        for cell in row.as_text():
            table.append_layout_element(
                Paragraph(printable(cell, font) or " ", font=font, font_size=FONT_SIZE)
            )
    table.set_padding_on_all_cells(2, 2, 2, 2)
    return table
