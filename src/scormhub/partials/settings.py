"""Settings → SCORM Cloud's status dot: whether the saved credentials still work, asked when shown."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from scormhub.domain.errors import InvalidCredentials, ServiceUnavailable
from scormhub.routes.providers import DepsDep, WorkspaceDep
from scormhub.web.guards import admin_guard
from scormhub.web.htmx import vary_on_htmx


class ScormCloudStatusPartial(Controller):
    path = "/app/settings/scorm-cloud/status"
    guards = [admin_guard]

    @get("", cache=False)
    async def status(self, request: HTMXRequest, deps: DepsDep, workspace: WorkspaceDep) -> Response[Any]:
        engine = await deps.scorm_cloud.for_workspace(workspace.id)
        if engine is None:
            state, reason = "off", "Not connected"
        else:
            try:
                await engine.ping()
                state, reason = "ok", "Connected"
            except InvalidCredentials:
                state, reason = (
                    "bad",
                    "SCORM Cloud no longer accepts the saved App ID / Secret Key. Connect again.",
                )
            except ServiceUnavailable as exc:
                state, reason = (
                    "bad",
                    str(exc).strip() or "SCORM Cloud is not answering. Try again in a minute.",
                )
        template = Template(
            template_name="partials/settings/scorm_cloud_status.html",
            context={"state": state, "reason": reason},
        )
        return vary_on_htmx(template)
