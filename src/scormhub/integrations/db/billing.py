"""Billing in PostgreSQL: each workspace's plan state and its usage charges (the charge outbox)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from scormhub.domain.model_billing import AccountStatus, BillingAccount, ChargeStatus, UsageCharge
from scormhub.integrations.db.tables import BillingAccountRow, UsageChargeRow


def _decimal(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def _account(row: dict[str, Any]) -> BillingAccount:
    return BillingAccount(
        workspace_id=row["workspace_id"],
        status=AccountStatus(row["status"]),
        plan_id=row["plan_id"],
        plan_name=row["plan_name"],
        registration_limit=row["registration_limit"],
        free_per_cycle=row["free_per_cycle"],
        meter_id=row["meter_id"],
        price_usd=_decimal(row["price_usd"]),
        on_trial=row["on_trial"],
        source=row["source"],
        updated_at=row["updated_at"],
        note=row["note"],
        reconcile_note=row["reconcile_note"],
        reconciled_at=row["reconciled_at"],
    )


def _charge(row: dict[str, Any]) -> UsageCharge:
    return UsageCharge(
        enrollment_id=row["enrollment_id"],
        workspace_id=row["workspace_id"],
        cycle=row["cycle"],
        event_id=row["event_id"],
        status=ChargeStatus(row["status"]),
        description=row["description"],
        created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"],
        attempts=row["attempts"],
        meter_id=row["meter_id"],
        price_usd=_decimal(row["price_usd"]),
        charge_id=row["charge_id"],
        charged_at=row["charged_at"],
        last_error=row["last_error"],
        reconcile_flag=row["reconcile_flag"],
    )


class PiccoloBillingRepository:
    async def account(self, workspace_id: UUID) -> BillingAccount | None:
        row = await BillingAccountRow.select().where(BillingAccountRow.workspace_id == workspace_id).first()
        return _account(row) if row else None

    async def save_account(self, a: BillingAccount) -> None:
        await BillingAccountRow.raw(
            "INSERT INTO billing_account (workspace_id, status, plan_id, plan_name, registration_limit, "
            "free_per_cycle, meter_id, price_usd, on_trial, source, note, reconcile_note, reconciled_at, "
            "updated_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) "
            "ON CONFLICT (workspace_id) DO UPDATE SET status = EXCLUDED.status, plan_id = EXCLUDED.plan_id, "
            "plan_name = EXCLUDED.plan_name, registration_limit = EXCLUDED.registration_limit, "
            "free_per_cycle = EXCLUDED.free_per_cycle, meter_id = EXCLUDED.meter_id, "
            "price_usd = EXCLUDED.price_usd, on_trial = EXCLUDED.on_trial, source = EXCLUDED.source, "
            "note = EXCLUDED.note, reconcile_note = EXCLUDED.reconcile_note, "
            "reconciled_at = EXCLUDED.reconciled_at, updated_at = EXCLUDED.updated_at",
            a.workspace_id,
            a.status.value,
            a.plan_id,
            a.plan_name,
            a.registration_limit,
            a.free_per_cycle,
            a.meter_id,
            str(a.price_usd) if a.price_usd is not None else None,
            a.on_trial,
            a.source,
            a.note,
            a.reconcile_note,
            a.reconciled_at,
            a.updated_at,
        )

    async def count_cycle(self, workspace_id: UUID, cycle: str) -> int:
        return int(
            await UsageChargeRow.count().where(
                (UsageChargeRow.workspace_id == workspace_id)
                & (UsageChargeRow.cycle == cycle)
                & (UsageChargeRow.status != ChargeStatus.CANCELLED.value)
            )
        )

    async def add_usage(self, c: UsageCharge) -> None:
        await UsageChargeRow.insert(
            UsageChargeRow(
                enrollment_id=c.enrollment_id,
                workspace_id=c.workspace_id,
                cycle=c.cycle,
                event_id=c.event_id,
                status=c.status.value,
                description=c.description,
                meter_id=c.meter_id,
                price_usd=str(c.price_usd) if c.price_usd is not None else None,
                attempts=c.attempts,
                next_attempt_at=c.next_attempt_at,
                created_at=c.created_at,
            )
        )

    async def usage(self, enrollment_id: UUID) -> UsageCharge | None:
        row = await UsageChargeRow.select().where(UsageChargeRow.enrollment_id == enrollment_id).first()
        return _charge(row) if row else None

    async def claim_due(
        self, workspace_id: UUID, now: datetime, *, limit: int, lease_s: float
    ) -> list[UsageCharge]:
        # The attempt is counted when claimed, so a charge whose process died mid-call is looked up in
        # HighLevel before it is sent again.
        rows = await UsageChargeRow.raw(
            "UPDATE usage_charge SET attempts = attempts + 1, "
            "next_attempt_at = {}::timestamptz + make_interval(secs => {}::float8) WHERE enrollment_id IN ("
            "SELECT enrollment_id FROM usage_charge WHERE workspace_id = {} AND status = 'pending' "
            "AND next_attempt_at <= {} ORDER BY created_at LIMIT {} FOR UPDATE SKIP LOCKED) RETURNING *",
            now,
            lease_s,
            workspace_id,
            now,
            limit,
        )
        return sorted((_charge(row) for row in rows), key=lambda c: c.created_at)

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
        values: dict[Any, Any] = {UsageChargeRow.status: status.value, UsageChargeRow.last_error: error}
        if charge_id is not None:
            values[UsageChargeRow.charge_id] = charge_id
            values[UsageChargeRow.charged_at] = at
        if next_attempt_at is not None:
            values[UsageChargeRow.next_attempt_at] = next_attempt_at
        await UsageChargeRow.update(values).where(UsageChargeRow.enrollment_id == enrollment_id)

    async def retry(self, workspace_id: UUID, enrollment_id: UUID, now: datetime) -> bool:
        rows = await UsageChargeRow.raw(
            "UPDATE usage_charge SET status = 'pending', next_attempt_at = {}, created_at = {} "
            "WHERE workspace_id = {} AND enrollment_id = {} AND status IN ('refused', 'failed') "
            "RETURNING enrollment_id",
            now,
            now,
            workspace_id,
            enrollment_id,
        )
        return bool(rows)

    async def recent(self, workspace_id: UUID, *, limit: int = 50) -> list[UsageCharge]:
        rows = (
            await UsageChargeRow.select()
            .where(UsageChargeRow.workspace_id == workspace_id)
            .order_by(UsageChargeRow.created_at, ascending=False)
            .limit(limit)
        )
        return [_charge(row) for row in rows]

    async def since(self, workspace_id: UUID, moment: datetime) -> list[UsageCharge]:
        rows = await UsageChargeRow.select().where(
            (UsageChargeRow.workspace_id == workspace_id) & (UsageChargeRow.created_at >= moment)
        )
        return [_charge(row) for row in rows]

    async def flag(self, enrollment_id: UUID, flag: str | None) -> None:
        await UsageChargeRow.update({UsageChargeRow.reconcile_flag: flag}).where(
            UsageChargeRow.enrollment_id == enrollment_id
        )

    async def workspaces_with_due_charges(self, now: datetime) -> list[UUID]:
        rows = await UsageChargeRow.raw(
            "SELECT DISTINCT workspace_id FROM usage_charge "
            "WHERE status = 'pending' AND next_attempt_at <= {}",
            now,
        )
        return [row["workspace_id"] for row in rows]

    async def billed_workspaces(self) -> list[UUID]:
        rows = await BillingAccountRow.raw(
            "SELECT workspace_id FROM billing_account WHERE status = 'live' AND meter_id IS NOT NULL"
        )
        return [row["workspace_id"] for row in rows]
