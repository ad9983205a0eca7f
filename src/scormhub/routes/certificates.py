"""Certificates: the admin's download, details and revocation; the learner's download from the player's
exit page; and the public verification page behind every certificate's QR code."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from scormhub.bootstrap import Deps
from scormhub.domain import certificates as cases
from scormhub.domain.certificates import CertificateRevoked, NotCompleted, NotPassed
from scormhub.domain.errors import NotFound
from scormhub.domain.model import Certificate, Enrollment, Workspace
from scormhub.domain.themes import LearnerBrand
from scormhub.routes.brand import brand_for, certificate_brand, certificate_branding
from scormhub.routes.providers import DepsDep, UowDep, WorkspaceDep
from scormhub.web.flash import flashed, redirect_with_flash
from scormhub.web.guards import admin_guard
from scormhub.web.htmx import vary_on_htmx, wants_fragment

# The verification page is public: enough for a person checking a few certificates, too few to sweep ids.
VERIFY_PER_IP_PER_MINUTE = 30


class CertificateAdminController(Controller):
    """A completed learner's certificate, by enrollment (the enrolled table links here)."""

    path = "/app/enrollments/{enrollment_id:uuid}/certificate"
    guards = [admin_guard]

    @get("", cache=False)
    async def download(
        self,
        request: Request[Any, Any, Any],
        enrollment_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        branding = await deps.brandings.load(workspace.id, workspace.name)
        try:
            certificate = await cases.certificate_to_download(
                workspace.id,
                enrollment_id,
                organization_name=branding.organization_name,
                uow=deps.uow(),
                clock=deps.clock,
                branding=branding,
            )
        except NotFound:
            raise NotFoundException() from None
        except NotCompleted as incomplete:
            return _admin_message(workspace, 409, "No certificate yet", str(incomplete))
        except CertificateRevoked as revoked:
            return _admin_message(workspace, 410, "Certificate revoked", str(revoked))
        return await _pdf(deps, certificate)

    @get("/details", cache=False)
    async def details(
        self,
        request: Request[Any, Any, Any],
        enrollment_id: FromPath[UUID],
        deps: DepsDep,
        uow: UowDep,
        workspace: WorkspaceDep,
    ) -> Template:
        enrollment, certificate = await _enrollment_and_certificate(deps, workspace, enrollment_id)
        async with uow:
            course = await uow.courses.get(workspace.id, enrollment.course_id)
        context = _manage_context(
            deps, workspace, enrollment, certificate, notice=flashed(request).get("notice")
        )
        context["course_title"] = course.title if course else "Course"
        return Template(template_name="pages/certificates/manage.html", context=context)

    @get("/revoke", cache=False)
    async def confirm_revoke(
        self,
        request: Request[Any, Any, Any],
        enrollment_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        enrollment, certificate = await _enrollment_and_certificate(deps, workspace, enrollment_id)
        if certificate is None or certificate.revoked:
            return Redirect(path=_details_path(enrollment_id), status_code=303)
        return Template(
            template_name="pages/certificates/revoke.html",
            context={
                "workspace": workspace,
                "nav": "courses",
                "enrollment": enrollment,
                "certificate": certificate,
            },
        )

    @post("/revoke")
    async def revoke(
        self,
        request: HTMXRequest,
        enrollment_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        enrollment, certificate = await _enrollment_and_certificate(deps, workspace, enrollment_id)
        if certificate is None:
            raise NotFoundException()
        revoked = await cases.revoke_certificate(
            workspace.id, certificate.id, uow=deps.uow(), clock=deps.clock
        )
        notice = f"The certificate of {enrollment.learner_name} is revoked."
        if wants_fragment(request):
            return vary_on_htmx(
                Template(
                    template_name="partials/certificates/status.html",
                    context=_manage_context(deps, workspace, enrollment, revoked, notice=notice),
                )
            )
        return redirect_with_flash(request, _details_path(enrollment_id), notice=notice)


class LearnerCertificateController(Controller):
    """The learner's own certificate, linked from the exit page; the launch token is the credential."""

    path = "/play/{token:str}/certificate"

    @get("", cache=False)
    async def download(self, token: FromPath[str], deps: DepsDep, uow: UowDep) -> Response[Any]:
        async with uow:
            enrollment = await uow.enrollments.get_by_launch_token(token)
            workspace = await uow.workspaces.get(enrollment.workspace_id) if enrollment else None
        if enrollment is None or workspace is None:
            raise NotFoundException("This learning link is not valid. Ask for a new one.")
        branding = await deps.brandings.load(workspace.id, workspace.name)
        try:
            certificate = await cases.certificate_to_download(
                workspace.id,
                enrollment.id,
                organization_name=branding.organization_name,
                uow=deps.uow(),
                clock=deps.clock,
                branding=branding,
            )
        except NotFound:
            raise NotFoundException("This learning link is not valid. Ask for a new one.") from None
        except NotCompleted as incomplete:
            return _learner_message(
                409,
                "Your certificate is not ready yet",
                "This course gives a certificate to learners who pass it. Try the course again, or ask "
                "your organization what to do next."
                if isinstance(incomplete, NotPassed)
                else "Your certificate is issued once you complete the course. Finish it, then download the "
                "certificate from the page you see when you leave the course.",
                await brand_for(deps, workspace.id),
            )
        except CertificateRevoked:
            return _learner_message(
                410,
                "Certificate revoked",
                f"This certificate was revoked by {branding.organization_name}. Contact them if you think "
                "this is a mistake.",
                await brand_for(deps, workspace.id),
            )
        return await _pdf(deps, certificate)


@get("/certificates/{certificate_id:str}", cache=False)
async def verify_certificate(
    certificate_id: FromPath[str], request: Request[Any, Any, Any], deps: DepsDep
) -> Template:
    """Public: is this certificate genuine, and what does it certify (never the learner's email)."""
    client = request.client.host if request.client else "unknown"
    headers = {"X-Robots-Tag": "noindex", "Cache-Control": "no-store"}
    allowed = await deps.request_limits.allow(
        f"certificates:ip:{client}", limit=VERIFY_PER_IP_PER_MINUTE, window_s=60, now=deps.clock.now()
    )
    if not allowed:
        return Template(
            template_name="pages/certificates/verify.html",
            context={"state": "limited", "certificate": None},
            status_code=429,
            headers={**headers, "Retry-After": "60"},
        )
    certificate = await cases.find_certificate(certificate_id, uow=deps.uow())
    if certificate is None:
        return Template(
            template_name="pages/certificates/verify.html",
            context={"state": "unknown", "certificate": None},
            status_code=404,
            headers=headers,
        )
    branding = await certificate_branding(deps, certificate)
    # Issue 23: a certificate of a course with a validity period shows its expiry, and "expired" after it.
    async with deps.uow() as uow:
        expires_at = await uow.learners.certificate_expiry(certificate.id)
    state = "revoked" if certificate.revoked else "valid"
    if state == "valid" and expires_at is not None and deps.clock.now() >= expires_at:
        state = "expired"
    return Template(
        template_name="pages/certificates/verify.html",
        context={
            "state": state,
            "certificate": certificate,
            "expires_at": expires_at,
            "brand": certificate_brand(certificate, branding),
        },
        headers=headers,
    )


async def _pdf(deps: Deps, certificate: Certificate) -> Response[bytes]:
    # As issued (its recorded name, colour and logo), exactly as the verification page shows it.
    branding = await certificate_branding(deps, certificate)
    content = await deps.certificate_renderer().render(certificate, branding, _verify_url(deps, certificate))
    return Response(
        content=content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{cases.file_name(certificate.snapshot)}"',
            "Cache-Control": "private, no-store",
        },
    )


async def _enrollment_and_certificate(
    deps: Deps, workspace: Workspace, enrollment_id: UUID
) -> tuple[Enrollment, Certificate | None]:
    async with deps.uow() as uow:
        enrollment = await uow.enrollments.get(workspace.id, enrollment_id)
        certificate = await uow.certificates.for_enrollment(workspace.id, enrollment_id)
    if enrollment is None:
        raise NotFoundException()
    return enrollment, certificate


def _verify_url(deps: Deps, certificate: Certificate) -> str:
    return f"{deps.settings.public_url}{certificate.verification_path}"


def _details_path(enrollment_id: UUID) -> str:
    return f"/app/enrollments/{enrollment_id}/certificate/details"


def _manage_context(
    deps: Deps,
    workspace: Workspace,
    enrollment: Enrollment,
    certificate: Certificate | None,
    *,
    notice: str | None = None,
) -> dict[str, Any]:
    return {
        "workspace": workspace,
        "nav": "courses",
        "enrollment": enrollment,
        "certificate": certificate,
        "verify_url": f"{deps.settings.public_url}{certificate.verification_path}" if certificate else None,
        "notice": notice,
    }


def _admin_message(workspace: Workspace, status: int, title: str, message: str) -> Template:
    return Template(
        template_name="pages/error.html",
        context={"workspace": workspace, "title": title, "message": message, "status": status},
        status_code=status,
    )


def _learner_message(status: int, title: str, message: str, brand: LearnerBrand | None = None) -> Template:
    return Template(
        template_name="pages/enroll/message.html",
        context={"title": title, "message": message, "brand": brand},
        status_code=status,
    )


class CourseCertificateRuleController(Controller):
    """Who a course certifies (the course page's Certificates card)."""

    path = "/app/courses/{course_id:uuid}/certificate-rule"
    guards = [admin_guard]

    @post("")
    async def save(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        form = await request.form()
        back = f"/app/courses/{course_id}"
        try:
            course = await cases.set_certificate_rule(
                workspace.id, course_id, str(form.get("rule", "")), uow=deps.uow()
            )
        except NotFound:
            raise NotFoundException() from None
        except cases.InvalidRule as bad:
            return redirect_with_flash(request, back, error=str(bad))
        notice = (
            "Certificates of this course now go to learners who pass it."
            if course.certificate_rule == "passed"
            else "Certificates of this course now go to everyone who completes it."
        )
        return redirect_with_flash(request, back, notice=notice)
