"""Report exports on PostgreSQL and the data dir: the ReportExports port, and the direct downloads.

Spreadsheets and PDFs are written in the render pool's worker processes: xlsxwriter and borb are pure
Python and would hold the GIL (every other request waits) and keep their memory in the server.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import anyio
import anyio.to_thread

from scormhub.domain.exports import TIME_ZONE
from scormhub.domain.reports import ReportExports, ReportFilter
from scormhub.integrations.db.database import configured_url
from scormhub.integrations.exports import (
    ExportFiles,
    ExportProgress,
    PostgresReports,
    csv_chunks,
    write_xlsx_file,
)
from scormhub.integrations.pdf import render_report_pdf, report_cells, write_report_pdf
from scormhub.integrations.render_pool import RenderPool


class PostgresReportExports:
    """Reads through `store` (also the dashboard's ReportStore); files go under `data_dir/exports`."""

    def __init__(self, data_dir: Path, pool: RenderPool, store: PostgresReports | None = None) -> None:
        self.files = ExportFiles(data_dir)
        self.pool = pool
        self.store = store or PostgresReports()

    # --- the ReportExports port (exports written by a job) ---

    async def count(self, workspace_id: UUID, flt: ReportFilter) -> int:
        return await self.store.count(workspace_id, flt)

    def status(self, workspace_id: UUID, export_id: UUID) -> dict[str, Any] | None:
        return self.files.status(workspace_id, export_id)

    def write_status(self, workspace_id: UUID, export_id: UUID, **status: Any) -> None:
        self.files.write_status(workspace_id, export_id, **status)

    async def sweep(self, workspace_id: UUID) -> None:
        await anyio.to_thread.run_sync(self.files.sweep, workspace_id, time.time())

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
        target = self.files.file(workspace_id, export_id, kind)
        done = 0

        async def counted(batches: AsyncIterator[list[Any]]) -> AsyncIterator[list[Any]]:
            nonlocal done
            async for batch in batches:
                yield batch
                done += len(batch)
                progress(done)

        if kind == "csv":
            async with await anyio.open_file(target, "wb") as out:
                async for chunk in csv_chunks(counted(self.store.stream_text(workspace_id, flt)), TIME_ZONE):
                    await out.write(chunk)
            return done
        if kind == "xlsx":
            # The worker reads the rows and records progress itself (see write_xlsx_file).
            worker_progress = ExportProgress(
                str(self.files.root.parent), workspace_id, export_id, dict(status)
            )
            rows: int = await self.pool.run(
                write_xlsx_file,
                self.store.url or configured_url(),
                workspace_id,
                flt,
                str(target),
                time_zone=TIME_ZONE,
                progress=worker_progress,
            )
            return rows
        cells = [
            c async for batch in counted(self.store.stream(workspace_id, flt)) for c in report_cells(batch)
        ]
        # The worker writes the file itself: the document never passes through this process.
        await self.pool.run(write_report_pdf, str(target), cells, **dict(pdf or {}))
        return done

    # --- direct downloads and finished files ---

    def file(self, workspace_id: UUID, export_id: UUID, kind: str) -> Path:
        return self.files.file(workspace_id, export_id, kind)

    def csv(self, workspace_id: UUID, flt: ReportFilter) -> AsyncIterator[bytes]:
        return csv_chunks(self.store.stream_text(workspace_id, flt), TIME_ZONE)

    async def xlsx(self, workspace_id: UUID, flt: ReportFilter) -> Path:
        """The workbook in a temp file, written by a worker process that streams the rows from PostgreSQL.
        The caller removes it once sent."""
        handle, name = tempfile.mkstemp(prefix="scormhub-report-", suffix=".xlsx")
        os.close(handle)
        path = Path(name)
        try:
            await self.pool.run(
                write_xlsx_file,
                self.store.url or configured_url(),
                workspace_id,
                flt,
                str(path),
                time_zone=TIME_ZONE,
            )
        except BaseException:
            remove_file(path)
            raise
        return path

    async def pdf(self, workspace_id: UUID, flt: ReportFilter, options: Mapping[str, Any]) -> bytes:
        """The PDF, rendered in a worker process; the rows go over as plain text tuples."""
        cells = [c async for batch in self.store.stream(workspace_id, flt) for c in report_cells(batch)]
        content: bytes = await self.pool.run(render_report_pdf, cells, **dict(options))
        return content


def remove_file(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


if TYPE_CHECKING:
    _port: ReportExports = PostgresReportExports(Path(), RenderPool())
