"""sync_registration, drain_inbox and sweep_inbox on in-memory fakes: a postback is a hint, the engine's
registration the truth. tests/http/test_scorm_cloud_connect.py drains real postbacks on PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from uuid import UUID

import pytest
from fakes.engines import FakePostbackReader, FakeRegistrationEngine, FakeRegistrationEngines
from fakes.system import FakeClock, FakeJobs
from fakes.uow import FakeStore, FakeUnitOfWork

from scormhub.domain.errors import ServiceUnavailable
from scormhub.domain.model import (
    Course,
    CourseStatus,
    CrmKind,
    EngineKind,
    Enrollment,
    InboxItem,
    PlanMode,
    RegistrationProgress,
    Workspace,
    WorkspaceKind,
)
from scormhub.domain.postbacks import (
    EngineDisconnected,
    RegistrationGone,
    UnknownRegistration,
    drain_inbox,
    sweep_inbox,
    sync_registration,
)
from scormhub.domain.scorm.cmi import Completion, Success


class World:
    """A workspace with SCORM Cloud connected, a course there and one enrolled learner."""

    def __init__(self, *, engine: EngineKind = EngineKind.SCORM_CLOUD) -> None:
        self.clock = FakeClock()
        self.store = FakeStore()
        self.jobs = FakeJobs()
        self.cloud = FakeRegistrationEngine()
        now = self.clock.now()
        self.workspace = Workspace(
            id=uuid.uuid4(),
            name="Agency",
            kind=WorkspaceKind.HIGHLEVEL,
            plan=PlanMode.LIVE,
            engine=EngineKind.SCORM_CLOUD,
            crm=CrmKind.HIGHLEVEL,
            created_at=now,
        )
        self.engines = FakeRegistrationEngines({self.workspace.id: self.cloud})
        course = Course(
            id=uuid.uuid4(),
            workspace_id=self.workspace.id,
            title="Golf",
            standard="scorm12",
            edition=None,
            status=CourseStatus.READY,
            engine=engine,
            package_key="k",
            package_bytes=1,
            file_name="golf.zip",
            self_enroll_token="enroll-token",
            created_at=now,
            updated_at=now,
        )
        self.enrollment = Enrollment(
            id=uuid.uuid4(),
            workspace_id=self.workspace.id,
            course_id=course.id,
            contact_id="c1",
            learner_name="Ann Example",
            learner_email="c1@example.com",
            launch_token=uuid.uuid4().hex,
            created_at=now,
            updated_at=now,
        )
        self.store.workspaces[self.workspace.id] = self.workspace
        self.store.courses[course.id] = course
        self.store.enrollments[self.enrollment.id] = self.enrollment

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    def completed_in_cloud(self) -> None:
        now = self.clock.now()
        self.cloud.progress[str(self.enrollment.id)] = RegistrationProgress(
            updated_at=now + timedelta(seconds=60),
            completion=Completion.COMPLETED,
            success=Success.PASSED,
            score_percent=95.0,
            score_raw=95.0,
            total_seconds=600,
            attempts=1,
            first_access_at=now,
            last_access_at=now,
            completed_at=now,
        )

    def postback(self, registration: str | None, *, source: str = "scorm_cloud") -> UUID:
        self.clock.advance(seconds=1)
        item = InboxItem(
            id=uuid.uuid4(),
            workspace_id=self.workspace.id if source != "highlevel" else None,
            source=source,
            content_type="application/json",
            body=json.dumps({"id": registration}) if registration is not None else "{not json",
            received_at=self.clock.now(),
        )
        self.store.inbox[item.id] = item
        return item.id

    async def sync(self) -> object:
        return await sync_registration(
            self.workspace.id,
            self.enrollment.id,
            uow=self.uow,
            engines=self.engines,
            jobs=self.jobs,
            clock=self.clock,
        )

    async def drain(self) -> int:
        async def no_wait(seconds: float) -> None:
            return None

        return await drain_inbox(
            self.workspace.id,
            settle_at=None,
            uow=self.uow,
            engines=self.engines,
            postbacks=FakePostbackReader(),
            jobs=self.jobs,
            clock=self.clock,
            sleep=no_wait,
        )

    def outcome(self, item_id: UUID) -> str | None:
        return self.store.inbox[item_id].outcome


async def test_a_registration_completed_in_scorm_cloud_completes_the_enrollment_and_queues_a_push() -> None:
    world = World()
    world.completed_in_cloud()

    outcome = await world.sync()

    assert world.store.enrollments[world.enrollment.id].completion is Completion.COMPLETED
    assert getattr(outcome, "queued", 0) > 0
    assert [job for job, _, _ in world.jobs.enqueued] == ["push_to_crm"]


async def test_a_built_in_course_syncs_without_asking_scorm_cloud() -> None:
    world = World(engine=EngineKind.BUILTIN)

    await world.sync()

    assert world.cloud.reads == []


async def test_each_reason_there_is_nothing_to_sync_is_its_own_not_found() -> None:
    world = World()
    with pytest.raises(RegistrationGone):
        await world.sync()

    world.engines.connected.clear()
    with pytest.raises(EngineDisconnected):
        await world.sync()

    world.store.enrollments.clear()
    with pytest.raises(UnknownRegistration):
        await world.sync()


async def test_a_burst_of_postbacks_about_one_registration_reads_it_once_and_marks_every_one() -> None:
    world = World()
    world.completed_in_cloud()
    items = [world.postback(str(world.enrollment.id)) for _ in range(3)]

    processed = await world.drain()

    assert processed == 3
    assert world.cloud.reads == [str(world.enrollment.id)]
    assert {world.outcome(item) for item in items} == {"synced: 3 CRM writes queued"}
    assert await world.drain() == 0


async def test_postbacks_that_name_nothing_of_ours_are_marked_with_why() -> None:
    world = World()
    unreadable = world.postback(None)
    stranger = world.postback("not-a-uuid")
    unknown = world.postback(str(uuid.uuid4()))
    gone = world.postback(str(world.enrollment.id))

    assert await world.drain() == 4

    assert world.outcome(unreadable) == "unreadable: no registration in the body"
    assert world.outcome(stranger) == "unknown registration 'not-a-uuid'"
    assert (world.outcome(unknown) or "").startswith("unknown registration")
    assert world.outcome(gone) == "the registration no longer exists in SCORM Cloud"
    assert world.store.outbox == {}


async def test_a_postback_after_scorm_cloud_was_disconnected_is_marked_so() -> None:
    world = World()
    item = world.postback(str(world.enrollment.id))
    world.engines.connected.clear()

    await world.drain()

    assert world.outcome(item) == "SCORM Cloud is no longer connected"


async def test_while_scorm_cloud_is_down_postbacks_stay_unprocessed_and_the_drain_asks_for_a_retry() -> None:
    world = World()
    world.cloud.down = True
    item = world.postback(str(world.enrollment.id))

    with pytest.raises(ServiceUnavailable):
        await world.drain()

    assert world.store.inbox[item].processed_at is None


async def test_the_sweeper_queues_a_drain_per_workspace_and_each_stale_crm_webhook() -> None:
    world = World()
    world.postback(str(world.enrollment.id))
    world.postback(str(world.enrollment.id))
    webhook = world.postback(None, source="highlevel")
    world.clock.advance(minutes=5)

    stale = await sweep_inbox(
        uow=world.uow(), jobs=world.jobs, clock=world.clock, older_than=timedelta(minutes=2)
    )

    assert stale == 3
    assert sorted(key or "" for _, key, _ in world.jobs.enqueued) == [
        f"process_crm_webhook:{webhook}",
        f"process_inbox:{world.workspace.id}:sweep",
    ]
