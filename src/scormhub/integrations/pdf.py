"""The branded PDF report (borb, AGPL-3.0): a paginated learner table, rendered in a worker process.

This module imports borb only when a PDF is made (`_borb()`), never at import: the server imports it to
hand `render_report_pdf` to the render pool, and borb (~80 MB with its font tables) must stay in the
pool's worker processes. borb sends usage telemetry and, on the first PDF written in the main thread,
replaces the process's SIGTERM/SIGINT handlers; `_borb()` opts out before any PDF exists, which stops both.

Scripts: DejaVu Sans covers Latin, Greek, Cyrillic, Hebrew and Arabic; text it cannot show (CJK) is set in
a fallback font (WenQuanYi Micro Hei, Debian's fonts-wqy-microhei), subset per document to the characters
that document uses, so a PDF carries a few KB of it rather than 5 MB. Right-to-left text is put in visual
order and Arabic letters take their joined forms, since borb does neither.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import io
import math
import sys
import tempfile
import threading
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from scormhub.domain.model import Branding
from scormhub.domain.reports import EXPORT_COLUMNS, ExportRow

FONT_PATHS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)
# For what DejaVu Sans lacks (Chinese, Japanese, Korean). TrueType outlines only: borb embeds FontFile2,
# so Noto CJK (CFF outlines, 90 MB) would not do. The first one present is used.
FALLBACK_FONT_PATHS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)
# A4 landscape; borb tables never split across pages, so each page gets a table of its own.
PAGE_WIDTH, PAGE_HEIGHT = 842, 595
ROWS_PER_PAGE = 30
ROWS_ON_FIRST_PAGE = 22
COLUMN_WIDTHS = [14, 18, 16, 8, 7, 6, 10, 10]
FONT_SIZE = 7
MISSING_GLYPH = "?"

_font: Any = None
_font_lock = threading.Lock()


class FontMissing(RuntimeError):
    """No Unicode TrueType font is installed (Debian: fonts-dejavu-core)."""


@cache
def _borb() -> ModuleType:
    """borb.pdf, imported on first use with its telemetry (and signal handlers) switched off."""
    from borb.pdf.license.usage_statistics import UsageStatistics

    UsageStatistics.opt_out()
    return importlib.import_module("borb.pdf")


def unicode_font() -> Any:
    """DejaVu Sans, loaded once per process: loading takes most of a second, and Standard-14 fonts
    cover Latin-1 only (a learner called "Zażółć" would fail)."""
    global _font
    with _font_lock:
        if _font is None:
            path = next((p for p in FONT_PATHS if p.exists()), None)
            if path is None:
                raise FontMissing("DejaVuSans.ttf not found: install the fonts-dejavu-core package")
            font = _borb().TrueTypeFont.from_file(path)
            _fix_font(font, path.read_bytes())
            _font = font
        return _font


def _fix_font(font: Any, font_bytes: bytes) -> None:
    """Make a borb TrueType (Type0) font draw and measure every glyph its file has.

    borb 3.0.9 derives both from glyph names and the Adobe Glyph List, which goes wrong three ways: each
    glyph whose name is not in that list gets a width of 0 (DejaVu's Hebrew and Arabic, `uni05D0`..., and
    every CJK glyph would be drawn on top of one another); ligature names become wrong characters (the
    "fi" glyph was taken for U+6669, so that CJK character printed as "fi"); and it scans the whole width
    array for every character it measures (seconds per page). Here the widths come from the font's metrics
    (hmtx) and the character map from its own cmap table, both by glyph id, which is the CID (Identity).
    """
    from fontTools.ttLib import TTFont

    with TTFont(io.BytesIO(font_bytes), lazy=True) as tt:
        scale = 1000 / tt["head"].unitsPerEm
        metrics = tt["hmtx"].metrics
        order = tt.getGlyphOrder()
        widths = [round(metrics[name][0] * scale, 2) for name in order]
        glyph_ids = {name: gid for gid, name in enumerate(order)}
        codes = {chr(cp): glyph_ids[name] for cp, name in tt.getBestCmap().items() if name in glyph_ids}
    cid_font = font["DescendantFonts"][0]
    cid_font["W"] = [0, widths]
    default = float(cid_font.get("DW", 1000))
    font["ToUnicode"] = _to_unicode(codes)

    def get_character_code(character: str) -> int:
        return codes.get(character, -1)

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
            total += (widths[cid] if 0 <= cid < len(widths) else default) / 1000 + character_spacing
            if name == "space":
                total += word_spacing
        total -= character_spacing
        return math.ceil(total * font_size)

    font.get_character_code = get_character_code
    cid_font.get_width = get_width


def _to_unicode(codes: dict[str, int]) -> Any:
    """The ToUnicode CMap (glyph id -> UTF-16BE) that lets a reader copy and search the text."""
    from borb.pdf.font.cmap import CMap
    from borb.pdf.primitives import name, stream

    first: dict[int, str] = {}
    for character in sorted(codes):
        first.setdefault(codes[character], character)
    pairs = [f"<{gid:04x}> <{c.encode('utf-16-be').hex()}>" for gid, c in sorted(first.items())]
    body = "".join(
        f"{len(pairs[i : i + 100])} beginbfchar\n" + "\n".join(pairs[i : i + 100]) + "\nendbfchar\n"
        for i in range(0, len(pairs), 100)
    )
    text = (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo <</Registry (Adobe) /Ordering (UCS) /Supplement 0>> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        f"{body}endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("latin-1")
    cmap = stream()
    cmap[name("Bytes")] = zlib.compress(text, 9)
    cmap[name("DecodedBytes")] = text
    cmap[name("Filter")] = name("FlateDecode")
    cmap[name("Length")] = len(cmap[name("Bytes")])
    return CMap(cmap)


def _subset_font(path: Path, characters: Iterable[str]) -> Any:
    """A borb font holding just `characters` of a big font (a TrueType collection takes its first face)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.glyph_names = True  # borb maps glyphs to Unicode by their names (uni674E ...)
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.hinting = False
    options.notdef_outline = True
    # No shaping happens in borb: layout tables only cost time (reading them is most of a subset's cost).
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "FFTM", "vhea", "vmtx"]
    wanted = sorted({ord(c) for c in characters} | set(range(0x20, 0x7F)))
    # lazy: only the glyphs kept are decompiled (a full read of a CJK font takes seconds).
    with TTFont(path, fontNumber=0 if path.suffix == ".ttc" else -1, lazy=True) as tt:
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=wanted)
        subsetter.subset(tt)
        out = io.BytesIO()
        tt.save(out)
    font_bytes = out.getvalue()
    true_type = _borb().TrueTypeFont
    with tempfile.TemporaryDirectory(prefix="scormhub-font-") as temp:
        file = Path(temp) / "fallback.ttf"
        file.write_bytes(font_bytes)
        # Always a Type0 (CID) font: borb's public from_file picks a one-byte font when the subset has no
        # glyph beyond 255 whose name is in the Adobe Glyph List, which is every CJK subset.
        font = true_type._TrueTypeFont__type_0_font_from_file(where_from=file)
    descriptor = font["DescendantFonts"][0]["FontDescriptor"]
    descriptor["FontFile2"] = true_type._TrueTypeFont__get_font_file_stream(font_bytes)
    _fix_font(font, font_bytes)
    return font


