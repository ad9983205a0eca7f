"""Learner jobs (issue 23): deliver the mail outbox, and the pass that raises reminders and expiries."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from scormhub.domain import mail, schedule, sync
from scormhub.domain.model import Branding
from scormhub.jobs.context import JobContext

DELIVER_MAIL = "deliver_mail"


async def deliver_mail(ctx: JobContext) -> dict[str, Any]:
    """Send what is due in the mail outbox (several workers may run it: each claims its own messages)."""
    deps = ctx["deps"]
    done = await mail.deliver_due(uow=deps.uow, transport=deps.mail_transport(), clock=deps.clock)
    return {"sent": done.sent, "retrying": done.retrying, "failed": done.failed}


async def learner_pass(ctx: JobContext) -> dict[str, Any]:
    """Cron: due-soon and overdue reminders, re-enrollment before expiry, expiries (each once), then mail."""
    deps = ctx["deps"]

    async def branding_for(workspace_id: UUID, name: str) -> Branding:
        return await deps.brandings.load(workspace_id, name)

    async def push(workspace_id: UUID) -> None:
        await sync.enqueue_push(workspace_id, jobs=deps.jobs)

    result = await schedule.daily_pass(
        uow=deps.uow,
        clock=deps.clock,
        branding_for=branding_for,
        play_url=lambda token: f"{deps.settings.public_url}/play/{token}",
        enqueue_crm_push=push,
    )
    if result.reminders or result.re_enrolled or result.expired:
        # No key: SAQ may refuse a key it has just finished; two senders are safe (each claims its own).
        await deps.jobs.enqueue(DELIVER_MAIL)
    return {"reminders": result.reminders, "re_enrolled": result.re_enrolled, "expired": result.expired}
