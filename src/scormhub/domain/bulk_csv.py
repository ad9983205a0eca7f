"""Reading a bulk-enrollment CSV (first name, last name, email) into rows, each bad one with its reason.

Spreadsheet exports differ: a UTF-8 byte-order mark, `;` as separator (European locales), tabs, a header
or none, columns in any order. What cannot be enrolled is kept as a skipped row with a reason the admin can
act on, never silently dropped.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from scormhub.domain.automation.model import BulkRow, BulkRowStatus
from scormhub.domain.contacts import MAX_NAME_LENGTH, InvalidInput, normalize_email

MAX_ROWS = 100_000
DEFAULT_COLUMNS = {"first": 0, "last": 1, "email": 2}  # a file without a header
MAX_BYTES = 20 * 1024 * 1024
# A cell a spreadsheet would run as a formula (CSV injection): never stored as a learner's name.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HEADER_NAMES = {
    "first": ("first name", "firstname", "first_name", "first", "given name", "prénom", "vorname"),
    "last": ("last name", "lastname", "last_name", "last", "surname", "family name", "nom", "nachname"),
    "email": ("email", "e-mail", "email address", "e-mail address", "mail"),
}


class CsvRefused(ValueError):
    """The file as a whole cannot be used; the message says what to do."""


@dataclass(frozen=True)
class ParsedCsv:
    rows: tuple[BulkRow, ...]

    @property
    def usable(self) -> int:
        return sum(1 for r in self.rows if r.status is BulkRowStatus.PENDING)


def _decode(raw: bytes) -> str:
    # A NUL byte never occurs in text: a spreadsheet's binary format (.xlsx, .xls) or UTF-16.
    for encoding in ("utf-8-sig", "cp1252") if b"\x00" not in raw else ():
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvRefused(
        "The file is not a CSV text file (an Excel workbook?). Save it as CSV (UTF-8) and upload it again."
    )


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _columns(header: list[str]) -> dict[str, int] | None:
    """Column positions when the first line is a header, else None."""
    names = [" ".join(h.strip().lower().replace("_", " ").split()) for h in header]
    found = {}
    for key, options in HEADER_NAMES.items():
        for index, name in enumerate(names):
            if name in options or name.replace(" ", "_") in options:
                found[key] = index
                break
    return found if "email" in found else None


def parse_csv(raw: bytes) -> ParsedCsv:
    if len(raw) > MAX_BYTES:
        raise CsvRefused(
            f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB. Split it and upload the parts."
        )
    text = _decode(raw)
    if not text.strip():
        raise CsvRefused("The file is empty. It needs a line per learner: first name, last name, email.")
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    rows: list[BulkRow] = []
    seen: dict[str, int] = {}
    columns: dict[str, int] | None = None
    try:
        for line_no, cells in enumerate(reader, start=1):
            if line_no == 1:
                columns = _columns(cells)
                if columns is not None:
                    continue
                columns = DEFAULT_COLUMNS
            if not any(c.strip() for c in cells):
                continue  # blank lines are not learners
            if len(rows) >= MAX_ROWS:
                raise CsvRefused(
                    f"The file has more than {MAX_ROWS:,} learners. Split it and upload the parts."
                )
            rows.append(_row(line_no, cells, columns or DEFAULT_COLUMNS, seen))
    except csv.Error as exc:
        raise CsvRefused(
            f"The file could not be read as CSV ({exc}). Save it as CSV and try again."
        ) from None
    if not rows:
        raise CsvRefused(
            "The file has no learners. It needs a line per learner: first name, last name, email."
        )
    return ParsedCsv(tuple(rows))


def _row(line_no: int, cells: list[str], columns: dict[str, int], seen: dict[str, int]) -> BulkRow:
    def cell(key: str) -> str:
        index = columns.get(key)
        return cells[index] if index is not None and index < len(cells) else ""

    first, last, email = (" ".join(cell(k).split()) for k in ("first", "last", "email"))
    shown = email[:80] + ("…" if len(email) > 80 else "")

    def skipped(reason: str) -> BulkRow:
        return BulkRow(
            line_no, first[:MAX_NAME_LENGTH], last[:MAX_NAME_LENGTH], shown, BulkRowStatus.SKIPPED, reason
        )

    for name, label in ((first, "first name"), (last, "last name"), (email, "email")):
        if name.startswith(FORMULA_STARTS):
            return skipped(f"The {label} starts with {name[0]!r}, like a spreadsheet formula; remove it.")
    if len(first) > MAX_NAME_LENGTH or len(last) > MAX_NAME_LENGTH:
        return skipped(f"A name is longer than {MAX_NAME_LENGTH} characters.")
    try:
        address = normalize_email(email)
    except InvalidInput as bad:
        too_long = len(email) > 254
        return skipped("The email is longer than 254 characters." if too_long else str(bad))
    if address in seen:
        return skipped(f"The same email as line {seen[address]}: enrolled once.")
    seen[address] = line_no
    return BulkRow(line_no, first, last, address)
