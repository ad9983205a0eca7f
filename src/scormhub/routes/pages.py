"""The admin pages' frame: Courses and Settings (Reports live in routes/reports.py)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from scormhub.domain.enrollments import go_live, plan_usage
from scormhub.domain.errors import DomainError
from scormhub.routes.providers import DepsDep, WorkspaceDep
from scormhub.web.flash import flashed, redirect_with_flash
from scormhub.web.guards import admin_guard, current_admin


@get("/", cache=False, include_in_schema=False)
async def root(request: Request[Any, Any, Any], deps: DepsDep) -> Redirect:
    signed_in = deps.sessions.from_connection(request) is not None
    return Redirect(path="/app/courses" if signed_in else "/signed-out", status_code=303)


class AdminPages(Controller):
    path = "/app"
    guards = [admin_guard]

    @get("/settings", cache=False)
    async def settings(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Template:
        usage = await plan_usage(workspace, uow=deps.uow())
        messages = flashed(request)
        crm_error = messages.get("crm_error")
        try:
            provisioned = await deps.crm.for_workspace(workspace).custom_objects_provisioned()
        except DomainError as exc:
            # The CRM is down or wants reconnecting: the page still opens and says so.
            provisioned, crm_error = False, crm_error or str(exc)
        async with deps.uow() as uow:
            scorm_cloud = await uow.engine_accounts.get(workspace.id)
        connection = await deps.highlevel_connections.get(workspace.id)
        return Template(
            template_name="pages/settings/index.html",
            context={
                "workspace": workspace,
                "nav": "settings",
                "usage": usage,
                "provisioned": provisioned,
                "crm_error": crm_error,
                "connection": connection,
                "scorm_cloud": scorm_cloud,
                "scorm_cloud_error": messages.get("scorm_cloud_error"),
                "postback": messages.get("postback"),
                "postback_problem": messages.get("postback_problem"),
                "app_id": messages.get("app_id"),
                "notes": messages.get("notes"),
                "saved": request.query_params.get("saved"),
            },
        )

    @post("/settings/custom-objects")
    async def provision(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Redirect:
        try:
            await deps.crm.for_workspace(
                workspace, user_id=current_admin(request).user_id
            ).provision_custom_objects()
        except DomainError as exc:
            return redirect_with_flash(request, "/app/settings", crm_error=str(exc)[:300])
        return Redirect(path="/app/settings", query_params={"saved": "objects"}, status_code=303)

    @post("/settings/go-live")
    async def go_live(self, request: Request[Any, Any, Any], deps: DepsDep) -> Redirect:
        # Standalone mode: an admin action. A billing hook will call the same use case later.
        await go_live(current_admin(request).workspace_id, uow=deps.uow())
        return Redirect(path="/app/settings", status_code=303)
