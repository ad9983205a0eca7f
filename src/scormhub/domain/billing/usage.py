"""Usage billing: each new registration in a live workspace beyond the month's free allowance is charged
once, through a durable outbox, and every charge is kept with HighLevel's charge id.

The guarantee, and how it is kept:
- The registration and its charge are one transaction: enroll_contact counts the month's registrations
  under the workspace row lock (so two enrollments racing for the last free one queue up, and exactly one
  gets it), inserts the enrollment and its `usage_charge` row (free, or pending = the outbox item) and
  commits both or neither. A charge never exists without its registration.
- A registration whose charge is not `charged` (pending, refused, failed) cannot be launched: the learner
  is told it is waiting, the admin sees why on Settings → Account mode with Retry. So no registration is
  used without its charge.
- The charge's eventId is "reg_<enrollment id>" on every attempt. Attempts are counted when a charge job
  claims the row (a lease, SKIP LOCKED, so several processes never hold the same one); any attempt after
  the first first asks HighLevel whether that eventId was already charged (a timeout or a crash after
  HighLevel charged) and records that charge instead of charging again. The daily reconciler repairs what
  is left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.billing.plans import apply_plan
from scormhub.domain.errors import CrmAuthExpired, DomainError, NotFound, ServiceUnavailable
from scormhub.domain.model_billing import (
    AccountStatus,
    ChargeStatus,
    InsufficientFunds,
    RemoteCharge,
    UsageCharge,
)
from scormhub.domain.sync import GIVE_UP_AFTER_S, retry_delay

if TYPE_CHECKING:
    from scormhub.domain.model_billing import PlanCatalog
    from scormhub.domain.ports import Clock, JobQueue, UnitOfWork, UsageBilling

TOP_UP_MESSAGE = (
    "The HighLevel wallet has insufficient funds for this registration (US${price}). Top up the wallet in "
    "HighLevel (Settings → Billing → Wallet), then press Retry charge here: the learner can start once "
    "the charge goes through."
)
RECONNECT_WAIT = timedelta(hours=1)


async def enqueue_charges(workspace_id: UUID, *, jobs: JobQueue, delay_s: float = 0) -> None:
    # One charger per workspace at a time; the cron catches anything whose enqueue was lost.
    await jobs.enqueue(
        "charge_usage",
        key=f"charge_usage:{workspace_id}",
        delay_s=delay_s,
        timeout_s=600,
        retries=1,
        workspace_id=str(workspace_id),
    )


@dataclass(frozen=True)
class ChargeOutcome:
    charged: int = 0
    refused: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    next_due_at: datetime | None = None


async def charge_usage(
    workspace_id: UUID,
    *,
    uow_factory: Callable[[], UnitOfWork],
    billing: UsageBilling | None,
    clock: Clock,
    jitter: Callable[[], float],
    batch: int = 25,
    lease_s: float = 300,
) -> ChargeOutcome:
    """Send the workspace's due charges, once each (see the module docstring); safe to run twice."""
    counts = {"charged": 0, "refused": 0, "retrying": 0, "failed": 0, "cancelled": 0}
    while True:
        async with (uow := uow_factory()):
            items = await uow.billing.claim_due(workspace_id, clock.now(), limit=batch, lease_s=lease_s)
            await uow.commit()
        if not items:
            break
        for item in items:
            outcome = await _charge_one(
                item, uow_factory=uow_factory, billing=billing, clock=clock, jitter=jitter
            )
            counts[outcome] += 1
        if len(items) < batch:
            break
    async with (uow := uow_factory()):
        due = [
            c.next_attempt_at
            for c in await uow.billing.recent(workspace_id, limit=200)
            if c.status is ChargeStatus.PENDING
        ]
    return ChargeOutcome(**counts, next_due_at=min(due) if due else None)


