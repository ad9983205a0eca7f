"""Events for triggers and webhooks: recorded in the transaction of the state change they report.

Emitting an event writes one outbox row per matching HighLevel trigger subscription (the CRM outbox, as a
`trigger` write: rate-limited, retried and shown in the sync log like any other CRM write) and one
webhook delivery per endpoint that asked for it. Each row has an idempotency key derived from the
event, so an event recorded twice (a replayed sync, two racing commits) is delivered once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scormhub.domain.automation.model import AutomationEvent, Emitted, NewDelivery
from scormhub.domain.model import Certificate, CrmWrite, Enrollment, WriteKind
from scormhub.domain.scorm.cmi import Completion, Success

if TYPE_CHECKING:
    from scormhub.domain.ports import UnitOfWork
    from scormhub.domain.ports.automation import AutomationRepository


@dataclass(frozen=True)
class EventFacts:
    """One event about one enrollment: what its payload is made of."""

    event: AutomationEvent
    enrollment: Enrollment
    course_title: str
    occurred_at: datetime
    dedupe: str  # what makes this event itself, whoever records it
    certificate: Certificate | None = None

    @property
    def event_id(self) -> str:
        return "evt_" + hashlib.sha256(self.dedupe.encode()).hexdigest()[:26]


def payload_of(facts: EventFacts, *, location_id: str | None) -> dict[str, Any]:
    """The payload every trigger and webhook shares (reference §5's sample: keep it stable, since workflow
    filters and custom variables are dot paths into it). URLs are paths here; `absolute` completes them
    when the delivery is sent, with the server's public address."""
    enrollment = facts.enrollment
    first, _, last = enrollment.learner_name.partition(" ")
    passed = {Success.PASSED: True, Success.FAILED: False}.get(enrollment.success)
    body: dict[str, Any] = {
        "event": facts.event.value,
        "eventId": facts.event_id,
        "occurredAt": _iso(facts.occurred_at),
        "locationId": location_id,
        "contactId": enrollment.contact_id,
        # Community apps also send the snake-case spelling; contact binding is UNCONFIRMED (§7).
        "contact_id": enrollment.contact_id,
        "contact": {"email": enrollment.learner_email, "firstName": first, "lastName": last.strip()},
        "course": {"id": str(enrollment.course_id), "title": facts.course_title},
        "enrollment": {
            "id": str(enrollment.id),
            "status": enrollment.completion.value,
            "result": enrollment.success.value,
            "score": round(enrollment.score_percent, 2) if enrollment.score_percent is not None else None,
            "passed": passed,
            "completedAt": _iso(enrollment.completed_at) if enrollment.completed_at else None,
        },
        "certificate": None,
    }
    if facts.certificate is not None:
        body["certificate"] = {
            "id": facts.certificate.id,
            "url": facts.certificate.verification_path,
            "expiresAt": None,
        }
    return body


def absolute(payload: dict[str, Any], public_url: str) -> dict[str, Any]:
    """The payload as sent: the certificate's path becomes a link on this server."""
    certificate = payload.get("certificate")
    if isinstance(certificate, dict) and str(certificate.get("url") or "").startswith("/"):
        return {**payload, "certificate": {**certificate, "url": public_url.rstrip("/") + certificate["url"]}}
    return payload


def matches(filters: tuple[dict[str, Any], ...] | list[Any], payload: dict[str, Any]) -> bool:
    """A workflow's trigger filters, evaluated by us (§7: HighLevel does not say it evaluates them).

    `==` must match (a list value: any of them); a filter with another operator or no value does not
    narrow anything, so an event is sent rather than silently lost."""
    for item in filters or ():
        if (
            not isinstance(item, dict)
            or item.get("operator", "==") not in ("==", "eq")
            or "value" not in item
        ):
            continue
        current: Any = payload
        for part in str(item.get("field") or item.get("id") or "").split("."):
            current = current.get(part) if isinstance(current, dict) else None
        wanted = item["value"]
        if isinstance(wanted, list):
            if current not in wanted and str(current) not in [str(w) for w in wanted]:
                return False
        elif current != wanted and str(current) != str(wanted):
            return False
    return True


