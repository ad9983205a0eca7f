"""The course's import status card (and the compact badge of the course list), polled while importing."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from scormhub.bootstrap import Deps
from scormhub.domain.model import Course, Workspace
from scormhub.routes.providers import DepsDep, WorkspaceDep
from scormhub.web.guards import admin_guard
from scormhub.web.htmx import vary_on_htmx, wants_fragment


async def course_or_404(deps: Deps, workspace: Workspace, course_id: UUID) -> Course:
    """The workspace's course, or 404 (another workspace's course does not exist for this one)."""
    async with deps.uow() as uow:
        course = await uow.courses.get(workspace.id, course_id)
    if course is None:
        raise NotFoundException()
    return course


class CourseStatusPartial(Controller):
    path = "/app/courses/{course_id:uuid}/status"
    guards = [admin_guard]

    @get("", cache=False)
    async def status(
        self,
        request: HTMXRequest,
        course_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        course = await course_or_404(deps, workspace, course_id)
        if not wants_fragment(request):
            return vary_on_htmx(Redirect(path=f"/app/courses/{course.id}", status_code=303))
        template = (
            "partials/courses/status_badge.html"
            if request.query_params.get("compact")
            else "partials/courses/status.html"
        )
        response = Template(template_name=template, context={"course": course})
        if (
            course.is_final
            and not request.query_params.get("compact")
            and request.query_params.get("polling")
        ):
            # The page was showing "Importing…": reload it so enrollment and sharing appear with Ready.
            response.headers["HX-Refresh"] = "true"
        return vary_on_htmx(response)
