"""In-memory billing: plan states and usage charges (the BillingRepository port), and a fake HighLevel
billing API (UsageBilling) that records the charges it took."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.errors import ServiceUnavailable
from scormhub.domain.model_billing import (
    AccountStatus,
    BillingAccount,
    ChargeStatus,
    InsufficientFunds,
    RemoteCharge,
    UsageCharge,
)

if TYPE_CHECKING:
    from scormhub.domain.ports import BillingRepository, UsageBilling


class FakeBillingRepository:
    def __init__(self, accounts: dict[UUID, BillingAccount], charges: dict[UUID, UsageCharge]) -> None:
        self.accounts = accounts
        self.charges = charges

    async def account(self, workspace_id: UUID) -> BillingAccount | None:
        return self.accounts.get(workspace_id)

    async def save_account(self, account: BillingAccount) -> None:
        self.accounts[account.workspace_id] = account

    async def count_cycle(self, workspace_id: UUID, cycle: str) -> int:
        return sum(
            1
            for c in self.charges.values()
            if c.workspace_id == workspace_id and c.cycle == cycle and c.status is not ChargeStatus.CANCELLED
        )

    async def add_usage(self, charge: UsageCharge) -> None:
        self.charges[charge.enrollment_id] = charge

    async def usage(self, enrollment_id: UUID) -> UsageCharge | None:
        return self.charges.get(enrollment_id)

    async def claim_due(
        self, workspace_id: UUID, now: datetime, *, limit: int, lease_s: float
    ) -> list[UsageCharge]:
        due = sorted(
            (
                c
                for c in self.charges.values()
                if c.workspace_id == workspace_id
                and c.status is ChargeStatus.PENDING
                and c.next_attempt_at <= now
            ),
            key=lambda c: c.created_at,
        )[:limit]
        claimed = []
        for c in due:
            leased = replace(c, attempts=c.attempts + 1, next_attempt_at=now + timedelta(seconds=lease_s))
            self.charges[c.enrollment_id] = leased
            claimed.append(leased)
        return claimed

    async def settle(
        self,
        enrollment_id: UUID,
        status: ChargeStatus,
        *,
        error: str | None = None,
        charge_id: str | None = None,
        at: datetime | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        c = self.charges[enrollment_id]
        c = replace(c, status=status, last_error=error)
        if charge_id is not None:
            c = replace(c, charge_id=charge_id, charged_at=at)
        if next_attempt_at is not None:
            c = replace(c, next_attempt_at=next_attempt_at)
        self.charges[enrollment_id] = c

    async def retry(self, workspace_id: UUID, enrollment_id: UUID, now: datetime) -> bool:
        c = self.charges.get(enrollment_id)
        if (
            c is None
            or c.workspace_id != workspace_id
            or c.status not in (ChargeStatus.REFUSED, ChargeStatus.FAILED)
        ):
            return False
        self.charges[enrollment_id] = replace(
            c, status=ChargeStatus.PENDING, next_attempt_at=now, created_at=now
        )
        return True

    async def recent(self, workspace_id: UUID, *, limit: int = 50) -> list[UsageCharge]:
        mine = [c for c in self.charges.values() if c.workspace_id == workspace_id]
        return sorted(mine, key=lambda c: c.created_at, reverse=True)[:limit]

    async def since(self, workspace_id: UUID, moment: datetime) -> list[UsageCharge]:
        return [c for c in self.charges.values() if c.workspace_id == workspace_id and c.created_at >= moment]

    async def flag(self, enrollment_id: UUID, flag: str | None) -> None:
        self.charges[enrollment_id] = replace(self.charges[enrollment_id], reconcile_flag=flag)

    async def workspaces_with_due_charges(self, now: datetime) -> list[UUID]:
        return sorted(
            {
                c.workspace_id
                for c in self.charges.values()
                if c.status is ChargeStatus.PENDING and c.next_attempt_at <= now
            }
        )

    async def billed_workspaces(self) -> list[UUID]:
        return [w for w, a in self.accounts.items() if a.status is AccountStatus.LIVE and a.meter_id]


class FakeUsageBilling:
    """HighLevel's wallet: `funds` pays that many more charges; `lose_answer` charges but raises (a timeout
    after the charge); `down` raises before charging."""

    def __init__(
        self, *, funds: int = 1000, has_funds_says: bool | None = None, plan_id: str | None = None
    ) -> None:
        self.funds = funds
        self.has_funds_says = has_funds_says
        self.plan_id = plan_id
        self.charges: list[tuple[str, RemoteCharge]] = []  # (meter, charge)
        self.create_calls = 0
        self.lose_answer = 0
        self.down = 0

    async def has_funds(self) -> bool:
        return self.funds > 0 if self.has_funds_says is None else self.has_funds_says

    async def create_charge(
        self, *, event_id: str, meter_id: str, description: str, units: int, price_usd: str | None
    ) -> str:
        self.create_calls += 1
        if self.down:
            self.down -= 1
            raise ServiceUnavailable("HighLevel answered with a server error (HTTP 502).")
        if self.funds <= 0:
            raise InsufficientFunds("Location wallet has insufficient funds")
        self.funds -= 1
        charge = RemoteCharge(charge_id=f"ch_{len(self.charges) + 1}", event_id=event_id, meter_id=meter_id)
        self.charges.append((meter_id, charge))
        if self.lose_answer:
            self.lose_answer -= 1
            raise ServiceUnavailable("HighLevel did not answer in time (ReadTimeout).")
        return charge.charge_id

    async def find_charge(self, event_id: str, *, meter_id: str) -> RemoteCharge | None:
        return next((c for m, c in self.charges if c.event_id == event_id and m == meter_id), None)

    async def list_charges(self, *, meter_id: str, start: datetime, end: datetime) -> list[RemoteCharge]:
        return [c for m, c in self.charges if m == meter_id]

    async def installed_plan_id(self) -> str | None:
        return self.plan_id


if TYPE_CHECKING:
    _repo: BillingRepository = FakeBillingRepository({}, {})
    _api: UsageBilling = FakeUsageBilling()
