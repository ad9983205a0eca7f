"""Report export jobs: large CSV / XLSX / PDF exports written to the data dir with progress."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from scormhub.domain.exports import build_export
from scormhub.domain.reports import parse_filter
from scormhub.jobs.context import JobContext


async def export_report(
    ctx: JobContext, *, workspace_id: str, export_id: str, kind: str, params: dict[str, str]
) -> dict[str, Any]:
    """Safe to run twice: the file is written again from the start."""
    deps = ctx["deps"]
    flt, _ = parse_filter(params, today=deps.clock.now().date())
    return await build_export(
        UUID(workspace_id),
        UUID(export_id),
        kind,
        flt,
        exports=deps.report_exports(),
        brandings=deps.brandings,
        uow=deps.uow(),
        clock=deps.clock,
    )
