"""The Courses tab: list, upload, detail (its live status is partials.courses), delete, preview (played on
the content origin)."""

from __future__ import annotations

import mimetypes
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import File, Redirect, Stream, Template

from scormhub.bootstrap import Deps
from scormhub.domain import courses as course_cases
from scormhub.domain.courses import PackageRejected, PackageTooLarge, StorageQuotaExceeded
from scormhub.domain.errors import NotFound, ServiceUnavailable, StorageUnavailable
from scormhub.domain.listing import parse_list_query
from scormhub.domain.model import CourseStatus, Workspace
from scormhub.partials.courses import course_or_404 as _course
from scormhub.partials.enrollments import enrolled_context, enrolled_query, enrollment_table
from scormhub.routes.providers import DepsDep, UowDep, WorkspaceDep
from scormhub.uploads import StreamedUpload, UploadRefused
from scormhub.web.flash import flashed, redirect_with_flash
from scormhub.web.guards import admin_guard
from scormhub.web.htmx import vary_on_htmx, wants_fragment

# The columns the course list can be sorted by (integrations.db.listings maps them to SQL).
COURSE_SORTS = ("title", "status", "learners", "added", "file")
# The multipart envelope around the file: boundaries, headers and the CSRF field.
FORM_OVERHEAD_BYTES = 64 * 1024


