"""Settings → Webhooks: HTTPS endpoints per workspace, the events each receives, signed deliveries from an
outbox (retried with backoff, logged with the endpoint's answer), and a test event on demand."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from scormhub.domain.automation.events import absolute
from scormhub.domain.automation.model import AutomationEvent, NewDelivery, WebhookEndpoint
from scormhub.domain.automation.triggers import automation_of
from scormhub.domain.errors import DomainError, NotFound, ServiceUnavailable
from scormhub.domain.ports.automation import AttemptRecord
from scormhub.domain.sync import retry_delay

if TYPE_CHECKING:
    from scormhub.domain.ports import Clock, SecretCipher, UnitOfWork
    from scormhub.domain.ports.automation import WebhookSender

MAX_ENDPOINTS = 10
MAX_URL_LENGTH = 2000
# About a day of tries with the backoff below (2 s … 15 min): then the delivery shows as failed, with Retry.
MAX_ATTEMPTS = 12
TEST_EVENT = "test"


class EndpointRejected(DomainError):
    """An endpoint we will not add; the message says what to change."""


@dataclass(frozen=True)
class NewEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once, right after creation, for the receiver to verify signatures with


def new_secret() -> str:
    # The Standard Webhooks format: "whsec_" + base64 of the key (24 random bytes: 192 bits).
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def chosen_events(values: Iterable[str]) -> frozenset[AutomationEvent]:
    events = frozenset(AutomationEvent(v) for v in values if v in {e.value for e in AutomationEvent})
    if not events:
        raise EndpointRejected("Choose at least one event for this endpoint.")
    return events


async def add_endpoint(
    workspace_id: UUID,
    url: str,
    events: Iterable[str],
    *,
    uow: UnitOfWork,
    sender: WebhookSender,
    cipher: SecretCipher,
    clock: Clock,
) -> NewEndpoint:
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise EndpointRejected(
            f"Enter the endpoint's https:// address (at most {MAX_URL_LENGTH} characters)."
        )
    chosen = chosen_events(events)
    await sender.check_url(url)  # raises with the reason (not https, private address, unknown host)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        url=url,
        events=chosen,
        secret_enc=cipher.encrypt(secret),
        created_at=clock.now(),
    )
    repo = automation_of(uow)
    async with uow:
        if len(await repo.endpoints(workspace_id)) >= MAX_ENDPOINTS:
            raise EndpointRejected(f"A workspace can have {MAX_ENDPOINTS} endpoints; delete one first.")
        await repo.add_endpoint(endpoint)
        await uow.commit()
    return NewEndpoint(endpoint, secret)


async def delete_endpoint(workspace_id: UUID, endpoint_id: UUID, *, uow: UnitOfWork) -> None:
    async with uow:
        if not await automation_of(uow).delete_endpoint(workspace_id, endpoint_id):
            raise NotFound("This endpoint is already gone.")
        await uow.commit()


def test_payload(endpoint: WebhookEndpoint, message_id: str, now_iso: str) -> dict[str, Any]:
    """A test event shaped like the real ones, with made-up learner data."""
    return {
        "event": TEST_EVENT,
        "eventId": message_id,
        "occurredAt": now_iso,
        "locationId": None,
        "contactId": "test-contact",
        "contact": {"email": "learner@example.com", "firstName": "Test", "lastName": "Learner"},
        "course": {"id": "test-course", "title": "Test course"},
        "enrollment": {
            "id": "test-enrollment",
            "status": "completed",
            "result": "passed",
            "score": 87,
            "passed": True,
            "completedAt": now_iso,
        },
        "certificate": None,
    }


async def send_test_event(workspace_id: UUID, endpoint_id: UUID, *, uow: UnitOfWork, clock: Clock) -> None:
    """Queue a test delivery to one endpoint (each click is its own delivery)."""
    repo = automation_of(uow)
    now = clock.now()
    async with uow:
        endpoint = await repo.get_endpoint(workspace_id, endpoint_id)
        if endpoint is None:
            raise NotFound("This endpoint no longer exists.")
        message_id = "msg_test_" + uuid.uuid4().hex
        payload = test_payload(endpoint, message_id, now.isoformat().replace("+00:00", "Z"))
        await repo.add_deliveries(
            workspace_id,
            [NewDelivery(endpoint.id, TEST_EVENT, message_id, payload, f"webhook-test:{message_id}")],
            now,
        )
        await uow.commit()


async def retry_delivery(workspace_id: UUID, delivery_id: UUID, *, uow: UnitOfWork, clock: Clock) -> None:
    async with uow:
        retried = await automation_of(uow).retry_delivery(workspace_id, delivery_id, clock.now())
        await uow.commit()
    if not retried:
        raise NotFound("This delivery is not waiting for a retry.")


@dataclass(frozen=True)
class DeliveryOutcome:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


async def deliver_webhooks(
    workspace_id: UUID,
    *,
    uow_factory: Callable[[], UnitOfWork],
    sender: WebhookSender,
    cipher: SecretCipher,
    clock: Clock,
    jitter: Callable[[], float],
    public_url: str,
    batch: int = 25,
    lease_s: float = 120,
    max_batches: int = 400,
) -> DeliveryOutcome:
    """Send the workspace's due deliveries: 2xx is delivered; a redirect or an address the guard refuses
    fails at once (retrying cannot change it); anything else is retried with backoff, then failed."""
    sent = retrying = failed = 0
    for _ in range(max_batches):
        async with (uow := uow_factory()):
            items = await automation_of(uow).claim_due_deliveries(
                workspace_id, clock.now(), limit=batch, lease_s=lease_s
            )
            await uow.commit()
        if not items:
            break
        for item in items:
            async with (uow := uow_factory()):
                endpoint = await automation_of(uow).get_endpoint(workspace_id, item.endpoint_id)
            body = json.dumps(absolute(item.payload, public_url), separators=(",", ":"))
            status: int | None = None
            answer: str | None = None
            error: str | None = None
            final = False
            try:
                if endpoint is None:
                    raise NotFound("The endpoint was deleted.")
                response = await sender.send(
                    endpoint.url,
                    secret=cipher.decrypt(endpoint.secret_enc),
                    message_id=item.message_id,
                    timestamp=clock.now(),
                    body=body,
                )
                status, answer = response.status, response.body
                if 200 <= status < 300:
                    outcome = AttemptRecord("sent", clock.now(), response_status=status, response_body=answer)
                elif 300 <= status < 400:
                    final, error = (
                        True,
                        f"The endpoint redirected (HTTP {status}); redirects are not followed.",
                    )
                else:
                    error = f"The endpoint answered HTTP {status}."
            except ServiceUnavailable as exc:
                error = str(exc)
            except DomainError as exc:
                final, error = True, str(exc)
            if error is not None:
                attempts = item.attempts + 1
                if final or attempts >= MAX_ATTEMPTS:
                    outcome = AttemptRecord(
                        "failed", clock.now(), response_status=status, response_body=answer, error=error
                    )
                    failed += 1
                else:
                    delay = retry_delay(attempts, retry_after=None, jitter=jitter())
                    outcome = AttemptRecord(
                        "pending",
                        clock.now(),
                        next_attempt_at=clock.now() + timedelta(seconds=delay),
                        response_status=status,
                        response_body=answer,
                        error=f"{error} Retrying (try {attempts} of {MAX_ATTEMPTS}).",
                    )
                    retrying += 1
            else:
                sent += 1
            async with (uow := uow_factory()):
                await automation_of(uow).record_attempt(item.id, outcome)
                await uow.commit()
    return DeliveryOutcome(sent, retrying, failed)
