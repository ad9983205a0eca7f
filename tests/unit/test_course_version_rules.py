"""Course versions on in-memory fakes: which course a learner plays, who moves by each policy, and the
recovery of version imports that stalled."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from fakes.system import FakeClock, FakeJobs
from fakes.uow import FakeStore, FakeUnitOfWork

from scormhub.domain import versions
from scormhub.domain.model import (
    Course,
    CourseStatus,
    CourseVersion,
    EngineKind,
    Enrollment,
    VersionPolicy,
)
from scormhub.domain.scorm.cmi import Completion
from scormhub.domain.scorm.package import Sco
from scormhub.domain.version_rules import course_for_enrollment


def course_and_versions(clock: FakeClock) -> tuple[Course, CourseVersion, CourseVersion]:
    now = clock.now()
    course = Course(
        id=uuid.uuid4(),
        workspace_id=uuid.uuid4(),
        title="Golf",
        standard="scorm12",
        edition=None,
        status=CourseStatus.READY,
        engine=EngineKind.BUILTIN,
        package_key="k1",
        package_bytes=1,
        file_name="golf.zip",
        self_enroll_token="t",
        created_at=now,
        updated_at=now,
        scos=(Sco("sco-1", "Lesson", "index.html"),),
    )
    v1 = versions.first_version(course, "aa" * 32, now)
    v2 = replace(
        v1,
        id=uuid.uuid4(),
        number=2,
        package_key="k2",
        sha256="bb" * 32,
        scos=(Sco("sco-1", "Lesson", "index.html"), Sco("sco-2", "Quiz", "quiz.html")),
        policy=VersionPolicy.RESTART_INCOMPLETE,
    )
    return versions.as_current(course, v2, now), v1, v2


BUILTIN = EngineKind.BUILTIN


def learner(course: Course, completion: Completion, version: int) -> Enrollment:
    return Enrollment(
        id=uuid.uuid4(),
        workspace_id=course.workspace_id,
        course_id=course.id,
        contact_id=str(uuid.uuid4()),
        learner_name="Ada",
        learner_email="ada@example.com",
        launch_token=uuid.uuid4().hex,
        created_at=course.created_at,
        updated_at=course.created_at,
        completion=completion,
        course_version=version,
    )


async def test_a_learner_on_an_older_version_plays_that_versions_scos() -> None:
    clock, store = FakeClock(), FakeStore()
    course, v1, v2 = course_and_versions(clock)
    store.course_versions = {v1.id: v1, v2.id: v2}
    old, new = learner(course, Completion.IN_PROGRESS, 1), learner(course, Completion.NOT_STARTED, 2)
    async with FakeUnitOfWork(store) as uow:
        played_old = await course_for_enrollment(uow, old, course)
        played_new = await course_for_enrollment(uow, new, course)
    assert (played_old.version, played_old.package_key, len(played_old.scos)) == (1, "k1", 1)
    assert (played_new.version, played_new.package_key, len(played_new.scos)) == (2, "k2", 2)


async def test_restart_incomplete_moves_only_learners_who_have_not_completed() -> None:
    clock, store = FakeClock(), FakeStore()
    course, v1, v2 = course_and_versions(clock)
    store.course_versions = {v1.id: v1, v2.id: v2}
    started, finished = learner(course, Completion.IN_PROGRESS, 1), learner(course, Completion.COMPLETED, 1)
    store.enrollments = {started.id: started, finished.id: finished}

    moved = await versions.apply_policy(
        course.workspace_id,
        v2,
        uow=FakeUnitOfWork(store),
        resets=None,
        clock=clock,
        engine=EngineKind.BUILTIN,
    )

    assert moved == 1
    assert store.enrollments[started.id].course_version == 2
    assert store.enrollments[started.id].completion is Completion.NOT_STARTED
    assert store.enrollments[finished.id].course_version == 1
    again = await versions.apply_policy(
        course.workspace_id,
        v2,
        uow=FakeUnitOfWork(store),
        resets=None,
        clock=clock,
        engine=EngineKind.BUILTIN,
    )
    assert again == 0


async def test_a_version_import_that_stalled_is_queued_again() -> None:
    clock, store, jobs = FakeClock(), FakeStore(), FakeJobs()
    _, v1, v2 = course_and_versions(clock)
    stalled = replace(v2, status="processing")
    fresh = replace(
        v2, id=uuid.uuid4(), number=3, status="processing", created_at=clock.now() + timedelta(minutes=9)
    )
    store.course_versions = {v1.id: v1, stalled.id: stalled, fresh.id: fresh}
    clock.advance(minutes=10)

    found = await versions.recover_stalled_versions(uow=FakeUnitOfWork(store), jobs=jobs, clock=clock)

    assert found == 1
    assert [(job, kwargs["version_id"]) for job, _, kwargs in jobs.enqueued] == [
        ("import_course_version", str(stalled.id))
    ]
