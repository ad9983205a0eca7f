"""Courses in PostgreSQL: a package's import state, its SCOs and its engine."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from scormhub.domain.model import Course, CourseStatus, EngineKind
from scormhub.domain.scorm.organization import Organization
from scormhub.domain.scorm.package import Problem, Sco
from scormhub.integrations.db.tables import CourseRow


def _json(value: Any) -> Any:
    # Piccolo's selects decode JSONB; a raw query (the listings) hands it over as text.
    return json.loads(value) if isinstance(value, str) else value


def _course(row: dict[str, Any]) -> Course:
    warnings, scos, organization = _json(row["warnings"]), _json(row["scos"]), _json(row.get("organization"))
    return Course(
        id=row["id"],
        workspace_id=row["workspace_id"],
        title=row["title"],
        standard=row["standard"],
        edition=row["edition"],
        status=CourseStatus(row["status"]),
        engine=EngineKind(row["engine"]),
        package_key=row["package_key"],
        package_bytes=row["package_bytes"],
        file_name=row["file_name"],
        self_enroll_token=row["self_enroll_token"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        status_message=row["status_message"],
        warnings=tuple(Problem(code=w["code"], message=w["message"]) for w in warnings),
        scos=tuple(Sco.from_json_dict(s) for s in scos),
        mastery_score=row["mastery_score"],
        import_handle=row["import_handle"],
        import_attempts=row["import_attempts"],
        organization=None if organization is None else Organization.from_json_dict(organization),
        certificate_rule=row.get("certificate_rule") or "completed",
        version=row.get("version") or 1,
    )


def _course_values(course: Course) -> dict[str, Any]:
    return {
        "title": course.title,
        "standard": course.standard,
        "edition": course.edition,
        "status": course.status.value,
        "status_message": course.status_message,
        "engine": course.engine.value,
        "package_key": course.package_key,
        "package_bytes": course.package_bytes,
        "file_name": course.file_name,
        "self_enroll_token": course.self_enroll_token,
        "warnings": [{"code": w.code, "message": w.message} for w in course.warnings],
        "scos": [s.to_json_dict() for s in course.scos],
        "mastery_score": course.mastery_score,
        "import_handle": course.import_handle,
        "import_attempts": course.import_attempts,
        "organization": None if course.organization is None else course.organization.to_json_dict(),
        "certificate_rule": course.certificate_rule,
        "version": course.version,
        "created_at": course.created_at,
        "updated_at": course.updated_at,
    }


class PiccoloCourseRepository:
    async def add(self, course: Course) -> None:
        values = _course_values(course)
        await CourseRow.insert(CourseRow(id=course.id, workspace_id=course.workspace_id, **values))

    async def get(self, workspace_id: UUID, course_id: UUID) -> Course | None:
        row = (
            await CourseRow.select()
            .where((CourseRow.workspace_id == workspace_id) & (CourseRow.id == course_id))
            .output(load_json=True)
            .first()
        )
        return _course(row) if row else None

    async def get_for_update(self, workspace_id: UUID, course_id: UUID) -> Course | None:
        row = (
            await CourseRow.select()
            .where((CourseRow.workspace_id == workspace_id) & (CourseRow.id == course_id))
            .lock_rows("UPDATE")
            .output(load_json=True)
            .first()
        )
        return _course(row) if row else None

    async def save(self, course: Course) -> None:
        values = _course_values(course)
        await CourseRow.update({getattr(CourseRow, k): v for k, v in values.items()}).where(
            (CourseRow.workspace_id == course.workspace_id) & (CourseRow.id == course.id)
        )

    async def delete(self, workspace_id: UUID, course_id: UUID) -> None:
        await CourseRow.delete().where((CourseRow.workspace_id == workspace_id) & (CourseRow.id == course_id))

    async def list_for_workspace(self, workspace_id: UUID) -> list[Course]:
        rows = (
            await CourseRow.select()
            .where(CourseRow.workspace_id == workspace_id)
            .order_by(CourseRow.created_at, ascending=False)
            .output(load_json=True)
        )
        return [_course(row) for row in rows]

    async def find_by_id(self, course_id: UUID) -> Course | None:
        row = await CourseRow.select().where(CourseRow.id == course_id).output(load_json=True).first()
        return _course(row) if row else None

    async def package_keys_in_use(self, keys: list[str]) -> set[str]:
        rows = await CourseRow.select(CourseRow.package_key).where(CourseRow.package_key.is_in(keys))
        return {row["package_key"] for row in rows}

    async def get_by_enroll_token(self, token: str) -> Course | None:
        row = (
            await CourseRow.select()
            .where(CourseRow.self_enroll_token == token)
            .output(load_json=True)
            .first()
        )
        return _course(row) if row else None

    async def list_processing_since(self, updated_before: datetime) -> list[Course]:
        # SKIP LOCKED: a course being imported right now is not stuck, and two recoverers never collide.
        rows = (
            await CourseRow.select()
            .where((CourseRow.status == "processing") & (CourseRow.updated_at < updated_before))
            .order_by(CourseRow.updated_at)
            .limit(100)
            .lock_rows("UPDATE", skip_locked=True)
            .output(load_json=True)
        )
        return [_course(row) for row in rows]
