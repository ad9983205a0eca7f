"""Result overrides in PostgreSQL: the override on the enrollment row, and the audit log beside it."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from scormhub.domain.model import Enrollment, OverrideAuditEntry
from scormhub.integrations.db.tables import EnrollmentRow, ResultOverrideAuditRow


def _json(value: Any) -> dict[str, Any]:
    loaded = json.loads(value) if isinstance(value, str) else value
    return dict(loaded or {})


class PiccoloResultOverrideRepository:
    async def apply(self, enrollment: Enrollment) -> None:
        await EnrollmentRow.raw(
            "UPDATE enrollment SET completion = {}, success = {}, score_percent = {}, score_raw = {}, "
            "completed_at = {}, updated_at = {}, result_override = {}::jsonb "
            "WHERE workspace_id = {} AND id = {}",
            enrollment.completion.value,
            enrollment.success.value,
            enrollment.score_percent,
            enrollment.score_raw,
            enrollment.completed_at,
            enrollment.updated_at,
            json.dumps(enrollment.override.to_dict()) if enrollment.override else None,
            enrollment.workspace_id,
            enrollment.id,
        )

    async def record(self, entry: OverrideAuditEntry) -> None:
        await ResultOverrideAuditRow.insert(
            ResultOverrideAuditRow(
                id=entry.id,
                workspace_id=entry.workspace_id,
                enrollment_id=entry.enrollment_id,
                action=entry.action,
                actor=entry.actor,
                reason=entry.reason,
                before=json.dumps(entry.before),
                after=json.dumps(entry.after),
                at=entry.at,
            )
        )

    async def history(self, workspace_id: UUID, enrollment_id: UUID) -> list[OverrideAuditEntry]:
        rows = (
            await ResultOverrideAuditRow.select()
            .where(
                (ResultOverrideAuditRow.workspace_id == workspace_id)
                & (ResultOverrideAuditRow.enrollment_id == enrollment_id)
            )
            .order_by(ResultOverrideAuditRow.at, ascending=False)
        )
        return [
            OverrideAuditEntry(
                id=row["id"],
                workspace_id=row["workspace_id"],
                enrollment_id=row["enrollment_id"],
                action=row["action"],
                actor=row["actor"],
                reason=row["reason"],
                before=_json(row["before"]),
                after=_json(row["after"]),
                at=row["at"],
            )
            for row in rows
        ]
