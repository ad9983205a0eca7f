"""The Reports charts as geometry for server-rendered SVG (no chart library, no script): completions over
time for the filter (bars per day or week, with the running total as a line, so a quiet range still shows
its trend) and the completion rate of each course (horizontal bars, best first)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from scormhub.domain.reports import Bucket, CourseFigures

LEFT, RIGHT, TOP, BOTTOM = 36, 44, 12, 26  # room for the axes' labels


@dataclass(frozen=True)
class TimeBar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    total: int  # completions up to and including this bar


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    bars: list[TimeBar]
    peak: int
    total: int
    line: str  # SVG polyline points of the running total
    y_ticks: list[tuple[float, int]] = field(default_factory=list)  # (y, completions per bar)
    total_ticks: list[tuple[float, int]] = field(default_factory=list)  # (y, running total)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    plot_left: int = LEFT
    plot_right: int = 0
    plot_bottom: int = 0

    @property
    def summary(self) -> str:
        """The chart in words, for screen readers and as the figure's caption."""
        if not self.bars:
            return "No completions."
        busiest = max(self.bars, key=lambda b: b.value)
        return (
            f"{self.total} completion{'s' if self.total != 1 else ''} from {self.bars[0].label} to "
            f"{self.bars[-1].label}; the most in one {('day' if 'week' not in busiest.label else 'week')}: "
            f"{busiest.value} ({busiest.label})."
        )


def _nice_max(value: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2500, 5000, 10000):
        if value <= step * 4:
            return -(-value // step) * step if value else step
    return value


MIN_BUCKETS = 12  # fewer would draw one slab of a bar: pad with the quiet days (weeks) before
MAX_BAR = 36


def timeline(buckets: Sequence[Bucket], unit: str, *, width: int = 760, height: int = 220) -> Timeline:
    if buckets and len(buckets) < MIN_BUCKETS:
        step = timedelta(days=1 if unit == "day" else 7)
        first = buckets[0].start
        before = [Bucket(first - step * n, 0) for n in range(MIN_BUCKETS - len(buckets), 0, -1)]
        buckets = [*before, *buckets]
    right = width - RIGHT
    bottom = height - BOTTOM
    plot_w, plot_h = right - LEFT, bottom - TOP
    peak = max((b.completions for b in buckets), default=0)
    total = sum(b.completions for b in buckets)
    bar_max, total_max = _nice_max(peak), _nice_max(total)
    slot = plot_w / max(len(buckets), 1)
    bars: list[TimeBar] = []
    points: list[str] = []
    running = 0
    for i, bucket in enumerate(buckets):
        running += bucket.completions
        h = bucket.completions / bar_max * plot_h if bar_max else 0
        label = bucket.start.strftime("%-d %b %Y") if unit == "day" else f"week of {bucket.start:%-d %b %Y}"
        x = LEFT + i * slot
        bar_width = min(max(slot * 0.7, 1), MAX_BAR)
        bars.append(
            TimeBar(
                x=round(x + (slot - bar_width) / 2, 2),
                y=round(bottom - h, 2),
                width=round(bar_width, 2),
                height=round(h, 2),
                label=label,
                value=bucket.completions,
                total=running,
            )
        )
        line_y = bottom - (running / total_max * plot_h if total_max else 0)
        points.append(f"{round(x + slot / 2, 2)},{round(line_y, 2)}")
    every = max(1, -(-len(buckets) // 6))
    x_ticks = [
        (round(LEFT + i * slot + slot / 2, 2), b.start.strftime("%-d %b")) for i, b in enumerate(buckets)
    ]
    return Timeline(
        width=width,
        height=height,
        bars=bars,
        peak=peak,
        total=total,
        line=" ".join(points),
        y_ticks=[(round(bottom - f * plot_h, 2), round(f * bar_max)) for f in (0, 0.5, 1)] if peak else [],
        total_ticks=[(round(bottom - f * plot_h, 2), round(f * total_max)) for f in (0.5, 1)]
        if total
        else [],
        x_ticks=x_ticks[::every],
        plot_right=right,
        plot_bottom=bottom,
    )


@dataclass(frozen=True)
class RateRow:
    course_id: object
    title: str
    rate: float | None
    completed: int
    enrolled: int
    y: float
    width: float  # of the bar, in the chart's units


@dataclass(frozen=True)
class Rates:
    width: int
    height: int
    label_width: int
    rows: list[RateRow]


def course_rates(courses: Sequence[CourseFigures], *, width: int = 760, row_height: int = 26) -> Rates:
    """Each course's completion rate, highest first (courses nobody enrolled in last), at most 12."""
    label_width = 260
    bar_room = width - label_width - 60
    ranked = sorted(courses, key=lambda c: (c.completion_rate is None, -(c.completion_rate or 0), c.title))
    rows = [
        RateRow(
            course_id=c.course_id,
            title=c.title if len(c.title) <= 38 else c.title[:37] + "…",
            rate=c.completion_rate,
            completed=c.completed,
            enrolled=c.enrolled,
            y=i * row_height + 4,
            width=round((c.completion_rate or 0) / 100 * bar_room, 2),
        )
        for i, c in enumerate(ranked[:12])
    ]
    return Rates(width=width, height=len(rows) * row_height + 8, label_width=label_width, rows=rows)
