"""The Reports tab (dashboard, learner records, CSV / XLSX / PDF exports) and Settings → Branding."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import File, Redirect, Stream, Template

from scormhub.bootstrap import Deps
from scormhub.domain import reports
from scormhub.domain.model import Workspace
from scormhub.domain.reports import Branding, FilterError, ReportFilter
from scormhub.integrations import branding as branding_store
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
from scormhub.routes.providers import DepsDep, WorkspaceDep
from scormhub.web.guards import admin_guard
from scormhub.web.htmx import vary_on_htmx, wants_fragment

# No workspace time zone exists yet: every time is UTC, and headers and file names say so.
TIME_ZONE = "UTC"
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
LOGO_FORM_MAX_BYTES = 2 * 1024 * 1024


def _filter(request: Request[Any, Any, Any], today: datetime) -> tuple[ReportFilter, str | None]:
    params = {key: request.query_params.get(key) or "" for key in ("q", "range", "from", "to", "page")}
    return reports.parse_filter(params, today=today.date())


class ReportsController(Controller):
    path = "/app/reports"
    guards = [admin_guard]

    @get("", cache=False)
    async def dashboard(self, request: HTMXRequest, deps: DepsDep, workspace: WorkspaceDep) -> Response[Any]:
        now = deps.clock.now()
        flt, error = _filter(request, now)
        dashboard = await reports.load_dashboard(workspace.id, flt, store=PostgresReports(), today=now.date())
        context = {
            "workspace": workspace,
            "nav": "reports",
            "d": dashboard,
            "f": flt,
            "error": error,
            "presets": reports.PRESETS,
            "chart": reports.bar_chart(dashboard.chart, dashboard.chart_unit),
            "time_zone": TIME_ZONE,
        }
        if wants_fragment(request):
            return vary_on_htmx(Template(template_name="partials/reports/results.html", context=context))
        return vary_on_htmx(Template(template_name="pages/reports/index.html", context=context))

    @get("/export.csv", cache=False)
    async def export_csv(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        flt, store = self._export_setup(request, deps)
        if await _too_large(store, workspace, flt, "csv"):
            return await _start_export(request, deps, workspace, flt, "csv")
        return Stream(
            csv_chunks(store.stream_text(workspace.id, flt), TIME_ZONE),
            media_type=MEDIA_TYPES["csv"],
            headers={"Content-Disposition": f'attachment; filename="{_file_name(flt, "csv")}"'},
        )

    @get("/export.xlsx", cache=False)
    async def export_xlsx(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        flt, store = self._export_setup(request, deps)
        if await _too_large(store, workspace, flt, "xlsx"):
            return await _start_export(request, deps, workspace, flt, "xlsx")
        path = await write_xlsx(deps.render_pool, store, workspace, flt)
        return File(
            path=path,
            filename=_file_name(flt, "xlsx"),
            media_type=MEDIA_TYPES["xlsx"],
            background=BackgroundTask(_remove, path),
        )

    @get("/export.pdf", cache=False)
    async def export_pdf(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        flt, store = self._export_setup(request, deps)
        if await _too_large(store, workspace, flt, "pdf"):
            return await _start_export(request, deps, workspace, flt, "pdf")
        branding = await branding_store.load_branding(workspace.id, workspace.name)
        content = await render_pdf(deps.render_pool, store, workspace, flt, branding, deps.clock.now())
        return Response(
            content=content,
            media_type=MEDIA_TYPES["pdf"],
            headers={"Content-Disposition": f'attachment; filename="{_file_name(flt, "pdf")}"'},
        )

    @get("/exports/{export_id:uuid}", cache=False)
    async def export_progress(
        self,
        request: HTMXRequest,
        export_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        status = ExportFiles(deps.settings.data_dir).status(workspace.id, export_id)
        if status is None:
            raise NotFoundException()
        context = {"workspace": workspace, "nav": "reports", "export_id": export_id, "s": status}
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
        files = ExportFiles(deps.settings.data_dir)
        status = files.status(workspace.id, export_id)
        if status is None or status.get("state") != "ready" or status.get("kind") not in MEDIA_TYPES:
            raise NotFoundException()
        path = files.file(workspace.id, export_id, status["kind"])
        if not path.exists():
            raise NotFoundException()
        return File(path=path, filename=status["file_name"], media_type=MEDIA_TYPES[status["kind"]])

    def _export_setup(
        self, request: Request[Any, Any, Any], deps: DepsDep
    ) -> tuple[ReportFilter, PostgresReports]:
        flt, _error = _filter(request, deps.clock.now())
        return flt, PostgresReports()


async def _too_large(
    store: PostgresReports, workspace: Workspace, flt: ReportFilter, kind: str
) -> int | None:
    total = await store.count(workspace.id, flt)
    return total if total > MAX_DIRECT_ROWS[kind] else None


async def _start_export(
    request: Request[Any, Any, Any], deps: Deps, workspace: Workspace, flt: ReportFilter, kind: str
) -> Response[Any]:
    """Over the direct limit: a job writes the file; the admin watches its progress and downloads it."""
    files = ExportFiles(deps.settings.data_dir)
    await anyio.to_thread.run_sync(files.sweep, workspace.id, time.time())
    export_id = uuid.uuid4()
    params = flt.params(page=1)
    files.write_status(
        workspace.id,
        export_id,
        state="queued",
        done=0,
        total=0,
        kind=kind,
        file_name=_file_name(flt, kind),
        filter=flt.describe(),
    )
    await deps.jobs.enqueue(
        "export_report",
        key=f"export:{export_id}",
        timeout_s=3600,
        retries=1,
        workspace_id=str(workspace.id),
        export_id=str(export_id),
        kind=kind,
        params=params,
    )
    return Redirect(path=f"/app/reports/exports/{export_id}", status_code=303)


async def build_export_file(
    files: ExportFiles,
    store: PostgresReports,
    workspace_id: UUID,
    export_id: UUID,
    kind: str,
    flt: ReportFilter,
    now: datetime,
    *,
    pool: RenderPool,
) -> dict[str, Any]:
    """Write one export to the data dir, recording progress as it goes (the export job's body)."""
    total = await store.count(workspace_id, flt)
    name = _file_name(flt, kind)
    status = {"kind": kind, "file_name": name, "filter": flt.describe(), "total": total}
    files.write_status(workspace_id, export_id, state="running", done=0, **status)
    target = files.file(workspace_id, export_id, kind)
    done = 0

    async def counted(batches: Any) -> Any:
        nonlocal done
        async for batch in batches:
            yield batch
            done += len(batch)
            files.write_status(workspace_id, export_id, state="running", done=done, **status)

    try:
        if kind == "csv":
            async with await anyio.open_file(target, "wb") as out:
                async for chunk in csv_chunks(counted(store.stream_text(workspace_id, flt)), TIME_ZONE):
                    await out.write(chunk)
        elif kind == "xlsx":
            # The worker reads the rows and records progress itself (see write_xlsx_file).
            progress = ExportProgress(str(files.root.parent), workspace_id, export_id, status)
            done = await pool.run(
                write_xlsx_file,
                store.url or configured_url(),
                workspace_id,
                flt,
                str(target),
                time_zone=TIME_ZONE,
                progress=progress,
            )
        else:
            workspace_name = await _workspace_name(workspace_id)
            branding = await branding_store.load_branding(workspace_id, workspace_name)
            cells = [
                c async for batch in counted(store.stream(workspace_id, flt)) for c in report_cells(batch)
            ]
            # The worker writes the file itself: the document never passes through this process.
            await pool.run(write_report_pdf, str(target), cells, **_pdf_options(branding, flt, now))
    except Exception:
        files.write_status(workspace_id, export_id, state="failed", done=done, **status)
        raise
    files.write_status(workspace_id, export_id, state="ready", done=done, **status)
    return {"rows": done, "kind": kind}


async def _workspace_name(workspace_id: UUID) -> str:
    from scormhub.integrations.db.uow import PiccoloUnitOfWork

    async with PiccoloUnitOfWork() as uow:
        workspace = await uow.workspaces.get(workspace_id)
    return workspace.name if workspace else "SCORM Hub"


def _file_name(flt: ReportFilter, extension: str) -> str:
    return f"learners_{flt.slug()}_{TIME_ZONE}.{extension}"


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


async def write_xlsx(
    pool: RenderPool, store: PostgresReports, workspace: Workspace, flt: ReportFilter
) -> Path:
    """The workbook in a temp file, written by a worker process that streams the rows from PostgreSQL."""
    handle, name = tempfile.mkstemp(prefix="scormhub-report-", suffix=".xlsx")
    os.close(handle)
    path = Path(name)
    try:
        await pool.run(
            write_xlsx_file,
            store.url or configured_url(),
            workspace.id,
            flt,
            str(path),
            time_zone=TIME_ZONE,
        )
    except BaseException:
        _remove(path)
        raise
    return path


async def render_pdf(
    pool: RenderPool,
    store: PostgresReports,
    workspace: Workspace,
    flt: ReportFilter,
    branding: Branding,
    now: datetime,
) -> bytes:
    """The PDF, rendered in a worker process: borb would hold the GIL (every other request waits) and
    stay in this process's memory for good. The rows go over as plain text tuples."""
    cells = [c async for batch in store.stream(workspace.id, flt) for c in report_cells(batch)]
    return await pool.run(render_report_pdf, cells, **_pdf_options(branding, flt, now))


def _pdf_options(branding: Branding, flt: ReportFilter, now: datetime) -> dict[str, Any]:
    return {
        "branding": branding,
        "title": "Learner report",
        "filter_text": flt.describe(),
        "generated_at": now.astimezone(UTC),
        "time_zone": TIME_ZONE,
    }


# --- Settings → Branding -----------------------------------------------------------------------------


class BrandingController(Controller):
    path = "/app/settings/branding"
    guards = [admin_guard]

    @get("", cache=False)
    async def page(self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep) -> Template:
        branding = await branding_store.load_branding(workspace.id, workspace.name)
        return _branding_page(workspace, branding, saved=request.query_params.get("saved") == "1")

    @post("", request_max_body_size=LOGO_FORM_MAX_BYTES)
    async def save(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        current = await branding_store.load_branding(workspace.id, workspace.name)
        form = await request.form()
        name = str(form.get("organization_name") or "").strip()[:200]
        colour_raw = str(form.get("primary_color") or "")
        logo_url = str(form.get("logo_url") or "").strip()
        upload = form.get("logo_file")
        errors: dict[str, str] = {}
        if not name:
            errors["organization_name"] = "Enter the organization name shown on reports."
        try:
            colour = reports.check_colour(colour_raw)
        except FilterError as error:
            errors["primary_color"] = str(error)
            colour = current.primary_color
        logo_bytes, logo_type, stored_url = current.logo_bytes, current.logo_content_type, current.logo_url
        try:
            if isinstance(upload, UploadFile) and upload.filename:
                content = await upload.read(branding_store.MAX_LOGO_BYTES + 1)
                logo = branding_store.check_image(content)
                logo_bytes, logo_type, stored_url = logo.content, logo.content_type, None
            elif form.get("remove_logo") == "on":
                logo_bytes, logo_type, stored_url = None, None, None
            elif logo_url and logo_url != current.logo_url:
                async with branding_store.build_client() as client:
                    logo = await branding_store.fetch_logo(logo_url, client=client)
                logo_bytes, logo_type, stored_url = logo.content, logo.content_type, logo_url
        except branding_store.LogoRefused as refused:
            errors["logo"] = str(refused)
        submitted = Branding(
            organization_name=name,
            primary_color=colour,
            logo_bytes=logo_bytes,
            logo_content_type=logo_type,
            logo_url=stored_url,
        )
        if errors:
            return _branding_page(
                workspace,
                current,
                errors=errors,
                form={"organization_name": name, "primary_color": colour_raw, "logo_url": logo_url},
                status_code=422,
            )
        await branding_store.save_branding(workspace.id, submitted, deps.clock.now())
        return Redirect(path="/app/settings/branding", query_params={"saved": "1"}, status_code=303)

    @get("/logo", cache=False)
    async def logo(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        branding = await branding_store.load_branding(workspace.id, workspace.name)
        if not branding.logo_bytes or branding.logo_content_type not in branding_store.ALLOWED_TYPES:
            return Response(content=b"", status_code=404)
        return Response(
            content=branding.logo_bytes,
            media_type=branding.logo_content_type,
            headers={"Cache-Control": "private, max-age=60"},
        )


def _branding_page(
    workspace: Workspace,
    branding: Branding,
    *,
    saved: bool = False,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    return Template(
        template_name="pages/settings/branding.html",
        context={
            "workspace": workspace,
            "nav": "settings",
            "branding": branding,
            "saved": saved,
            "errors": errors or {},
            "form": form
            or {
                "organization_name": branding.organization_name,
                "primary_color": branding.primary_color,
                "logo_url": branding.logo_url or "",
            },
            "max_logo_kb": branding_store.MAX_LOGO_BYTES // 1024,
        },
        status_code=status_code,
    )
