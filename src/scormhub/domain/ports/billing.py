"""Billing ports: the plan state and usage charges we keep, and the marketplace's charges API."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from scormhub.domain.model_billing import BillingAccount, ChargeStatus, RemoteCharge, UsageCharge


class BillingRepository(Protocol):
    """Plan state and usage charges, inside the unit of work's transaction."""

    async def account(self, workspace_id: UUID) -> BillingAccount | None: ...

    async def save_account(self, account: BillingAccount) -> None: ...

    async def count_cycle(self, workspace_id: UUID, cycle: str) -> int:
        """Registrations counted in a cycle (free or charged; deleted enrollments still count)."""
        ...

    async def add_usage(self, charge: UsageCharge) -> None: ...

    async def usage(self, enrollment_id: UUID) -> UsageCharge | None: ...

    async def claim_due(
        self, workspace_id: UUID, now: datetime, *, limit: int, lease_s: float
    ) -> list[UsageCharge]:
        """Pending charges due now, leased (SKIP LOCKED): two charge jobs never hold the same one."""
        ...

    async def settle(
        self,
        enrollment_id: UUID,
        status: ChargeStatus,
        *,
        error: str | None = None,
        charge_id: str | None = None,
        at: datetime | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None: ...

    async def retry(self, workspace_id: UUID, enrollment_id: UUID, now: datetime) -> bool:
        """A refused or failed charge goes back to pending; False if there is none to retry."""
        ...

    async def recent(self, workspace_id: UUID, *, limit: int = 50) -> list[UsageCharge]: ...

    async def since(self, workspace_id: UUID, moment: datetime) -> list[UsageCharge]: ...

    async def flag(self, enrollment_id: UUID, flag: str | None) -> None: ...

    async def workspaces_with_due_charges(self, now: datetime) -> list[UUID]: ...

    async def billed_workspaces(self) -> list[UUID]:
        """Workspaces on a plan that charges usage (the reconciler's round)."""
        ...


class UsageBilling(Protocol):
    """The marketplace's billing API for one installed location (HighLevel: /marketplace/billing/*)."""

    async def has_funds(self) -> bool: ...

    async def create_charge(
        self, *, event_id: str, meter_id: str, description: str, units: int, price_usd: str | None
    ) -> str:
        """HighLevel's chargeId. InsufficientFunds when the wallet cannot pay; ServiceUnavailable when it
        may be retried (5xx, 429, timeout: it may have charged, so look it up before charging again)."""
        ...

    async def find_charge(self, event_id: str, *, meter_id: str) -> RemoteCharge | None: ...

    async def list_charges(self, *, meter_id: str, start: datetime, end: datetime) -> list[RemoteCharge]: ...

    async def installed_plan_id(self) -> str | None:
        """The plan the location is on now (installer details), to repair a missed webhook."""
        ...
