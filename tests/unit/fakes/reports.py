"""Fake of the ReportExports port: rows per workspace, status records and files kept in memory."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from uuid import UUID

from scormhub.domain.reports import ReportFilter

if TYPE_CHECKING:
    from scormhub.domain.reports import ReportExports


class FakeReportExports:
    """Every workspace's rows (any filter selects them all), written in batches of `batch`."""

    def __init__(self, rows: Mapping[UUID, int] | None = None, *, batch: int = 2) -> None:
        self.rows = dict(rows or {})
        self.batch = batch
        self.statuses: dict[tuple[UUID, UUID], list[dict[str, Any]]] = {}
        self.files: dict[tuple[UUID, UUID], tuple[str, Mapping[str, Any] | None]] = {}
        self.swept: list[UUID] = []
        self.fail_with: Exception | None = None

    async def count(self, workspace_id: UUID, flt: ReportFilter) -> int:
        return self.rows.get(workspace_id, 0)

    def status(self, workspace_id: UUID, export_id: UUID) -> dict[str, Any] | None:
        history = self.statuses.get((workspace_id, export_id))
        return history[-1] if history else None

    def write_status(self, workspace_id: UUID, export_id: UUID, **status: Any) -> None:
        self.statuses.setdefault((workspace_id, export_id), []).append(status)

    async def sweep(self, workspace_id: UUID) -> None:
        self.swept.append(workspace_id)

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
        done, total = 0, self.rows.get(workspace_id, 0)
        while done < total:
            done = min(total, done + self.batch)
            progress(done)
        if self.fail_with is not None:
            raise self.fail_with
        self.files[(workspace_id, export_id)] = (kind, pdf)
        return done


if TYPE_CHECKING:
    _exports: ReportExports = FakeReportExports()
