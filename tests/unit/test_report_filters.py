"""The Reports filter as a person types it: presets, custom ranges, bad dates, and the chart it draws."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from scormhub.domain.branding import check_colour
from scormhub.domain.reports import (
    Bucket,
    FilterError,
    ReportFilter,
    bar_chart,
    fill_buckets,
    parse_filter,
)

TODAY = date(2026, 11, 22)


def test_no_parameters_means_all_time_first_page() -> None:
    flt, error = parse_filter({}, today=TODAY)
    assert error is None
    assert flt == ReportFilter()
    assert flt.start is None
    assert flt.end is None


@pytest.mark.parametrize(
    ("preset", "start"),
    [
        ("7d", date(2026, 11, 16)),
        ("30d", date(2026, 10, 24)),
        ("90d", date(2026, 8, 25)),
        ("year", date(2026, 1, 1)),
    ],
)
def test_presets_end_today_inclusive(preset: str, start: date) -> None:
    flt, error = parse_filter({"range": preset}, today=TODAY)
    assert error is None
    assert (flt.date_from, flt.date_to) == (start, TODAY)
    assert flt.end == datetime(2026, 11, 23, tzinfo=UTC)


def test_custom_range_is_kept_in_the_url_parameters() -> None:
    flt, error = parse_filter(
        {"range": "custom", "from": "2026-01-01", "to": "2026-02-01", "q": "golf"}, today=TODAY
    )
    assert error is None
    assert flt.params() == {"q": "golf", "range": "custom", "from": "2026-01-01", "to": "2026-02-01"}
    assert flt.query_string(page=3).endswith("page=3")


def test_a_reversed_range_is_dropped_with_a_message_that_says_how_to_fix_it() -> None:
    flt, error = parse_filter({"range": "custom", "from": "2026-03-01", "to": "2026-01-01"}, today=TODAY)
    assert error is not None
    assert "reversed" in error
    assert "Swap" in error
    assert flt.date_from is None
    assert flt.date_to is None


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "01/02/2026", "0001-01-01", "2026-02-30"])
def test_a_malformed_date_is_dropped_with_a_message(bad: str) -> None:
    flt, error = parse_filter({"range": "custom", "from": bad}, today=TODAY)
    assert error is not None
    assert flt.preset == "all"


def test_unknown_preset_and_page_fall_back_quietly() -> None:
    flt, error = parse_filter({"range": "forever", "page": "x"}, today=TODAY)
    assert error is None
    assert flt.preset == "all"
    assert flt.page == 1


def test_dates_without_a_preset_mean_custom() -> None:
    flt, _ = parse_filter({"from": "2026-05-01"}, today=TODAY)
    assert flt.preset == "custom"
    assert flt.date_from == date(2026, 5, 1)
    assert flt.date_to is None


def test_empty_days_are_filled_with_zeros_for_the_chart() -> None:
    flt = ReportFilter(preset="7d", date_from=date(2026, 11, 16), date_to=TODAY)
    filled = fill_buckets([Bucket(date(2026, 11, 18), 4)], flt, "day", TODAY)
    assert [b.completions for b in filled] == [0, 0, 4, 0, 0, 0, 0]
    chart = bar_chart(filled, "day")
    assert chart.peak == 4
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.value == 4
    assert tallest.y < chart.height - 24


@pytest.mark.parametrize(("raw", "ok"), [("#2563eb", "#2563EB"), (" #00FF00 ", "#00FF00")])
def test_colours_are_hex(raw: str, ok: str) -> None:
    assert check_colour(raw) == ok


@pytest.mark.parametrize("raw", ["red", "#12345", "#1234567", "2563EB", "#GGGGGG", "#fff"])
def test_colours_that_are_not_rrggbb_are_refused(raw: str) -> None:
    with pytest.raises(FilterError, match="#RRGGBB"):
        check_colour(raw)
