"""Uploading a new version of a course (the course page's Versions card)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, post
from litestar.params import FromPath
from litestar.response import Template

from scormhub.domain import versions as cases
from scormhub.domain.courses import PackageRejected, PackageTooLarge
from scormhub.domain.errors import NotFound, ServiceUnavailable
from scormhub.domain.model import Course, VersionPolicy, Workspace
from scormhub.partials.courses import course_or_404
from scormhub.routes.courses import FORM_OVERHEAD_BYTES
from scormhub.routes.providers import DepsDep, WorkspaceDep
from scormhub.uploads import StreamedUpload, UploadRefused
from scormhub.web.flash import redirect_with_flash
from scormhub.web.guards import admin_guard

POLICY_HELP = "Choose what happens to learners already enrolled, then upload again."


class VersionController(Controller):
    path = "/app/courses/{course_id:uuid}/versions"
    guards = [admin_guard]

    @post(
        "",
        opt={"exclude_from_csrf": True},  # checked by StreamedUpload before anything is stored
        request_max_body_size=None,  # the package cap is enforced while streaming instead
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        course = await course_or_404(deps, workspace, course_id)
        settings = deps.settings
        if int(request.headers.get("content-length") or 0) > settings.max_package_bytes + FORM_OVERHEAD_BYTES:
            return _failed(workspace, course, 413, str(PackageTooLarge(settings.max_package_bytes)))
        upload = StreamedUpload(request=request, secret=settings.secret_key)

        def policy() -> VersionPolicy:
            try:
                return VersionPolicy(upload.fields.get("policy", VersionPolicy.NEVER.value))
            except ValueError:
                raise UploadRefused(400, POLICY_HELP) from None

        try:
            version = await cases.upload_version(
                workspace_id=workspace.id,
                course_id=course.id,
                upload=upload,
                policy=policy,
                max_bytes=settings.max_package_bytes,
                limits=deps.package_limits,
                uow=deps.uow(),
                storage=deps.storage,
                jobs=deps.jobs,
                clock=deps.clock,
            )
        except cases.SameVersion as same:
            return redirect_with_flash(request, f"/app/courses/{course.id}", notice=str(same))
        except UploadRefused as refused:
            return _failed(workspace, course, refused.status, str(refused))
        except PackageTooLarge as too_large:
            return _failed(workspace, course, 413, str(too_large))
        except PackageRejected as rejected:
            problems = [p.message for p in rejected.report.errors]
            return _failed(workspace, course, 422, f"{upload.file_name} can't be used yet:", problems)
        except cases.VersionRejected as refused_now:
            return _failed(workspace, course, 409, str(refused_now))
        except NotFound:
            return _failed(workspace, course, 404, "This course no longer exists.")
        return redirect_with_flash(
            request,
            f"/app/courses/{course.id}",
            notice=f"Version {version.number} ({version.file_name}) is being imported; it becomes current "
            "when it is Ready.",
        )


def _failed(
    workspace: Workspace, course: Course, status: int, message: str, problems: list[str] | None = None
) -> Template:
    return Template(
        template_name="pages/courses/version_failed.html",
        context={
            "workspace": workspace,
            "nav": "courses",
            "course": course,
            "upload_error": message,
            "problems": problems or [],
        },
        status_code=status,
    )


class AdoptVersionController(Controller):
    path = "/app/courses/{course_id:uuid}/as-version-of/{target_id:uuid}"
    guards = [admin_guard]

    @post("")
    async def adopt(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[UUID],
        target_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        course = await course_or_404(deps, workspace, course_id)
        target = await course_or_404(deps, workspace, target_id)
        form = await request.form()
        try:
            policy = VersionPolicy(str(form.get("policy", VersionPolicy.NEVER.value)))
        except ValueError:
            return _failed(workspace, course, 400, POLICY_HELP)
        try:
            version = await cases.adopt_as_version(
                workspace.id,
                course.id,
                target.id,
                policy,
                uow=deps.uow(),
                engines=await deps.scorm_cloud.engines_for(workspace.id),
                jobs=deps.jobs,
                storage=deps.storage,
                clock=deps.clock,
            )
        except cases.SameVersion as same:
            return redirect_with_flash(request, f"/app/courses/{target.id}", notice=str(same))
        except cases.VersionRejected as refused:
            return _failed(workspace, course, 409, str(refused))
        except NotFound:
            return _failed(workspace, course, 404, "That course no longer exists.")
        except ServiceUnavailable as exc:
            return _failed(
                workspace, course, 503, f"The course engine did not answer ({exc}). Try again shortly."
            )
        return redirect_with_flash(
            request,
            f"/app/courses/{target.id}",
            notice=f"{version.file_name} is being imported as version {version.number} of this course.",
        )
