"""Ports of automation: where subscriptions, endpoints and deliveries are kept, and how they are sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from scormhub.domain.automation.model import (
    AutomationEvent,
    BulkRow,
    BulkRun,
    NewDelivery,
    TriggerSubscription,
    WebhookDelivery,
    WebhookEndpoint,
)
from scormhub.domain.model import Contact


class AutomationRepository(Protocol):
    """Trigger subscriptions, webhook endpoints and the webhook outbox, in the unit of work's transaction."""

    async def save_subscription(self, subscription: TriggerSubscription) -> None:
        """Insert or update by id (HighLevel's trigger id)."""
        ...

    async def get_subscription(self, subscription_id: str) -> TriggerSubscription | None: ...

    async def deactivate_subscription(self, subscription_id: str, reason: str, now: datetime) -> bool:
        """False when it is not there or already inactive."""
        ...

    async def active_subscriptions(self, workspace_id: UUID, key: str) -> list[TriggerSubscription]: ...

    async def subscriptions(self, workspace_id: UUID) -> list[TriggerSubscription]: ...

    async def add_endpoint(self, endpoint: WebhookEndpoint) -> None: ...

    async def endpoints(self, workspace_id: UUID) -> list[WebhookEndpoint]: ...

    async def get_endpoint(self, workspace_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None: ...

    async def delete_endpoint(self, workspace_id: UUID, endpoint_id: UUID) -> bool: ...

    async def endpoints_for(self, workspace_id: UUID, event: AutomationEvent) -> list[WebhookEndpoint]: ...

    async def add_deliveries(
        self, workspace_id: UUID, deliveries: Sequence[NewDelivery], now: datetime
    ) -> int:
        """Insert each unless its idempotency key is there already; how many were new."""
        ...

    async def claim_due_deliveries(
        self, workspace_id: UUID, now: datetime, *, limit: int, lease_s: float
    ) -> list[WebhookDelivery]:
        """Due pending deliveries, pushed `lease_s` into the future so no other deliverer takes them."""
        ...

    async def record_attempt(self, delivery_id: UUID, outcome: AttemptRecord) -> None: ...

    async def retry_delivery(self, workspace_id: UUID, delivery_id: UUID, now: datetime) -> bool:
        """A failed delivery of this workspace becomes due now; False when there is none such."""
        ...

    async def recent_deliveries(self, workspace_id: UUID, *, limit: int = 50) -> list[WebhookDelivery]: ...

    async def workspaces_with_due_deliveries(self, now: datetime) -> list[UUID]: ...

    async def pending_work(self, workspace_id: UUID, enrollment_id: UUID) -> tuple[bool, bool]:
        """(an unsent trigger write of this enrollment, an unsent webhook delivery of this workspace)."""
        ...


@dataclass(frozen=True)
class AttemptRecord:
    status: str  # pending (retry at next_attempt_at) | sent | failed
    at: datetime
    next_attempt_at: datetime | None = None
    response_status: int | None = None
    response_body: str | None = None
    error: str | None = None


class TriggerSender(Protocol):
    """Fires a HighLevel workflow trigger (POST to its targetUrl with the location's token)."""

    async def fire(self, target_url: str, body: Mapping[str, Any]) -> None:
        """Raises TriggerGone (404/410/inactive), RateLimited/ServiceUnavailable (retry), CrmAuthExpired
        (reconnect) or another DomainError (failed)."""
        ...


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    body: str


class WebhookSender(Protocol):
    """Posts a signed webhook to an endpoint that was checked to be public HTTPS (and is checked again)."""

    async def send(
        self, url: str, *, secret: str, message_id: str, timestamp: datetime, body: str
    ) -> WebhookResponse:
        """The endpoint's answer (any status); raises DomainError when it could not be reached or refused
        by the SSRF guard (with a message saying which)."""
        ...

    async def check_url(self, url: str) -> None:
        """Raises DomainError saying why the URL cannot receive webhooks (not https, private address …)."""
        ...


class BulkRepository(Protocol):
    """Bulk-enrollment runs and their rows (one per CSV line or tagged contact)."""

    async def create_run(self, run: BulkRun, rows: Sequence[BulkRow]) -> None: ...

    async def get_run(self, workspace_id: UUID, run_id: UUID) -> BulkRun | None:
        """With its counts per row status."""
        ...

    async def start(self, workspace_id: UUID, run_id: UUID, now: datetime) -> bool:
        """preview → running; False when it is not a preview of this workspace."""
        ...

    async def pending_rows(self, run_id: UUID, *, limit: int) -> list[BulkRow]: ...

    async def mark_rows(self, run_id: UUID, outcomes: Sequence[BulkRow]) -> None:
        """Store each row's status and reason, only where it is still pending (a second job changes none)."""
        ...

    async def finish(self, run_id: UUID, now: datetime) -> None: ...

    async def rows_with(self, run_id: UUID, statuses: Sequence[str], *, limit: int) -> list[BulkRow]: ...

    async def enrolled_emails(
        self, workspace_id: UUID, course_id: UUID, emails: Sequence[str]
    ) -> set[str]: ...


class TaggedContacts(Protocol):
    """The contacts that carry a tag, a page at a time (HighLevel's search with `searchAfter`)."""

    async def page_with_tag(
        self, tag: str, *, after: str | None, limit: int
    ) -> tuple[list[Contact], str | None]:
        """One page and the cursor of the next (None: this was the last)."""
        ...
