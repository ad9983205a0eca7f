"""The trial's registration limit on the real PostgreSQL: concurrent self-enrollments never exceed it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from scormhub.domain import enrollments as cases
from scormhub.domain.enrollments import EnrollResult, PlanLimitReached, ReviewOnly
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
from scormhub.domain.scorm.package import Sco
from scormhub.integrations.clock import SystemClock
from scormhub.integrations.db.database import engine
from scormhub.integrations.db.tables import ContactRow
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.local_crm import LocalContactBook


@pytest.fixture
async def pool(db: str) -> AsyncIterator[None]:
    """Enough connections for twenty transactions at once (each holds one while it waits for the lock)."""
    await engine().start_connection_pool(max_size=25)
    try:
        yield
    finally:
        await engine().close_connection_pool()


async def _book_for(workspace_id: uuid.UUID) -> LocalContactBook:
    return LocalContactBook(workspace_id)


async def trial_course(plan: PlanMode = PlanMode.TRIAL) -> Course:
    now = SystemClock().now()
    workspace = Workspace(
        id=uuid.uuid4(),
        name="Agency",
        kind=WorkspaceKind.STANDALONE,
        plan=plan,
        engine=EngineKind.BUILTIN,
        crm=CrmKind.LOCAL,
        created_at=now,
    )
    course = Course(
        id=uuid.uuid4(),
        workspace_id=workspace.id,
        title="Golf",
        standard="scorm12",
        edition=None,
        status=CourseStatus.READY,
        engine=EngineKind.BUILTIN,
        package_key="k",
        package_bytes=1,
        file_name="golf.zip",
        self_enroll_token=uuid.uuid4().hex,
        created_at=now,
        updated_at=now,
        scos=(Sco(identifier="sco-1", title="Golf", launch="index.html"),),
    )
    async with PiccoloUnitOfWork() as uow:
        await uow.workspaces.add(workspace)
        await uow.courses.add(course)
        await uow.commit()
    return course


async def self_enroll(
    course: Course, email: str, proof: str | None = None
) -> EnrollResult | ReviewOnly | PlanLimitReached:
    try:
        return await cases.self_enroll(
            course.self_enroll_token,
            first_name="Learner",
            last_name=email.split("@")[0],
            email=email,
            uow=PiccoloUnitOfWork(),
            contacts_for=_book_for,
            clock=SystemClock(),
            proof=proof,
        )
    except PlanLimitReached as full:
        return full


async def seats_used(course: Course) -> int:
    async with PiccoloUnitOfWork() as uow:
        return await uow.enrollments.count_for_workspace(course.workspace_id)


async def test_twenty_concurrent_self_enrollments_for_the_last_seat_admit_exactly_one(pool: None) -> None:
    course = await trial_course()
    for i in range(TRIAL_REGISTRATION_LIMIT - 1):
        assert isinstance(await self_enroll(course, f"early{i}@example.com"), EnrollResult)

    outcomes = await asyncio.gather(*(self_enroll(course, f"racer{i}@example.com") for i in range(20)))

    admitted = [o for o in outcomes if isinstance(o, EnrollResult)]
    refused = [o for o in outcomes if isinstance(o, PlanLimitReached)]
    assert len(admitted) == 1
    assert admitted[0].created
    assert len(refused) == 19
    assert await seats_used(course) == TRIAL_REGISTRATION_LIMIT


async def test_concurrent_self_enrollments_of_one_email_make_one_enrollment(pool: None) -> None:
    course = await trial_course()

    outcomes = await asyncio.gather(*(self_enroll(course, "Same@Example.com") for _ in range(10)))

    # One request enrolls; the others cannot prove they are that learner, so they only get a review.
    [enrolled] = [o for o in outcomes if isinstance(o, EnrollResult)]
    assert enrolled.created
    assert all(isinstance(o, ReviewOnly) for o in outcomes if o is not enrolled)
    assert await seats_used(course) == 1


async def test_an_enrolled_learner_gets_back_in_when_the_trial_is_full(pool: None) -> None:
    course = await trial_course()
    first = await self_enroll(course, "first@example.com")
    for i in range(TRIAL_REGISTRATION_LIMIT - 1):
        await self_enroll(course, f"other{i}@example.com")

    assert isinstance(first, EnrollResult)
    again = await self_enroll(course, "FIRST@example.com", proof=first.enrollment.launch_token)
    unproven = await self_enroll(course, "FIRST@example.com")
    newcomer = await self_enroll(course, "new@example.com")

    assert isinstance(again, EnrollResult)
    assert isinstance(unproven, PlanLimitReached), "answered like a newcomer: no hint that it is enrolled"
    assert again.enrollment.launch_token == first.enrollment.launch_token
    assert not again.created
    assert isinstance(newcomer, PlanLimitReached)
    assert "allows 10 active registrations" in str(newcomer)


async def test_a_live_workspace_enrolls_past_the_trial_limit_concurrently(pool: None) -> None:
    course = await trial_course(PlanMode.LIVE)

    outcomes = await asyncio.gather(*(self_enroll(course, f"live{i}@example.com") for i in range(15)))

    assert all(isinstance(o, EnrollResult) for o in outcomes)
    assert await seats_used(course) == 15


async def test_a_self_enrollment_refused_at_the_limit_leaves_no_contact_in_the_crm(pool: None) -> None:
    course = await trial_course()
    for i in range(TRIAL_REGISTRATION_LIMIT):
        assert isinstance(await self_enroll(course, f"seat{i}@example.com"), EnrollResult)
    contacts_before = await ContactRow.count().where(ContactRow.workspace_id == course.workspace_id)

    refused = await self_enroll(course, "late@example.com")

    assert isinstance(refused, PlanLimitReached)
    assert await ContactRow.count().where(ContactRow.workspace_id == course.workspace_id) == contacts_before
    assert not await ContactRow.exists().where(ContactRow.email == "late@example.com")
