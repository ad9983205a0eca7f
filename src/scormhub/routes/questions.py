"""A course's question report: the page, and its CSV and XLSX downloads."""

from __future__ import annotations

import re
from uuid import UUID

from litestar import Controller, Response, get
from litestar.params import FromPath
from litestar.response import Template

from scormhub.bootstrap import Deps, question_csv, question_xlsx
from scormhub.domain.model import Course, Workspace
from scormhub.domain.question_cases import question_report
from scormhub.domain.questions import QuestionReport
from scormhub.partials.courses import course_or_404
from scormhub.routes.providers import DepsDep, WorkspaceDep
from scormhub.web.guards import admin_guard

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _report(deps: Deps, workspace: Workspace, course: Course) -> QuestionReport:
    cloud = None
    if course.engine.value == "scorm_cloud":
        cloud = await deps.scorm_cloud.for_workspace(workspace.id)
    return await question_report(workspace.id, course, uow=deps.uow(), cloud=cloud)


def _file_name(course: Course, kind: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", course.title).strip("-").lower()[:60] or "course"
    return f"questions_{slug}.{kind}"


class QuestionReportController(Controller):
    path = "/app/courses/{course_id:uuid}"
    guards = [admin_guard]

    @get("/questions", cache=False)
    async def page(self, course_id: FromPath[UUID], deps: DepsDep, workspace: WorkspaceDep) -> Template:
        course = await course_or_404(deps, workspace, course_id)
        report = await _report(deps, workspace, course)
        return Template(
            template_name="pages/courses/questions.html",
            context={"workspace": workspace, "nav": "courses", "course": course, "report": report},
        )

    @get("/questions.csv", cache=False)
    async def csv(self, course_id: FromPath[UUID], deps: DepsDep, workspace: WorkspaceDep) -> Response[bytes]:
        course = await course_or_404(deps, workspace, course_id)
        report = await _report(deps, workspace, course)
        return Response(
            question_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{_file_name(course, "csv")}"'},
        )

    @get("/questions.xlsx", cache=False)
    async def xlsx(
        self, course_id: FromPath[UUID], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[bytes]:
        course = await course_or_404(deps, workspace, course_id)
        report = await _report(deps, workspace, course)
        return Response(
            await question_xlsx(report),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{_file_name(course, "xlsx")}"'},
        )