async def _charge_one(
    item: UsageCharge,
    *,
    uow_factory: Callable[[], UnitOfWork],
    billing: UsageBilling | None,
    clock: Clock,
    jitter: Callable[[], float],
) -> str:
    async with (uow := uow_factory()):
        account = await uow.billing.account(item.workspace_id)
        enrollment = await uow.enrollments.get(item.workspace_id, item.enrollment_id)
    if account is None or account.status is AccountStatus.UNINSTALLED:
        return await _settle(
            uow_factory,
            item,
            ChargeStatus.CANCELLED,
            "SCORM Hub was uninstalled from this location before the charge was sent: nothing was charged.",
            "cancelled",
        )
    if enrollment is None:
        return await _settle(
            uow_factory,
            item,
            ChargeStatus.CANCELLED,
            "The registration was deleted before its charge was sent: nothing was charged.",
            "cancelled",
        )
    if billing is None or item.meter_id is None:
        return await _settle(
            uow_factory,
            item,
            ChargeStatus.FAILED,
            "This workspace is not connected to "
            "HighLevel billing; reconnect HighLevel, then press Retry charge.",
            "failed",
        )
    try:
        if item.attempts > 1:
            # An earlier attempt may have charged before its answer was lost: never charge twice.
            found = await billing.find_charge(item.event_id, meter_id=item.meter_id)
            if found is not None:
                return await _charged(uow_factory, item, found.charge_id, clock)
        # A hint only (HighLevel's own evidence: it said yes around refused charges), but a "no" spares
        # a charge that would be refused.
        if not await billing.has_funds():
            raise InsufficientFunds("has-funds said no")
        charge_id = await billing.create_charge(
            event_id=item.event_id,
            meter_id=item.meter_id,
            description=item.description,
            units=1,
            price_usd=str(item.price_usd) if item.price_usd is not None else None,
        )
    except InsufficientFunds:
        price = item.price_usd if item.price_usd is not None else "?"
        return await _settle(
            uow_factory, item, ChargeStatus.REFUSED, TOP_UP_MESSAGE.format(price=price), "refused"
        )
    except CrmAuthExpired as exc:
        # The client already refreshed once and was refused again: a person must reconnect. Keep trying
        # hourly (a reconnect makes it go through) until the give-up age.
        return await _later(uow_factory, item, str(exc), clock, RECONNECT_WAIT.total_seconds())
    except ServiceUnavailable as exc:
        delay = retry_delay(item.attempts, retry_after=exc.retry_after, jitter=jitter())
        return await _later(uow_factory, item, str(exc), clock, delay)
    except DomainError as exc:
        message = f"HighLevel refused the charge: {exc}. Press Retry charge once the cause is fixed."
        return await _settle(uow_factory, item, ChargeStatus.FAILED, message, "failed")
    return await _charged(uow_factory, item, charge_id, clock)


async def _charged(
    uow_factory: Callable[[], UnitOfWork], item: UsageCharge, charge_id: str, clock: Clock
) -> str:
    async with (uow := uow_factory()):
        await uow.billing.settle(
            item.enrollment_id, ChargeStatus.CHARGED, charge_id=charge_id, at=clock.now()
        )
        await uow.commit()
    return "charged"


async def _settle(
    uow_factory: Callable[[], UnitOfWork], item: UsageCharge, status: ChargeStatus, error: str, outcome: str
) -> str:
    async with (uow := uow_factory()):
        await uow.billing.settle(item.enrollment_id, status, error=error)
        await uow.commit()
    return outcome


async def _later(
    uow_factory: Callable[[], UnitOfWork], item: UsageCharge, error: str, clock: Clock, delay_s: float
) -> str:
    if (clock.now() - item.created_at).total_seconds() > GIVE_UP_AFTER_S:
        message = f"Gave up after {item.attempts} tries: {error} Press Retry charge to try again."
        return await _settle(uow_factory, item, ChargeStatus.FAILED, message, "failed")
    async with (uow := uow_factory()):
        await uow.billing.settle(
            item.enrollment_id,
            ChargeStatus.PENDING,
            error=error,
            next_attempt_at=clock.now() + timedelta(seconds=delay_s),
        )
        await uow.commit()
    return "retrying"


