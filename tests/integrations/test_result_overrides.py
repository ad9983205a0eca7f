"""Result overrides on PostgreSQL: the CRM is told through the outbox, the audit log keeps every change,
and a later engine sync does not undo the override."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from test_crm_sync import Clock, FakeCrm, Jobs, completed_enrollment, outbox, pool, push

from scormhub.domain import override_cases as overrides
from scormhub.domain import sync
from scormhub.domain.model import Enrollment, RegistrationProgress, WriteKind
from scormhub.domain.overrides import OverrideCommand, OverrideRejected, parse_override
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.integrations.db.uow import PiccoloUnitOfWork

__all__ = ["pool"]

FAILED_BY_ADMIN = OverrideCommand(
    completion=Completion.COMPLETED,
    success=Success.FAILED,
    score_percent=40.0,
    reason="Answers were shared between learners; retake required.",
    actor="Grace (trainer)",
)


async def current(enrollment: Enrollment) -> Enrollment:
    async with PiccoloUnitOfWork() as uow:
        found = await uow.enrollments.get(enrollment.workspace_id, enrollment.id)
    assert found is not None
    return found


async def synced(enrollment: Enrollment, clock: Clock, jobs: Jobs) -> None:
    await sync.sync_enrollment(
        enrollment.workspace_id, enrollment.id, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock
    )


async def test_an_override_is_shown_logged_and_sent_to_the_crm_like_any_result(pool: None) -> None:
    clock, jobs, crm = Clock(), Jobs(), FakeCrm()
    enrollment = await completed_enrollment(clock)
    await synced(enrollment, clock, jobs)
    await push(enrollment, crm, clock)
    crm.accepted.clear()

    clock.current += timedelta(minutes=5)
    await overrides.override_result(
        enrollment.workspace_id,
        enrollment.id,
        FAILED_BY_ADMIN,
        uow=PiccoloUnitOfWork(),
        jobs=jobs,
        clock=clock,
    )

    now = await current(enrollment)
    assert (now.completion, now.success, now.score_percent) == (Completion.COMPLETED, Success.FAILED, 40.0)
    assert now.override is not None
    assert now.override.reason.startswith("Answers were shared")
    assert now.override.engine.success is Success.PASSED  # what the course said is kept
    async with PiccoloUnitOfWork() as uow:
        history = await uow.result_overrides.history(enrollment.workspace_id, enrollment.id)
    assert [(h.action, h.actor) for h in history] == [("set", "Grace (trainer)")]
    assert history[0].before["success"] == "passed"
    assert history[0].after["success"] == "failed"
    assert history[0].at == clock.current

    pending = [i for i in await outbox(enrollment.workspace_id) if i.status.value == "pending"]
    assert {i.write.kind for i in pending} >= {WriteKind.ADD_TAGS, WriteKind.REMOVE_TAGS}
    assert any(j == "push_to_crm" for j, _ in jobs.enqueued)
    await push(enrollment, crm, clock)
    added = {t for kind, _, tags in crm.accepted if kind == "add_tags" for t in tags}
    removed = {t for kind, _, tags in crm.accepted if kind == "remove_tags" for t in tags}
    assert "scorm_failed" in added
    assert "scorm_passed" in removed


async def test_a_later_engine_sync_keeps_the_override_and_records_what_the_engine_said(pool: None) -> None:
    clock, jobs, crm = Clock(), Jobs(), FakeCrm()
    enrollment = await completed_enrollment(clock)
    await overrides.override_result(
        enrollment.workspace_id,
        enrollment.id,
        FAILED_BY_ADMIN,
        uow=PiccoloUnitOfWork(),
        jobs=jobs,
        clock=clock,
    )
    await push(enrollment, crm, clock)
    crm.accepted.clear()

    # SCORM Cloud later reports a retake: passed with 95%, more time, another attempt.
    clock.current += timedelta(hours=1)
    progress = RegistrationProgress(
        updated_at=clock.current,
        completion=Completion.COMPLETED,
        success=Success.PASSED,
        score_percent=95.0,
        score_raw=95.0,
        total_seconds=900,
        attempts=2,
        first_access_at=enrollment.first_access_at,
        last_access_at=clock.current,
        completed_at=clock.current,
    )
    await sync.sync_enrollment(
        enrollment.workspace_id,
        enrollment.id,
        uow=PiccoloUnitOfWork(),
        jobs=jobs,
        clock=clock,
        progress=progress,
    )

    now = await current(enrollment)
    assert (now.success, now.score_percent) == (Success.FAILED, 40.0)  # the override stands
    assert (now.total_seconds, now.attempts) == (900, 2)  # the rest of the progress moved on
    assert now.override is not None
    assert (now.override.engine.success, now.override.engine.score_percent) == (Success.PASSED, 95.0)
    await push(enrollment, crm, clock)
    assert not any(kind == "add_tags" and "scorm_passed" in tags for kind, _, tags in crm.accepted)

    # Removing the override gives the learner the engine's latest result, and tells the CRM.
    restored = await overrides.clear_override(
        enrollment.workspace_id,
        enrollment.id,
        actor="Grace (trainer)",
        reason="Retake accepted",
        uow=PiccoloUnitOfWork(),
        jobs=jobs,
        clock=clock,
    )
    assert (restored.success, restored.score_percent, restored.override) == (Success.PASSED, 95.0, None)
    assert (await current(enrollment)).override is None
    await push(enrollment, crm, clock)
    assert any(kind == "add_tags" and "scorm_passed" in tags for kind, _, tags in crm.accepted)
    async with PiccoloUnitOfWork() as uow:
        history = await uow.result_overrides.history(enrollment.workspace_id, enrollment.id)
    assert [h.action for h in history] == ["cleared", "set"]


async def test_an_enrollment_of_another_workspace_cannot_be_overridden(pool: None) -> None:
    clock, jobs = Clock(), Jobs()
    enrollment = await completed_enrollment(clock)
    other = replace(enrollment, workspace_id=enrollment.course_id)  # an id that is no workspace
    with pytest.raises(overrides.NotFound):
        await overrides.override_result(
            other.workspace_id, other.id, FAILED_BY_ADMIN, uow=PiccoloUnitOfWork(), jobs=jobs, clock=clock
        )
    assert (await current(enrollment)).override is None


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"completion": "done", "reason": "x"}, "completion"),
        ({"completion": "completed", "success": "maybe", "reason": "x"}, "success"),
        ({"completion": "completed", "score": "101", "reason": "x"}, "score"),
        ({"completion": "completed", "score": "nan", "reason": "x"}, "score"),
        ({"completion": "completed", "score": "ten", "reason": "x"}, "score"),
        ({"completion": "completed", "reason": "   "}, "reason"),
        ({"completion": "completed", "reason": "\x00\x00"}, "reason"),
        ({"completion": "not_started", "success": "passed", "reason": "x"}, "completion"),
    ],
)
def test_an_unusable_override_form_says_which_field_to_fix(form: dict[str, str], field: str) -> None:
    with pytest.raises(OverrideRejected) as rejected:
        parse_override(form, actor="admin")
    assert rejected.value.field == field
    assert str(rejected.value)


def test_a_score_may_be_typed_with_a_percent_sign_or_a_comma() -> None:
    command = parse_override(
        {"completion": "completed", "success": "passed", "score": "87,5 %", "reason": "Paper exam"},
        actor="admin",
    )
    assert command.score_percent == 87.5
    assert command.success is Success.PASSED
