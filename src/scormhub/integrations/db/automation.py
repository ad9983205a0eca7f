"""Automation's tables as the domain sees them: trigger subscriptions, webhook endpoints, the webhook
outbox. Every query names the workspace, except the lookups by HighLevel's own trigger id (the route
checks the caller's location owns it)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from scormhub.domain.automation.model import (
    AutomationEvent,
    DeliveryStatus,
    NewDelivery,
    TriggerSubscription,
    WebhookDelivery,
    WebhookEndpoint,
)
from scormhub.domain.ports.automation import AttemptRecord
from scormhub.integrations.db.tables import TriggerSubscriptionRow, WebhookDeliveryRow, WebhookEndpointRow


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _subscription(row: dict[str, Any]) -> TriggerSubscription:
    return TriggerSubscription(
        id=row["id"],
        workspace_id=row["workspace_id"],
        location_id=row["location_id"],
        key=row["trigger_key"],
        target_url=row["target_url"],
        filters=tuple(_json(row["filters"]) or ()),
        company_id=row["company_id"],
        workflow_id=row["workflow_id"],
        version=row["version"],
        active=row["active"],
        inactive_reason=row["inactive_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _endpoint(row: dict[str, Any]) -> WebhookEndpoint:
    known = {e.value for e in AutomationEvent}
    events = frozenset(AutomationEvent(e) for e in _json(row["events"]) or () if e in known)
    return WebhookEndpoint(
        id=row["id"],
        workspace_id=row["workspace_id"],
        url=row["url"],
        events=events,
        secret_enc=row["secret_enc"],
        created_at=row["created_at"],
        active=row["active"],
    )


def _delivery(row: dict[str, Any]) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        workspace_id=row["workspace_id"],
        endpoint_id=row["endpoint_id"],
        event_type=row["event_type"],
        message_id=row["message_id"],
        payload=_json(row["payload"]),
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        endpoint_url=row.get("url") or "",
        response_status=row["response_status"],
        response_body=row["response_body"],
        last_error=row["last_error"],
        sent_at=row["sent_at"],
    )


class PiccoloAutomationRepository:
    async def save_subscription(self, subscription: TriggerSubscription) -> None:
        s = subscription
        await TriggerSubscriptionRow.raw(
            "INSERT INTO trigger_subscription (id, workspace_id, location_id, company_id, workflow_id, "
            "trigger_key, version, filters, target_url, active, inactive_reason, created_at, updated_at) "
            "VALUES ({}, {}, {}, {}, {}, {}, {}, {}::jsonb, {}, {}, NULL, {}, {}) "
            "ON CONFLICT (id) DO UPDATE SET location_id = EXCLUDED.location_id, "
            "company_id = EXCLUDED.company_id, workflow_id = EXCLUDED.workflow_id, "
            "trigger_key = EXCLUDED.trigger_key, version = EXCLUDED.version, filters = EXCLUDED.filters, "
            "target_url = EXCLUDED.target_url, active = EXCLUDED.active, inactive_reason = NULL, "
            "updated_at = EXCLUDED.updated_at",
            s.id,
            s.workspace_id,
            s.location_id,
            s.company_id,
            s.workflow_id,
            s.key,
            s.version,
            json.dumps(list(s.filters)),
            s.target_url,
            s.active,
            s.created_at,
            s.updated_at,
        )

    async def get_subscription(self, subscription_id: str) -> TriggerSubscription | None:
        rows = await TriggerSubscriptionRow.raw(
            "SELECT * FROM trigger_subscription WHERE id = {}", subscription_id
        )
        return _subscription(rows[0]) if rows else None

    async def deactivate_subscription(self, subscription_id: str, reason: str, now: datetime) -> bool:
        rows = await TriggerSubscriptionRow.raw(
            "UPDATE trigger_subscription SET active = false, inactive_reason = {}, updated_at = {} "
            "WHERE id = {} AND active RETURNING id",
            reason[:500],
            now,
            subscription_id,
        )
        return bool(rows)

    async def active_subscriptions(self, workspace_id: UUID, key: str) -> list[TriggerSubscription]:
        rows = await TriggerSubscriptionRow.raw(
            "SELECT * FROM trigger_subscription WHERE workspace_id = {} AND trigger_key = {} AND active "
            "ORDER BY created_at, id",
            workspace_id,
            key,
        )
        return [_subscription(row) for row in rows]

    async def subscriptions(self, workspace_id: UUID) -> list[TriggerSubscription]:
        rows = await TriggerSubscriptionRow.raw(
            "SELECT * FROM trigger_subscription WHERE workspace_id = {} ORDER BY created_at, id", workspace_id
        )
        return [_subscription(row) for row in rows]

    async def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        await WebhookEndpointRow.raw(
            "INSERT INTO webhook_endpoint (id, workspace_id, url, events, secret_enc, active, created_at) "
            "VALUES ({}, {}, {}, {}::jsonb, {}, {}, {})",
            endpoint.id,
            endpoint.workspace_id,
            endpoint.url,
            json.dumps(sorted(e.value for e in endpoint.events)),
            endpoint.secret_enc,
            endpoint.active,
            endpoint.created_at,
        )

    async def endpoints(self, workspace_id: UUID) -> list[WebhookEndpoint]:
        rows = await WebhookEndpointRow.raw(
            "SELECT * FROM webhook_endpoint WHERE workspace_id = {} ORDER BY created_at, id", workspace_id
        )
        return [_endpoint(row) for row in rows]

    async def get_endpoint(self, workspace_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None:
        rows = await WebhookEndpointRow.raw(
            "SELECT * FROM webhook_endpoint WHERE workspace_id = {} AND id = {}", workspace_id, endpoint_id
        )
        return _endpoint(rows[0]) if rows else None

    async def delete_endpoint(self, workspace_id: UUID, endpoint_id: UUID) -> bool:
        rows = await WebhookEndpointRow.raw(
            "DELETE FROM webhook_endpoint WHERE workspace_id = {} AND id = {} RETURNING id",
            workspace_id,
            endpoint_id,
        )
        return bool(rows)

    async def endpoints_for(self, workspace_id: UUID, event: AutomationEvent) -> list[WebhookEndpoint]:
        rows = await WebhookEndpointRow.raw(
            "SELECT * FROM webhook_endpoint WHERE workspace_id = {} AND active AND events ? {} "
            "ORDER BY created_at, id",
            workspace_id,
            event.value,
        )
        return [_endpoint(row) for row in rows]

    async def add_deliveries(
        self, workspace_id: UUID, deliveries: Sequence[NewDelivery], now: datetime
    ) -> int:
        added = 0
        for d in deliveries:
            # ON CONFLICT DO NOTHING on the key: an event recorded twice is delivered once.
            rows = await WebhookDeliveryRow.raw(
                "INSERT INTO webhook_delivery (id, workspace_id, endpoint_id, event_type, message_id, "
                "payload, idempotency_key, status, attempts, next_attempt_at, created_at) "
                "VALUES ({}, {}, {}, {}, {}, {}::jsonb, {}, 'pending', 0, {}, {}) "
                "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                uuid.uuid4(),
                workspace_id,
                d.endpoint_id,
                d.event_type,
                d.message_id,
                json.dumps(d.payload),
                d.idempotency_key,
                now,
                now,
            )
            added += len(rows)
        return added

    async def claim_due_deliveries(
        self, workspace_id: UUID, now: datetime, *, limit: int, lease_s: float
    ) -> list[WebhookDelivery]:
        rows = await WebhookDeliveryRow.raw(
            "WITH claimed AS (UPDATE webhook_delivery "
            "SET next_attempt_at = {}::timestamptz + make_interval(secs => {}::float8) "
            "WHERE id IN (SELECT id FROM webhook_delivery WHERE workspace_id = {} AND status = 'pending' "
            "AND next_attempt_at <= {} ORDER BY created_at LIMIT {} FOR UPDATE SKIP LOCKED) RETURNING *) "
            "SELECT claimed.*, e.url FROM claimed JOIN webhook_endpoint e ON e.id = claimed.endpoint_id "
            "ORDER BY claimed.created_at",
            now,
            lease_s,
            workspace_id,
            now,
            limit,
        )
        return [_delivery(row) for row in rows]

    async def record_attempt(self, delivery_id: UUID, outcome: AttemptRecord) -> None:
        await WebhookDeliveryRow.raw(
            "UPDATE webhook_delivery SET status = {}, attempts = attempts + 1, "
            "next_attempt_at = COALESCE({}, next_attempt_at), response_status = {}, response_body = {}, "
            "last_error = {}, sent_at = CASE WHEN {} = 'sent' THEN {}::timestamptz ELSE sent_at END "
            "WHERE id = {}",
            outcome.status,
            outcome.next_attempt_at,
            outcome.response_status,
            outcome.response_body,
            outcome.error[:2000] if outcome.error else None,
            outcome.status,
            outcome.at,
            delivery_id,
        )

    async def retry_delivery(self, workspace_id: UUID, delivery_id: UUID, now: datetime) -> bool:
        rows = await WebhookDeliveryRow.raw(
            "UPDATE webhook_delivery SET status = 'pending', next_attempt_at = {}, created_at = {} "
            "WHERE workspace_id = {} AND id = {} AND status = 'failed' RETURNING id",
            now,
            now,
            workspace_id,
            delivery_id,
        )
        return bool(rows)

    async def recent_deliveries(self, workspace_id: UUID, *, limit: int = 50) -> list[WebhookDelivery]:
        rows = await WebhookDeliveryRow.raw(
            "SELECT d.*, e.url FROM webhook_delivery d JOIN webhook_endpoint e ON e.id = d.endpoint_id "
            "WHERE d.workspace_id = {} ORDER BY d.created_at DESC, d.id LIMIT {}",
            workspace_id,
            limit,
        )
        return [_delivery(row) for row in rows]

    async def workspaces_with_due_deliveries(self, now: datetime) -> list[UUID]:
        rows = await WebhookDeliveryRow.raw(
            "SELECT DISTINCT workspace_id FROM webhook_delivery "
            "WHERE status = 'pending' AND next_attempt_at <= {}",
            now,
        )
        return [row["workspace_id"] for row in rows]

    async def pending_work(self, workspace_id: UUID, enrollment_id: UUID) -> tuple[bool, bool]:
        rows = await WebhookDeliveryRow.raw(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE workspace_id = {} AND enrollment_id = {} "
            "AND kind = 'trigger' AND status = 'pending') AS triggers, "
            "EXISTS (SELECT 1 FROM webhook_delivery WHERE workspace_id = {} AND status = 'pending') AS hooks",
            workspace_id,
            enrollment_id,
            workspace_id,
        )
        return bool(rows[0]["triggers"]), bool(rows[0]["hooks"])
