"""Reading bulk-enrollment CSVs: the shapes spreadsheets export, and each bad line with its reason."""

from __future__ import annotations

import pytest

from scormhub.domain.automation.model import BulkRowStatus
from scormhub.domain.bulk_csv import MAX_ROWS, CsvRefused, parse_csv


def usable(raw: bytes) -> list[tuple[str, str, str]]:
    return [
        (r.first_name, r.last_name, r.email) for r in parse_csv(raw).rows if r.status is BulkRowStatus.PENDING
    ]


def skipped(raw: bytes) -> dict[int, str]:
    return {r.row_no: r.reason or "" for r in parse_csv(raw).rows if r.status is BulkRowStatus.SKIPPED}


def test_a_header_in_any_order_and_a_bom_are_understood() -> None:
    raw = "\ufeffEmail,First Name,Last Name\r\nann@example.com,Ann,Lee\r\n".encode()

    assert usable(raw) == [("Ann", "Lee", "ann@example.com")]


def test_semicolons_as_separators_and_no_header() -> None:
    raw = b"Ann;Lee;ANN@Example.com\nBo;Chen;bo@example.com\n"

    assert usable(raw) == [("Ann", "Lee", "ann@example.com"), ("Bo", "Chen", "bo@example.com")]


def test_a_duplicate_email_is_enrolled_once_and_the_repeat_names_the_first_line() -> None:
    raw = b"first name,last name,email\nAnn,Lee,ann@example.com\nAnnie,Lee,ANN@example.com\n"

    assert usable(raw) == [("Ann", "Lee", "ann@example.com")]
    assert skipped(raw) == {3: "The same email as line 2: enrolled once."}


def test_an_email_of_300_characters_is_skipped_with_its_reason() -> None:
    raw = f"Ann,Lee,{'a' * 288}@example.com\n".encode()

    [row] = parse_csv(raw).rows
    assert row.status is BulkRowStatus.SKIPPED
    assert row.reason == "The email is longer than 254 characters."
    assert len(row.email) <= 81  # the report shows the start of it, not 300 characters


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)"])
def test_formula_like_cells_are_never_stored_as_names(cell: str) -> None:
    raw = f"{cell},Lee,ann@example.com\n".encode()

    assert usable(raw) == []
    assert "like a spreadsheet formula" in skipped(raw)[1]


def test_invalid_emails_and_blank_lines() -> None:
    raw = b"Ann,Lee,not-an-email\n\n,,\nBo,Chen,bo@example.com\n"

    assert usable(raw) == [("Bo", "Chen", "bo@example.com")]
    assert skipped(raw) == {1: "Enter an email address like name@example.com."}


def test_100000_rows_are_read_and_one_more_is_refused_with_what_to_do() -> None:
    lines = "".join(f"L{n},N{n},l{n}@example.com\n" for n in range(MAX_ROWS))

    assert parse_csv(lines.encode()).usable == MAX_ROWS
    with pytest.raises(CsvRefused, match=r"more than 100,000 learners\. Split it"):
        parse_csv((lines + "x,y,z@example.com\n").encode())


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"", "The file is empty"), (b"email\n", "no learners"), (b"\x00\xff\xfe" * 10, "")],
)
def test_unusable_files_are_refused_with_a_message(raw: bytes, message: str) -> None:
    with pytest.raises(CsvRefused, match=message):
        parse_csv(raw)


def test_windows_1252_files_are_read() -> None:
    raw = "Zoë;Müller;zoe@example.com\n".encode("cp1252")

    assert usable(raw) == [("Zoë", "Müller", "zoe@example.com")]
