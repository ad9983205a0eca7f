"""The CRM sync tables as the domain sees them: the outbox, what each enrollment last told the CRM, and
Sync All runs."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from piccolo.query.functions.aggregate import Count

from scormhub.domain.model import CrmWrite, OutboxItem, OutboxStatus, SyncedState, SyncRun, WriteKind
from scormhub.integrations.db.tables import EnrollmentRow, OutboxRow, SyncRunRow


def _outbox_item(row: dict[str, Any]) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        workspace_id=row["workspace_id"],
        enrollment_id=row["enrollment_id"],
        write=CrmWrite(
            kind=WriteKind(row["kind"]),
            contact_id=row["contact_id"],
            payload=row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"]),
            idempotency_key=row["idempotency_key"],
        ),
        status=OutboxStatus(row["status"]),
        attempts=row["attempts"],
        created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        sent_at=row["sent_at"],
    )


class PiccoloOutboxRepository:
    async def add_new(
        self, workspace_id: UUID, enrollment_id: UUID | None, writes: Sequence[CrmWrite], now: datetime
    ) -> int:
        added = 0
        for write in writes:
            # ON CONFLICT DO NOTHING on the idempotency key: a replayed sync queues nothing twice.
            rows = await OutboxRow.raw(
                "INSERT INTO outbox (id, workspace_id, enrollment_id, kind, contact_id, payload, "
                "idempotency_key, status, attempts, next_attempt_at, created_at) "
                "VALUES ({}, {}, {}, {}, {}, {}::jsonb, {}, 'pending', 0, {}, {}) "
                "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                uuid.uuid4(),
                workspace_id,
                enrollment_id,
                write.kind.value,
                write.contact_id,
                json.dumps(write.payload),
                write.idempotency_key,
                now,
                now,
            )
            added += len(rows)
        return added

    async def claim_due(
        self, workspace_id: UUID, now: datetime, *, limit: int, lease_s: float
    ) -> list[OutboxItem]:
        rows = await OutboxRow.raw(
            "UPDATE outbox SET next_attempt_at = {}::timestamptz + make_interval(secs => {}::float8) "
            "WHERE id IN ("
            "SELECT id FROM outbox WHERE workspace_id = {} AND status = 'pending' AND next_attempt_at <= {} "
            "ORDER BY created_at LIMIT {} FOR UPDATE SKIP LOCKED) RETURNING *",
            now,
            lease_s,
            workspace_id,
            now,
            limit,
        )
        return sorted((_outbox_item(row) for row in rows), key=lambda item: item.created_at)

    async def mark_sent(self, item_id: UUID, now: datetime, *, delivered: Mapping[str, Any]) -> bool:
        # Compare-and-set on the payload: coalescing may have changed it while it was being delivered.
        rows = await OutboxRow.raw(
            "UPDATE outbox SET status = 'sent', sent_at = {}, attempts = attempts + 1, last_error = NULL "
            "WHERE id = {} AND payload = {}::jsonb RETURNING id",
            now,
            item_id,
            json.dumps(dict(delivered)),
        )
        if rows:
            return True
        await OutboxRow.raw(
            "UPDATE outbox SET next_attempt_at = {} WHERE id = {} AND status = 'pending'", now, item_id
        )
        return False

    async def pending_for(self, workspace_id: UUID, enrollment_id: UUID) -> list[OutboxItem]:
        rows = await OutboxRow.raw(
            "SELECT * FROM outbox WHERE workspace_id = {} AND enrollment_id = {} AND status = 'pending' "
            "ORDER BY created_at, id",
            workspace_id,
            enrollment_id,
        )
        return [_outbox_item(row) for row in rows]

    async def replace_payload(self, item_id: UUID, payload: Mapping[str, Any]) -> None:
        await OutboxRow.raw(
            "UPDATE outbox SET payload = {}::jsonb WHERE id = {} AND status = 'pending'",
            json.dumps(dict(payload)),
            item_id,
        )

    async def discard(self, item_ids: Sequence[UUID]) -> None:
        if item_ids:
            await OutboxRow.delete().where(
                OutboxRow.id.is_in(list(item_ids)) & (OutboxRow.status == "pending")
            )

    async def supersede_summaries(self, workspace_id: UUID, company: str, *, but: UUID, now: datetime) -> int:
        rows = await OutboxRow.raw(
            "UPDATE outbox SET status = 'sent', sent_at = {}, last_error = NULL "
            "WHERE workspace_id = {} AND kind = {} AND status = 'pending' AND payload->>'company' = {} "
            "AND id <> {} RETURNING id",
            now,
            workspace_id,
            WriteKind.COMPANY_SUMMARY.value,
            company,
            but,
        )
        return len(rows)

    async def mark_retry(self, item_id: UUID, error: str, next_attempt_at: datetime) -> None:
        await OutboxRow.update(
            {
                OutboxRow.attempts: OutboxRow.attempts + 1,
                OutboxRow.last_error: error[:2000],
                OutboxRow.next_attempt_at: next_attempt_at,
            }
        ).where(OutboxRow.id == item_id)

    async def pause(self, workspace_id: UUID, error: str, until: datetime) -> int:
        rows = await OutboxRow.raw(
            "UPDATE outbox SET next_attempt_at = {}, last_error = {} "
            "WHERE workspace_id = {} AND status = 'pending' RETURNING id",
            until,
            error[:2000],
            workspace_id,
        )
        return len(rows)

    async def resume(self, workspace_id: UUID, now: datetime) -> int:
        rows = await OutboxRow.raw(
            "UPDATE outbox SET next_attempt_at = {} "
            "WHERE workspace_id = {} AND status = 'pending' AND next_attempt_at > {} RETURNING id",
            now,
            workspace_id,
            now,
        )
        return len(rows)

    async def mark_failed(self, item_id: UUID, error: str) -> None:
        await OutboxRow.update(
            {
                OutboxRow.status: "failed",
                OutboxRow.attempts: OutboxRow.attempts + 1,
                OutboxRow.last_error: error[:2000],
            }
        ).where(OutboxRow.id == item_id)

    async def retry(self, workspace_id: UUID, item_id: UUID, now: datetime) -> bool:
        rows = await OutboxRow.raw(
            "UPDATE outbox SET status = 'pending', next_attempt_at = {}, created_at = {} "
            "WHERE workspace_id = {} AND id = {} AND status = 'failed' RETURNING id",
            now,
            now,
            workspace_id,
            item_id,
        )
        return bool(rows)

    async def recent(
        self, workspace_id: UUID, *, enrollment_id: UUID | None = None, limit: int = 100
    ) -> list[OutboxItem]:
        query = OutboxRow.select().where(OutboxRow.workspace_id == workspace_id)
        if enrollment_id is not None:
            query = query.where(OutboxRow.enrollment_id == enrollment_id)
        rows = await query.order_by(OutboxRow.created_at, ascending=False).limit(limit).output(load_json=True)
        return [_outbox_item(row) for row in rows]

    async def counts(self, workspace_id: UUID, *, enrollment_id: UUID | None = None) -> dict[str, int]:
        query = OutboxRow.select(OutboxRow.status, Count(OutboxRow.id, alias="n")).where(
            OutboxRow.workspace_id == workspace_id
        )
        if enrollment_id is not None:
            query = query.where(OutboxRow.enrollment_id == enrollment_id)
        rows = await query.group_by(OutboxRow.status)
        counts = {status.value: 0 for status in OutboxStatus}
        counts.update({row["status"]: int(row["n"]) for row in rows})
        return counts

    async def next_due_at(self, workspace_id: UUID) -> datetime | None:
        rows = await OutboxRow.raw(
            "SELECT min(next_attempt_at) AS due FROM outbox WHERE workspace_id = {} AND status = 'pending'",
            workspace_id,
        )
        due: datetime | None = rows[0]["due"] if rows else None
        return due

    async def workspaces_with_due_writes(self, now: datetime) -> list[UUID]:
        rows = await OutboxRow.raw(
            "SELECT DISTINCT workspace_id FROM outbox WHERE status = 'pending' AND next_attempt_at <= {}", now
        )
        return [row["workspace_id"] for row in rows]


class PiccoloSyncStateRepository:
    async def lock(
        self, workspace_id: UUID, enrollment_id: UUID
    ) -> tuple[SyncedState, datetime | None] | None:
        row = (
            await EnrollmentRow.select(EnrollmentRow.synced, EnrollmentRow.engine_updated_at)
            .where((EnrollmentRow.workspace_id == workspace_id) & (EnrollmentRow.id == enrollment_id))
            .lock_rows("UPDATE")
            .output(load_json=True)
            .first()
        )
        if row is None:
            return None
        return SyncedState.from_dict(row["synced"]), row["engine_updated_at"]

    async def store(
        self, enrollment_id: UUID, synced: SyncedState, engine_updated_at: datetime | None
    ) -> None:
        await EnrollmentRow.update(
            {
                EnrollmentRow.synced: json.dumps(synced.to_dict()),
                EnrollmentRow.engine_updated_at: engine_updated_at,
            }
        ).where(EnrollmentRow.id == enrollment_id)


def _sync_run(row: dict[str, Any]) -> SyncRun:
    return SyncRun(
        id=row["id"],
        course_id=row["course_id"],
        total=row["total"],
        done=row["done"],
        failed=row["failed"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


class PiccoloSyncRunRepository:
    async def start(self, workspace_id: UUID, course_id: UUID, total: int, now: datetime) -> UUID:
        run_id = uuid.uuid4()
        await SyncRunRow.insert(
            SyncRunRow(
                id=run_id,
                workspace_id=workspace_id,
                course_id=course_id,
                total=total,
                done=0,
                failed=0,
                started_at=now,
                finished_at=now if total == 0 else None,
            )
        )
        return run_id

    async def count(self, run_id: UUID, *, failed: bool, now: datetime) -> None:
        column = "failed" if failed else "done"
        await SyncRunRow.raw(
            f"UPDATE sync_run SET {column} = {column} + 1, "  # noqa: S608 - column is one of two literals
            "finished_at = CASE WHEN done + failed + 1 >= total THEN {} ELSE finished_at END WHERE id = {}",
            now,
            run_id,
        )

    async def latest(self, workspace_id: UUID, course_id: UUID) -> SyncRun | None:
        row = (
            await SyncRunRow.select()
            .where((SyncRunRow.workspace_id == workspace_id) & (SyncRunRow.course_id == course_id))
            .order_by(SyncRunRow.started_at, ascending=False)
            .first()
        )
        return _sync_run(row) if row else None

    async def abandon(self, run_id: UUID, now: datetime) -> None:
        await SyncRunRow.update({SyncRunRow.finished_at: now}).where(
            (SyncRunRow.id == run_id) & SyncRunRow.finished_at.is_null()
        )

    async def running(self, workspace_id: UUID, course_id: UUID) -> SyncRun | None:
        # Serialise Sync All per course: two clicks at once see one run.
        await SyncRunRow.raw("SELECT pg_advisory_xact_lock(hashtext({}))", f"sync_all:{course_id}")
        latest = await self.latest(workspace_id, course_id)
        return latest if latest is not None and not latest.finished else None
