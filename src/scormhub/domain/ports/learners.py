"""Ports of the learner side: sending email, the mail outbox, portal links and sessions, the daily pass."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from scormhub.domain.model import CrmWrite
from scormhub.domain.model_learners import (
    DueRow,
    LearnerEvent,
    LearnerLink,
    LearnerSettings,
    MailMessage,
    PortalCourse,
    QueuedMail,
)


class MailTransport(Protocol):
    """Hands one message to a mail system. Raises MailDeferred (try again later: a 4xx, a dropped
    connection, a timeout) or MailRefused (will never go: a 5xx, an address the CRM does not know)."""

    name: str

    async def send(self, workspace_id: UUID, message: MailMessage) -> str:
        """The name of the transport that took it (shown in the delivery log)."""
        ...


class MailOutbox(Protocol):
    async def queue_many(self, items: Sequence[tuple[UUID, str, str, MailMessage]], now: datetime) -> int:
        """`queue` for (workspace, kind, key, message) items at once; how many were new."""
        ...

    async def queue(
        self, workspace_id: UUID, kind: str, idempotency_key: str, message: MailMessage, now: datetime
    ) -> bool:
        """Store a message to send; False when one with this key was queued before (nothing added)."""
        ...

    async def claim_due(self, now: datetime, *, limit: int, lease_s: float) -> list[QueuedMail]:
        """Due messages, each held for `lease_s` by this caller (other workers skip them)."""
        ...

    async def mark_sent(self, mail_id: UUID, now: datetime, transport: str) -> None: ...

    async def mark_retry(self, mail_id: UUID, error: str, next_attempt_at: datetime) -> None: ...

    async def mark_failed(self, mail_id: UUID, error: str) -> None: ...

    async def exists(self, workspace_id: UUID, mail_id: UUID) -> bool: ...

    async def retry_now(self, workspace_id: UUID, mail_id: UUID, now: datetime) -> bool:
        """An operator's retry of a failed message; False when it is not this workspace's failed one."""
        ...

    async def recent(self, workspace_id: UUID, *, limit: int) -> list[QueuedMail]: ...


class LearnerStore(Protocol):
    """Portal links and sessions, due dates, the events of the daily pass (one transaction per use)."""

    async def add_link(self, link: LearnerLink, now: datetime) -> None: ...

    async def link_for_update(self, token_hash: str) -> LearnerLink | None: ...

    async def mark_link_used(self, token_hash: str, now: datetime) -> None: ...

    async def add_session(
        self, token_hash: str, workspace_id: UUID, email: str, expires_at: datetime
    ) -> None: ...

    async def session(self, token_hash: str, now: datetime) -> tuple[UUID, str] | None:
        """(workspace, email) of a live session."""
        ...

    async def has_enrollments(self, workspace_id: UUID, email: str) -> bool: ...

    async def portal_courses(self, workspace_id: UUID, email: str) -> list[PortalCourse]: ...

    async def settings(self, workspace_id: UUID) -> LearnerSettings: ...

    async def save_settings(self, workspace_id: UUID, settings: LearnerSettings) -> None: ...

    async def set_due(
        self, workspace_id: UUID, enrollment_id: UUID, due_at: datetime | None, now: datetime
    ) -> bool:
        """False when the enrollment is not this workspace's."""
        ...

    async def due_dates(self, workspace_id: UUID, enrollment_ids: list[UUID]) -> dict[UUID, datetime]: ...

    async def due_report(
        self, workspace_id: UUID, state: str, now: datetime, *, limit: int
    ) -> list[DueRow]: ...

    async def certificate_expiry(self, certificate_id: str) -> datetime | None: ...

    async def raise_due_events(self, now: datetime) -> list[LearnerEvent]:
        """Record every due-soon / overdue reminder whose moment has come and that was not raised before;
        returns only the ones this call recorded (a racing caller gets the others)."""
        ...

    async def raise_expiry_events(self, now: datetime) -> list[LearnerEvent]:
        """Certificates entering their notice period (expiring) or past their expiry (expired), once."""
        ...

    async def queue_crm_writes(self, writes: Sequence[tuple[UUID, UUID, CrmWrite]], now: datetime) -> int:
        """Into the CRM outbox (delivered by push_to_crm), each once by its idempotency key."""
        ...

    async def re_enroll_many(self, targets: Sequence[tuple[UUID, UUID]], now: datetime) -> int:
        """Archive each (workspace, enrollment)'s current attempt with its certificate (which stays
        verifiable) and start anew; how many were re-enrolled."""
        ...

    async def validity_days(self, workspace_id: UUID, course_id: UUID) -> int | None: ...

    async def set_validity(self, workspace_id: UUID, course_id: UUID, days: int | None) -> bool: ...

    async def stamp_expiry(self, workspace_id: UUID, certificate_id: str) -> datetime | None:
        """Give a certificate issued without an expiry the one its course's validity sets; the expiry."""
        ...


class LearnerUnitOfWork(Protocol):
    """What the learner use cases need of a transaction."""

    @property
    def mail(self) -> MailOutbox: ...

    @property
    def learners(self) -> LearnerStore: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...
