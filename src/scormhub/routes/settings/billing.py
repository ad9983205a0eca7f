"""Settings → Account mode → Go Live, Retry charge, Check plan in HighLevel.

Going live is a plan change in HighLevel (App Marketplace → Installed Apps → Change Plan): the plan state
follows HighLevel's webhooks and installer details, never a button here. This page explains the cost,
asks the location's admin to confirm, and sends them to HighLevel. Standalone, the operator sets the plan
(`scormhub plan set`); there is nothing to press.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from scormhub.domain.billing.plans import apply_plan
from scormhub.domain.billing.usage import retry_charge
from scormhub.domain.errors import DomainError, NotFound
from scormhub.domain.model import Workspace, WorkspaceKind
from scormhub.routes.providers import DepsDep, WorkspaceDep
from scormhub.web.flash import redirect_with_flash
from scormhub.web.guards import admin_guard, current_admin

log = logging.getLogger(__name__)

ADMINS_ONLY = (
    "Only an admin of this HighLevel location can change its plan. Ask one of the location's admins "
    "(HighLevel → Settings → My Staff lists them) to open SCORM Hub and press Go Live."
)


def _forbidden(message: str) -> Template:
    return Template(
        template_name="pages/error.html",
        context={"title": "Only an admin can do this", "message": message, "status": 403},
        status_code=403,
    )


def _go_live_page(deps: Any, workspace: Workspace, request: Request[Any, Any, Any], **extra: Any) -> Template:
    live = deps.settings.highlevel_plans.live_plan
    status = extra.pop("status_code", 200)
    return Template(
        template_name="pages/settings/go_live.html",
        context={
            "workspace": workspace,
            "nav": "settings",
            "live_plan": live,
            "standalone": workspace.kind is WorkspaceKind.STANDALONE,
            "marketplace_url": deps.settings.highlevel_marketplace_url,
            **extra,
        },
        status_code=status,
    )


class BillingController(Controller):
    path = "/app/settings"
    guards = [admin_guard]

    @get("/go-live", cache=False)
    async def go_live_page(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Template:
        if workspace.kind is not WorkspaceKind.STANDALONE and not current_admin(request).crm_admin:
            return _forbidden(ADMINS_ONLY)
        return _go_live_page(deps, workspace, request)

    @post("/go-live")
    async def go_live(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Template:
        """The admin confirmed what it costs: say where in HighLevel the plan is changed."""
        admin = current_admin(request)
        if workspace.kind is WorkspaceKind.STANDALONE:
            return _go_live_page(deps, workspace, request, status_code=409)
        if not admin.crm_admin:
            return _forbidden(ADMINS_ONLY)
        form = await request.form()
        if form.get("confirm") != "yes":
            return _go_live_page(
                deps,
                workspace,
                request,
                problem="Tick the box to confirm you understand what going live costs.",
                status_code=400,
            )
        log.info("go live confirmed in workspace %s by HighLevel user %s", workspace.id, admin.user_id)
        return _go_live_page(deps, workspace, request, confirmed=True)

    @post("/charges/{enrollment_id:uuid}/retry")
    async def retry(
        self, deps: DepsDep, workspace: WorkspaceDep, enrollment_id: FromPath[UUID]
    ) -> Response[Any]:
        """Send a refused or failed charge again, with the same eventId. Any admin may: the cost was
        agreed when the location went live, and the registration waits for it."""
        try:
            await retry_charge(workspace.id, enrollment_id, uow=deps.uow(), jobs=deps.jobs, clock=deps.clock)
        except NotFound:
            # Scoped by the session's workspace: another workspace's registration is not here either.
            return Template(
                template_name="pages/error.html",
                context={
                    "title": "No charge to retry",
                    "message": "This registration has no refused or failed charge. Reload Settings to see "
                    "where its charge stands.",
                    "status": 404,
                },
                status_code=404,
            )
        return Redirect(path="/app/settings", query_params={"saved": "charge"}, status_code=303)

    @post("/plan/refresh")
    async def refresh_plan(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Redirect:
        """Ask HighLevel which plan the location is on (repairs a missed PLAN_CHANGE webhook)."""
        billing = await deps.crm.billing_for(workspace.id)
        if billing is None:
            return redirect_with_flash(
                request, "/app/settings", billing_error="This workspace's plan is not set in HighLevel."
            )
        try:
            plan_id = await billing.installed_plan_id()
            if plan_id is None:
                raise DomainError("HighLevel did not name this location's plan.")
            await apply_plan(
                workspace.id,
                plan_id,
                catalog=deps.settings.highlevel_plans,
                source="lookup",
                uow=deps.uow(),
                clock=deps.clock,
            )
        except DomainError as exc:
            return redirect_with_flash(request, "/app/settings", billing_error=str(exc)[:300])
        return Redirect(path="/app/settings", query_params={"saved": "plan"}, status_code=303)
