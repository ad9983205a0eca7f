"""Reports: the filter an admin sets, the figures it selects, and the rows every export shares."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode
from uuid import UUID

PRESETS: dict[str, str] = {
    "all": "All time",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "year": "This year",
    "custom": "Custom",
}
PAGE_SIZE = 50
MAX_QUERY_LENGTH = 200
EXPORT_COLUMNS = (
    "Learner name",
    "Email",
    "Course",
    "Status",
    "Result",
    "Score",
    "Enrollment date",
    "Completion date",
)
STATUS_LABELS = {"not_started": "Not started", "in_progress": "In progress", "completed": "Completed"}
RESULT_LABELS = {"unknown": "", "passed": "Passed", "failed": "Failed"}


class FilterError(ValueError):
    """A filter a person typed that cannot be used; the message says how to fix it."""


@dataclass(frozen=True)
class ReportFilter:
    """What the Reports tab shows: a course-name search and an enrollment-date range (days, inclusive)."""

    query: str = ""
    preset: str = "all"
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1

    @property
    def start(self) -> datetime | None:
        return datetime.combine(self.date_from, datetime.min.time(), UTC) if self.date_from else None

    @property
    def end(self) -> datetime | None:
        """Exclusive: the start of the day after `date_to`."""
        if self.date_to is None:
            return None
        return datetime.combine(self.date_to + timedelta(days=1), datetime.min.time(), UTC)

    def params(self, *, page: int | None = None) -> dict[str, str]:
        """The filter as query parameters (for links, hx-push-url and exports)."""
        out: dict[str, str] = {}
        if self.query:
            out["q"] = self.query
        if self.preset != "all":
            out["range"] = self.preset
        if self.preset == "custom":
            if self.date_from:
                out["from"] = self.date_from.isoformat()
            if self.date_to:
                out["to"] = self.date_to.isoformat()
        wanted = self.page if page is None else page
        if wanted > 1:
            out["page"] = str(wanted)
        return out

    def query_string(self, *, page: int | None = None) -> str:
        return urlencode(self.params(page=page))

    def export_query(self) -> str:
        return urlencode(self.params(page=1))

    def describe(self) -> str:
        parts = []
        if self.date_from or self.date_to:
            start = self.date_from.isoformat() if self.date_from else "the beginning"
            end = self.date_to.isoformat() if self.date_to else "today"
            parts.append(f"Enrolled {start} to {end}")
        else:
            parts.append("All time")
        if self.query:
            # Shortened: the PDF prints this on one line, and cannot break a long word to fit it.
            shown = self.query if len(self.query) <= 60 else self.query[:59] + "…"
            parts.append(f'courses matching "{shown}"')
        return ", ".join(parts)

    def slug(self) -> str:
        start = self.date_from.isoformat() if self.date_from else "start"
        end = self.date_to.isoformat() if self.date_to else "now"
        return f"{start}_{end}" if (self.date_from or self.date_to) else "all-time"


def parse_filter(params: Mapping[str, str], *, today: date) -> tuple[ReportFilter, str | None]:
    """The filter from query parameters, and an error message when part of it had to be dropped.

    A bad date never fails the page: the dates are ignored and the message says what was wrong.
    """
    query = (params.get("q") or "").strip()[:MAX_QUERY_LENGTH]
    preset = params.get("range") or "all"
    if preset not in PRESETS:
        preset = "all"
    try:
        page = max(1, min(int(params.get("page") or 1), 100_000))
    except ValueError:
        page = 1
    if preset == "custom" or (preset == "all" and (params.get("from") or params.get("to"))):
        try:
            start, end = _custom_range(params.get("from") or "", params.get("to") or "")
        except FilterError as error:
            return ReportFilter(query=query, preset="all", page=page), str(error)
        return ReportFilter(query=query, preset="custom", date_from=start, date_to=end, page=page), None
    start, end = preset_range(preset, today)
    return ReportFilter(query=query, preset=preset, date_from=start, date_to=end, page=page), None


def preset_range(preset: str, today: date) -> tuple[date | None, date | None]:
    days = {"7d": 7, "30d": 30, "90d": 90}
    if preset in days:
        return today - timedelta(days=days[preset] - 1), today
    if preset == "year":
        return date(today.year, 1, 1), today
    return None, None


def _custom_range(raw_from: str, raw_to: str) -> tuple[date | None, date | None]:
    start = _date(raw_from.strip(), "From")
    end = _date(raw_to.strip(), "To")
    if start and end and start > end:
        raise FilterError(
            f"The date range is reversed: From ({start.isoformat()}) is after To ({end.isoformat()}). "
            "Swap the dates and try again."
        )
    return start, end


def _date(raw: str, label: str) -> date | None:
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise FilterError(
            f"{label} date \u201c{raw[:40]}\u201d is not a date. Use the form YYYY-MM-DD, e.g. 2026-01-31."
        ) from None
    if not 1900 <= value.year <= 2999:
        raise FilterError(f"{label} date {value.isoformat()} is out of range.")
    return value


# --- what the dashboard shows --------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    courses: int
    enrollments: int
    completions: int

    @property
    def completion_rate(self) -> float | None:
        return self.completions / self.enrollments * 100 if self.enrollments else None


@dataclass(frozen=True)
class CourseFigures:
    course_id: UUID
    title: str
    enrolled: int
    completed: int
    average_score: float | None

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.enrolled * 100 if self.enrolled else None


@dataclass(frozen=True)
class Bucket:
    """Completions in one day or week (`start` is the first day)."""

    start: date
    completions: int


@dataclass(frozen=True)
class ExportRow:
    learner_name: str
    learner_email: str
    course_title: str
    completion: str
    success: str
    score_percent: float | None
    enrolled_at: datetime
    completed_at: datetime | None

    @property
    def status(self) -> str:
        return STATUS_LABELS.get(self.completion, self.completion)

    @property
    def result(self) -> str:
        return RESULT_LABELS.get(self.success, self.success)

    def as_text(self) -> tuple[str, ...]:
        """The row as text in UTC ISO form (CSV and PDF)."""
        return (
            self.learner_name,
            self.learner_email,
            self.course_title,
            self.status,
            self.result,
            format_score(self.score_percent),
            iso_utc(self.enrolled_at),
            iso_utc(self.completed_at),
        )


def format_score(score: float | None) -> str:
    if score is None:
        return ""
    return f"{score:.1f}".removesuffix(".0")


def iso_utc(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")


@dataclass(frozen=True)
class Dashboard:
    filter: ReportFilter
    totals: Totals
    courses: list[CourseFigures]
    chart: list[Bucket]
    chart_unit: str  # "day" or "week"
    records: list[ExportRow]
    record_count: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.record_count // PAGE_SIZE))


class ReportStore(Protocol):
    """The read side of reports, scoped to one workspace in every query."""

    async def totals(self, workspace_id: UUID, flt: ReportFilter) -> Totals: ...

    async def per_course(self, workspace_id: UUID, flt: ReportFilter) -> list[CourseFigures]: ...

    async def completions(self, workspace_id: UUID, flt: ReportFilter, unit: str) -> list[Bucket]: ...

    async def records(
        self, workspace_id: UUID, flt: ReportFilter, *, limit: int, offset: int
    ) -> list[ExportRow]: ...

    def stream(self, workspace_id: UUID, flt: ReportFilter) -> AsyncIterator[list[ExportRow]]: ...


class ReportExports(Protocol):
    """Export files and their progress records, per workspace (beside ReportStore: both speak in filters).

    `status` is a plain mapping (state, done, total, kind, file_name, filter) so a page can show it as is.
    """

    async def count(self, workspace_id: UUID, flt: ReportFilter) -> int: ...

    def status(self, workspace_id: UUID, export_id: UUID) -> dict[str, Any] | None: ...

    def write_status(self, workspace_id: UUID, export_id: UUID, **status: Any) -> None: ...

    async def sweep(self, workspace_id: UUID) -> None:
        """Remove the workspace's exports older than a day."""
        ...

    async def write(
        self,
        kind: str,
        workspace_id: UUID,
        export_id: UUID,
        flt: ReportFilter,
        *,
        status: Mapping[str, Any],
        pdf: Mapping[str, Any] | None,
        progress: Callable[[int], None],
    ) -> int:
        """Write the export file; `progress` hears the rows written so far. Returns the rows written."""
        ...


