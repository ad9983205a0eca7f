"""The organization's look on learner pages: its colours as a stylesheet and its logo, public (a learner has
no session), per workspace or, for a certificate, as it was when the certificate was issued.

A stylesheet rather than inline styles: the CSP allows styles from this origin only.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Response, get
from litestar.params import FromPath

from scormhub.bootstrap import Deps
from scormhub.domain import certificates as certificate_cases
from scormhub.domain.branding import ALLOWED_TYPES
from scormhub.domain.model import Branding, Certificate
from scormhub.domain.themes import LearnerBrand, learner_brand, theme_of
from scormhub.routes.providers import DepsDep

# The URLs carry a version of their content, so a browser may keep them; a changed brand is a new URL.
CACHE = {"Cache-Control": "public, max-age=86400"}


async def workspace_branding(deps: Deps, workspace_id: UUID) -> Branding | None:
    async with deps.uow() as uow:
        workspace = await uow.workspaces.get(workspace_id)
    if workspace is None:
        return None
    return await deps.brandings.load(workspace.id, workspace.name)


async def brand_for(deps: Deps, workspace_id: UUID | None) -> LearnerBrand | None:
    """The brand a learner page of this workspace shows (None: the plain SCORM Hub look)."""
    if workspace_id is None:
        return None
    branding = await workspace_branding(deps, workspace_id)
    return learner_brand(branding, base=f"/brand/{workspace_id}") if branding else None


async def certificate_branding(deps: Deps, certificate: Certificate) -> Branding:
    """The look of a certificate as issued: the name, colour and logo it recorded; today's branding only
    for what a certificate issued before they were recorded lacks. The PDF and the verification page
    both use this, so they always agree."""
    today = await workspace_branding(deps, certificate.workspace_id) or Branding(organization_name="")
    logo = None
    if certificate.snapshot.logo_sha256:
        async with deps.uow() as uow:
            logo = await uow.certificates.logo(certificate.snapshot.logo_sha256)
    return certificate_cases.branding_as_issued(certificate, today, logo)


def certificate_brand(certificate: Certificate, branding: Branding) -> LearnerBrand:
    return learner_brand(branding, base=f"/certificates/{certificate.id}")


def _theme(branding: Branding | None) -> Response[str]:
    if branding is None:  # no such workspace or certificate: an id that is not one says nothing
        return Response(content="", media_type="text/css", status_code=404)
    css = theme_of(branding.primary_color).css()
    return Response(content=css, media_type="text/css", headers=CACHE)


def _logo(branding: Branding | None) -> Response[Any]:
    if branding is None or not branding.logo_bytes or branding.logo_content_type not in ALLOWED_TYPES:
        return Response(content=b"", status_code=404)
    return Response(content=branding.logo_bytes, media_type=branding.logo_content_type, headers=CACHE)


class BrandController(Controller):
    path = "/brand/{workspace_id:uuid}"

    @get("/theme.css")
    async def theme(self, workspace_id: FromPath[UUID], deps: DepsDep) -> Response[str]:
        return _theme(await workspace_branding(deps, workspace_id))

    @get("/logo")
    async def logo(self, workspace_id: FromPath[UUID], deps: DepsDep) -> Response[Any]:
        return _logo(await workspace_branding(deps, workspace_id))


class CertificateBrandController(Controller):
    path = "/certificates/{certificate_id:str}"

    @get("/theme.css")
    async def theme(self, certificate_id: FromPath[str], deps: DepsDep) -> Response[str]:
        certificate = await certificate_cases.find_certificate(certificate_id, uow=deps.uow())
        return _theme(await certificate_branding(deps, certificate) if certificate else None)

    @get("/logo")
    async def logo(self, certificate_id: FromPath[str], deps: DepsDep) -> Response[Any]:
        certificate = await certificate_cases.find_certificate(certificate_id, uow=deps.uow())
        return _logo(await certificate_branding(deps, certificate) if certificate else None)
