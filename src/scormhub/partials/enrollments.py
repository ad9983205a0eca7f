"""A course page's enrolled-learners table (paged; re-rendered after Enroll and Remove) and the
type-ahead contact search results beside it."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template

from scormhub.bootstrap import Deps
from scormhub.domain import enrollments as cases
from scormhub.domain.model import Course, Workspace
from scormhub.domain.schedule import due_badge
from scormhub.web.htmx import vary_on_htmx

PAGE_SIZE = 25


async def enrolled_context(deps: Deps, workspace: Workspace, course: Course, page: int) -> dict[str, Any]:
    async with deps.uow() as uow:
        total = await uow.enrollments.count_for_course(workspace.id, course.id)
        rows = await uow.enrollments.list_for_course(
            workspace.id, course.id, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
        due_dates = await uow.learners.due_dates(workspace.id, [row.id for row in rows])
    usage = await cases.plan_usage(workspace, uow=deps.uow())
    now = deps.clock.now()
    return {
        # Issue 23: each row's due date and its "due soon" / "overdue" badge (partials/enrollments/due_badge).
        "due": {
            row.id: {
                "due_at": due_dates[row.id],
                "due_badge": due_badge(due_dates[row.id], row.completion.value, now),
            }
            for row in rows
            if row.id in due_dates
        },
        "course": course,
        "enrollments": rows,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "usage": usage,
    }


def page_number(request: Request[Any, Any, Any]) -> int:
    try:
        # Capped: an offset beyond PostgreSQL's bigint is an error, not an empty page.
        return max(1, min(int(request.query_params.get("page", "1")), 100_000))
    except ValueError:
        return 1


def enrollment_table(context: dict[str, Any]) -> Template:
    """The table (context from `enrolled_context`, plus a `notice` or `error` after a change)."""
    return vary_on_htmx(Template(template_name="partials/enrollments/table.html", context=context))


def search_results(course: Course, query: str, results: list[Any], search_error: str | None) -> Template:
    """The contacts matching what was typed, each with an Enroll button."""
    context = {"course": course, "query": query, "results": results, "search_error": search_error}
    return vary_on_htmx(Template(template_name="partials/enrollments/search_results.html", context=context))
