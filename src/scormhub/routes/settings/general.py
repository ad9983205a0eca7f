"""Settings → General: the settings page, CRM custom objects, which writes reach the CRM.

The other settings have their own modules beside this one: scorm_cloud.py, branding.py, billing.py."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from scormhub.domain.crm_writes import SyncSettings
from scormhub.domain.enrollments import plan_usage
from scormhub.domain.errors import DomainError, StorageUnavailable
from scormhub.domain.sync import save_sync_settings
from scormhub.partials.billing import billing_context
from scormhub.routes.courses import course_storage_used
from scormhub.routes.providers import DepsDep, UowDep, WorkspaceDep
from scormhub.web.flash import flashed, redirect_with_flash
from scormhub.web.guards import admin_guard, current_admin


class SettingsController(Controller):
    path = "/app/settings"
    guards = [admin_guard]

    @get("", cache=False)
    async def settings(
        self, request: Request[Any, Any, Any], deps: DepsDep, uow: UowDep, workspace: WorkspaceDep
    ) -> Template:
        usage = await plan_usage(workspace, uow=deps.uow())
        try:
            storage_used: int | None = await course_storage_used(deps, workspace)
        except StorageUnavailable:
            storage_used = None  # the page still opens; the line says storage is not answering
        messages = flashed(request)
        crm_error = messages.get("crm_error")
        try:
            provisioned = await deps.crm.for_workspace(workspace).custom_objects_provisioned()
        except DomainError as exc:
            # The CRM is down or wants reconnecting: the page still opens and says so.
            provisioned, crm_error = False, crm_error or str(exc)
        async with uow:
            scorm_cloud = await uow.engine_accounts.get(workspace.id)
        connection = await deps.highlevel_connections.get(workspace.id)
        billing = await billing_context(deps, workspace, current_admin(request))
        return Template(
            template_name="pages/settings/index.html",
            context={
                "workspace": workspace,
                "nav": "settings",
                "usage": usage,
                "storage_used_mb": None if storage_used is None else round(storage_used / 1048576, 1),
                "storage_quota_mb": deps.settings.storage_quota_mb,
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
                "billing": billing,
                "billing_error": messages.get("billing_error"),
            },
        )

    @post("/custom-objects")
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

    @post("/crm")
    async def crm(self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep) -> Redirect:
        form = await request.form()
        chosen = SyncSettings(
            tags=form.get("sync_tags") == "on",
            notes=form.get("sync_notes") == "on",
            records=form.get("sync_records") == "on",
        )
        await save_sync_settings(workspace.id, chosen, uow=deps.uow())
        return Redirect(path="/app/settings", query_params={"saved": "crm"}, status_code=303)
