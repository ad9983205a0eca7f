"""A course page's enrolled-learners table (paged; re-rendered after Enroll and Remove) and the
type-ahead contact search results beside it."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template

from scormhub.bootstrap import Deps
from scormhub.domain import enrollments as cases
from scormhub.domain.listing import ListQuery, parse_list_query
from scormhub.domain.model import Course, Workspace
from scormhub.domain.schedule import due_badge
from scormhub.web.htmx import vary_on_htmx

PAGE_SIZE = 25
# The columns the table can be sorted by (integrations.db.listings maps them to SQL); newest first by default.
ENROLLMENT_SORTS = ("name", "status", "score", "last", "completed", "enrolled")


def enrolled_query(request: Request[Any, Any, Any] | None = None) -> ListQuery:
    """The table's view (search, sort, page) from the URL; the default view without a request."""
    params: dict[str, str] = dict(request.query_params) if request is not None else {}
    return parse_list_query(
        params, sorts=ENROLLMENT_SORTS, default_sort="enrolled", default_descending=True, page_size=PAGE_SIZE
    )


async def enrolled_context(
    deps: Deps, workspace: Workspace, course: Course, query: ListQuery | None = None
) -> dict[str, Any]:
    query = query or enrolled_query()
    async with deps.uow() as uow:
        listed = await uow.listings.enrollments(workspace.id, course.id, query)
        everyone = await uow.enrollments.count_for_course(workspace.id, course.id)
        rows = listed.items
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
        "enrollments": listed.items,
        "total": everyone,
        "matched": listed.total,
        "listing": query,
        "page": query.page,
        "pages": listed.pages,
        "usage": usage,
    }


def enrollment_table(context: dict[str, Any]) -> Template:
    """The table (context from `enrolled_context`, plus a `notice` or `error` after a change)."""
    return vary_on_htmx(Template(template_name="partials/enrollments/table.html", context=context))


def search_results(course: Course, query: str, results: list[Any], search_error: str | None) -> Template:
    """The contacts matching what was typed, each with an Enroll button."""
    context = {"course": course, "query": query, "results": results, "search_error": search_error}
    return vary_on_htmx(Template(template_name="partials/enrollments/search_results.html", context=context))
