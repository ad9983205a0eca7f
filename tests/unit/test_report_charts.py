"""The Reports charts' geometry: completions over time with their running total, and completion rate per
course, best first."""

from __future__ import annotations

import uuid
from datetime import date

from scormhub.domain.report_charts import course_rates, timeline
from scormhub.domain.reports import Bucket, CourseFigures


def test_one_busy_day_in_a_quiet_month_still_shows_the_running_total_rising_to_it() -> None:
    buckets = [Bucket(date(2026, 3, d), 3 if d == 15 else 0) for d in range(1, 31)]

    chart = timeline(buckets, "day")

    assert chart.total == 3
    assert [b.total for b in chart.bars][13:16] == [0, 3, 3]
    heights = {b.label: b.height for b in chart.bars if b.value}
    assert list(heights) == ["15 Mar 2026"]
    points = [tuple(map(float, p.split(","))) for p in chart.line.split()]
    assert len(points) == 30
    assert points[0][1] > points[-1][1]  # the line climbs (SVG y grows downwards)
    assert "3 completions from 1 Mar 2026 to 30 Mar 2026" in chart.summary


def test_nothing_completed_has_no_axes_to_draw() -> None:
    chart = timeline([Bucket(date(2026, 3, 1), 0)], "day")

    assert (chart.peak, chart.y_ticks, chart.total_ticks) == (0, [], [])


def test_course_rates_rank_the_best_first_and_courses_nobody_took_last() -> None:
    figures = [
        CourseFigures(uuid.uuid4(), "Empty", enrolled=0, completed=0, average_score=None),
        CourseFigures(uuid.uuid4(), "Half", enrolled=4, completed=2, average_score=None),
        CourseFigures(uuid.uuid4(), "All", enrolled=2, completed=2, average_score=None),
    ]

    rates = course_rates(figures)

    assert [(r.title, r.rate) for r in rates.rows] == [("All", 100.0), ("Half", 50.0), ("Empty", None)]
    assert rates.rows[0].width == 2 * rates.rows[1].width
    assert rates.rows[2].width == 0


def test_a_range_with_one_week_is_padded_with_the_quiet_weeks_before_so_it_is_not_one_slab() -> None:
    chart = timeline([Bucket(date(2026, 12, 7), 2)], "week")

    assert len(chart.bars) == 12
    assert chart.bars[-1].label == "week of 7 Dec 2026"
    assert chart.bars[0].label == "week of 21 Sep 2026"
    assert max(b.width for b in chart.bars) <= 36
