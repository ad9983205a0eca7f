"""Billing's entities (plans, plan state, usage charges): beside model.py, which is near its size limit."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from scormhub.domain.errors import DomainError
from scormhub.domain.model import TRIAL_REGISTRATION_LIMIT, PlanMode


class PlanModelError(ValueError):
    """HIGHLEVEL_PLANS is malformed; the message says what is expected."""


@dataclass(frozen=True)
class PlanSpec:
    """One marketplace plan as SCORM Hub treats it (HIGHLEVEL_PLANS).

    A trial plan allows `free_registrations` active registrations. A live plan has no limit: each new
    registration in a calendar month beyond `free_registrations` is charged `price_usd` on `meter_id`
    (no meter: a flat subscription, nothing is charged per registration).
    """

    id: str
    name: str
    mode: PlanMode
    free_registrations: int = TRIAL_REGISTRATION_LIMIT
    meter_id: str | None = None
    price_usd: Decimal | None = None
    subscription: str | None = None  # what HighLevel bills for the plan itself, shown on Go Live

    @property
    def charges_usage(self) -> bool:
        return self.mode is PlanMode.LIVE and self.meter_id is not None


@dataclass(frozen=True)
class PlanCatalog:
    plans: tuple[PlanSpec, ...] = ()

    def get(self, plan_id: str | None) -> PlanSpec | None:
        return next((p for p in self.plans if p.id == plan_id), None) if plan_id else None

    @property
    def live_plan(self) -> PlanSpec | None:
        """The plan Go Live points to: the first live plan."""
        return next((p for p in self.plans if p.mode is PlanMode.LIVE), None)


def parse_plans(raw: str | None) -> PlanCatalog:
    """HIGHLEVEL_PLANS: a JSON list of {"id", "name", "mode": "trial"|"live", "free_registrations",
    "meter_id", "price_usd", "subscription"}; empty means no plans are known."""
    if raw is None or not raw.strip():
        return PlanCatalog()
    try:
        data = json.loads(raw)
    except ValueError:
        raise PlanModelError('a JSON list of plans, e.g. [{"id": "…", "mode": "trial"}]') from None
    if not isinstance(data, list):
        raise PlanModelError("a JSON list of plans")
    plans = [_plan(item, index) for index, item in enumerate(data)]
    if len({p.id for p in plans}) != len(plans):
        raise PlanModelError("each plan id once")
    return PlanCatalog(tuple(plans))


def _plan(item: Any, index: int) -> PlanSpec:
    where = f"plan {index + 1}"
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"].strip():
        raise PlanModelError(f'{where}: an object with a non-empty "id" (HighLevel\'s planId)')
    mode = item.get("mode", "trial")
    if mode not in ("trial", "live"):
        raise PlanModelError(f'{where}: "mode" is "trial" or "live"')
    free = item.get("free_registrations", TRIAL_REGISTRATION_LIMIT)
    if not isinstance(free, int) or isinstance(free, bool) or not 0 <= free <= 1_000_000:
        raise PlanModelError(f'{where}: "free_registrations" is a whole number from 0')
    meter = item.get("meter_id")
    if meter is not None and (not isinstance(meter, str) or not meter.strip()):
        raise PlanModelError(f'{where}: "meter_id" is the HighLevel billing meter\'s id')
    price: Decimal | None = None
    if item.get("price_usd") is not None:
        try:
            price = Decimal(str(item["price_usd"]))
        except InvalidOperation:
            raise PlanModelError(f'{where}: "price_usd" is a number such as 0.50') from None
        # HighLevel's meters take 0 to 200 per unit with up to 6 decimals.
        if not Decimal(0) <= price <= Decimal(200) or price != price.quantize(Decimal("0.000001")):
            raise PlanModelError(f'{where}: "price_usd" is from 0 to 200 with at most 6 decimals')
    if mode == "live" and meter is not None and price is None:
        raise PlanModelError(f'{where}: a metered live plan needs "price_usd" to tell admins the cost')
    name = item.get("name")
    subscription = item.get("subscription")
    return PlanSpec(
        id=item["id"].strip(),
        name=name.strip()[:100] if isinstance(name, str) and name.strip() else item["id"].strip(),
        mode=PlanMode(mode),
        free_registrations=free,
        meter_id=meter.strip() if isinstance(meter, str) else None,
        price_usd=price,
        subscription=subscription[:200] if isinstance(subscription, str) else None,
    )


class AccountStatus(enum.StrEnum):
    TRIAL = "trial"
    LIVE = "live"
    UNINSTALLED = "uninstalled"  # the app was removed: nothing more is charged, data is kept


@dataclass(frozen=True)
class BillingAccount:
    """A workspace's plan as HighLevel (or, standalone, the operator) last told us."""

    workspace_id: UUID
    status: AccountStatus
    plan_id: str | None
    plan_name: str | None
    registration_limit: int | None  # active registrations allowed (trial); None: no limit
    free_per_cycle: int  # live: registrations per calendar month that are not charged
    meter_id: str | None
    price_usd: Decimal | None
    on_trial: bool  # HighLevel's own (time-based) trial of the plan; shown, never changes the limits
    source: str  # install | plan_change | lookup | operator
    updated_at: datetime
    note: str | None = None  # why the state is not what the event asked (unknown plan, …)
    reconcile_note: str | None = None
    reconciled_at: datetime | None = None

    @property
    def charges_usage(self) -> bool:
        return self.status is AccountStatus.LIVE and self.meter_id is not None


class ChargeStatus(enum.StrEnum):
    FREE = "free"  # within the free allowance: counted, not charged
    PENDING = "pending"  # reserved with its registration; the outbox sends it
    CHARGED = "charged"  # HighLevel's chargeId is kept
    REFUSED = "refused"  # insufficient funds: the registration is on hold until a retry succeeds
    FAILED = "failed"  # refused for another reason, or gave up retrying: shown with Retry
    CANCELLED = "cancelled"  # the registration was deleted, or the app uninstalled, before it was sent

    @property
    def holds_launch(self) -> bool:
        return self in (ChargeStatus.PENDING, ChargeStatus.REFUSED, ChargeStatus.FAILED)


@dataclass(frozen=True)
class UsageCharge:
    """One registration counted against the plan; the outbox item of its charge when billable."""

    enrollment_id: UUID
    workspace_id: UUID
    cycle: str  # "2026-12": the calendar month (UTC) whose free allowance it counted against
    event_id: str  # "reg_<enrollment id>": HighLevel's eventId, the same on every retry
    status: ChargeStatus
    description: str
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    meter_id: str | None = None
    price_usd: Decimal | None = None
    charge_id: str | None = None
    charged_at: datetime | None = None
    last_error: str | None = None
    reconcile_flag: str | None = None


@dataclass(frozen=True)
class RemoteCharge:
    """A charge as HighLevel lists it."""

    charge_id: str
    event_id: str | None
    meter_id: str | None
    refunded: bool = False


def cycle_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def event_id_for(enrollment_id: UUID) -> str:
    return f"reg_{enrollment_id}"


class InsufficientFunds(DomainError):
    """The wallet that pays for the app's usage cannot pay this charge (HighLevel: 400)."""
