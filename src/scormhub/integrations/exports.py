"""Report queries on PostgreSQL (GROUP BY in the database, a server-side cursor for exports) and the
CSV / XLSX writers that turn the streamed rows into files."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from scormhub.domain.reports import (
    EXPORT_COLUMNS,
    RESULT_LABELS,
    STATUS_LABELS,
    Bucket,
    CourseFigures,
    ExportRow,
    ReportFilter,
    Totals,
)
from scormhub.integrations.db.database import configured_url, engine

# Rows fetched per round trip from the server-side cursor, and written per batch.
CURSOR_BATCH = 1_000
# Cells a spreadsheet would run as a formula (and TAB/CR, which some importers strip before one).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

ISO_FORMAT = "YYYY-MM-DD HH24:MI:SS"
_RECORD_COLUMNS = (
    "e.learner_name, e.learner_email, c.title, e.completion, e.success, e.score_percent, "
    "e.created_at, e.completed_at"
)


@contextlib.asynccontextmanager
async def _connection(url: str | None = None) -> AsyncIterator[asyncpg.Connection]:
    """A connection to `url`, else from Piccolo's pool when it runs (the web app), else one of our own."""
    pool = getattr(engine(), "pool", None) if url is None else None
    if pool is not None:
        async with pool.acquire() as conn:
            yield conn
        return
    conn = await asyncpg.connect(url or configured_url())
    try:
        yield conn
    finally:
        await conn.close()


def _conditions(workspace_id: UUID, flt: ReportFilter) -> tuple[str, str, list[Any]]:
    """The course and enrollment conditions of a filter, and their arguments. Both tables are scoped to
    the workspace: a course id from another workspace can never bring its enrollments along."""
    args: list[Any] = [workspace_id]
    course = ["c.workspace_id = $1"]
    enrollment: list[str] = []
    if flt.query:
        args.append(f"%{_like_escape(flt.query)}%")
        course.append(f"c.title ILIKE ${len(args)}")
    if flt.start is not None:
        args.append(flt.start)
        enrollment.append(f"e.created_at >= ${len(args)}")
    if flt.end is not None:
        args.append(flt.end)
        enrollment.append(f"e.created_at < ${len(args)}")
    return " AND ".join(course), " AND ".join(enrollment), args


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _records_sql(course: str, enrollment: str) -> str:
    extra = f" AND {enrollment}" if enrollment else ""
    return (
        f"SELECT {_RECORD_COLUMNS} FROM enrollment e JOIN course c ON c.id = e.course_id "  # noqa: S608
        f"WHERE e.workspace_id = $1 AND {course}{extra} ORDER BY e.created_at DESC, e.id"
    )


def _row(record: Sequence[Any]) -> ExportRow:
    return ExportRow(
        learner_name=record[0],
        learner_email=record[1],
        course_title=record[2],
        completion=record[3],
        success=record[4],
        score_percent=record[5],
        enrolled_at=record[6],
        completed_at=record[7],
    )


