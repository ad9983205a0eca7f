"""Completion certificates: one per completed enrollment, under a public id nobody can guess, recording
what it certifies when it was issued, so that later edits (a renamed course, a corrected email) never
rewrite a certificate someone already holds. Anyone with the id can verify it; the admin can revoke it."""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.automation import events as automation_events
from scormhub.domain.errors import DomainError, NotFound
from scormhub.domain.model import Certificate, CertificateSnapshot, Enrollment
from scormhub.domain.scorm.cmi import Completion

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
    enrollment: Enrollment, *, course_title: str, organization_name: str, now: datetime
) -> CertificateSnapshot:
    """The record a certificate keeps; only a completed enrollment has one."""
    if enrollment.completion is not Completion.COMPLETED:
        raise NotCompleted()
    return CertificateSnapshot(
        learner_name=enrollment.learner_name,
        learner_email=enrollment.learner_email,
        course_title=course_title,
        # An engine may report completion without a date; the day it was certified stands in for it.
        completed_at=enrollment.completed_at or now,
        success=enrollment.success.value,
        score_percent=enrollment.score_percent,
        organization_name=organization_name,
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
) -> Certificate:
    """The enrollment's certificate, issued now if it has none yet.

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
            enrollment, course_title=course.title, organization_name=organization_name, now=now
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
) -> Certificate:
    """The certificate a download renders: issued if needed, never a revoked one."""
    certificate = await issue_certificate(
        workspace_id, enrollment_id, organization_name=organization_name, uow=uow, clock=clock
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