def covers(font: Any, character: str) -> bool:
    cache_: dict[str, bool] | None = getattr(font, "_scormhub_coverage", None)
    if cache_ is None:
        cache_ = {}
        font._scormhub_coverage = cache_
    known = cache_.get(character)
    if known is None:
        code = font.get_character_code(character)
        known = cache_[character] = code is not None and code != -1
    return known


def printable(text: str, font: Any) -> str:
    """The text with characters the font has no glyph for shown as "?": borb refuses the whole document
    otherwise. Text is kept as given (no shaping or reordering: see `FontSet.fit`)."""
    return "".join(c if covers(font, c) else MISSING_GLYPH for c in text)


class FontSet:
    """The fonts of one document: DejaVu Sans, and the fallback font subset to the characters of `texts`
    that DejaVu lacks. `fit` picks the font for one piece of text (one font per Paragraph)."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.main = main = unicode_font()
        missing = {c for text in texts if not text.isascii() for c in text if not covers(main, c)}
        self.fallback: Any = None
        path = next((p for p in FALLBACK_FONT_PATHS if p.exists()), None)
        if missing and path is not None:
            self.fallback = _subset_font(path, missing)

    def fit(self, text: str) -> tuple[Any, str]:
        """(font, text for a borb Paragraph): shaped, in visual order, with "?" only for characters that
        neither font has (emoji beyond DejaVu's few, scripts such as Thai or Devanagari)."""
        font = self.main
        if text.isascii():
            return font, printable(text, font)
        text = visual_order(shape_arabic(text))
        if self.fallback is not None and not all(covers(font, c) for c in text):
            mine = sum(covers(font, c) for c in text)
            theirs = sum(covers(self.fallback, c) for c in text)
            if theirs > mine:
                font = self.fallback
        return font, printable(text, font)


# --- right-to-left text -----------------------------------------------------------------------------------

_RTL = {"R", "AL"}
_MIRRORED = dict(zip("()[]{}<>«»", ")(][}{><»«", strict=True))


@cache
def _arabic_forms(character: str) -> tuple[str, str, str, str] | None:
    """(isolated, final, initial, medial) presentation forms of an Arabic letter; "" for forms it lacks
    (a letter with no initial form joins only to the letter before it)."""
    try:
        name = unicodedata.name(character)
    except ValueError:
        return None
    if not name.startswith("ARABIC LETTER "):
        return None
    forms = []
    for form in ("ISOLATED", "FINAL", "INITIAL", "MEDIAL"):
        try:
            forms.append(unicodedata.lookup(f"{name} {form} FORM"))
        except KeyError:
            forms.append("")
    return (forms[0], forms[1], forms[2], forms[3]) if forms[0] or forms[1] else None


_LAM = "\u0644"
_LAM_ALEF = {
    "\u0627": ("\ufefb", "\ufefc"),
    "\u0623": ("\ufef7", "\ufef8"),
    "\u0625": ("\ufef9", "\ufefa"),
    "\u0622": ("\ufef5", "\ufef6"),
}


def shape_arabic(text: str) -> str:
    """Arabic letters in their joined (presentation) forms, so a font without shaping shows them joined."""
    if not any("\u0600" <= c <= "\u06ff" for c in text):
        return text
    chars = list(text)
    letters = [i for i, c in enumerate(chars) if unicodedata.category(c) != "Mn"]  # marks are transparent
    out = list(chars)
    skip: set[int] = set()
    for n, i in enumerate(letters):
        if i in skip:
            continue
        forms = _arabic_forms(chars[i])
        if forms is None:
            continue
        before = _arabic_forms(chars[letters[n - 1]]) if n > 0 else None
        joins_before = before is not None and bool(before[2]) and letters[n - 1] not in skip
        after_index = letters[n + 1] if n + 1 < len(letters) else None
        after = _arabic_forms(chars[after_index]) if after_index is not None else None
        if chars[i] == _LAM and after_index is not None and chars[after_index] in _LAM_ALEF:
            isolated, final = _LAM_ALEF[chars[after_index]]
            out[i] = final if joins_before else isolated
            out[after_index] = ""
            skip.add(after_index)
            continue
        joins_after = bool(forms[2]) and after is not None
        isolated, final, initial, medial = forms
        if joins_before and joins_after:
            out[i] = medial or final or isolated
        elif joins_before:
            out[i] = final or isolated
        elif joins_after:
            out[i] = initial or isolated
        else:
            out[i] = isolated or chars[i]
    return "".join(out)


def visual_order(text: str) -> str:
    """Text with right-to-left runs reversed for drawing left to right (a reduced Unicode bidi
    algorithm: one line, no explicit embeddings). Marks stay after the letter they belong to."""
    types = [unicodedata.bidirectional(c) for c in text]
    if not any(t in _RTL for t in types):
        return text
    base = 1 if next((t for t in types if t in _RTL or t == "L"), "L") in _RTL else 0
    # Clusters: a base character and the marks after it move together.
    clusters: list[list[int]] = []
    for i, t in enumerate(types):
        if t == "NSM" and clusters:
            clusters[-1].append(i)
        else:
            clusters.append([i])
    kinds: list[str] = []  # "L", "R", "N" (neutral), "NUM"
    last_strong = "R" if base else "L"
    for cluster in clusters:
        t = types[cluster[0]]
        if t == "L":
            kinds.append("L")
            last_strong = "L"
        elif t in _RTL:
            kinds.append("R")
            last_strong = "R"
        elif t in ("EN", "AN"):
            kinds.append("NUM" if last_strong == "R" else "L")
        else:
            kinds.append("N")
    # Neutrals take the direction around them when both sides agree, else the base direction.
    resolved = list(kinds)
    for i, kind in enumerate(kinds):
        if kind != "N":
            continue
        left = next((_strong(k) for k in reversed(kinds[:i]) if k != "N"), "R" if base else "L")
        right = next((_strong(k) for k in kinds[i + 1 :] if k != "N"), "R" if base else "L")
        resolved[i] = left if left == right else ("R" if base else "L")
    levels = [
        1 if kind == "R" else 2 if kind == "NUM" else (2 if base else 0) if kind == "L" else 0
        for kind in resolved
    ]
    order = list(range(len(clusters)))
    for level in range(max(levels), 0, -1):
        i = 0
        while i < len(order):
            if levels[order[i]] >= level:
                j = i
                while j < len(order) and levels[order[j]] >= level:
                    j += 1
                order[i:j] = reversed(order[i:j])
                i = j
            else:
                i += 1
    out = []
    for index in order:
        for position in clusters[index]:
            c = text[position]
            out.append(_MIRRORED.get(c, c) if levels[index] % 2 else c)
    return "".join(out)


def _strong(kind: str) -> str:
    return "R" if kind in ("R", "NUM") else "L"


# --- the report -----------------------------------------------------------------------------------------

Cells = Sequence[str]


def report_cells(rows: Iterable[ExportRow]) -> list[tuple[str, ...]]:
    """Rows as the text the PDF prints: small, plain tuples to send to a worker process."""
    return [row.as_text() for row in rows]


def render_report_pdf(
    rows: Sequence[ExportRow] | Sequence[Cells],
    *,
    branding: Branding,
    title: str,
    filter_text: str,
    generated_at: datetime,
    time_zone: str = "UTC",
) -> bytes:
    """The report as PDF bytes. Blocking and CPU-bound: run it in the render pool, not the server."""
    try:
        return _render_report_pdf(
            rows,
            branding=branding,
            title=title,
            filter_text=filter_text,
            generated_at=generated_at,
            time_zone=time_zone,
        )
    finally:
        release_memory()


def _render_report_pdf(
    rows: Sequence[ExportRow] | Sequence[Cells],
    *,
    branding: Branding,
    title: str,
    filter_text: str,
    generated_at: datetime,
    time_zone: str,
) -> bytes:
    cells = [row.as_text() if isinstance(row, ExportRow) else tuple(row) for row in rows]
    details = f"{filter_text} · Generated {generated_at:%Y-%m-%d %H:%M} {time_zone} · Times in {time_zone}"
    fonts = FontSet([branding.organization_name, title, details, *(c for row in cells for c in row)])
    borb = _borb()
    colour = borb.HexColor(branding.primary_color)
    grey = borb.X11Color.DARK_GRAY
    document = borb.Document()
    chunks = _chunks(cells)
    total_pages = len(chunks)
    for number, chunk in enumerate(chunks, start=1):
        page = borb.Page(width_in_points=PAGE_WIDTH, height_in_points=PAGE_HEIGHT)
        document.append_page(page)
        layout = borb.SingleColumnLayout(
            page, margin_top=28, margin_bottom=28, margin_left=28, margin_right=28
        )
        if number == 1:
            if branding.logo_bytes:
                # A logo that will not decode must not cost the report.
                with contextlib.suppress(Exception):
                    layout.append_layout_element(borb.Image(branding.logo_bytes, size=_logo_size(branding)))
            layout.append_layout_element(
                _paragraph(fonts, branding.organization_name, font_size=16, font_color=colour)
            )
            layout.append_layout_element(_paragraph(fonts, title, font_size=13))
            layout.append_layout_element(_paragraph(fonts, details, font_size=8, font_color=grey))
        if not chunk:
            layout.append_layout_element(_paragraph(fonts, "No records match this filter.", font_size=11))
        else:
            layout.append_layout_element(_table(chunk, fonts, colour, time_zone))
        layout.append_layout_element(
            _paragraph(
                fonts,
                f"Page {number} of {total_pages}",
                font_size=7,
                font_color=grey,
                horizontal_alignment=borb.Paragraph.HorizontalAlignment.RIGHT,
            )
        )
    out = io.BytesIO()
    borb.PDF.write(what=document, where_to=out)
    return out.getvalue()


def release_memory() -> None:
    """Free what borb keeps after a document: call it when a render is over.

    borb 3.0.9 memoises layout methods with `functools.cache` on the class (Chunk.get_size,
    Table.TableCell.get_size, ...), so every paragraph and table cell of every document stays referenced
    for the life of the process: about 70 MB more per 2,000-row report, in a worker that lives for
    hundreds of renders. Clearing those caches, collecting, and handing freed heap back to the system
    (glibc `malloc_trim`) brings a worker back to its idle size.
    """
    seen: set[int] = set()
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("borb."):
            for value in list(vars(module).values()):
                if isinstance(value, type) and value.__module__ == module_name:
                    _clear_caches(value, seen)
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _clear_caches(cls: type, seen: set[int]) -> None:
    if id(cls) in seen:
        return
    seen.add(id(cls))
    for value in list(vars(cls).values()):
        if hasattr(value, "cache_clear"):
            value.cache_clear()
        elif isinstance(value, type) and value.__module__.startswith("borb."):
            _clear_caches(value, seen)  # nested classes, such as Table.TableCell


def write_report_pdf(target: str, rows: Sequence[Cells], **options: Any) -> int:
    """Render the report to the file `target` (a job's export) and return its size in bytes: the
    document goes to disk from the worker instead of through the pool's pipe."""
    content = render_report_pdf(rows, **options)
    Path(target).write_bytes(content)
    return len(content)


def _paragraph(fonts: FontSet, text: str, **style: Any) -> Any:
    font, shown = fonts.fit(text)
    return _borb().Paragraph(shown or " ", font=font, **style)


def _chunks(rows: list[tuple[str, ...]]) -> list[list[tuple[str, ...]]]:
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


def _table(rows: Sequence[Cells], fonts: FontSet, colour: Any, time_zone: str) -> Any:
    borb = _borb()
    table = borb.FixedColumnWidthTable(
        number_of_rows=len(rows) + 1,
        number_of_columns=len(EXPORT_COLUMNS),
        column_widths=COLUMN_WIDTHS,
    )
    # The header is repeated on every page: each page is its own table.
    for name in EXPORT_COLUMNS:
        label = f"{name} ({time_zone})" if name.endswith("date") else name
        table.append_layout_element(
            _paragraph(
                fonts, label, font_size=FONT_SIZE, font_color=borb.X11Color.WHITE, background_color=colour
            )
        )
    for row in rows:
        for cell in row:
            table.append_layout_element(_paragraph(fonts, cell, font_size=FONT_SIZE))
    table.set_padding_on_all_cells(2, 2, 2, 2)
    return table