class PostgresReports:
    """The ReportStore on PostgreSQL. Every query is scoped to one workspace.

    `url` connects directly instead of through the app's pool: a worker process has no pool.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url

    async def per_course(self, workspace_id: UUID, flt: ReportFilter) -> list[CourseFigures]:
        course, enrollment, args = _conditions(workspace_id, flt)
        extra = f" AND {enrollment}" if enrollment else ""
        sql = (
            "SELECT c.id, c.title, count(e.id) AS enrolled, "  # noqa: S608
            "count(e.id) FILTER (WHERE e.completion = 'completed') AS completed, "
            "avg(e.score_percent) AS average_score "
            f"FROM course c LEFT JOIN enrollment e ON e.course_id = c.id AND e.workspace_id = $1{extra} "
            f"WHERE {course} GROUP BY c.id, c.title ORDER BY c.title, c.id"
        )
        async with _connection(self.url) as conn:
            records = await conn.fetch(sql, *args)
        return [
            CourseFigures(
                course_id=r["id"],
                title=r["title"],
                enrolled=r["enrolled"],
                completed=r["completed"],
                average_score=float(r["average_score"]) if r["average_score"] is not None else None,
            )
            for r in records
        ]

    async def totals(self, workspace_id: UUID, flt: ReportFilter) -> Totals:
        return totals_of(await self.per_course(workspace_id, flt))

    async def completions(self, workspace_id: UUID, flt: ReportFilter, unit: str) -> list[Bucket]:
        course, enrollment, args = _conditions(workspace_id, flt)
        extra = f" AND {enrollment}" if enrollment else ""
        trunc = "week" if unit == "week" else "day"
        sql = (
            f"SELECT date_trunc('{trunc}', e.completed_at AT TIME ZONE 'UTC')::date AS bucket, "  # noqa: S608
            "count(*) AS n FROM enrollment e JOIN course c ON c.id = e.course_id "
            f"WHERE e.workspace_id = $1 AND {course}{extra} "
            "AND e.completion = 'completed' AND e.completed_at IS NOT NULL GROUP BY 1 ORDER BY 1"
        )
        async with _connection(self.url) as conn:
            records = await conn.fetch(sql, *args)
        return [Bucket(start=r["bucket"], completions=r["n"]) for r in records]

    async def records(
        self, workspace_id: UUID, flt: ReportFilter, *, limit: int, offset: int
    ) -> list[ExportRow]:
        course, enrollment, args = _conditions(workspace_id, flt)
        sql = f"{_records_sql(course, enrollment)} LIMIT {int(limit)} OFFSET {int(offset)}"
        async with _connection(self.url) as conn:
            return [_row(r) for r in await conn.fetch(sql, *args)]

    async def count(self, workspace_id: UUID, flt: ReportFilter) -> int:
        course, enrollment, args = _conditions(workspace_id, flt)
        extra = f" AND {enrollment}" if enrollment else ""
        sql = (
            "SELECT count(*) FROM enrollment e JOIN course c ON c.id = e.course_id "  # noqa: S608
            f"WHERE e.workspace_id = $1 AND {course}{extra}"
        )
        async with _connection(self.url) as conn:
            value: int = await conn.fetchval(sql, *args)
        return value

    async def stream(self, workspace_id: UUID, flt: ReportFilter) -> AsyncIterator[list[ExportRow]]:
        """Every record of the filter in batches, from a server-side cursor (memory stays flat)."""
        course, enrollment, args = _conditions(workspace_id, flt)
        sql = _records_sql(course, enrollment)
        async with _connection(self.url) as conn, conn.transaction(readonly=True):
            cursor = await conn.cursor(sql, *args)
            while True:
                batch = await cursor.fetch(CURSOR_BATCH)
                if not batch:
                    return
                yield [_row(r) for r in batch]

    async def stream_text(
        self, workspace_id: UUID, flt: ReportFilter
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Rows for CSV with dates already formatted (UTC, ISO) by PostgreSQL: the Python side only
        escapes and joins, which keeps 100,000 rows within a few seconds."""
        course, enrollment, args = _conditions(workspace_id, flt)
        extra = f" AND {enrollment}" if enrollment else ""
        sql = (
            "SELECT e.learner_name, e.learner_email, c.title, e.completion, e.success, "  # noqa: S608
            "trim(trailing '.' FROM trim(trailing '0' FROM round(e.score_percent::numeric, 1)::text)), "
            f"to_char(e.created_at AT TIME ZONE 'UTC', '{ISO_FORMAT}'), "
            f"to_char(e.completed_at AT TIME ZONE 'UTC', '{ISO_FORMAT}') "
            "FROM enrollment e JOIN course c ON c.id = e.course_id "
            f"WHERE e.workspace_id = $1 AND {course}{extra} ORDER BY e.created_at DESC, e.id"
        )
        async with _connection(self.url) as conn, conn.transaction(readonly=True):
            cursor = await conn.cursor(sql, *args)
            while True:
                batch = await cursor.fetch(CURSOR_BATCH)
                if not batch:
                    return
                yield [tuple(r) for r in batch]


def totals_of(courses: Iterable[CourseFigures]) -> Totals:
    items = list(courses)
    return Totals(
        courses=len(items),
        enrollments=sum(c.enrolled for c in items),
        completions=sum(c.completed for c in items),
    )


# --- CSV -------------------------------------------------------------------------------------------------


def neutralise(cell: str) -> str:
    """A cell a spreadsheet would evaluate becomes plain text (OWASP CSV injection advice)."""
    if cell and cell.startswith(FORMULA_TRIGGERS):
        return "'" + cell
    return cell


def header(time_zone: str = "UTC") -> list[str]:
    return [f"{name} ({time_zone})" if name.endswith("date") else name for name in EXPORT_COLUMNS]


