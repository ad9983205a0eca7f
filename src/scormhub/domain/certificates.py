"""Completion certificates: one per completed enrollment, under a public id nobody can guess, recording
what it certifies when it was issued, so that later edits (a renamed course, a corrected email) never
rewrite a certificate someone already holds. Anyone with the id can verify it; the admin can revoke it."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.automation import events as automation_events
from scormhub.domain.errors import DomainError, NotFound
from scormhub.domain.model import Branding, Certificate, CertificateSnapshot, Course, Enrollment, Logo
from scormhub.domain.scorm.cmi import Completion, Success

if TYPE_CHECKING:
    from scormhub.domain.ports import CertificateUnitOfWork, Clock

# 128 random bits: the id is the only thing standing between a stranger and a learner's certificate page.
ID_BYTES = 16
_ID_SHAPE = re.compile(r"^[A-Za-z0-9_-]{22,40}$")


class NotCompleted(DomainError):
    """A certificate was asked for before the learner completed the course."""

    def __init__(self) -> None:
        super().__init__(
            "This learner has not completed the course yet. A certificate is issued once the course is "
            "completed."
        )


class NotPassed(NotCompleted):
    """The course certifies passes only, and this learner has not passed (yet)."""

    def __init__(self) -> None:
        DomainError.__init__(
            self,
            "This course gives a certificate to learners who pass it, and this learner has not passed. "
            "To certify everyone who completes it, change the course's certificate rule.",
        )


CERTIFICATE_RULES = ("completed", "passed")


class CertificateRevoked(DomainError):
    """The enrollment's certificate was revoked: it is not handed out again."""

    def __init__(self, certificate: Certificate) -> None:
        revoked = certificate.revoked_at.date().isoformat() if certificate.revoked_at else "earlier"
        super().__init__(f"This certificate was revoked on {revoked} and can no longer be downloaded.")
        self.certificate = certificate


def new_certificate_id() -> str:
    return secrets.token_urlsafe(ID_BYTES)


def looks_like_certificate_id(raw: str) -> bool:
    """Ids we could have issued: anything else is not looked up at all."""
    return bool(_ID_SHAPE.match(raw))


def snapshot_of(
    enrollment: Enrollment,
    *,
    course_title: str,
    organization_name: str,
    now: datetime,
    rule: str = "completed",
    branding: Branding | None = None,
) -> CertificateSnapshot:
    """The record a certificate keeps: what it certifies and how it looked when issued.

    Only a completed enrollment has one, and under the rule "passed" only a passed one.
    """
    if enrollment.completion is not Completion.COMPLETED:
        raise NotCompleted()
    if rule == "passed" and enrollment.success is not Success.PASSED:
        raise NotPassed()
    logo = branding.logo_bytes if branding is not None else None
    return CertificateSnapshot(
        learner_name=enrollment.learner_name,
        learner_email=enrollment.learner_email,
        course_title=course_title,
        # An engine may report completion without a date; the day it was certified stands in for it.
        completed_at=enrollment.completed_at or now,
        success=enrollment.success.value,
        score_percent=enrollment.score_percent,
        organization_name=organization_name,
        primary_color=branding.primary_color if branding is not None else "",
        logo_sha256=hashlib.sha256(logo).hexdigest() if logo else "",
        kind="achievement" if rule == "passed" else "completion",
    )


def file_name(snapshot: CertificateSnapshot) -> str:
    """`certificate-<course>-<learner>.pdf` in plain ASCII, safe in a Content-Disposition header."""
    parts = [_slug(snapshot.course_title), _slug(snapshot.learner_name)]
    return "-".join(["certificate", *(p for p in parts if p)]) + ".pdf"


# Latin letters that do not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans(
    {
        "ł": "l",
        "Ł": "L",
        "ø": "o",
        "Ø": "O",
        "ß": "ss",
        "đ": "d",
        "Đ": "D",
        "æ": "ae",
        "Æ": "AE",
        "\u0131": "i",
    }
)


def _slug(text: str, limit: int = 40) -> str:
    plain = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    ascii_text = plain.encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-")


# --- use cases --------------------------------------------------------------------------------------------


