"""Due dates, reminders and recertification: the rules, and the pass a cron runs over every workspace.

Exactly once however many workers run the pass: each reminder or expiry is first recorded as a
`LearnerEvent` under a unique key (INSERT … ON CONFLICT DO NOTHING), and its email (and CRM writes, and
re-enrollment) are stored in that same transaction, only by the caller whose insert won. The events
stay in their table with `published_at` empty, for the workflow triggers and webhooks to deliver.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.errors import DomainError
from scormhub.domain.mail import due_soon_message, expired_message, overdue_message, recertify_message
from scormhub.domain.model import CrmWrite, WriteKind
from scormhub.domain.model_learners import LearnerEvent, LearnerEventKind, MailMessage

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from scormhub.domain.model import Branding
    from scormhub.domain.ports.learners import LearnerUnitOfWork
    from scormhub.domain.ports.system import Clock

TAG_EXPIRED = "scorm_expired"
DUE_SOON_DAYS = 7  # the badge: "due soon" within a week of the due date
MAX_VALIDITY_DAYS = 3650


class BadSchedule(DomainError):
    """A due date or validity that cannot be used; the message says what to enter instead."""


def parse_due_date(raw: str, *, now: datetime) -> datetime | None:
    """A due date from a form (YYYY-MM-DD, the end of that day UTC); empty → None; past → refused."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadSchedule(f"“{raw[:20]}” is not a date. Use the form YYYY-MM-DD, e.g. 2027-01-31.") from None
    due = datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    if due <= now:
        raise BadSchedule(
            f"The due date {day.isoformat()} is in the past. Choose today or a later day, or leave it empty."
        )
    return due


def parse_validity(raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_VALIDITY_DAYS:
        raise BadSchedule(
            f"The validity must be a whole number of days from 1 to {MAX_VALIDITY_DAYS} (365 is a year), "
            "or empty for certificates that never expire."
        )
    return int(raw)


def parse_offsets(raw: str) -> tuple[int, ...]:
    """ "-7, 1" → (-7, 1): days relative to the due date, negative before it."""
    offsets: list[int] = []
    for part in raw.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = int(part)
        except ValueError:
            raise BadSchedule(
                f"“{part[:10]}” is not a number of days. "
                "Write offsets like -7, 1 (a week before, a day after)."
            ) from None
        if not -365 <= value <= 365:
            raise BadSchedule("Reminder offsets must be within a year of the due date (-365 to 365).")
        offsets.append(value)
    if len(offsets) > 10:
        raise BadSchedule("At most 10 reminders per due date.")
    return tuple(sorted(set(offsets)))


def due_badge(due_at: datetime | None, completion: str, now: datetime) -> str | None:
    """ "overdue", "due soon" or None (no due date, done, or far off)."""
    if due_at is None or completion == "completed":
        return None
    if now > due_at:
        return "overdue"
    if due_at - now <= timedelta(days=DUE_SOON_DAYS):
        return "due soon"
    return None


def certificate_state(expires_at: datetime | None, now: datetime) -> str | None:
    """ "expired" once the expiry has passed, else None."""
    return "expired" if expires_at is not None and now >= expires_at else None


async def set_due_date(
    workspace_id: UUID, enrollment_id: UUID, raw: str, *, uow: Callable[[], LearnerUnitOfWork], clock: Clock
) -> datetime | None:
    """Set (or clear, with an empty value) an enrollment's due date; a past date is refused."""
    now = clock.now()
    due = parse_due_date(raw, now=now)
    async with uow() as tx:
        if not await tx.learners.set_due(workspace_id, enrollment_id, due, now):
            raise BadSchedule("That enrollment is not in this workspace.")
        await tx.commit()
    return due


@dataclass(frozen=True)
class PassResult:
    reminders: int = 0
    re_enrolled: int = 0
    expired: int = 0


async def daily_pass(
    *,
    uow: Callable[[], LearnerUnitOfWork],
    clock: Clock,
    branding_for: Callable[[UUID, str], Awaitable[Branding]],
    play_url: Callable[[str], str],
    enqueue_crm_push: Callable[[UUID], Awaitable[None]],
) -> PassResult:
    """Raise what is due, once: due-soon and overdue reminders, re-enrollments before expiry, expiries."""
    brandings: dict[UUID, Branding] = {}

    async def branding(event: LearnerEvent) -> Branding:
        if event.workspace_id not in brandings:
            name = str(event.payload.get("workspace_name", ""))
            brandings[event.workspace_id] = await branding_for(event.workspace_id, name)
        return brandings[event.workspace_id]

    now = clock.now()
    async with uow() as tx:
        due_events = await tx.learners.raise_due_events(now)
        mails: list[tuple[UUID, str, str, MailMessage]] = []
        for event in due_events:
            due_at = datetime.fromisoformat(str(event.payload["due_at"]))
            compose = due_soon_message if event.kind is LearnerEventKind.COURSE_DUE_SOON else overdue_message
            message = compose(
                await branding(event),
                to=event.learner_email,
                name=event.learner_name,
                course=event.course_title,
                due_at=due_at,
                url=play_url(str(event.payload["launch_token"])),
                contact_id=event.contact_id,
            )
            mails.append((event.workspace_id, event.kind.value, f"mail:{event.dedupe_key}", message))
        await tx.mail.queue_many(mails, now)
        await tx.commit()
    reminders = len(due_events)
    crm_workspaces: set[UUID] = set()
    async with uow() as tx:
        events = await tx.learners.raise_expiry_events(now)
        mails = []
        renew: list[tuple[UUID, UUID]] = []
        crm_writes: list[tuple[UUID, UUID, CrmWrite]] = []
        expired = 0
        for event in events:
            expires_at = datetime.fromisoformat(str(event.payload["expires_at"]))
            look = await branding(event)
            url = play_url(str(event.payload["launch_token"]))
            if event.kind is LearnerEventKind.CERTIFICATE_EXPIRING:
                renew.append((event.workspace_id, event.enrollment_id))
                tell = recertify_message
            else:
                tell = expired_message
                crm_writes += [
                    (event.workspace_id, event.enrollment_id, write)
                    for write in expiry_writes(event, expires_at)
                ]
                crm_workspaces.add(event.workspace_id)
                expired += 1
            message = tell(
                look,
                to=event.learner_email,
                name=event.learner_name,
                course=event.course_title,
                expires_at=expires_at,
                url=url,
                contact_id=event.contact_id,
            )
            mails.append((event.workspace_id, event.kind.value, f"mail:{event.dedupe_key}", message))
        re_enrolled = await tx.learners.re_enroll_many(renew, now)
        await tx.learners.queue_crm_writes(crm_writes, now)
        await tx.mail.queue_many(mails, now)
        await tx.commit()
    for workspace_id in crm_workspaces:
        await enqueue_crm_push(workspace_id)
    return PassResult(reminders, re_enrolled, expired)


def expiry_writes(event: LearnerEvent, expires_at: datetime) -> list[CrmWrite]:
    """What the CRM is told when a certificate expires: the `scorm_expired` tag, and the Training Record
    with its expiry date (the record's other properties as last known, since a record write replaces)."""
    record = dict(event.payload.get("record") or {})
    record["certificate_expires_on"] = expires_at.date().isoformat()
    key = event.dedupe_key
    return [
        CrmWrite(WriteKind.ADD_TAGS, event.contact_id, {"tags": [TAG_EXPIRED]}, f"{key}:tags"),
        CrmWrite(WriteKind.TRAINING_RECORD, event.contact_id, {"properties": record}, f"{key}:record"),
    ]
