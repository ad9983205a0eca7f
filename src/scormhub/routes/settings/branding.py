"""Settings → Branding: the form (organization name, colour, logo) and the logo it serves to the page."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Template

from scormhub.domain.branding import (
    ALLOWED_TYPES,
    MAX_LOGO_BYTES,
    MAX_NAME_LENGTH,
    BrandingForm,
    BrandingRejected,
    save_branding,
)
from scormhub.domain.model import Branding, Workspace
from scormhub.routes.providers import DepsDep, WorkspaceDep
from scormhub.web.guards import admin_guard

LOGO_FORM_MAX_BYTES = 2 * 1024 * 1024


class BrandingController(Controller):
    path = "/app/settings/branding"
    guards = [admin_guard]

    @get("", cache=False)
    async def page(self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep) -> Template:
        branding = await deps.brandings.load(workspace.id, workspace.name)
        return _branding_page(workspace, branding, saved=request.query_params.get("saved") == "1")

    @post("", request_max_body_size=LOGO_FORM_MAX_BYTES)
    async def save(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        form = await request.form()
        upload = form.get("logo_file")
        submitted = BrandingForm(
            organization_name=str(form.get("organization_name") or "").strip()[:MAX_NAME_LENGTH],
            primary_color=str(form.get("primary_color") or ""),
            logo_url=str(form.get("logo_url") or "").strip(),
            # One byte over the limit is enough to refuse it; the rest is never read.
            logo_upload=(
                await upload.read(MAX_LOGO_BYTES + 1)
                if isinstance(upload, UploadFile) and upload.filename
                else None
            ),
            remove_logo=form.get("remove_logo") == "on",
        )
        try:
            await save_branding(
                workspace, submitted, store=deps.brandings, logos=deps.logos, clock=deps.clock
            )
        except BrandingRejected as rejected:
            return _branding_page(
                workspace,
                rejected.current,
                errors=rejected.errors,
                form={
                    "organization_name": submitted.organization_name,
                    "primary_color": submitted.primary_color,
                    "logo_url": submitted.logo_url,
                },
                status_code=422,
            )
        return Redirect(path="/app/settings/branding", query_params={"saved": "1"}, status_code=303)

    @get("/logo", cache=False)
    async def logo(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        branding = await deps.brandings.load(workspace.id, workspace.name)
        if not branding.logo_bytes or branding.logo_content_type not in ALLOWED_TYPES:
            return Response(content=b"", status_code=404)
        return Response(
            content=branding.logo_bytes,
            media_type=branding.logo_content_type,
            headers={"Cache-Control": "private, max-age=60"},
        )


def _branding_page(
    workspace: Workspace,
    branding: Branding,
    *,
    saved: bool = False,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    return Template(
        template_name="pages/settings/branding.html",
        context={
            "workspace": workspace,
            "nav": "settings",
            "branding": branding,
            "saved": saved,
            "errors": errors or {},
            "form": form
            or {
                "organization_name": branding.organization_name,
                "primary_color": branding.primary_color,
                "logo_url": branding.logo_url or "",
            },
            "max_logo_kb": MAX_LOGO_BYTES // 1024,
        },
        status_code=status_code,
    )
