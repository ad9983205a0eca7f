"""Settings → SCORM Cloud: Connect (verified before saving), Disconnect; its status dot is a partial."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.response import Redirect

from scormhub.domain.contacts import InvalidInput
from scormhub.domain.engine_accounts import connect_scorm_cloud, disconnect_scorm_cloud
from scormhub.domain.errors import EngineAccountLimit, EngineRefused, InvalidCredentials, ServiceUnavailable
from scormhub.routes.providers import DepsDep, WorkspaceDep
from scormhub.web.flash import redirect_with_flash
from scormhub.web.guards import admin_guard

REJECTED = (
    "SCORM Cloud rejected this App ID / Secret Key. Copy both again from SCORM Cloud (Apps → your app)."
)


class EngineSettingsController(Controller):
    path = "/app/settings/scorm-cloud"
    guards = [admin_guard]

    @post("")
    async def connect(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        form = await request.form()
        app_id, secret = str(form.get("app_id", ""))[:500], str(form.get("secret_key", ""))[:500]
        try:
            result = await connect_scorm_cloud(
                workspace.id,
                app_id=app_id,
                secret_key=secret,
                uow=deps.uow(),
                connect=deps.scorm_cloud.connect,
                cipher=deps.cipher,
                postback_url=deps.postback_url(workspace.id),
                clock=deps.clock,
            )
        except InvalidInput as bad:
            return _failed(request, str(bad), app_id)
        except InvalidCredentials:
            return _failed(request, REJECTED, app_id)
        except ServiceUnavailable as exc:
            return _failed(request, f"{_sentence(exc)} Nothing was saved.", app_id)
        except (EngineAccountLimit, EngineRefused) as exc:
            return _failed(request, f"SCORM Cloud refused the connection: {exc}", app_id)
        notes = " ".join(result.notes) if result.notes else None
        return redirect_with_flash(
            request,
            "/app/settings?saved=scorm-cloud",
            notes=notes,
            postback_problem=result.postback_problem,
            postback=None if result.postback_problem else "received",
        )

    @post("/disconnect")
    async def disconnect(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Redirect:
        await disconnect_scorm_cloud(
            workspace.id, uow=deps.uow(), connect=deps.scorm_cloud.connect, cipher=deps.cipher
        )
        return Redirect(path="/app/settings", query_params={"saved": "disconnected"}, status_code=303)


def _failed(request: Request[Any, Any, Any], message: str, app_id: str) -> Redirect:
    # Back to Settings with the reason; the secret is never echoed back.
    return redirect_with_flash(request, "/app/settings", scorm_cloud_error=message, app_id=app_id.strip())


def _sentence(exc: Exception) -> str:
    """An error's message as a sentence of its own (not wrapped in another one's parentheses)."""
    text = str(exc).strip() or "SCORM Cloud did not answer."
    return text if text.endswith((".", "!", "?")) else text + "."
