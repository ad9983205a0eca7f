"""Billing use cases on in-memory fakes: the plan catalogue, plan rules, the charge outbox's once-only
delivery and backoff, and the reconciliation."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from fakes.billing import FakeUsageBilling
from fakes.crm import FakeContactBook
from fakes.system import FakeClock, FakeJobs
from fakes.uow import FakeStore, FakeUnitOfWork

from scormhub.domain import enrollments as cases
from scormhub.domain.billing import usage
from scormhub.domain.billing.plans import apply_plan
from scormhub.domain.enrollments import EnrollResult, RegistrationOnHold
from scormhub.domain.model import (
    Course,
    CourseStatus,
    CrmKind,
    EngineKind,
    PlanMode,
    Workspace,
    WorkspaceKind,
)
from scormhub.domain.model_billing import ChargeStatus, PlanModelError, parse_plans
from scormhub.domain.scorm.package import Sco
from scormhub.settings import ConfigError, Settings

PLANS = parse_plans(
    '[{"id": "free", "mode": "trial", "free_registrations": 3},'
    ' {"id": "live", "name": "Live", "mode": "live", "free_registrations": 1,'
    ' "meter_id": "m", "price_usd": 0.5}]'
)


class World:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.store = FakeStore()
        self.book = FakeContactBook()
        self.jobs = FakeJobs()
        self.wallet = FakeUsageBilling()
        now = self.clock.now()
        self.workspace = Workspace(
            id=uuid.uuid4(),
            name="Location",
            kind=WorkspaceKind.HIGHLEVEL,
            plan=PlanMode.TRIAL,
            engine=EngineKind.BUILTIN,
            crm=CrmKind.HIGHLEVEL,
            created_at=now,
            crm_location_id="loc",
        )
        self.course = Course(
            id=uuid.uuid4(),
            workspace_id=self.workspace.id,
            title="Golf",
            standard="scorm12",
            edition=None,
            status=CourseStatus.READY,
            engine=EngineKind.BUILTIN,
            package_key="k",
            package_bytes=1,
            file_name="golf.zip",
            self_enroll_token="t",
            created_at=now,
            updated_at=now,
            scos=(Sco(identifier="s", title="Golf", launch="index.html"),),
        )
        self.store.workspaces[self.workspace.id] = self.workspace
        self.store.courses[self.course.id] = self.course

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    async def on_plan(self, plan_id: str) -> None:
        await apply_plan(
            self.workspace.id, plan_id, catalog=PLANS, source="install", uow=self.uow(), clock=self.clock
        )

    async def enroll(self, email: str) -> EnrollResult:
        contact = await self.book.upsert_contact(first_name="L", last_name="N", email=email)
        return await cases.enroll_contact(
            self.workspace.id,
            self.course.id,
            contact.id,
            uow=self.uow(),
            contacts=self.book,
            clock=self.clock,
            jobs=self.jobs,
        )

    async def charge(self) -> usage.ChargeOutcome:
        return await usage.charge_usage(
            self.workspace.id, uow_factory=self.uow, billing=self.wallet, clock=self.clock, jitter=lambda: 0.0
        )


def test_the_plan_catalogue_reads_trial_and_metered_live_plans() -> None:
    live = PLANS.get("live")

    assert PLANS.get("free") is not None
    assert live is not None
    assert live.charges_usage
    assert live.price_usd == Decimal("0.5")
    assert PLANS.live_plan is live
    assert PLANS.get("nope") is None


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("{", "a JSON list"),
        ('{"id": "x"}', "a JSON list"),
        ('[{"mode": "trial"}]', 'non-empty "id"'),
        ('[{"id": "x", "mode": "gold"}]', '"mode" is "trial" or "live"'),
        ('[{"id": "x", "free_registrations": -1}]', "whole number"),
        ('[{"id": "x", "mode": "live", "meter_id": "m"}]', 'needs "price_usd"'),
        ('[{"id": "x", "mode": "live", "meter_id": "m", "price_usd": 500}]', "from 0 to 200"),
        ('[{"id": "x"}, {"id": "x"}]', "each plan id once"),
    ],
)
def test_a_malformed_plan_catalogue_says_what_is_expected(raw: str, says: str) -> None:
    with pytest.raises(PlanModelError, match=re.escape(says)):
        parse_plans(raw)


def test_a_malformed_highlevel_plans_setting_stops_start_up_naming_it(tmp_path: object) -> None:
    with pytest.raises(ConfigError) as problem:
        Settings.from_env({"SCORMHUB_DATA_DIR": str(tmp_path), "HIGHLEVEL_PLANS": "[{]"})

    assert problem.value.variable == "HIGHLEVEL_PLANS"


async def test_a_registration_past_the_allowance_is_queued_with_its_charge_and_held_until_charged() -> None:
    world = World()
    await world.on_plan("live")

    free = await world.enroll("a@example.com")
    paid = await world.enroll("b@example.com")
    with pytest.raises(RegistrationOnHold):
        await cases.find_launch(paid.enrollment.launch_token, uow=world.uow(), opening=True)
    outcome = await world.charge()
    twice = await world.charge()

    assert free.charge is ChargeStatus.FREE
    assert paid.charge is ChargeStatus.PENDING
    assert [job for job, _, _ in world.jobs.enqueued] == ["charge_usage"]
    assert outcome.charged == 1
    assert twice.charged == 0
    assert [c.event_id for _, c in world.wallet.charges] == [f"reg_{paid.enrollment.id}"]
    await cases.find_launch(paid.enrollment.launch_token, uow=world.uow(), opening=True)  # launchable now


async def test_a_server_error_backs_off_then_the_same_event_id_goes_out_again() -> None:
    world = World()
    await world.on_plan("live")
    await world.enroll("a@example.com")
    paid = await world.enroll("b@example.com")
    world.wallet.down = 1

    first = await world.charge()
    not_yet = await world.charge()
    world.clock.advance(seconds=10)
    later = await world.charge()

    assert (first.retrying, not_yet.charged, later.charged) == (1, 0, 1)
    assert first.next_due_at is not None
    assert first.next_due_at > world.clock.now() - timedelta(seconds=10)
    assert world.store.usage_charges[paid.enrollment.id].charge_id == "ch_1"


async def test_a_charge_given_up_after_a_day_is_failed_with_retry() -> None:
    world = World()
    await world.on_plan("live")
    await world.enroll("a@example.com")
    paid = await world.enroll("b@example.com")
    world.wallet.down = 99
    world.clock.advance(hours=25)

    outcome = await world.charge()
    await usage.retry_charge(
        world.workspace.id, paid.enrollment.id, uow=world.uow(), jobs=world.jobs, clock=world.clock
    )

    assert outcome.failed == 1
    assert world.store.usage_charges[paid.enrollment.id].status is ChargeStatus.PENDING
    with pytest.raises(cases.NotFound):
        await usage.retry_charge(
            world.workspace.id, paid.enrollment.id, uow=world.uow(), jobs=world.jobs, clock=world.clock
        )


async def test_a_registration_deleted_before_its_charge_is_never_charged() -> None:
    world = World()
    await world.on_plan("live")
    await world.enroll("a@example.com")
    paid = await world.enroll("b@example.com")
    await cases.delete_enrollment(world.workspace.id, paid.enrollment.id, uow=world.uow())

    outcome = await world.charge()

    assert outcome.cancelled == 1
    assert world.wallet.create_calls == 0


async def test_an_unknown_plan_keeps_the_previous_one_and_a_known_one_applies() -> None:
    world = World()
    await world.on_plan("live")

    await world.on_plan("gold-2027")
    kept = world.store.billing_accounts[world.workspace.id]
    await world.on_plan("free")
    trial = world.store.billing_accounts[world.workspace.id]

    assert kept.plan_id == "live"
    assert kept.note is not None
    assert "gold-2027" in kept.note
    assert world.store.workspaces[world.workspace.id].plan is PlanMode.TRIAL
    assert (trial.plan_id, trial.registration_limit, trial.note) == ("free", 3, None)


async def test_reconciliation_repairs_a_lost_answer_and_flags_what_highlevel_lacks() -> None:
    world = World()
    await world.on_plan("live")
    await world.enroll("a@example.com")
    lost = await world.enroll("b@example.com")
    world.wallet.lose_answer = 1
    await world.charge()  # HighLevel charged; the answer was lost
    kept = await world.enroll("c@example.com")
    await world.charge()
    gone = f"reg_{kept.enrollment.id}"
    world.wallet.charges = [(m, c) for m, c in world.wallet.charges if c.event_id != gone]

    outcome = await usage.reconcile_charges(
        world.workspace.id, uow_factory=world.uow, billing=world.wallet, catalog=PLANS, clock=world.clock
    )

    assert (outcome.repaired, outcome.missing) == (1, 1)
    assert world.store.usage_charges[lost.enrollment.id].status is ChargeStatus.CHARGED
    flag = world.store.usage_charges[kept.enrollment.id].reconcile_flag
    assert flag is not None
    assert "Not in HighLevel's list" in flag