async def csv_chunks(
    batches: AsyncIterator[list[tuple[Any, ...]]], time_zone: str = "UTC"
) -> AsyncIterator[bytes]:
    """UTF-8 with a BOM (so Excel reads names right), one chunk per cursor batch.

    Rows are (name, email, course, completion, success, score, enrolled, completed) as text.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header(time_zone))
    yield codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")
    status, result = STATUS_LABELS, RESULT_LABELS
    async for batch in batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(
            (
                neutralise(name),
                neutralise(email),
                neutralise(title),
                status.get(completion, completion),
                result.get(success, success),
                score or "",
                enrolled,
                completed or "",
            )
            for name, email, title, completion, success, score, enrolled, completed in batch
        )
        yield buffer.getvalue().encode("utf-8")


# --- XLSX ------------------------------------------------------------------------------------------------

COLUMN_WIDTHS_XLSX = (24, 30, 30, 12, 10, 8, 20, 20)


class XlsxReport:
    """An .xlsx file written row by row (constant memory). CPU-bound pure Python: the app runs it in a
    render-pool worker process (`write_xlsx_file`), never in the server's event loop or threads."""

    def __init__(self, path: Path, *, time_zone: str = "UTC", title: str = "Report") -> None:
        # Imported here: xlsxwriter costs a process ~4 MB, and only an XLSX export needs it.
        import xlsxwriter

        self.path = path
        self.workbook = xlsxwriter.Workbook(
            str(path), {"constant_memory": True, "tmpdir": str(path.parent), "strings_to_formulas": False}
        )
        self.sheet = self.workbook.add_worksheet(title[:31])
        bold = self.workbook.add_format({"bold": True})
        self.date_format = self.workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.score_format = self.workbook.add_format({"num_format": "0.0"})
        for column, width in enumerate(COLUMN_WIDTHS_XLSX):
            self.sheet.set_column(column, column, width)
        self.sheet.write_row(0, 0, header(time_zone), bold)
        self.sheet.freeze_panes(1, 0)
        self.rows = 0

    def write(self, batch: Sequence[ExportRow]) -> None:
        sheet, date_format = self.sheet, self.date_format
        for item in batch:
            self.rows += 1
            r = self.rows
            # write_string: typed text is never turned into a formula or a URL.
            sheet.write_string(r, 0, item.learner_name)
            sheet.write_string(r, 1, item.learner_email)
            sheet.write_string(r, 2, item.course_title)
            sheet.write_string(r, 3, item.status)
            sheet.write_string(r, 4, item.result)
            if item.score_percent is not None:
                sheet.write_number(r, 5, item.score_percent, self.score_format)
            sheet.write_datetime(r, 6, _naive_utc(item.enrolled_at), date_format)
            if item.completed_at is not None:
                sheet.write_datetime(r, 7, _naive_utc(item.completed_at), date_format)

    def close(self) -> None:
        self.sheet.autofilter(0, 0, max(self.rows, 1), len(EXPORT_COLUMNS) - 1)
        self.workbook.close()


def write_xlsx_file(
    database_url: str,
    workspace_id: UUID,
    flt: ReportFilter,
    target: str,
    *,
    time_zone: str = "UTC",
    progress: ExportProgress | None = None,
) -> int:
    """Stream the filter's rows from PostgreSQL into an .xlsx at `target`; returns the rows written.

    Made for a render-pool worker process: xlsxwriter is pure Python, so in the server it would hold the
    GIL for the whole file (about 10 s for 100,000 rows: every other request waits) and leave the memory
    it touched in the server. The worker reads the rows itself, so they never cross a process boundary.
    """
    return asyncio.run(_write_xlsx(database_url, workspace_id, flt, Path(target), time_zone, progress))


async def _write_xlsx(
    url: str,
    workspace_id: UUID,
    flt: ReportFilter,
    target: Path,
    time_zone: str,
    progress: ExportProgress | None,
) -> int:
    report = XlsxReport(target, time_zone=time_zone)
    batches = PostgresReports(url).stream(workspace_id, flt)
    # Pipelined: PostgreSQL produces the next batch while this process writes the current one, so the
    # export takes about as long as the writing alone.
    upcoming = asyncio.ensure_future(anext(batches, None))
    while (batch := await upcoming) is not None:
        upcoming = asyncio.ensure_future(anext(batches, None))
        await asyncio.to_thread(report.write, batch)
        if progress is not None:
            progress.update(report.rows)
    report.close()
    return report.rows


@dataclass(frozen=True)
class ExportProgress:
    """Where a job's export records how far it got (the status file its progress partial polls).

    Plain values, so a worker process can be handed one and write the status itself.
    """

    data_dir: str
    workspace_id: UUID
    export_id: UUID
    status: dict[str, Any]

    def update(self, done: int) -> None:
        ExportFiles(Path(self.data_dir)).write_status(
            self.workspace_id, self.export_id, state="running", done=done, **self.status
        )


def _naive_utc(moment: datetime) -> datetime:
    # Excel has no time zones: cells hold UTC wall time, and the header says so.
    return moment.astimezone(UTC).replace(tzinfo=None)


# --- large exports, written by a job -----------------------------------------------------------------------


class ExportFiles:
    """Finished exports and their progress, one folder per workspace (so an id never crosses workspaces).

    The status is a small JSON file beside the export: the progress partial polls it, no table needed.
    """

    KEEP_FOR_S = 24 * 60 * 60

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "exports"

    def folder(self, workspace_id: UUID) -> Path:
        return self.root / str(workspace_id)

    def file(self, workspace_id: UUID, export_id: UUID, kind: str) -> Path:
        return self.folder(workspace_id) / f"{export_id}.{kind}"

    def status(self, workspace_id: UUID, export_id: UUID) -> dict[str, Any] | None:
        import json

        path = self.folder(workspace_id) / f"{export_id}.json"
        try:
            loaded: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return loaded

    def write_status(self, workspace_id: UUID, export_id: UUID, **status: Any) -> None:
        import json

        folder = self.folder(workspace_id)
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / f"{export_id}.json.tmp"
        temp.write_text(json.dumps(status))
        temp.replace(folder / f"{export_id}.json")  # readers never see half a file

    def sweep(self, workspace_id: UUID, now: float) -> int:
        """Remove exports older than a day; returns how many files went."""
        removed = 0
        folder = self.folder(workspace_id)
        if not folder.exists():
            return 0
        for path in folder.iterdir():
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > self.KEEP_FOR_S:
                    path.unlink()
                    removed += 1
        return removed
