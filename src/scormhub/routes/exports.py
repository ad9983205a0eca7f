"""Reports → exports: CSV / XLSX / PDF downloads, and the progress page of one too large to send at once."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get
from litestar.background_tasks import BackgroundTask
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import File, Redirect, Stream, Template

from scormhub.bootstrap import Deps
from scormhub.domain.exports import export_file_name, pdf_options, start_export
from scormhub.domain.model import Workspace
from scormhub.domain.reports import ReportFilter
from scormhub.routes.providers import DepsDep, WorkspaceDep
from scormhub.routes.reports import report_filter
from scormhub.web.guards import admin_guard
from scormhub.web.htmx import vary_on_htmx, wants_fragment

# Above these, a direct download would hold a request too long (PDF: several ms a row in borb).
MAX_DIRECT_ROWS = {"csv": 50_000, "xlsx": 50_000, "pdf": 5_000}
# An operator (or the benchmark) may raise the CSV/XLSX limit: both stream with flat memory.
if _raised := os.environ.get("SCORMHUB_EXPORT_DIRECT_ROWS", "").strip():
    MAX_DIRECT_ROWS.update(csv=int(_raised), xlsx=int(_raised))
# Litestar appends "; charset=utf-8" to every text/ type itself: naming it here would say it twice.
MEDIA_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


class ExportsController(Controller):
    path = "/app/reports"
    guards = [admin_guard]

    @get("/export.csv", cache=False)
    async def export_csv(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        flt, _error = report_filter(request, deps.clock.now())
        exports = deps.report_exports()
        if await exports.count(workspace.id, flt) > MAX_DIRECT_ROWS["csv"]:
            return await _start_export(deps, workspace, flt, "csv")
        return Stream(
            exports.csv(workspace.id, flt),
            media_type=MEDIA_TYPES["csv"],
            headers={"Content-Disposition": f'attachment; filename="{export_file_name(flt, "csv")}"'},
        )

    @get("/export.xlsx", cache=False)
    async def export_xlsx(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        flt, _error = report_filter(request, deps.clock.now())
        exports = deps.report_exports()
        if await exports.count(workspace.id, flt) > MAX_DIRECT_ROWS["xlsx"]:
            return await _start_export(deps, workspace, flt, "xlsx")
        path = await exports.xlsx(workspace.id, flt)
        return File(
            path=path,
            filename=export_file_name(flt, "xlsx"),
            media_type=MEDIA_TYPES["xlsx"],
            background=BackgroundTask(_remove, path),
        )

    @get("/export.pdf", cache=False)
    async def export_pdf(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        flt, _error = report_filter(request, deps.clock.now())
        exports = deps.report_exports()
        if await exports.count(workspace.id, flt) > MAX_DIRECT_ROWS["pdf"]:
            return await _start_export(deps, workspace, flt, "pdf")
        branding = await deps.brandings.load(workspace.id, workspace.name)
        content = await exports.pdf(workspace.id, flt, pdf_options(branding, flt, deps.clock.now()))
        return Response(
            content=content,
            media_type=MEDIA_TYPES["pdf"],
            headers={"Content-Disposition": f'attachment; filename="{export_file_name(flt, "pdf")}"'},
        )

    @get("/exports/{export_id:uuid}", cache=False)
    async def export_progress(
        self,
        request: HTMXRequest,
        export_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        status = deps.report_exports().status(workspace.id, export_id)
        if status is None:
            raise NotFoundException()
        context = {"workspace": workspace, "nav": "reports", "export_id": export_id, "export_status": status}
        if wants_fragment(request):
            return vary_on_htmx(
                Template(template_name="partials/reports/export_status.html", context=context)
            )
        return vary_on_htmx(Template(template_name="pages/reports/export.html", context=context))

    @get("/exports/{export_id:uuid}/download", cache=False)
    async def export_download(
        self,
        request: Request[Any, Any, Any],
        export_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        exports = deps.report_exports()
        status = exports.status(workspace.id, export_id)
        if status is None or status.get("state") != "ready" or status.get("kind") not in MEDIA_TYPES:
            raise NotFoundException()
        path = exports.file(workspace.id, export_id, status["kind"])
        if not path.exists():
            raise NotFoundException()
        return File(path=path, filename=status["file_name"], media_type=MEDIA_TYPES[status["kind"]])


async def _start_export(deps: Deps, workspace: Workspace, flt: ReportFilter, kind: str) -> Response[Any]:
    """Over the direct limit: a job writes the file; the admin watches its progress and downloads it."""
    export_id = await start_export(workspace.id, flt, kind, exports=deps.report_exports(), jobs=deps.jobs)
    return Redirect(path=f"/app/reports/exports/{export_id}", status_code=303)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
