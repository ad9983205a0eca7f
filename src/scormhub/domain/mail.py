"""Email: what each message says (branded, HTML with a plain-text twin), and delivering the mail outbox.

Every message is queued in the transaction that decided to send it (`MailOutbox.queue`, keyed so it is
queued once) and sent by `deliver_due`, which any number of workers may run: each claims its messages
under a lease. A transport that defers (SMTP 4xx greylisting, a dropped connection) gets the message back
later with a growing delay; one that refuses (5xx) marks it failed, shown in the delivery log with a retry.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from scormhub.domain.errors import DomainError
from scormhub.domain.model import Branding
from scormhub.domain.model_learners import MailMessage

if TYPE_CHECKING:
    from collections.abc import Callable

    from scormhub.domain.ports.learners import LearnerUnitOfWork, MailTransport
    from scormhub.domain.ports.system import Clock

# Greylisting servers usually accept the same message after 1-15 minutes; the delays grow to hours.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=4),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
LEASE_S = 120.0
BATCH = 50


class MailDeferred(DomainError):
    """The mail system said "not now" (4xx) or the connection broke: the message is sent again later."""


class MailRefused(DomainError):
    """The mail system will not take this message (5xx, unknown recipient): retrying changes nothing."""


@dataclass(frozen=True)
class Delivered:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def retry_delay(attempts: int) -> timedelta:
    """The wait before attempt `attempts + 1` (attempts already made, ≥ 1)."""
    return RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]


async def deliver_due(
    *, uow: Callable[[], LearnerUnitOfWork], transport: MailTransport, clock: Clock
) -> Delivered:
    """Send every due message once. Claims commit first (a crash leaves the message to come back after
    its lease), then each outcome is stored in its own transaction."""
    sent = retrying = failed = 0
    while True:
        now = clock.now()
        async with uow() as tx:
            claimed = await tx.mail.claim_due(now, limit=BATCH, lease_s=LEASE_S)
            await tx.commit()
        if not claimed:
            return Delivered(sent, retrying, failed)
        for mail in claimed:
            try:
                used = await transport.send(mail.workspace_id, mail.message)
            except MailRefused as refused:
                async with uow() as tx:
                    await tx.mail.mark_failed(mail.id, str(refused)[:1000])
                    await tx.commit()
                failed += 1
                continue
            except MailDeferred as deferred:
                attempts = mail.attempts + 1
                async with uow() as tx:
                    if attempts >= MAX_ATTEMPTS:
                        await tx.mail.mark_failed(mail.id, f"gave up after {attempts} attempts: {deferred}")
                        failed += 1
                    else:
                        await tx.mail.mark_retry(
                            mail.id, str(deferred)[:1000], clock.now() + retry_delay(attempts)
                        )
                        retrying += 1
                    await tx.commit()
                continue
            async with uow() as tx:
                await tx.mail.mark_sent(mail.id, clock.now(), used)
                await tx.commit()
            sent += 1


# --- What the messages say --------------------------------------------------------------------------


def _day(moment: datetime) -> str:
    return moment.strftime("%-d %B %Y")


def compose(
    branding: Branding,
    *,
    to: str,
    subject: str,
    lines: list[str],
    action: tuple[str, str] | None = None,
    contact_id: str | None = None,
) -> MailMessage:
    """A branded message: the organisation's name and colour, its lines, one button (label, URL); the
    plain-text part says the same with the URL written out."""
    text_parts = [*lines]
    if action is not None:
        text_parts.append(f"{action[0]}: {action[1]}")
    text_parts.append(f"— {branding.organization_name}")
    colour = html.escape(branding.primary_color, quote=True)
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    button = ""
    if action is not None:
        button = (
            f'<p><a href="{html.escape(action[1], quote=True)}" style="background:{colour};color:#fff;'
            f'padding:10px 18px;border-radius:6px;text-decoration:none;display:inline-block">'
            f"{html.escape(action[0])}</a></p>"
        )
    body = (
        '<!doctype html><html><body style="font-family:sans-serif;color:#111">'
        f'<div style="border-top:4px solid {colour};padding-top:12px">'
        f'<h2 style="margin:0 0 12px">{html.escape(branding.organization_name)}</h2>'
        f"{paragraphs}{button}</div></body></html>"
    )
    return MailMessage(
        to=to,
        subject=subject,
        text="\n\n".join(text_parts) + "\n",
        html=body,
        sender_name=branding.organization_name,
        contact_id=contact_id,
    )


def sign_in_message(branding: Branding, *, to: str, url: str, minutes: int) -> MailMessage:
    return compose(
        branding,
        to=to,
        subject=f"Your sign-in link for {branding.organization_name}",
        lines=[
            "Open this link to see your courses and certificates.",
            f"It works once, for {minutes} minutes. If you did not ask for it, ignore this email.",
        ],
        action=("Sign in", url),
    )


def due_soon_message(
    branding: Branding, *, to: str, name: str, course: str, due_at: datetime, url: str, contact_id: str
) -> MailMessage:
    return compose(
        branding,
        to=to,
        subject=f"Reminder: “{course}” is due on {_day(due_at)}",
        lines=[f"Hello {name},", f"“{course}” is due on {_day(due_at)} and is not finished yet."],
        action=("Continue the course", url),
        contact_id=contact_id,
    )


def overdue_message(
    branding: Branding, *, to: str, name: str, course: str, due_at: datetime, url: str, contact_id: str
) -> MailMessage:
    return compose(
        branding,
        to=to,
        subject=f"Overdue: “{course}” was due on {_day(due_at)}",
        lines=[f"Hello {name},", f"“{course}” was due on {_day(due_at)} and is not finished yet."],
        action=("Finish the course", url),
        contact_id=contact_id,
    )


def recertify_message(
    branding: Branding, *, to: str, name: str, course: str, expires_at: datetime, url: str, contact_id: str
) -> MailMessage:
    return compose(
        branding,
        to=to,
        subject=f"Time to renew your “{course}” certificate",
        lines=[
            f"Hello {name},",
            f"Your certificate for “{course}” expires on {_day(expires_at)}. You have been enrolled again "
            "so you can renew it; your earlier result stays on record.",
        ],
        action=("Start the course", url),
        contact_id=contact_id,
    )


def expired_message(
    branding: Branding, *, to: str, name: str, course: str, expires_at: datetime, url: str, contact_id: str
) -> MailMessage:
    return compose(
        branding,
        to=to,
        subject=f"Your “{course}” certificate has expired",
        lines=[f"Hello {name},", f"Your certificate for “{course}” expired on {_day(expires_at)}."],
        action=("Renew it", url),
        contact_id=contact_id,
    )
