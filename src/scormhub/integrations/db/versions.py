"""Course versions in PostgreSQL, and moving a learner onto a newer version from the start."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from scormhub.domain.model import CourseVersion, Enrollment, VersionPolicy
from scormhub.domain.scorm.package import Problem, Sco
from scormhub.integrations.db.enrollments import _enrollment
from scormhub.integrations.db.tables import CourseVersionRow, EnrollmentRow


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _version(row: dict[str, Any]) -> CourseVersion:
    return CourseVersion(
        id=row["id"],
        workspace_id=row["workspace_id"],
        course_id=row["course_id"],
        number=row["number"],
        package_key=row["package_key"],
        package_bytes=row["package_bytes"],
        file_name=row["file_name"],
        sha256=row["sha256"],
        standard=row["standard"],
        edition=row["edition"],
        scos=tuple(
            Sco(identifier=s["identifier"], title=s["title"], launch=s["launch"])
            for s in _loaded(row["scos"])
        ),
        mastery_score=row["mastery_score"],
        warnings=tuple(Problem(code=w["code"], message=w["message"]) for w in _loaded(row["warnings"])),
        status=row["status"],
        policy=VersionPolicy(row["policy"]),
        created_at=row["created_at"],
        status_message=row["status_message"],
        import_handle=row["import_handle"],
        import_attempts=row["import_attempts"],
        activated_at=row["activated_at"],
    )


def _values(v: CourseVersion) -> dict[str, Any]:
    return {
        "package_key": v.package_key,
        "package_bytes": v.package_bytes,
        "file_name": v.file_name,
        "sha256": v.sha256,
        "standard": v.standard,
        "edition": v.edition,
        "scos": json.dumps(
            [{"identifier": s.identifier, "title": s.title, "launch": s.launch} for s in v.scos]
        ),
        "mastery_score": v.mastery_score,
        "warnings": json.dumps([{"code": w.code, "message": w.message} for w in v.warnings]),
        "status": v.status,
        "status_message": v.status_message,
        "policy": v.policy.value,
        "import_handle": v.import_handle,
        "import_attempts": v.import_attempts,
        "activated_at": v.activated_at,
    }


class PiccoloCourseVersionRepository:
    async def add(self, version: CourseVersion) -> None:
        await CourseVersionRow.insert(
            CourseVersionRow(
                id=version.id,
                workspace_id=version.workspace_id,
                course_id=version.course_id,
                number=version.number,
                created_at=version.created_at,
                **_values(version),
            )
        )

    async def save(self, version: CourseVersion) -> None:
        values = _values(version)
        await CourseVersionRow.update({getattr(CourseVersionRow, k): v for k, v in values.items()}).where(
            (CourseVersionRow.workspace_id == version.workspace_id) & (CourseVersionRow.id == version.id)
        )

    async def get(self, workspace_id: UUID, version_id: UUID) -> CourseVersion | None:
        row = (
            await CourseVersionRow.select()
            .where((CourseVersionRow.workspace_id == workspace_id) & (CourseVersionRow.id == version_id))
            .first()
        )
        return _version(row) if row else None

    async def get_for_update(self, workspace_id: UUID, version_id: UUID) -> CourseVersion | None:
        row = (
            await CourseVersionRow.select()
            .where((CourseVersionRow.workspace_id == workspace_id) & (CourseVersionRow.id == version_id))
            .lock_rows("UPDATE")
            .first()
        )
        return _version(row) if row else None

    async def number(self, workspace_id: UUID, course_id: UUID, number: int) -> CourseVersion | None:
        row = (
            await CourseVersionRow.select()
            .where(
                (CourseVersionRow.workspace_id == workspace_id)
                & (CourseVersionRow.course_id == course_id)
                & (CourseVersionRow.number == number)
            )
            .first()
        )
        return _version(row) if row else None

    async def list_for_course(self, workspace_id: UUID, course_id: UUID) -> list[CourseVersion]:
        rows = (
            await CourseVersionRow.select()
            .where(
                (CourseVersionRow.workspace_id == workspace_id) & (CourseVersionRow.course_id == course_id)
            )
            .order_by(CourseVersionRow.number, ascending=False)
        )
        return [_version(row) for row in rows]

    async def stalled(self, created_before: datetime) -> list[CourseVersion]:
        rows = await CourseVersionRow.select().where(
            (CourseVersionRow.status == "processing") & (CourseVersionRow.created_at < created_before)
        )
        return [_version(row) for row in rows]

    async def learners_per_version(self, workspace_id: UUID, course_id: UUID) -> dict[int, int]:
        rows = await EnrollmentRow.raw(
            "SELECT course_version, count(*) AS learners FROM enrollment "
            "WHERE workspace_id = {} AND course_id = {} GROUP BY course_version",
            workspace_id,
            course_id,
        )
        return {int(row["course_version"]): int(row["learners"]) for row in rows}

    async def to_move(
        self, workspace_id: UUID, course_id: UUID, number: int, *, all_: bool
    ) -> list[Enrollment]:
        rows = await EnrollmentRow.raw(
            "SELECT * FROM enrollment WHERE workspace_id = {} AND course_id = {} AND course_version < {} "
            "AND ({} OR completion <> 'completed') ORDER BY created_at",
            workspace_id,
            course_id,
            number,
            all_,
        )
        return [_enrollment(row) for row in rows]

    async def restart(self, enrollment: Enrollment, number: int, now: datetime) -> bool:
        # One statement moves the learner and clears their result, so a second run finds nobody to move;
        # then their run-time state goes, so the new version starts from its beginning.
        moved = await EnrollmentRow.raw(
            "UPDATE enrollment SET course_version = {}, completion = 'not_started', success = 'unknown', "
            "score_raw = NULL, score_percent = NULL, completed_at = NULL, result_override = NULL, "
            "updated_at = {} WHERE workspace_id = {} AND id = {} AND course_version < {} RETURNING id",
            number,
            now,
            enrollment.workspace_id,
            enrollment.id,
            number,
        )
        if not moved:
            return False
        await EnrollmentRow.raw("DELETE FROM sco_state WHERE enrollment_id = {}", enrollment.id)
        return True
