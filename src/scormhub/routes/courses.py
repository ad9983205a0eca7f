"""The Courses tab: list, upload, detail (its live status is partials.courses), delete, preview."""

from __future__ import annotations

import mimetypes
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File, Redirect, Template

from scormhub.bootstrap import Deps
from scormhub.domain import courses as course_cases
from scormhub.domain.courses import PackageRejected, PackageTooLarge
from scormhub.domain.enrollments import UnknownItem, launch_item
from scormhub.domain.errors import NotFound, ServiceUnavailable
from scormhub.domain.model import CourseStatus, Workspace
from scormhub.partials.courses import course_or_404 as _course
from scormhub.routes.providers import DepsDep, UowDep, WorkspaceDep
from scormhub.uploads import StreamedUpload, UploadRefused
from scormhub.web.flash import flashed, redirect_with_flash
from scormhub.web.guards import admin_guard

# Packaged content is the customer's own HTML and script: it may do what it likes inside its frame, but
# only our player may frame it.
CONTENT_CSP = (
    "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:; img-src 'self' data: blob: https:; "
    "media-src 'self' data: blob: https:; frame-ancestors 'self'"
)
# The multipart envelope around the file: boundaries, headers and the CSRF field.
FORM_OVERHEAD_BYTES = 64 * 1024


class CourseController(Controller):
    path = "/app/courses"
    guards = [admin_guard]

    @get("", cache=False)
    async def list_courses(
        self, request: Request[Any, Any, Any], deps: DepsDep, uow: UowDep, workspace: WorkspaceDep
    ) -> Template:
        async with uow:
            items = await uow.courses.list_for_workspace(workspace.id)
            learners = await uow.enrollments.count_by_course(workspace.id)
        return _page(
            "pages/courses/list.html",
            workspace,
            deps,
            courses=items,
            learners=learners,
            deleted=flashed(request).get("deleted"),
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
            course = await course_cases.upload_course(
                workspace_id=workspace.id,
                upload=upload,
                max_bytes=settings.max_package_bytes,
                limits=deps.package_limits,
                uow=deps.uow(),
                storage=deps.storage,
                jobs=deps.jobs,
                clock=deps.clock,
            )
        except UploadRefused as refused:
            return _upload_error(request, workspace, deps, refused.status, str(refused))
        except PackageTooLarge as too_large:
            return _upload_error(request, workspace, deps, 413, str(too_large))
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
        request: Request[Any, Any, Any],
        course_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Template:
        from scormhub.routes.enrollments import _detail  # the detail page shows the enrolled table too

        course = await _course(deps, workspace, course_id)
        return await _detail(request, deps, workspace, course)

    @get("/{course_id:uuid}/delete", cache=False)
    async def confirm_delete(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Template:
        course = await _course(deps, workspace, course_id)
        return _page("pages/courses/delete.html", workspace, deps, course=course)

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
            return _page(
                "pages/courses/delete.html",
                workspace,
                deps,
                course=course,
                error=f"The course engine did not answer ({exc}). Nothing was deleted; try again shortly.",
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
    ) -> Template:
        course = await _course(deps, workspace, course_id)
        if course.status is not CourseStatus.READY or not course.scos:
            raise NotFoundException("This course is not ready to preview.")
        try:
            sco = launch_item(course, request.query_params.get("sco"))
        except UnknownItem:
            return Template(
                template_name="pages/enroll/message.html",
                context={
                    "title": "This part of the course does not exist",
                    "message": "The link names a part of the course that isn't in it.",
                    "continue_url": f"/app/courses/{course.id}/preview",
                },
                status_code=404,
            )
        config = {
            "standard": course.standard,
            "launch": f"/app/courses/{course.id}/content/{sco.launch}",
            "tracking": False,
        }
        return _page(
            "pages/player/preview.html",
            workspace,
            deps,
            course=course,
            sco=sco,
            player_config=config,
        )

    @get("/{course_id:uuid}/content/{path:path}", cache=False)
    async def content(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[UUID],
        path: FromPath[str],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        course = await _course(deps, workspace, course_id)
        if course.engine.value != "builtin":
            raise NotFoundException()
        return serve_content(deps, course.id, path)


def serve_content(deps: Deps, course_id: UUID, path: str) -> Response[Any]:
    """One file of a course's extracted package, with a CSP that lets only our player frame it."""
    target = deps.builtin.content_file(course_id, path.lstrip("/"))
    if target is None:
        raise NotFoundException()
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return File(
        path=target,
        media_type=media_type,
        content_disposition_type="inline",
        headers={"Content-Security-Policy": CONTENT_CSP, "Cache-Control": "private, max-age=300"},
    )


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
