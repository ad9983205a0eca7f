"""Settings → Webhooks: endpoints (add, delete, send a test event) and the delivery log with Retry."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from scormhub.bootstrap import Deps
from scormhub.domain.automation import webhooks as cases
from scormhub.domain.automation.model import EVENT_LABELS
from scormhub.domain.errors import DomainError
from scormhub.domain.model import Workspace
from scormhub.domain.sync import enqueue_webhooks
from scormhub.routes.providers import DepsDep, WorkspaceDep
from scormhub.web.flash import flashed, redirect_with_flash
from scormhub.web.guards import admin_guard

PAGE = "/app/settings/webhooks"


class WebhookSettingsController(Controller):
    path = PAGE
    guards = [admin_guard]

    @get("", cache=False)
    async def page(self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep) -> Template:
        messages = flashed(request)
        return await _page(
            deps,
            workspace,
            notice=messages.get("notice"),
            error=messages.get("error"),
            url=messages.get("url", ""),
        )

    @get("/log", cache=False)
    async def log(self, deps: DepsDep, workspace: WorkspaceDep) -> Template:
        """The delivery log alone: htmx refreshes it while deliveries are pending."""
        async with deps.uow() as uow:
            deliveries = await uow.automation.recent_deliveries(workspace.id, limit=50)
        return Template(
            template_name="partials/settings/webhook_log.html", context={"deliveries": deliveries}
        )

    @post("")
    async def add(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        form = await request.form()
        url = str(form.get("url", ""))[:2000]
        try:
            created = await cases.add_endpoint(
                workspace.id,
                url,
                [str(v) for v in form.getall("events", [])],
                uow=deps.uow(),
                sender=deps.webhooks,
                cipher=deps.cipher,
                clock=deps.clock,
            )
        except DomainError as bad:
            return redirect_with_flash(request, PAGE, error=str(bad), url=url.strip())
        # The secret is shown in this answer only (never in a cookie or a URL); only its encryption is kept.
        return await _page(
            deps,
            workspace,
            notice=f"Endpoint added: {created.endpoint.url}. "
            "Copy its signing secret now; it is not shown again.",
            secret=created.secret,
        )

    @post("/{endpoint_id:uuid}/delete")
    async def delete(
        self,
        request: Request[Any, Any, Any],
        deps: DepsDep,
        workspace: WorkspaceDep,
        endpoint_id: FromPath[UUID],
    ) -> Redirect:
        # Another workspace's endpoint, or one already deleted: NotFound is the app's 404 page.
        await cases.delete_endpoint(workspace.id, endpoint_id, uow=deps.uow())
        return redirect_with_flash(request, PAGE, notice="Endpoint deleted. Nothing more is sent to it.")

    @post("/{endpoint_id:uuid}/test")
    async def test(
        self,
        request: Request[Any, Any, Any],
        deps: DepsDep,
        workspace: WorkspaceDep,
        endpoint_id: FromPath[UUID],
    ) -> Redirect:
        await cases.send_test_event(workspace.id, endpoint_id, uow=deps.uow(), clock=deps.clock)
        await enqueue_webhooks(workspace.id, jobs=deps.jobs)
        return redirect_with_flash(
            request, PAGE, notice="Test event queued; its delivery shows in the log below."
        )

    @post("/deliveries/{delivery_id:uuid}/retry")
    async def retry(
        self,
        request: Request[Any, Any, Any],
        deps: DepsDep,
        workspace: WorkspaceDep,
        delivery_id: FromPath[UUID],
    ) -> Redirect:
        await cases.retry_delivery(workspace.id, delivery_id, uow=deps.uow(), clock=deps.clock)
        await enqueue_webhooks(workspace.id, jobs=deps.jobs)
        return redirect_with_flash(request, PAGE, notice="Delivery queued again.")


async def _page(deps: Deps, workspace: Workspace, **messages: str | None) -> Template:
    async with deps.uow() as uow:
        endpoints = await uow.automation.endpoints(workspace.id)
        deliveries = await uow.automation.recent_deliveries(workspace.id, limit=50)
    return Template(
        template_name="pages/settings/webhooks.html",
        context={
            "nav": "settings",
            "workspace": workspace,
            "endpoints": endpoints,
            "deliveries": deliveries,
            "events": EVENT_LABELS,
            "url": "",
            **messages,
        },
        headers={"Cache-Control": "no-store"},
    )
