"""Enrollments in PostgreSQL, with the per-SCO runtime state the built-in player keeps for each."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from scormhub.domain.model import Enrollment, ResultOverride
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.domain.scorm.state import ScoState
from scormhub.integrations.db.tables import (
    EnrollmentRow,
    ScoStateRow,
)


def _enrollment(row: dict[str, Any]) -> Enrollment:
    return Enrollment(
        id=row["id"],
        workspace_id=row["workspace_id"],
        course_id=row["course_id"],
        contact_id=row["contact_id"],
        learner_name=row["learner_name"],
        learner_email=row["learner_email"],
        launch_token=row["launch_token"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        self_enrolled=row["self_enrolled"],
        company_key=row["company_key"],
        enrolled_by=row.get("enrolled_by"),
        completion=Completion(row["completion"]),
        success=Success(row["success"]),
        score_raw=row["score_raw"],
        score_percent=row["score_percent"],
        total_seconds=row["total_seconds"],
        attempts=row["attempts"],
        first_access_at=row["first_access_at"],
        last_access_at=row["last_access_at"],
        completed_at=row["completed_at"],
        override=_override(row.get("result_override")),
        course_version=row.get("course_version") or 1,
    )


def _override(value: Any) -> ResultOverride | None:
    if value is None:
        return None
    return ResultOverride.from_dict(json.loads(value) if isinstance(value, str) else value)


def _enrollment_values(e: Enrollment) -> dict[Any, Any]:
    return {
        EnrollmentRow.learner_name: e.learner_name,
        EnrollmentRow.learner_email: e.learner_email,
        EnrollmentRow.completion: e.completion.value,
        EnrollmentRow.success: e.success.value,
        EnrollmentRow.score_raw: e.score_raw,
        EnrollmentRow.score_percent: e.score_percent,
        EnrollmentRow.total_seconds: e.total_seconds,
        EnrollmentRow.attempts: e.attempts,
        EnrollmentRow.first_access_at: e.first_access_at,
        EnrollmentRow.last_access_at: e.last_access_at,
        EnrollmentRow.completed_at: e.completed_at,
        EnrollmentRow.updated_at: e.updated_at,
    }


class PiccoloEnrollmentRepository:
    async def add(self, e: Enrollment) -> None:
        await EnrollmentRow.insert(
            EnrollmentRow(
                id=e.id,
                workspace_id=e.workspace_id,
                course_id=e.course_id,
                contact_id=e.contact_id,
                launch_token=e.launch_token,
                self_enrolled=e.self_enrolled,
                company_key=e.company_key,
                enrolled_by=e.enrolled_by,
                created_at=e.created_at,
                **{column._meta.name: value for column, value in _enrollment_values(e).items()},
            )
        )
        # A new learner plays the course's current version (course.version), read in the same statement
        # as it is stored, so a version made current meanwhile is not missed.
        await EnrollmentRow.raw(
            "UPDATE enrollment SET course_version = COALESCE({}, course.version) FROM course "
            "WHERE enrollment.id = {} AND course.id = enrollment.course_id",
            e.course_version,
            e.id,
        )

    async def get(self, workspace_id: UUID, enrollment_id: UUID) -> Enrollment | None:
        row = (
            await EnrollmentRow.select()
            .where((EnrollmentRow.workspace_id == workspace_id) & (EnrollmentRow.id == enrollment_id))
            .first()
        )
        return _enrollment(row) if row else None

    async def get_by_launch_token(self, token: str) -> Enrollment | None:
        row = await EnrollmentRow.select().where(EnrollmentRow.launch_token == token).first()
        return _enrollment(row) if row else None

    async def find(self, workspace_id: UUID, course_id: UUID, contact_id: str) -> Enrollment | None:
        row = (
            await EnrollmentRow.select()
            .where(
                (EnrollmentRow.workspace_id == workspace_id)
                & (EnrollmentRow.course_id == course_id)
                & (EnrollmentRow.contact_id == contact_id)
            )
            .first()
        )
        return _enrollment(row) if row else None

    async def find_by_email(self, workspace_id: UUID, course_id: UUID, email: str) -> Enrollment | None:
        rows = await EnrollmentRow.raw(
            "SELECT * FROM enrollment WHERE workspace_id = {} AND course_id = {} "
            "AND lower(learner_email) = {} ORDER BY created_at LIMIT 1",
            workspace_id,
            course_id,
            email.lower(),
        )
        return _enrollment(rows[0]) if rows else None

    async def save(self, e: Enrollment) -> None:
        await EnrollmentRow.update(_enrollment_values(e)).where(
            (EnrollmentRow.workspace_id == e.workspace_id) & (EnrollmentRow.id == e.id)
        )
        if e.override is not None:
            # The engine's newer result, kept inside a standing override; setting and clearing one is
            # the override repository's, so a save never brings back one that was cleared meanwhile.
            await EnrollmentRow.raw(
                "UPDATE enrollment SET result_override = {}::jsonb "
                "WHERE workspace_id = {} AND id = {} AND result_override IS NOT NULL",
                json.dumps(e.override.to_dict()),
                e.workspace_id,
                e.id,
            )

    async def delete(self, workspace_id: UUID, enrollment_id: UUID) -> None:
        await EnrollmentRow.delete().where(
            (EnrollmentRow.workspace_id == workspace_id) & (EnrollmentRow.id == enrollment_id)
        )

    async def count_for_workspace(self, workspace_id: UUID) -> int:
        return int(await EnrollmentRow.count().where(EnrollmentRow.workspace_id == workspace_id))

    async def list_for_course(
        self, workspace_id: UUID, course_id: UUID, *, offset: int = 0, limit: int = 50
    ) -> list[Enrollment]:
        rows = (
            await EnrollmentRow.select()
            .where((EnrollmentRow.workspace_id == workspace_id) & (EnrollmentRow.course_id == course_id))
            .order_by(EnrollmentRow.created_at, ascending=False)
            .offset(offset)
            .limit(limit)
        )
        return [_enrollment(row) for row in rows]

    async def count_for_course(self, workspace_id: UUID, course_id: UUID) -> int:
        return int(
            await EnrollmentRow.count().where(
                (EnrollmentRow.workspace_id == workspace_id) & (EnrollmentRow.course_id == course_id)
            )
        )

    async def count_by_course(self, workspace_id: UUID) -> dict[UUID, int]:
        rows = await EnrollmentRow.raw(
            "SELECT course_id, count(*) AS learners FROM enrollment WHERE workspace_id = {} "
            "GROUP BY course_id",
            workspace_id,
        )
        return {row["course_id"]: int(row["learners"]) for row in rows}

    async def changed_since(self, moment: datetime) -> list[tuple[UUID, UUID]]:
        rows = await EnrollmentRow.select(EnrollmentRow.workspace_id, EnrollmentRow.id).where(
            EnrollmentRow.updated_at >= moment
        )
        return [(row["workspace_id"], row["id"]) for row in rows]

    async def company_summary(self, workspace_id: UUID, company_key: str) -> dict[str, Any]:
        rows = await EnrollmentRow.raw(
            "SELECT count(*) AS enrollments, count(DISTINCT contact_id) AS learners, "
            "count(*) FILTER (WHERE completion = 'completed') AS completions, "
            "count(*) FILTER (WHERE success = 'passed') AS passed, "
            "avg(score_percent) FILTER (WHERE completion = 'completed') AS average_score "
            "FROM enrollment WHERE workspace_id = {} AND company_key = {}",
            workspace_id,
            company_key,
        )
        row = rows[0]
        enrollments = int(row["enrollments"])
        completions = int(row["completions"])
        average = row["average_score"]
        return {
            "company": company_key,
            "learners": int(row["learners"]),
            "enrollments": enrollments,
            "completions": completions,
            "passed": int(row["passed"]),
            "completion_rate": round(100 * completions / enrollments, 1) if enrollments else 0.0,
            "average_score": round(float(average), 1) if average is not None else None,
        }

    async def ids_for_course(self, workspace_id: UUID, course_id: UUID) -> list[UUID]:
        rows = await EnrollmentRow.select(EnrollmentRow.id).where(
            (EnrollmentRow.workspace_id == workspace_id) & (EnrollmentRow.course_id == course_id)
        )
        return [row["id"] for row in rows]

    async def list_for_contact(self, workspace_id: UUID, contact_id: str) -> list[Enrollment]:
        rows = (
            await EnrollmentRow.select()
            .where((EnrollmentRow.workspace_id == workspace_id) & (EnrollmentRow.contact_id == contact_id))
            .order_by(EnrollmentRow.created_at, ascending=False)
        )
        return [_enrollment(row) for row in rows]


class PiccoloScoStateRepository:
    async def get_for_update(self, enrollment_id: UUID, sco_id: str) -> ScoState | None:
        row = (
            await ScoStateRow.select(ScoStateRow.state)
            .where((ScoStateRow.enrollment_id == enrollment_id) & (ScoStateRow.sco_id == sco_id))
            .lock_rows("UPDATE")
            .output(load_json=True)
            .first()
        )
        return ScoState.from_dict(row["state"]) if row else None

    async def put(self, enrollment_id: UUID, sco_id: str, state: ScoState) -> None:

        # One statement, so two tabs creating the first state of a SCO cannot both insert.
        await ScoStateRow.raw(
            "INSERT INTO sco_state (id, enrollment_id, sco_id, state, updated_at) "
            "VALUES ({}, {}, {}, {}::jsonb, now()) "
            "ON CONFLICT (enrollment_id, sco_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
            uuid.uuid4(),
            enrollment_id,
            sco_id,
            json.dumps(state.to_dict()),
        )

    async def for_enrollment(self, enrollment_id: UUID) -> dict[str, ScoState]:
        rows = (
            await ScoStateRow.select(ScoStateRow.sco_id, ScoStateRow.state)
            .where(ScoStateRow.enrollment_id == enrollment_id)
            .output(load_json=True)
        )
        return {row["sco_id"]: ScoState.from_dict(row["state"]) for row in rows}
