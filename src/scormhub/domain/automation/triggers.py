"""HighLevel workflow triggers: the subscriptions HighLevel creates, and firing them (reference §6, §7).

Firing goes through the CRM outbox (a `trigger` write queued by `events.record`): `fire_trigger` is what
the pusher calls for one such write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import UUID

from scormhub.domain.automation.model import TRIGGER_KEYS, TriggerSubscription
from scormhub.domain.errors import DomainError
from scormhub.domain.model import OutboxItem

if TYPE_CHECKING:
    from scormhub.domain.ports import Clock, UnitOfWork
    from scormhub.domain.ports.automation import AutomationRepository, TriggerSender

EXECUTE_PATH = "/workflows-marketplace/triggers/execute/"
MAX_FILTERS = 50


class SubscriptionRefused(DomainError):
    """A subscription request we cannot keep; the message says what was wrong (answered as HTTP 400)."""


class TriggerGone(DomainError):
    """HighLevel says the trigger no longer exists (404, 410, or a message that it is inactive)."""


@dataclass(frozen=True)
class SubscriptionChange:
    subscription_id: str
    key: str
    event_type: str  # CREATED | UPDATED | DELETED
    location_id: str
    target_url: str
    filters: tuple[dict[str, Any], ...]
    workflow_id: str | None
    company_id: str | None
    version: str | None


def _text(value: Any, limit: int = 200) -> str | None:
    return value.strip()[:limit] if isinstance(value, str) and value.strip() else None


def parse_subscription(body: Any) -> SubscriptionChange:
    """The subscription request (§6), checked; SubscriptionRefused names what is missing or wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("triggerData"), dict):
        raise SubscriptionRefused("The request has no triggerData object.")
    data = body["triggerData"]
    meta: dict[str, Any] = body["meta"] if isinstance(body.get("meta"), dict) else {}
    extras: dict[str, Any] = body["extras"] if isinstance(body.get("extras"), dict) else {}
    subscription_id = _text(data.get("id"))
    if subscription_id is None:
        raise SubscriptionRefused("triggerData.id is missing.")
    key = _text(data.get("key")) or _text(meta.get("key"))
    if key not in TRIGGER_KEYS:
        offered = ", ".join(sorted(TRIGGER_KEYS))
        raise SubscriptionRefused(f"Unknown trigger key {key!r}; SCORM Hub offers: {offered}.")
    event_type = (_text(data.get("eventType")) or "").upper()
    if event_type not in ("CREATED", "UPDATED", "DELETED"):
        raise SubscriptionRefused("triggerData.eventType must be CREATED, UPDATED or DELETED.")
    location_id = _text(extras.get("locationId")) or _text(body.get("locationId"))
    if location_id is None:
        raise SubscriptionRefused("extras.locationId is missing.")
    filters = data.get("filters") or []
    if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
        raise SubscriptionRefused(f"triggerData.filters must be a list of at most {MAX_FILTERS} filters.")
    return SubscriptionChange(
        subscription_id=subscription_id,
        key=key,
        event_type=event_type,
        location_id=location_id,
        target_url=_text(data.get("targetUrl"), 2000) or "",
        filters=tuple(f for f in filters if isinstance(f, dict)),
        workflow_id=_text(extras.get("workflowId")),
        company_id=_text(extras.get("companyId")),
        version=_text(meta.get("version"), 20),
    )


def check_target_url(url: str, api_url: str) -> str:
    """Only HighLevel's own trigger endpoint may receive our events (an SSRF guard, §6.3): https, the
    configured API host, the execute path, nothing that could steer the request elsewhere."""
    prefix = api_url.rstrip("/") + EXECUTE_PATH
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise SubscriptionRefused("targetUrl must be an https:// address of HighLevel.")
    if (
        not url.startswith(prefix)
        or parts.username
        or parts.password
        or ".." in parts.path
        or "\\" in url
        or any(ch.isspace() for ch in url)
    ):
        raise SubscriptionRefused(f"targetUrl must start with {prefix}; other addresses are not called.")
    return url


async def change_subscription(
    change: SubscriptionChange, workspace_id: UUID, *, uow: UnitOfWork, clock: Clock, api_url: str
) -> str:
    """Keep what HighLevel said (CREATED/UPDATED → active, DELETED → inactive); the outcome, in words."""
    repo = automation_of(uow)
    now = clock.now()
    async with uow:
        existing = await repo.get_subscription(change.subscription_id)
        if existing is not None and existing.workspace_id != workspace_id:
            # Trigger ids are HighLevel's; one claimed by another location is not this caller's to change.
            raise SubscriptionRefused("This trigger id belongs to another location.")
        if change.event_type == "DELETED":
            removed = await repo.deactivate_subscription(change.subscription_id, "Deleted in HighLevel", now)
            await uow.commit()
            return "deleted" if removed else "already deleted"
        target = check_target_url(change.target_url, api_url)
        await repo.save_subscription(
            TriggerSubscription(
                id=change.subscription_id,
                workspace_id=workspace_id,
                location_id=change.location_id,
                key=change.key,
                target_url=target,
                filters=change.filters,
                company_id=change.company_id,
                workflow_id=change.workflow_id,
                version=change.version,
                active=True,
                created_at=existing.created_at if existing and existing.created_at else now,
                updated_at=now,
            )
        )
        await uow.commit()
    return "updated" if existing is not None else "created"


def automation_of(uow: UnitOfWork) -> AutomationRepository:
    repo: AutomationRepository | None = getattr(uow, "automation", None)
    if repo is None:
        raise RuntimeError("this unit of work keeps no automation data")
    return repo


async def fire_trigger(
    item: OutboxItem, *, sender: TriggerSender | None, uow_factory: Callable[[], UnitOfWork], clock: Clock
) -> None:
    """Deliver one `trigger` write: to its subscription's current targetUrl, while it is active.

    TriggerGone deactivates the subscription (no later event is fired to it) and fails this write;
    transient errors propagate to the pusher, which retries them with backoff like any CRM write."""
    payload: Mapping[str, Any] = item.write.payload
    async with (uow := uow_factory()):
        subscription = await automation_of(uow).get_subscription(str(payload.get("subscription_id")))
    if subscription is None or not subscription.active:
        reason = subscription.inactive_reason if subscription else "it no longer exists"
        raise DomainError(f"The workflow trigger was removed ({reason}); this event was not sent.")
    if sender is None:
        raise DomainError("This workspace is not connected to HighLevel, so workflow triggers cannot fire.")
    try:
        await sender.fire(subscription.target_url, payload["body"])
    except TriggerGone as gone:
        async with (uow := uow_factory()):
            await automation_of(uow).deactivate_subscription(subscription.id, str(gone), clock.now())
            await uow.commit()
        raise DomainError(
            f"HighLevel no longer has this workflow trigger ({gone}); it will not fire again."
        ) from gone
