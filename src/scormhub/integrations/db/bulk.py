"""Bulk-enrollment runs and rows. Rows are written in batches (a CSV may hold 100,000 learners)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from scormhub.domain.automation.model import BulkRow, BulkRowStatus, BulkRun
from scormhub.integrations.db.tables import BulkRowRow, BulkRunRow

INSERT_BATCH = 1000


def _row(row: dict[str, Any]) -> BulkRow:
    return BulkRow(
        row_no=row["row_no"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=row["email"],
        status=BulkRowStatus(row["status"]),
        reason=row["reason"],
        contact_id=row["contact_id"],
    )


class PiccoloBulkRepository:
    async def create_run(self, run: BulkRun, rows: Sequence[BulkRow]) -> None:
        await BulkRunRow.raw(
            "INSERT INTO bulk_run (id, workspace_id, course_id, source, label, status, created_at) "
            "VALUES ({}, {}, {}, {}, {}, {}, {})",
            run.id,
            run.workspace_id,
            run.course_id,
            run.source,
            run.label[:200],
            run.status,
            run.created_at,
        )
        for start in range(0, len(rows), INSERT_BATCH):
            chunk = rows[start : start + INSERT_BATCH]
            # One statement per thousand rows: jsonb_to_recordset keeps it a single parameter.
            await BulkRowRow.raw(
                "INSERT INTO bulk_row "
                "(run_id, row_no, first_name, last_name, email, status, reason, contact_id) "
                "SELECT {}, r.row_no, r.first_name, r.last_name, r.email, r.status, r.reason, r.contact_id "
                "FROM jsonb_to_recordset({}::jsonb) AS r(row_no int, first_name text, last_name text, "
                "email text, status text, reason text, contact_id text)",
                run.id,
                json.dumps(
                    [
                        {
                            "row_no": r.row_no,
                            "first_name": r.first_name,
                            "last_name": r.last_name,
                            "email": r.email,
                            "status": r.status.value,
                            "reason": r.reason,
                            "contact_id": r.contact_id,
                        }
                        for r in chunk
                    ]
                ),
            )

    async def get_run(self, workspace_id: UUID, run_id: UUID) -> BulkRun | None:
        found = await BulkRunRow.raw(
            "SELECT * FROM bulk_run WHERE workspace_id = {} AND id = {}", workspace_id, run_id
        )
        if not found:
            return None
        counts = await BulkRowRow.raw(
            "SELECT status, count(*) AS n FROM bulk_row WHERE run_id = {} GROUP BY status", run_id
        )
        row = found[0]
        return BulkRun(
            id=row["id"],
            workspace_id=row["workspace_id"],
            course_id=row["course_id"],
            source=row["source"],
            label=row["label"],
            status=row["status"],
            created_at=row["created_at"],
            counts={c["status"]: int(c["n"]) for c in counts},
            started_at=row["started_at"],
            finished_at=row["finished_at"],
        )

    async def start(self, workspace_id: UUID, run_id: UUID, now: datetime) -> bool:
        rows = await BulkRunRow.raw(
            "UPDATE bulk_run SET status = 'running', started_at = {} "
            "WHERE workspace_id = {} AND id = {} AND status = 'preview' RETURNING id",
            now,
            workspace_id,
            run_id,
        )
        return bool(rows)

    async def pending_rows(self, run_id: UUID, *, limit: int) -> list[BulkRow]:
        rows = await BulkRowRow.raw(
            "SELECT * FROM bulk_row WHERE run_id = {} AND status = 'pending' ORDER BY row_no LIMIT {}",
            run_id,
            limit,
        )
        return [_row(r) for r in rows]

    async def mark_rows(self, run_id: UUID, outcomes: Sequence[BulkRow]) -> None:
        if not outcomes:
            return
        await BulkRowRow.raw(
            "UPDATE bulk_row b SET status = r.status, reason = r.reason, contact_id = r.contact_id "
            "FROM jsonb_to_recordset({}::jsonb) AS r(row_no int, status text, reason text, contact_id text) "
            "WHERE b.run_id = {} AND b.row_no = r.row_no AND b.status = 'pending'",
            json.dumps(
                [
                    {
                        "row_no": o.row_no,
                        "status": o.status.value,
                        "reason": o.reason,
                        "contact_id": o.contact_id,
                    }
                    for o in outcomes
                ]
            ),
            run_id,
        )

    async def finish(self, run_id: UUID, now: datetime) -> None:
        await BulkRunRow.raw(
            "UPDATE bulk_run SET status = 'done', finished_at = {} WHERE id = {} AND status = 'running'",
            now,
            run_id,
        )

    async def rows_with(self, run_id: UUID, statuses: Sequence[str], *, limit: int) -> list[BulkRow]:
        rows = await BulkRowRow.raw(
            "SELECT * FROM bulk_row WHERE run_id = {} AND status = ANY({}::text[]) ORDER BY row_no LIMIT {}",
            run_id,
            list(statuses),
            limit,
        )
        return [_row(r) for r in rows]

    async def enrolled_emails(self, workspace_id: UUID, course_id: UUID, emails: Sequence[str]) -> set[str]:
        if not emails:
            return set()
        rows = await BulkRowRow.raw(
            "SELECT DISTINCT lower(learner_email) AS email FROM enrollment "
            "WHERE workspace_id = {} AND course_id = {} AND lower(learner_email) = ANY({}::text[])",
            workspace_id,
            course_id,
            list(emails),
        )
        return {r["email"] for r in rows}
