"""Result overrides of one learner on one course: the form, its audit log, setting and clearing."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from scormhub.bootstrap import Deps
from scormhub.domain import override_cases as cases
from scormhub.domain.errors import NotFound
from scormhub.domain.model import Course, Enrollment, Workspace
from scormhub.domain.overrides import OverrideRejected, engine_result, parse_override
from scormhub.partials.courses import course_or_404
from scormhub.routes.providers import DepsDep, WorkspaceDep
from scormhub.web.flash import redirect_with_flash
from scormhub.web.guards import admin_guard, current_admin


def _actor(request: Request[Any, Any, Any]) -> str:
    admin = current_admin(request)
    # HighLevel SSO names the CRM user; a standalone login link is the workspace's admin.
    return admin.user_name or admin.user_id or "Workspace admin"


class OverrideController(Controller):
    path = "/app/courses/{course_id:uuid}/enrollments/{enrollment_id:uuid}/override"
    guards = [admin_guard]

    @get("", cache=False)
    async def form(
        self, course_id: FromPath[UUID], enrollment_id: FromPath[UUID], deps: DepsDep, workspace: WorkspaceDep
    ) -> Template:
        course, enrollment = await _found(deps, workspace, course_id, enrollment_id)
        return await _page(deps, workspace, course, enrollment)

    @post("")
    async def set_override(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[UUID],
        enrollment_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        course, enrollment = await _found(deps, workspace, course_id, enrollment_id)
        form = await request.form()
        values = {k: str(form.get(k, ""))[:2000] for k in ("completion", "success", "score", "reason")}
        try:
            command = parse_override(values, actor=_actor(request))
            changed = await cases.override_result(
                workspace.id, enrollment.id, command, uow=deps.uow(), jobs=deps.jobs, clock=deps.clock
            )
        except OverrideRejected as bad:
            return await _page(
                deps, workspace, course, enrollment, values=values, errors={bad.field: str(bad)}, status=422
            )
        except NotFound:
            raise NotFoundException() from None
        return redirect_with_flash(
            request,
            f"/app/courses/{course.id}",
            notice=f"{changed.learner_name}'s result is now {changed.status_label}, {changed.result_label} "
            "(overridden). The CRM is being updated.",
        )

    @post("/clear")
    async def clear(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[UUID],
        enrollment_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        course, enrollment = await _found(deps, workspace, course_id, enrollment_id)
        form = await request.form()
        try:
            restored = await cases.clear_override(
                workspace.id,
                enrollment.id,
                actor=_actor(request),
                reason=str(form.get("reason", ""))[:2000],
                uow=deps.uow(),
                jobs=deps.jobs,
                clock=deps.clock,
            )
        except NotFound:
            raise NotFoundException() from None
        return redirect_with_flash(
            request,
            f"/app/courses/{course.id}",
            notice=f"{restored.learner_name}'s override was removed: the course's own result applies again.",
        )


async def _found(
    deps: Deps, workspace: Workspace, course_id: UUID, enrollment_id: UUID
) -> tuple[Course, Enrollment]:
    course = await course_or_404(deps, workspace, course_id)
    async with deps.uow() as uow:
        enrollment = await uow.enrollments.get(workspace.id, enrollment_id)
    if enrollment is None or enrollment.course_id != course.id:
        raise NotFoundException()
    return course, enrollment


async def _page(
    deps: Deps,
    workspace: Workspace,
    course: Course,
    enrollment: Enrollment,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    async with deps.uow() as uow:
        history = await uow.result_overrides.history(workspace.id, enrollment.id)
    current = enrollment.override
    defaults = {
        "completion": enrollment.completion.value,
        "success": enrollment.success.value,
        "score": "" if enrollment.score_percent is None else f"{enrollment.score_percent:g}",
        "reason": "",
    }
    return Template(
        template_name="pages/enrollments/override.html",
        context={
            "workspace": workspace,
            "nav": "courses",
            "course": course,
            "enrollment": enrollment,
            "override": current,
            "engine": engine_result(enrollment),
            "history": history,
            "values": values or defaults,
            "errors": errors or {},
        },
        status_code=status,
    )
