"""The free allowance of a live plan on the real PostgreSQL: enrollments racing for the last free
registration of the month get it exactly once, and each of the others is counted with its charge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from test_plan_limit import self_enroll, trial_course

from scormhub.domain.enrollments import EnrollResult
from scormhub.domain.model import Course, PlanMode
from scormhub.domain.model_billing import AccountStatus, BillingAccount, ChargeStatus
from scormhub.integrations.clock import SystemClock
from scormhub.integrations.db.database import engine
from scormhub.integrations.db.tables import UsageChargeRow
from scormhub.integrations.db.uow import PiccoloUnitOfWork

FREE_PER_MONTH = 5


@pytest.fixture
async def pool(db: str) -> AsyncIterator[None]:
    await engine().start_connection_pool(max_size=25)
    try:
        yield
    finally:
        await engine().close_connection_pool()


async def metered_course() -> Course:
    course = await trial_course(PlanMode.LIVE)
    async with PiccoloUnitOfWork() as uow:
        await uow.billing.save_account(
            BillingAccount(
                workspace_id=course.workspace_id,
                status=AccountStatus.LIVE,
                plan_id="plan-live",
                plan_name="Live",
                registration_limit=None,
                free_per_cycle=FREE_PER_MONTH,
                meter_id="mtr",
                price_usd=Decimal("0.50"),
                on_trial=False,
                source="install",
                updated_at=SystemClock().now(),
            )
        )
        await uow.commit()
    return course


async def test_twenty_enrollments_racing_for_the_last_free_registration_give_it_to_exactly_one(
    pool: None,
) -> None:
    course = await metered_course()
    for i in range(FREE_PER_MONTH - 1):
        assert isinstance(await self_enroll(course, f"early{i}@example.com"), EnrollResult)

    outcomes = await asyncio.gather(*(self_enroll(course, f"racer{i}@example.com") for i in range(20)))

    results = [o for o in outcomes if isinstance(o, EnrollResult)]
    assert len(results) == 20, "a live plan refuses nobody"
    assert [r.charge for r in results].count(ChargeStatus.FREE) == 1
    assert [r.charge for r in results].count(ChargeStatus.PENDING) == 19
    rows = await UsageChargeRow.select(UsageChargeRow.status).where(
        UsageChargeRow.workspace_id == course.workspace_id
    )
    assert sorted(r["status"] for r in rows) == ["free"] * FREE_PER_MONTH + ["pending"] * 19


async def test_a_deleted_enrollment_still_counts_this_month_and_its_charge_record_stays(pool: None) -> None:
    course = await metered_course()
    first = await self_enroll(course, "first@example.com")
    assert isinstance(first, EnrollResult)

    async with PiccoloUnitOfWork() as uow:
        await uow.enrollments.delete(course.workspace_id, first.enrollment.id)
        await uow.commit()
    for i in range(FREE_PER_MONTH - 1):
        await self_enroll(course, f"next{i}@example.com")
    past = await self_enroll(course, "past@example.com")

    assert isinstance(past, EnrollResult)
    assert past.charge is ChargeStatus.PENDING, "deleting frees no free registration: no refund either"
    async with PiccoloUnitOfWork() as uow:
        kept = await uow.billing.usage(first.enrollment.id)
    assert kept is not None
