"""The Reports tab: the dashboard and learner records for a filter (exports: routes/exports.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from scormhub.domain import report_charts, reports
from scormhub.domain.exports import TIME_ZONE
from scormhub.routes.providers import DepsDep, WorkspaceDep
from scormhub.web.guards import admin_guard
from scormhub.web.htmx import vary_on_htmx, wants_fragment


def report_filter(
    request: Request[Any, Any, Any], today: datetime
) -> tuple[reports.ReportFilter, str | None]:
    """The filter in the query string, and what is wrong with it (if anything)."""
    params = {key: request.query_params.get(key) or "" for key in ("q", "range", "from", "to", "page")}
    return reports.parse_filter(params, today=today.date())


class ReportsController(Controller):
    path = "/app/reports"
    guards = [admin_guard]

    @get("", cache=False)
    async def dashboard(self, request: HTMXRequest, deps: DepsDep, workspace: WorkspaceDep) -> Response[Any]:
        now = deps.clock.now()
        flt, error = report_filter(request, now)
        dashboard = await reports.load_dashboard(
            workspace.id, flt, store=deps.report_exports().store, today=now.date()
        )
        context = {
            "workspace": workspace,
            "nav": "reports",
            "dashboard": dashboard,
            "report_filter": flt,
            "error": error,
            "presets": reports.PRESETS,
            "chart": reports.bar_chart(dashboard.chart, dashboard.chart_unit),
            "timeline": report_charts.timeline(dashboard.chart, dashboard.chart_unit),
            "rates": report_charts.course_rates(dashboard.courses),
            "time_zone": TIME_ZONE,
        }
        if wants_fragment(request):
            return vary_on_htmx(Template(template_name="partials/reports/results.html", context=context))
        return vary_on_htmx(Template(template_name="pages/reports/index.html", context=context))
