"""The entities of automation: events, trigger subscriptions, webhook endpoints and deliveries."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID


class AutomationEvent(enum.StrEnum):
    """What a workflow trigger or a webhook can react to (the same five for both)."""

    COURSE_COMPLETED = "course_completed"
    COURSE_PASSED = "course_passed"
    COURSE_FAILED = "course_failed"
    LEARNER_ENROLLED = "learner_enrolled"
    CERTIFICATE_ISSUED = "certificate_issued"

    @property
    def trigger_key(self) -> str:
        """The HighLevel trigger key (reference §5): immutable once published, so derived in one place."""
        return f"scorm_{self.value}"

    @property
    def label(self) -> str:
        return EVENT_LABELS[self]


EVENT_LABELS: dict[AutomationEvent, str] = {
    AutomationEvent.COURSE_COMPLETED: "Course completed",
    AutomationEvent.COURSE_PASSED: "Course passed",
    AutomationEvent.COURSE_FAILED: "Course failed",
    AutomationEvent.LEARNER_ENROLLED: "Learner enrolled",
    AutomationEvent.CERTIFICATE_ISSUED: "Certificate issued",
}

TRIGGER_KEYS: dict[str, AutomationEvent] = {event.trigger_key: event for event in AutomationEvent}


@dataclass(frozen=True)
class TriggerSubscription:
    """A workflow's use of one of our triggers, as HighLevel created or updated it (reference §6)."""

    id: str  # triggerData.id
    workspace_id: UUID
    location_id: str
    key: str
    target_url: str
    filters: tuple[dict[str, Any], ...] = ()
    company_id: str | None = None
    workflow_id: str | None = None
    version: str | None = None
    active: bool = True
    inactive_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class WebhookEndpoint:
    id: UUID
    workspace_id: UUID
    url: str
    events: frozenset[AutomationEvent]
    secret_enc: str  # "whsec_…", encrypted with the workspace secret box; never shown again after creation
    created_at: datetime
    active: bool = True


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class NewDelivery:
    endpoint_id: UUID
    event_type: str
    message_id: str  # webhook-id: the same on every retry, so receivers can dedupe
    payload: dict[str, Any]
    idempotency_key: str


@dataclass(frozen=True)
class WebhookDelivery:
    id: UUID
    workspace_id: UUID
    endpoint_id: UUID
    event_type: str
    message_id: str
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    endpoint_url: str = ""
    response_status: int | None = None
    response_body: str | None = None
    last_error: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True)
class Emitted:
    """What one state change put in the outboxes: the caller wakes the deliverers when it is not zero."""

    triggers: int = 0
    webhooks: int = 0
    events: tuple[AutomationEvent, ...] = field(default=())

    def __add__(self, other: Emitted) -> Emitted:
        return Emitted(
            self.triggers + other.triggers, self.webhooks + other.webhooks, self.events + other.events
        )


# --- Bulk enrollment ---------------------------------------------------------------------------------------


class BulkRowStatus(enum.StrEnum):
    PENDING = "pending"
    ENROLLED = "enrolled"
    ALREADY = "already"  # already enrolled in the course
    SKIPPED = "skipped"  # not enrolled: `reason` says why


@dataclass(frozen=True)
class BulkRow:
    row_no: int  # the CSV line (1 = the first line of the file), or the position in the tag search
    first_name: str
    last_name: str
    email: str
    status: BulkRowStatus = BulkRowStatus.PENDING
    reason: str | None = None
    contact_id: str | None = None  # known already for contacts found by tag


@dataclass(frozen=True)
class BulkRun:
    id: UUID
    workspace_id: UUID
    course_id: UUID
    source: str  # "csv" | "tag"
    label: str  # the file name or the tag
    status: str  # preview | running | done
    created_at: datetime
    counts: dict[str, int] = field(default_factory=dict)  # BulkRowStatus value → rows
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def processed(self) -> int:
        return self.total - self.counts.get(BulkRowStatus.PENDING.value, 0)

    def count(self, status: BulkRowStatus) -> int:
        return self.counts.get(status.value, 0)