async def issue_certificate(
    workspace_id: UUID,
    enrollment_id: UUID,
    *,
    organization_name: str,
    uow: CertificateUnitOfWork,
    clock: Clock,
    branding: Branding | None = None,
) -> Certificate:
    """The enrollment's certificate, issued now if it has none yet, under the course's rule and with
    `branding` (today's) recorded in it: the PDF and the verification page then show it as issued.

    However many requests race here (two tabs, a double click), one certificate results: the store
    inserts only when the enrollment has none, and otherwise hands back the one that won.
    """
    async with uow:
        enrollment = await uow.enrollments.get(workspace_id, enrollment_id)
        if enrollment is None:
            raise NotFound("enrollment")
        existing = await uow.certificates.for_enrollment(workspace_id, enrollment_id)
        if existing is not None:
            return existing
        course = await uow.courses.get(workspace_id, enrollment.course_id)
        if course is None:
            raise NotFound("course")
        now = clock.now()
        snapshot = snapshot_of(
            enrollment,
            course_title=course.title,
            organization_name=organization_name,
            now=now,
            rule=course.certificate_rule,
            branding=branding,
        )
        if branding is not None and branding.logo_bytes and snapshot.logo_sha256:
            # Kept by content: a later logo change leaves this certificate's logo as it was.
            await uow.certificates.keep_logo(
                snapshot.logo_sha256, branding.logo_bytes, branding.logo_content_type or "image/png"
            )
        candidate = Certificate(
            id=new_certificate_id(),
            workspace_id=workspace_id,
            enrollment_id=enrollment_id,
            snapshot=snapshot,
            issued_at=now,
        )
        issued = await uow.certificates.add_once(candidate)
        if issued.id == candidate.id:
            # Issued by this call (add_once hands back the winner of a race): "Certificate issued" fires.
            await automation_events.record_certificate(uow, enrollment, issued, course.title)
        await uow.commit()
    return issued


async def certificate_to_download(
    workspace_id: UUID,
    enrollment_id: UUID,
    *,
    organization_name: str,
    uow: CertificateUnitOfWork,
    clock: Clock,
    branding: Branding | None = None,
) -> Certificate:
    """The certificate a download renders: issued if needed, never a revoked one."""
    certificate = await issue_certificate(
        workspace_id,
        enrollment_id,
        organization_name=organization_name,
        uow=uow,
        clock=clock,
        branding=branding,
    )
    if certificate.revoked:
        raise CertificateRevoked(certificate)
    return certificate


async def find_certificate(certificate_id: str, *, uow: CertificateUnitOfWork) -> Certificate | None:
    """A certificate by its public id (the verification page: any workspace, no session)."""
    if not looks_like_certificate_id(certificate_id):
        return None
    async with uow:
        return await uow.certificates.get(certificate_id)


def branding_as_issued(certificate: Certificate, today: Branding, logo: Logo | None) -> Branding:
    """The look a certificate is shown in: as recorded when it was issued (its organization name, colour
    and logo); today's branding only fills what an older certificate did not record."""
    snapshot = certificate.snapshot
    recorded = bool(snapshot.primary_color)
    return Branding(
        organization_name=snapshot.organization_name or today.organization_name,
        primary_color=snapshot.primary_color or today.primary_color,
        logo_bytes=logo.content if logo is not None else (None if recorded else today.logo_bytes),
        logo_content_type=logo.content_type if logo is not None else today.logo_content_type,
    )


async def set_certificate_rule(
    workspace_id: UUID, course_id: UUID, rule: str, *, uow: CertificateUnitOfWork
) -> Course:
    """Who a course certifies from now on; certificates already issued keep their wording."""
    if rule not in CERTIFICATE_RULES:
        raise InvalidRule()
    async with uow:
        course = await uow.courses.get_for_update(workspace_id, course_id)
        if course is None:
            raise NotFound("course")
        course = replace(course, certificate_rule=rule)
        await uow.courses.save(course)
        await uow.commit()
    return course


class InvalidRule(DomainError):
    def __init__(self) -> None:
        super().__init__("Choose who gets a certificate: everyone who completes, or only those who pass.")


async def revoke_certificate(
    workspace_id: UUID, certificate_id: str, *, uow: CertificateUnitOfWork, clock: Clock
) -> Certificate:
    """Revoke for good; revoking twice keeps the first date."""
    async with uow:
        revoked = await uow.certificates.revoke(workspace_id, certificate_id, clock.now())
        if revoked is None:
            raise NotFound("certificate")
        await uow.commit()
    return revoked
