"""Bulk enrollment pages: upload a CSV, see the preview, confirm, watch the progress bar, read the report.

The progress card is a partial with a URL of its own: htmx polls it every second while the run goes, and
the plain page (no script) shows the same card and refreshes itself with a meta tag.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from scormhub.bootstrap import Deps
from scormhub.domain import bulk_enrollment as cases
from scormhub.domain.automation.model import BulkRowStatus, BulkRun
from scormhub.domain.bulk_csv import MAX_BYTES, MAX_ROWS, CsvRefused
from scormhub.domain.enrollments import CourseNotAvailable
from scormhub.domain.errors import ServiceUnavailable
from scormhub.domain.model import Course, Workspace
from scormhub.partials.courses import course_or_404
from scormhub.routes.providers import DepsDep, WorkspaceDep
from scormhub.web.guards import admin_guard
from scormhub.web.htmx import vary_on_htmx, wants_fragment

REPORT_ROWS = 500  # skipped rows listed on the page; the counts cover all of them


class BulkEnrollmentController(Controller):
    path = "/app/courses/{course_id:uuid}/bulk"
    guards = [admin_guard]

    @get("", cache=False)
    async def form(self, course_id: FromPath[UUID], deps: DepsDep, workspace: WorkspaceDep) -> Template:
        course = await course_or_404(deps, workspace, course_id)
        return _form(course)

    @post("/preview", request_max_body_size=MAX_BYTES + 64 * 1024)
    async def preview(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Template:
        course = await course_or_404(deps, workspace, course_id)
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _form(course, "Choose a CSV file with a line per learner: first name, last name, email.")
        raw = await upload.read(MAX_BYTES + 1)
        try:
            found = await cases.preview_csv(
                workspace.id, course.id, upload.filename[:200], raw, uow=deps.uow(), clock=deps.clock
            )
        except CsvRefused as refused:
            return _form(course, str(refused))
        except CourseNotAvailable as unavailable:
            return _form(course, str(unavailable))
        return await _preview_page(deps, workspace, course, found)

    @post("/preview-tag")
    async def preview_tag(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Template:
        course = await course_or_404(deps, workspace, course_id)
        form = await request.form()
        tag = str(form.get("tag", ""))[:200]
        try:
            found = await cases.preview_tag(
                workspace.id,
                course.id,
                tag,
                tagged=await deps.crm.tagged_contacts(workspace.id),
                uow=deps.uow(),
                clock=deps.clock,
            )
        except (cases.TagRefused, CourseNotAvailable) as refused:
            return _form(course, str(refused))
        except ServiceUnavailable as down:
            return _form(course, f"The CRM did not answer ({down}). Nothing was stored; try again shortly.")
        return await _preview_page(deps, workspace, course, found)

    @post("/{run_id:uuid}/start")
    async def start(
        self, course_id: FromPath[UUID], run_id: FromPath[UUID], deps: DepsDep, workspace: WorkspaceDep
    ) -> Redirect:
        course = await course_or_404(deps, workspace, course_id)
        await cases.start(workspace.id, run_id, uow=deps.uow(), jobs=deps.jobs, clock=deps.clock)
        return Redirect(path=f"/app/courses/{course.id}/bulk/{run_id}", status_code=303)

    @get("/{run_id:uuid}", cache=False)
    async def progress(
        self,
        request: HTMXRequest,
        course_id: FromPath[UUID],
        run_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        course = await course_or_404(deps, workspace, course_id)
        async with deps.uow() as uow:
            run = await uow.bulk.get_run(workspace.id, run_id)
        if run is None or run.course_id != course.id:
            raise NotFoundException()
        skips = (
            await _rows(deps, workspace, run, (BulkRowStatus.SKIPPED, BulkRowStatus.ALREADY))
            if run.status == "done"
            else []
        )
        context = {"nav": "courses", "course": course, "run": run, "skips": skips}
        if wants_fragment(request):
            return vary_on_htmx(Template(template_name="partials/bulk/progress.html", context=context))
        return vary_on_htmx(Template(template_name="pages/bulk/run.html", context=context))


def _form(course: Course, error: str | None = None) -> Template:
    return Template(
        template_name="pages/bulk/form.html",
        context={
            "nav": "courses",
            "course": course,
            "error": error,
            "max_rows": MAX_ROWS,
            "max_mb": MAX_BYTES // 2**20,
        },
        status_code=400 if error else 200,
    )


async def _rows(
    deps: Deps, workspace: Workspace, run: BulkRun, statuses: tuple[BulkRowStatus, ...]
) -> list[Any]:
    async with deps.uow() as uow:
        return await uow.bulk.rows_with(run.id, [s.value for s in statuses], limit=REPORT_ROWS)


async def _preview_page(deps: Deps, workspace: Workspace, course: Course, found: cases.Preview) -> Template:
    return Template(
        template_name="pages/bulk/preview.html",
        context={
            "nav": "courses",
            "course": course,
            "preview": found,
            "skips": await _rows(deps, workspace, found.run, (BulkRowStatus.SKIPPED,)),
        },
    )
