"""Result override use cases: set or clear a learner's result, log it, and tell the CRM through the outbox."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.errors import NotFound
from scormhub.domain.model import Enrollment, OverrideAuditEntry, ResultOverride
from scormhub.domain.overrides import (
    MAX_REASON,
    OverrideCommand,
    clean_reason,
    engine_result,
    engine_view,
    result_snapshot,
)
from scormhub.domain.scorm.cmi import Completion
from scormhub.domain.sync import sync_enrollment

if TYPE_CHECKING:
    from scormhub.domain.ports import Clock, JobQueue
    from scormhub.domain.ports.results import OverrideUnitOfWork


async def override_result(
    workspace_id: UUID,
    enrollment_id: UUID,
    command: OverrideCommand,
    *,
    uow: OverrideUnitOfWork,
    jobs: JobQueue,
    clock: Clock,
) -> Enrollment:
    """Set the learner's result, log it, and send it to the CRM like any result."""
    now = clock.now()
    async with uow:
        if await uow.sync_states.lock(workspace_id, enrollment_id) is None:  # one change at a time
            raise NotFound("enrollment")
        enrollment = await uow.enrollments.get(workspace_id, enrollment_id)
        if enrollment is None:
            raise NotFound("enrollment")
        completed_at: datetime | None = None
        if command.completion is Completion.COMPLETED:
            completed_at = enrollment.completed_at or now
        override = ResultOverride(
            completion=command.completion,
            success=command.success,
            score_percent=command.score_percent,
            reason=command.reason,
            set_by=command.actor,
            set_at=now,
            engine=engine_result(enrollment),
        )
        changed = replace(
            enrollment,
            completion=command.completion,
            success=command.success,
            score_percent=command.score_percent,
            score_raw=None,
            completed_at=completed_at,
            override=override,
            updated_at=now,
        )
        await uow.result_overrides.apply(changed)
        await uow.result_overrides.record(
            _entry(enrollment, changed, "set", command.actor, command.reason, now)
        )
        await uow.commit()
    await _sync(workspace_id, enrollment_id, uow=uow, jobs=jobs, clock=clock)
    return changed


async def clear_override(
    workspace_id: UUID,
    enrollment_id: UUID,
    *,
    actor: str,
    reason: str,
    uow: OverrideUnitOfWork,
    jobs: JobQueue,
    clock: Clock,
) -> Enrollment:
    """Give the learner the engine's result back (its latest, kept while the override stood)."""
    now = clock.now()
    reason = clean_reason(reason)[:MAX_REASON] or "Override removed"
    async with uow:
        if await uow.sync_states.lock(workspace_id, enrollment_id) is None:
            raise NotFound("enrollment")
        enrollment = await uow.enrollments.get(workspace_id, enrollment_id)
        if enrollment is None:
            raise NotFound("enrollment")
        if enrollment.override is None:
            return enrollment
        restored = replace(engine_view(enrollment), override=None, updated_at=now)
        await uow.result_overrides.apply(restored)
        await uow.result_overrides.record(_entry(enrollment, restored, "cleared", actor[:200], reason, now))
        await uow.commit()
    await _sync(workspace_id, enrollment_id, uow=uow, jobs=jobs, clock=clock)
    return restored


def _entry(
    before: Enrollment, after: Enrollment, action: str, actor: str, reason: str, now: datetime
) -> OverrideAuditEntry:
    return OverrideAuditEntry(
        id=uuid.uuid4(),
        workspace_id=before.workspace_id,
        enrollment_id=before.id,
        action=action,
        actor=actor or "admin",
        reason=reason,
        before=result_snapshot(before),
        after=result_snapshot(after),
        at=now,
    )


async def _sync(
    workspace_id: UUID, enrollment_id: UUID, *, uow: OverrideUnitOfWork, jobs: JobQueue, clock: Clock
) -> None:
    # The same path as an engine's result: plan the CRM writes into the outbox and wake the pusher.
    await sync_enrollment(workspace_id, enrollment_id, uow=uow, jobs=jobs, clock=clock)
