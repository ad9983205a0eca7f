"""Counting a new registration against the plan, inside enroll_contact's transaction (usage.py says why)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.billing.plans import AppUninstalled
from scormhub.domain.model_billing import AccountStatus, ChargeStatus, UsageCharge, cycle_of, event_id_for

if TYPE_CHECKING:
    from scormhub.domain.model import Enrollment, Workspace
    from scormhub.domain.ports import UnitOfWork


async def admit_registration(
    uow: UnitOfWork, workspace: Workspace, enrollment: Enrollment, *, course_title: str, now: datetime
) -> ChargeStatus | None:
    """Called with the workspace row locked, before the enrollment's commit. FREE: within the month's
    allowance; PENDING: billable, its charge queued in the same transaction; None: a trial (the limit
    applies instead)."""
    account = await uow.billing.account(workspace.id)
    if account is None or account.status is AccountStatus.TRIAL:
        return None
    if account.status is AccountStatus.UNINSTALLED:
        raise AppUninstalled()
    cycle = cycle_of(now)
    used = await uow.billing.count_cycle(workspace.id, cycle)
    billable = account.charges_usage and used >= account.free_per_cycle
    status = ChargeStatus.PENDING if billable else ChargeStatus.FREE
    await uow.billing.add_usage(
        UsageCharge(
            enrollment_id=enrollment.id,
            workspace_id=workspace.id,
            cycle=cycle,
            event_id=event_id_for(enrollment.id),
            status=status,
            description=f"SCORM registration: {course_title[:120]} / {enrollment.learner_email}",
            created_at=now,
            next_attempt_at=now,
            meter_id=account.meter_id if billable else None,
            price_usd=account.price_usd if billable else None,
        )
    )
    return status


async def launch_held(uow: UnitOfWork, enrollment_id: UUID) -> bool:
    """Whether the registration's charge has yet to go through (pending, refused, failed)."""
    usage = await uow.billing.usage(enrollment_id)
    return usage is not None and usage.status.holds_launch