class CourseController(Controller):
    path = "/app/courses"
    guards = [admin_guard]

    @get("", cache=False)
    async def list_courses(
        self, request: HTMXRequest, deps: DepsDep, uow: UowDep, workspace: WorkspaceDep
    ) -> Template:
        query = parse_list_query(
            dict(request.query_params), sorts=COURSE_SORTS, default_sort="added", default_descending=True
        )
        async with uow:
            listed, learners = await uow.listings.courses(workspace.id, query)
            anything = listed.total > 0
            if not anything and query.q:  # a search that found nothing is not an empty workspace
                everything, _ = await uow.listings.courses(workspace.id, replace(query, q="", page=1))
                anything = everything.total > 0
        context: dict[str, Any] = {
            "courses": listed.items,
            "listed": listed,
            "listing": query,
            "learners": learners,
        }
        if wants_fragment(request):
            return vary_on_htmx(
                Template(
                    template_name="partials/courses/table.html", context={"workspace": workspace, **context}
                )
            )
        return vary_on_htmx(
            _page(
                "pages/courses/list.html",
                workspace,
                deps,
                any_course=anything,
                deleted=flashed(request).get("deleted"),
                **context,
            )
        )

    @post(
        "",
        opt={"exclude_from_csrf": True},  # checked by StreamedUpload before anything is stored
        request_max_body_size=None,  # the package cap is enforced while streaming instead
    )
    async def upload(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        settings = deps.settings
        declared = int(request.headers.get("content-length") or 0)
        if declared > settings.max_package_bytes + FORM_OVERHEAD_BYTES:
            # Refuse before reading a byte: a browser shows this instead of uploading for minutes.
            return _upload_error(
                request, workspace, deps, 413, str(PackageTooLarge(settings.max_package_bytes))
            )
        upload = StreamedUpload(request=request, secret=settings.secret_key)
        try:
            used = await course_storage_used(deps, workspace)
            course = await course_cases.upload_course(
                workspace_id=workspace.id,
                upload=upload,
                max_bytes=settings.max_package_bytes,
                limits=deps.package_limits,
                uow=deps.uow(),
                storage=deps.storage,
                jobs=deps.jobs,
                clock=deps.clock,
                quota_bytes=settings.storage_quota_bytes,
                used_bytes=used,
            )
        except UploadRefused as refused:
            return _upload_error(request, workspace, deps, refused.status, str(refused))
        except StorageUnavailable:
            return _upload_error(
                request,
                workspace,
                deps,
                503,
                "Course storage is not answering, so the package was not kept. Try again in a minute.",
            )
        except PackageTooLarge as too_large:
            return _upload_error(request, workspace, deps, 413, str(too_large))
        except StorageQuotaExceeded as full:
            return _upload_error(request, workspace, deps, 413, str(full))
        except PackageRejected as rejected:
            return _upload_error(
                request,
                workspace,
                deps,
                422,
                f"{upload.file_name} can't be used yet:",
                problems=[p.message for p in rejected.report.errors],
            )
        return Redirect(path=f"/app/courses/{course.id}", status_code=303)

    @get("/{course_id:uuid}", cache=False)
    async def detail(
        self,
        request: HTMXRequest,
        course_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Template:
        from scormhub.routes.enrollments import _detail  # the detail page shows the enrolled table too

        course = await _course(deps, workspace, course_id)
        if wants_fragment(request):
            # Searching, sorting and paging the enrolled table: this URL (bookmarkable) answers with it.
            query = enrolled_query(request)
            return enrollment_table(await enrolled_context(deps, workspace, course, query))
        return vary_on_htmx(await _detail(request, deps, workspace, course))

    @get("/{course_id:uuid}/delete", cache=False)
    async def confirm_delete(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Template:
        course = await _course(deps, workspace, course_id)
        async with deps.uow() as uow:
            learners = await uow.enrollments.count_for_course(workspace.id, course.id)
        return _page("pages/courses/delete.html", workspace, deps, course=course, learners=learners)

    @post("/{course_id:uuid}/delete")
    async def delete(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        try:
            course = await course_cases.delete_course(
                workspace.id,
                course_id,
                uow=deps.uow(),
                engines=await deps.scorm_cloud.engines_for(workspace.id),
                storage=deps.storage,
            )
        except NotFound:
            raise NotFoundException() from None
        except ServiceUnavailable as exc:
            course = await _course(deps, workspace, course_id)
            async with deps.uow() as uow:
                learners = await uow.enrollments.count_for_course(workspace.id, course.id)
            return _page(
                "pages/courses/delete.html",
                workspace,
                deps,
                course=course,
                learners=learners,
                error=f"{str(exc).strip() or 'The course engine did not answer.'} Nothing was deleted.",
                status_code=503,
            )
        return redirect_with_flash(request, "/app/courses", deleted=course.title)

    @get("/{course_id:uuid}/preview", cache=False)
    async def preview(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        course = await _course(deps, workspace, course_id)
        if course.status is not CourseStatus.READY or not course.scos:
            raise NotFoundException("This course is not ready to preview.")
        # The preview plays on the content origin like any learner's, through an expiring pass: the
        # package's script runs there without this admin's session, so it cannot act as them.
        token = deps.preview_passes().issue(course.id)
        wanted = request.query_params.get("sco")
        query = f"?{urlencode({'sco': wanted})}" if wanted else ""
        return Redirect(path=f"{deps.settings.content_origin}/play/{token}{query}", status_code=303)


async def serve_content(deps: Deps, course_id: UUID, path: str, version: int = 1) -> Response[Any]:
    """One file of a version of a course's extracted package (only ever on the content origin, which sets
    its CSP)."""
    try:
        found = await deps.builtin.open_content(course_id, path.lstrip("/"), version)
    except StorageUnavailable:
        # The frame shows a sentence, not a blank page; storage coming back needs no restart.
        return Response(
            content=CONTENT_UNAVAILABLE,
            media_type="text/html",
            status_code=503,
            headers={"Retry-After": "30", "Cache-Control": "no-store"},
        )
    if found is None:
        raise NotFoundException()
    media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    headers = {"Cache-Control": "private, max-age=300"}
    if found.local_path is not None:
        return File(
            path=found.local_path,
            media_type=media_type,
            content_disposition_type="inline",
            headers=headers,
        )
    return Stream(
        found.chunks(),
        media_type=media_type,
        headers={**headers, "Content-Length": str(found.size)},
    )


CONTENT_UNAVAILABLE = (
    "<!doctype html><meta charset=utf-8><title>Content temporarily unavailable</title>"
    "<p style='font:16px sans-serif;margin:2em'>This course's content is temporarily unavailable. "
    "Your progress is saved. Try again in a minute.</p>"
)


async def course_storage_used(deps: Deps, workspace: Workspace) -> int:
    """The unpacked bytes the workspace's courses take in storage (the quota's usage)."""
    async with deps.uow() as uow:
        course_ids = [course.id for course in await uow.courses.list_for_workspace(workspace.id)]
    return await deps.storage.stored_course_bytes(course_ids)


def _page(
    template: str, workspace: Workspace, deps: Deps, *, status_code: int = 200, **context: Any
) -> Template:
    return Template(
        template_name=template,
        context={
            "workspace": workspace,
            "nav": "courses",
            "max_package_mb": deps.settings.max_package_mb,
            **context,
        },
        status_code=status_code,
    )


def _upload_error(
    request: Request[Any, Any, Any],
    workspace: Workspace,
    deps: Deps,
    status: int,
    message: str,
    problems: list[str] | None = None,
) -> Template:
    return _page(
        "pages/courses/upload_failed.html",
        workspace,
        deps,
        status_code=status,
        upload_error=message,
        problems=problems or [],
    )