def progress_events(before: Enrollment, after: Enrollment) -> list[AutomationEvent]:
    """The events a change of progress makes: each transition once (a completion never goes back)."""
    events = []
    if after.completion is Completion.COMPLETED and before.completion is not Completion.COMPLETED:
        events.append(AutomationEvent.COURSE_COMPLETED)
    if after.success is Success.PASSED and before.success is not Success.PASSED:
        events.append(AutomationEvent.COURSE_PASSED)
    if after.success is Success.FAILED and before.success is not Success.FAILED:
        events.append(AutomationEvent.COURSE_FAILED)
    return events


def _automation(uow: UnitOfWork) -> AutomationRepository | None:
    # A unit of work without automation (another area's unit-test fake) has nobody subscribed to
    # anything, so there is nothing to record; the application's unit of work always has it.
    found: AutomationRepository | None = getattr(uow, "automation", None)
    return found


async def record(uow: UnitOfWork, facts: EventFacts) -> Emitted:
    """Put the event in the outboxes of every matching subscription and endpoint (in `uow`'s transaction)."""
    repo = _automation(uow)
    if repo is None:
        return Emitted()
    enrollment = facts.enrollment
    workspace_id = enrollment.workspace_id
    writes = []
    for subscription in await repo.active_subscriptions(workspace_id, facts.event.trigger_key):
        body = payload_of(facts, location_id=subscription.location_id)
        if not matches(subscription.filters, body):
            continue
        writes.append(
            CrmWrite(
                WriteKind.TRIGGER,
                enrollment.contact_id,
                {"subscription_id": subscription.id, "target_url": subscription.target_url, "body": body},
                f"trigger:{subscription.id}:{facts.event_id}",
            )
        )
    triggers = (
        await uow.outbox.add_new(workspace_id, enrollment.id, writes, facts.occurred_at) if writes else 0
    )
    endpoints = await repo.endpoints_for(workspace_id, facts.event)
    webhooks = 0
    if endpoints:
        body = payload_of(facts, location_id=None)
        webhooks = await repo.add_deliveries(
            workspace_id,
            [
                NewDelivery(e.id, facts.event.value, facts.event_id, body, f"webhook:{e.id}:{facts.event_id}")
                for e in endpoints
            ],
            facts.occurred_at,
        )
    return Emitted(triggers, webhooks, (facts.event,))


async def record_progress(
    uow: UnitOfWork, before: Enrollment, after: Enrollment, course_title: str, now: datetime
) -> Emitted:
    """Completed / passed / failed, for a change of progress (inside the transaction that saves it)."""
    emitted = Emitted()
    for event in progress_events(before, after):
        # Passed/failed are per attempt: a learner who fails, retakes and fails again is a new event.
        scope = "" if event is AutomationEvent.COURSE_COMPLETED else f":{after.attempts}"
        emitted += await record(
            uow, EventFacts(event, after, course_title, now, f"{after.id}:{event.value}{scope}")
        )
    return emitted


async def record_enrolled(uow: UnitOfWork, enrollment: Enrollment, course_title: str) -> Emitted:
    return await record(
        uow,
        EventFacts(
            AutomationEvent.LEARNER_ENROLLED,
            enrollment,
            course_title,
            enrollment.created_at,
            f"{enrollment.id}:{AutomationEvent.LEARNER_ENROLLED.value}",
        ),
    )


async def record_certificate(
    uow: UnitOfWork, enrollment: Enrollment, certificate: Certificate, course_title: str
) -> Emitted:
    return await record(
        uow,
        EventFacts(
            AutomationEvent.CERTIFICATE_ISSUED,
            enrollment,
            course_title,
            certificate.issued_at,
            f"{certificate.id}:{AutomationEvent.CERTIFICATE_ISSUED.value}",
            certificate=certificate,
        ),
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
