"""Entities and value objects of the learner side (issue 23), beside `domain.model`: emails, portal links,
due dates, certificate expiry and the events they raise. A module of its own so `domain.model` stays
within the size limit; like it, it imports only the standard library, and ports may speak in it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID


class MailStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class MailMessage:
    """One email: a plain-text part always, an HTML part beside it."""

    to: str
    subject: str
    text: str
    html: str
    sender_name: str = "SCORM Hub"
    contact_id: str | None = None  # the CRM's contact, for transports that send through the CRM


@dataclass(frozen=True)
class QueuedMail:
    """A message in the mail outbox; the idempotency key makes queueing it twice queue it once."""

    id: UUID
    workspace_id: UUID
    kind: str
    idempotency_key: str
    message: MailMessage
    status: MailStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None = None
    transport: str | None = None
    sent_at: datetime | None = None


class LearnerEventKind(enum.StrEnum):
    """Events a workflow trigger or webhook can subscribe to (published_at marks what was delivered)."""

    COURSE_DUE_SOON = "course_due_soon"
    COURSE_OVERDUE = "course_overdue"
    CERTIFICATE_EXPIRING = "certificate_expiring"
    CERTIFICATE_EXPIRED = "certificate_expired"

    @property
    def label(self) -> str:
        return {
            "course_due_soon": "Course due soon",
            "course_overdue": "Course overdue",
            "certificate_expiring": "Certificate expiring",
            "certificate_expired": "Certificate expired",
        }[self.value]


@dataclass(frozen=True)
class LearnerEvent:
    """Something that happened to one enrollment, raised once (its dedupe key is unique)."""

    kind: LearnerEventKind
    workspace_id: UUID
    enrollment_id: UUID
    dedupe_key: str
    occurred_at: datetime
    learner_email: str
    learner_name: str
    contact_id: str
    course_title: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LearnerSettings:
    """A workspace's reminder offsets (days relative to the due date; negative is before) and how many
    days before a certificate expires its learner is re-enrolled."""

    reminder_offsets: tuple[int, ...] = (-7, 1)
    recert_notice_days: int = 30


@dataclass(frozen=True)
class LearnerLink:
    """A one-time portal sign-in link; only the token's hash is stored."""

    token_hash: str
    workspace_id: UUID
    email: str
    expires_at: datetime
    used_at: datetime | None = None
    next_path: str | None = None


@dataclass(frozen=True)
class PortalCourse:
    """One line of a learner's "my courses"."""

    enrollment_id: UUID
    course_title: str
    launch_token: str
    completion: str
    success: str
    score_percent: float | None
    last_access_at: datetime | None
    due_at: datetime | None
    certificate_id: str | None
    certificate_expires_at: datetime | None
    certificate_revoked: bool = False

    @property
    def started(self) -> bool:
        return self.last_access_at is not None or self.completion != "not_started"


@dataclass(frozen=True)
class DueRow:
    """One line of the due-dates report."""

    enrollment_id: UUID
    learner_name: str
    learner_email: str
    course_title: str
    due_at: datetime
    completion: str