async def load_dashboard(
    workspace_id: UUID, flt: ReportFilter, *, store: ReportStore, today: date
) -> Dashboard:
    """Everything the Reports tab shows for one filter."""
    unit = chart_unit(flt, today)
    # Independent reads: run side by side (each on its own pooled connection).
    courses, buckets, records = await asyncio.gather(
        store.per_course(workspace_id, flt),
        store.completions(workspace_id, flt, unit),
        store.records(workspace_id, flt, limit=PAGE_SIZE, offset=(flt.page - 1) * PAGE_SIZE),
    )
    totals = Totals(
        courses=len(courses),
        enrollments=sum(c.enrolled for c in courses),
        completions=sum(c.completed for c in courses),
    )
    return Dashboard(
        filter=flt,
        totals=totals,
        courses=courses,
        chart=fill_buckets(buckets, flt, unit, today),
        chart_unit=unit,
        records=records,
        record_count=totals.enrollments,
    )


def chart_unit(flt: ReportFilter, today: date) -> str:
    start = flt.date_from or today - timedelta(days=365)
    end = flt.date_to or today
    return "day" if (end - start).days <= 92 else "week"


def fill_buckets(buckets: list[Bucket], flt: ReportFilter, unit: str, today: date) -> list[Bucket]:
    """Every day (or week) of the range, with zeros where nothing was completed."""
    by_start = {b.start: b.completions for b in buckets}
    end = flt.date_to or today
    if flt.date_from:
        start = flt.date_from
    elif buckets:
        start = min(b.start for b in buckets)
    else:
        start = end - timedelta(days=29)
    step = timedelta(days=1 if unit == "day" else 7)
    if unit == "week":
        start -= timedelta(days=start.weekday())
    filled: list[Bucket] = []
    cursor = start
    while cursor <= end and len(filled) < 400:
        filled.append(Bucket(cursor, by_start.get(cursor, 0)))
        cursor += step
    return filled


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    peak: int
    ticks: list[tuple[float, str]] = field(default_factory=list)


def bar_chart(buckets: list[Bucket], unit: str, *, width: int = 720, height: int = 180) -> Chart:
    """Geometry for the server-rendered SVG chart (no chart framework)."""
    plot_h = height - 24
    peak = max((b.completions for b in buckets), default=0)
    slot = width / max(len(buckets), 1)
    bars = []
    for i, bucket in enumerate(buckets):
        h = (bucket.completions / peak * (plot_h - 8)) if peak else 0
        label = bucket.start.isoformat() if unit == "day" else f"week of {bucket.start.isoformat()}"
        bars.append(
            Bar(
                x=round(i * slot + slot * 0.1, 2),
                y=round(plot_h - h, 2),
                width=round(max(slot * 0.8, 1), 2),
                height=round(h, 2),
                label=label,
                value=bucket.completions,
            )
        )
    every = max(1, len(buckets) // 6)
    ticks = [(round(i * slot + slot / 2, 2), b.start.strftime("%b %d")) for i, b in enumerate(buckets)][
        ::every
    ]
    return Chart(width=width, height=height, bars=bars, peak=peak, ticks=ticks)