async def retry_charge(
    workspace_id: UUID, enrollment_id: UUID, *, uow: UnitOfWork, jobs: JobQueue, clock: Clock
) -> None:
    """Settings → Account mode → Retry charge: the same eventId goes out again."""
    async with uow:
        retried = await uow.billing.retry(workspace_id, enrollment_id, clock.now())
        await uow.commit()
    if not retried:
        raise NotFound("This charge is not waiting for a retry.")
    await enqueue_charges(workspace_id, jobs=jobs)


# --- the daily reconciliation -------------------------------------------------------------------------

RECONCILE_LOOKBACK = timedelta(days=35)


@dataclass(frozen=True)
class ReconcileOutcome:
    checked: int
    repaired: int
    missing: int
    unknown_remote: int
    plan_changed: bool


async def reconcile_charges(
    workspace_id: UUID,
    *,
    uow_factory: Callable[[], UnitOfWork],
    billing: UsageBilling,
    catalog: PlanCatalog,
    clock: Clock,
) -> ReconcileOutcome:
    """Compare our charges with HighLevel's list and flag every difference; repair a missed plan webhook
    from the installer details, and a charge whose answer was lost."""
    plan_changed = False
    async with (uow := uow_factory()):
        account = await uow.billing.account(workspace_id)
    if account is None or account.status is AccountStatus.UNINSTALLED:
        return ReconcileOutcome(0, 0, 0, 0, False)
    remote_plan = await billing.installed_plan_id()
    if remote_plan is not None and remote_plan != account.plan_id:
        account = await apply_plan(
            workspace_id, remote_plan, catalog=catalog, source="lookup", uow=uow_factory(), clock=clock
        )
        plan_changed = True
    now = clock.now()
    start = now - RECONCILE_LOOKBACK
    async with (uow := uow_factory()):
        local = [c for c in await uow.billing.since(workspace_id, start) if c.meter_id is not None]
    meters = sorted(
        {c.meter_id for c in local if c.meter_id} | ({account.meter_id} if account.meter_id else set())
    )
    remote: list[RemoteCharge] = []
    for meter in meters:
        remote += await billing.list_charges(meter_id=meter, start=start, end=now)
    by_event = {r.event_id: r for r in remote if r.event_id}
    by_id = {r.charge_id: r for r in remote}
    ours = {c.event_id for c in local}
    repaired = missing = 0
    async with (uow := uow_factory()):
        for charge in local:
            seen = by_event.get(charge.event_id) or (
                by_id.get(charge.charge_id) if charge.charge_id else None
            )
            flag: str | None = None
            if charge.status is ChargeStatus.CHARGED:
                if seen is None:
                    flag = (
                        f"Not in HighLevel's list of charges (charge {charge.charge_id}): check it with "
                        "HighLevel support before charging again."
                    )
                    missing += 1
                elif seen.refunded:
                    flag = "Refunded in HighLevel."
            elif seen is not None and charge.status is not ChargeStatus.CANCELLED:
                # Charged in HighLevel though its answer never reached us (a timeout): record it.
                await uow.billing.settle(
                    charge.enrollment_id, ChargeStatus.CHARGED, charge_id=seen.charge_id, at=now
                )
                repaired += 1
            elif seen is not None:
                flag = (
                    f"Charged in HighLevel (charge {seen.charge_id}) although the registration was cancelled."
                )
            if flag != charge.reconcile_flag:
                await uow.billing.flag(charge.enrollment_id, flag)
        unknown = [
            r for r in remote if r.event_id and r.event_id.startswith("reg_") and r.event_id not in ours
        ]
        note = (
            f"{len(unknown)} charge(s) in HighLevel have no registration here: "
            + ", ".join(r.charge_id for r in unknown[:10])
            if unknown
            else None
        )
        current = await uow.billing.account(workspace_id)
        if current is not None:
            await uow.billing.save_account(replace(current, reconcile_note=note, reconciled_at=now))
        await uow.commit()
    return ReconcileOutcome(len(local), repaired, missing, len(unknown), plan_changed)
