"""Enroll-and-learn use cases on in-memory fakes: one enrollment per contact, the trial limit, tracking."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from fakes.crm import FakeContactBook
from fakes.system import FakeClock
from fakes.uow import FakeStore, FakeUnitOfWork

from scormhub.domain import enrollments as cases
from scormhub.domain.billing.plans import set_operator_plan
from scormhub.domain.contacts import InvalidInput
from scormhub.domain.enrollments import CourseNotAvailable, PlanLimitReached
from scormhub.domain.errors import NotFound
from scormhub.domain.model import (
    TRIAL_REGISTRATION_LIMIT,
    Course,
    CourseStatus,
    CrmKind,
    EngineKind,
    PlanMode,
    Workspace,
    WorkspaceKind,
)
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.domain.scorm.package import Sco


class World:
    def __init__(self, *, status: CourseStatus = CourseStatus.READY) -> None:
        self.clock = FakeClock()
        self.store = FakeStore()
        self.book = FakeContactBook()
        now = self.clock.now()
        self.workspace = Workspace(
            id=uuid.uuid4(),
            name="Agency",
            kind=WorkspaceKind.STANDALONE,
            plan=PlanMode.TRIAL,
            engine=EngineKind.BUILTIN,
            crm=CrmKind.LOCAL,
            created_at=now,
        )
        self.course = Course(
            id=uuid.uuid4(),
            workspace_id=self.workspace.id,
            title="Golf",
            standard="scorm12",
            edition=None,
            status=status,
            engine=EngineKind.BUILTIN,
            package_key="k",
            package_bytes=1,
            file_name="golf.zip",
            self_enroll_token="enroll-token",
            created_at=now,
            updated_at=now,
            scos=(Sco(identifier="sco-1", title="Golf", launch="index.html"),),
        )
        self.store.workspaces[self.workspace.id] = self.workspace
        self.store.courses[self.course.id] = self.course

    async def book_for(self, _workspace_id: uuid.UUID) -> FakeContactBook:
        return self.book

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    async def enroll(self, email: str) -> cases.EnrollResult:
        contact = await self.book.upsert_contact(first_name="Ada", last_name="Lovelace", email=email)
        return await cases.enroll_contact(
            self.workspace.id,
            self.course.id,
            contact.id,
            uow=self.uow(),
            contacts=self.book,
            clock=self.clock,
        )

    async def self_enroll(
        self, first: str, last: str, email: str, proof: str | None = None
    ) -> cases.EnrollResult | cases.ReviewOnly:
        return await cases.self_enroll(
            "enroll-token",
            first_name=first,
            last_name=last,
            email=email,
            uow=self.uow(),
            contacts_for=self.book_for,
            clock=self.clock,
            proof=proof,
        )


async def test_enrolling_a_contact_twice_keeps_one_enrollment() -> None:
    world = World()

    first = await world.enroll("ada@example.com")
    second = await world.enroll("ada@example.com")

    assert first.created
    assert not second.created
    assert second.enrollment == first.enrollment
    assert len(world.store.enrollments) == 1
    assert first.enrollment.learner_name == "Ada Lovelace"
    assert first.enrollment.status_label == "Not Started"
    assert first.enrollment.result_label == "—"


async def test_the_eleventh_registration_on_a_trial_is_refused_and_nothing_is_stored() -> None:
    world = World()
    for i in range(TRIAL_REGISTRATION_LIMIT):
        await world.enroll(f"l{i}@example.com")

    with pytest.raises(PlanLimitReached, match="allows 10 active registrations"):
        await world.enroll("late@example.com")

    assert len(world.store.enrollments) == TRIAL_REGISTRATION_LIMIT
    usage = await cases.plan_usage(world.workspace, uow=world.uow())
    assert (usage.used, usage.limit, usage.full) == (10, 10, True)


async def test_an_enrolled_learner_keeps_access_when_the_trial_is_full() -> None:
    world = World()
    first = await world.enroll("l0@example.com")
    for i in range(1, TRIAL_REGISTRATION_LIMIT):
        await world.enroll(f"l{i}@example.com")

    again = await world.self_enroll("Someone", "Else", "L0@EXAMPLE.COM", proof=first.enrollment.launch_token)

    assert isinstance(again, cases.EnrollResult)
    assert again.enrollment.launch_token == first.enrollment.launch_token
    assert not again.created


async def test_an_enrolled_email_without_proof_gets_a_review_and_the_enrollment_is_untouched() -> None:
    world = World()
    first = await world.enroll("ada@example.com")
    scored = replace(
        first.enrollment, completion=Completion.COMPLETED, success=Success.PASSED, score_percent=95.0
    )
    world.store.enrollments[scored.id] = scored

    contacts = dict(world.book.contacts)
    near_miss = scored.launch_token[:-1] + ("B" if scored.launch_token.endswith("A") else "A")

    for proof in (None, "", "x" * 43, near_miss):
        outcome = await world.self_enroll("Eve", "Mallory", "ADA@example.com", proof=proof)
        assert outcome == cases.ReviewOnly(world.course)
    assert world.store.enrollments == {scored.id: scored}
    assert world.book.contacts == contacts, "the learner's contact is not rewritten either"


async def test_deleting_an_enrollment_frees_a_seat_and_the_operator_going_live_lifts_the_limit() -> None:
    world = World()
    seats = [await world.enroll(f"l{i}@example.com") for i in range(TRIAL_REGISTRATION_LIMIT)]

    await cases.delete_enrollment(world.workspace.id, seats[0].enrollment.id, uow=world.uow())
    refill = await world.enroll("refill@example.com")
    with pytest.raises(PlanLimitReached):
        await world.enroll("one-more@example.com")
    await set_operator_plan(world.workspace.id, PlanMode.LIVE, None, uow=world.uow(), clock=world.clock)
    live = world.store.workspaces[world.workspace.id]
    past_the_limit = await world.enroll("one-more@example.com")

    assert refill.created
    assert past_the_limit.created
    assert live.plan is PlanMode.LIVE
    assert len(world.store.enrollments) == TRIAL_REGISTRATION_LIMIT + 1
    usage = await cases.plan_usage(live, uow=world.uow())
    assert usage.limit is None
    assert not usage.full


async def test_deleting_an_unknown_enrollment_is_not_found() -> None:
    world = World()

    with pytest.raises(NotFound):
        await cases.delete_enrollment(world.workspace.id, uuid.uuid4(), uow=world.uow())


@pytest.mark.parametrize("status", [CourseStatus.PROCESSING, CourseStatus.ERROR])
async def test_a_course_that_is_not_ready_takes_no_enrollments(status: CourseStatus) -> None:
    world = World(status=status)

    with pytest.raises(CourseNotAvailable):
        await world.enroll("ada@example.com")
    with pytest.raises(CourseNotAvailable):
        await world.self_enroll("Ada", "Lovelace", "ada@example.com")

    assert world.store.enrollments == {}


async def test_an_unknown_self_enrollment_link_is_not_available() -> None:
    world = World()

    with pytest.raises(CourseNotAvailable):
        await cases.self_enroll(
            "no-such-token",
            first_name="Ada",
            last_name="Lovelace",
            email="ada@example.com",
            uow=world.uow(),
            contacts_for=world.book_for,
            clock=world.clock,
        )


async def test_enrolling_a_contact_that_does_not_exist_is_not_found() -> None:
    world = World()

    with pytest.raises(NotFound):
        await cases.enroll_contact(
            world.workspace.id,
            world.course.id,
            "ghost",
            uow=world.uow(),
            contacts=world.book,
            clock=world.clock,
        )


@pytest.mark.parametrize(
    ("first", "last", "email", "field"),
    [
        ("Ada", "Lovelace", "ada@", "email"),
        ("", "Lovelace", "ada@example.com", "first_name"),
        ("Ada", "  ", "ada@example.com", "last_name"),
        ("A" * 10_240, "Lovelace", "ada@example.com", "first_name"),
    ],
)
async def test_self_enrollment_with_bad_input_names_the_field_and_stores_nothing(
    first: str, last: str, email: str, field: str
) -> None:
    world = World()

    with pytest.raises(InvalidInput) as refused:
        await world.self_enroll(first, last, email)

    assert refused.value.field == field
    assert world.store.enrollments == {}
    assert world.book.contacts == {}


async def test_self_enrollment_trims_names_and_lower_cases_the_email() -> None:
    world = World()

    result = await world.self_enroll("  Ada   King ", " Lovelace ", " Ada@Example.COM ")

    assert result.enrollment.learner_name == "Ada King Lovelace"
    assert result.enrollment.learner_email == "ada@example.com"
    assert result.enrollment.self_enrolled


async def test_every_enrollment_gets_its_own_unguessable_launch_token() -> None:
    world = World()
    replace_store = world.store
    replace_store.workspaces[world.workspace.id] = replace(world.workspace, plan=PlanMode.LIVE)

    tokens = {(await world.enroll(f"l{i}@example.com")).enrollment.launch_token for i in range(50)}

    assert len(tokens) == 50
    assert all(len(t) >= 43 for t in tokens)


async def test_a_passing_commit_rolls_up_to_the_enrollment_and_a_late_one_changes_nothing() -> None:
    world = World()
    enrollment = (await world.enroll("ada@example.com")).enrollment
    launch = await cases.start_launch(enrollment.launch_token, None, uow=world.uow(), clock=world.clock)
    world.clock.advance(seconds=90)
    payload = {"core": {"lesson_status": "passed", "score": {"raw": "85"}, "session_time": "0000:01:30.00"}}

    reply = await cases.record_commit(
        enrollment.launch_token,
        launch.sco_id,
        launch.session_id,
        payload,
        is_final=True,
        uow=world.uow(),
        clock=world.clock,
    )
    done = world.store.enrollments[enrollment.id]
    late = await cases.record_commit(
        enrollment.launch_token,
        launch.sco_id,
        launch.session_id,
        {"core": {"lesson_status": "failed"}},
        is_final=False,
        uow=world.uow(),
        clock=world.clock,
    )

    assert reply.accepted
    assert reply.errors == ()
    assert (done.completion, done.success, done.score_raw, done.attempts) == (
        Completion.COMPLETED,
        Success.PASSED,
        85,
        1,
    )
    assert done.total_seconds == 90
    assert late.finished_attempt
    assert not late.accepted
    assert world.store.enrollments[enrollment.id] == done


async def test_a_commit_names_the_values_it_rejected_and_keeps_the_rest() -> None:
    world = World()
    enrollment = (await world.enroll("ada@example.com")).enrollment
    launch = await cases.start_launch(enrollment.launch_token, None, uow=world.uow(), clock=world.clock)

    reply = await cases.record_commit(
        enrollment.launch_token,
        launch.sco_id,
        launch.session_id,
        {"core": {"lesson_status": "incomplete", "score": {"raw": "150"}}},
        is_final=False,
        uow=world.uow(),
        clock=world.clock,
    )

    assert reply.accepted
    assert [e.split(":")[0] for e in reply.errors] == ["cmi.core.score.raw"]
    row = world.store.enrollments[enrollment.id]
    assert row.completion is Completion.IN_PROGRESS
    assert row.score_raw is None


async def test_a_launch_token_nobody_was_given_is_not_found() -> None:
    world = World()

    with pytest.raises(NotFound):
        await cases.start_launch("made-up", None, uow=world.uow(), clock=world.clock)
