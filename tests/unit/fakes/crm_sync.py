"""Fakes of the CRM sync tables: the outbox, what each enrollment last told the CRM, and Sync All runs.

They follow integrations/db/crm_sync.py statement by statement (leases, the compare-and-set on a
delivered payload, idempotency keys unique across every status), so the use cases meet the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from scormhub.domain.model import (
    CrmWrite,
    Enrollment,
    OutboxItem,
    OutboxStatus,
    SyncedState,
    SyncRun,
    WriteKind,
)

if TYPE_CHECKING:
    from scormhub.domain.ports import OutboxRepository, SyncRunRepository, SyncStateRepository


class FakeOutboxRepository:
    def __init__(self, staged: dict[UUID, OutboxItem]) -> None:
        self.staged = staged

    def _pending(self, workspace_id: UUID) -> list[OutboxItem]:
        return sorted(
            (
                i
                for i in self.staged.values()
                if i.workspace_id == workspace_id and i.status is OutboxStatus.PENDING
            ),
            key=lambda i: i.created_at,
        )

    async def add_new(
        self, workspace_id: UUID, enrollment_id: UUID | None, writes: Sequence[CrmWrite], now: datetime
    ) -> int:
        keys = {i.write.idempotency_key for i in self.staged.values()}
        added = 0
        for write in writes:
            if write.idempotency_key in keys:
                continue
            item = OutboxItem(
                id=uuid4(),
                workspace_id=workspace_id,
                enrollment_id=enrollment_id,
                write=write,
                status=OutboxStatus.PENDING,
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
            self.staged[item.id] = item
            keys.add(write.idempotency_key)
            added += 1
        return added

    async def claim_due(
        self, workspace_id: UUID, now: datetime, *, limit: int, lease_s: float
    ) -> list[OutboxItem]:
        due = [i for i in self._pending(workspace_id) if i.next_attempt_at <= now][:limit]
        leased = [replace(i, next_attempt_at=now + timedelta(seconds=lease_s)) for i in due]
        self.staged.update((i.id, i) for i in leased)
        return leased

    async def mark_sent(self, item_id: UUID, now: datetime, *, delivered: Mapping[str, Any]) -> bool:
        item = self.staged.get(item_id)
        if item is None:
            return False
        if item.write.payload == dict(delivered):
            self.staged[item_id] = replace(
                item, status=OutboxStatus.SENT, sent_at=now, attempts=item.attempts + 1, last_error=None
            )
            return True
        if item.status is OutboxStatus.PENDING:
            self.staged[item_id] = replace(item, next_attempt_at=now)
        return False

    async def pending_for(self, workspace_id: UUID, enrollment_id: UUID) -> list[OutboxItem]:
        return [i for i in self._pending(workspace_id) if i.enrollment_id == enrollment_id]

    async def replace_payload(self, item_id: UUID, payload: Mapping[str, Any]) -> None:
        item = self.staged.get(item_id)
        if item is not None and item.status is OutboxStatus.PENDING:
            self.staged[item_id] = replace(item, write=replace(item.write, payload=dict(payload)))

    async def discard(self, item_ids: Sequence[UUID]) -> None:
        for item_id in item_ids:
            item = self.staged.get(item_id)
            if item is not None and item.status is OutboxStatus.PENDING:
                del self.staged[item_id]

    async def supersede_summaries(self, workspace_id: UUID, company: str, *, but: UUID, now: datetime) -> int:
        others = [
            i
            for i in self._pending(workspace_id)
            if i.write.kind is WriteKind.COMPANY_SUMMARY and i.write.payload.get("company") == company
            if i.id != but
        ]
        for item in others:
            self.staged[item.id] = replace(item, status=OutboxStatus.SENT, sent_at=now, last_error=None)
        return len(others)

    async def mark_retry(self, item_id: UUID, error: str, next_attempt_at: datetime) -> None:
        item = self.staged[item_id]
        self.staged[item_id] = replace(
            item, attempts=item.attempts + 1, last_error=error[:2000], next_attempt_at=next_attempt_at
        )

    async def mark_failed(self, item_id: UUID, error: str) -> None:
        item = self.staged[item_id]
        self.staged[item_id] = replace(
            item, status=OutboxStatus.FAILED, attempts=item.attempts + 1, last_error=error[:2000]
        )

    async def pause(self, workspace_id: UUID, error: str, until: datetime) -> int:
        held = self._pending(workspace_id)
        for item in held:
            self.staged[item.id] = replace(item, next_attempt_at=until, last_error=error[:2000])
        return len(held)

    async def resume(self, workspace_id: UUID, now: datetime) -> int:
        held = [i for i in self._pending(workspace_id) if i.next_attempt_at > now]
        for item in held:
            self.staged[item.id] = replace(item, next_attempt_at=now)
        return len(held)

    async def retry(self, workspace_id: UUID, item_id: UUID, now: datetime) -> bool:
        item = self.staged.get(item_id)
        if item is None or item.workspace_id != workspace_id or item.status is not OutboxStatus.FAILED:
            return False
        self.staged[item_id] = replace(item, status=OutboxStatus.PENDING, next_attempt_at=now, created_at=now)
        return True

    async def recent(
        self, workspace_id: UUID, *, enrollment_id: UUID | None = None, limit: int = 100
    ) -> list[OutboxItem]:
        mine = [
            i
            for i in self.staged.values()
            if i.workspace_id == workspace_id and enrollment_id in (None, i.enrollment_id)
        ]
        return sorted(mine, key=lambda i: i.created_at, reverse=True)[:limit]

    async def counts(self, workspace_id: UUID, *, enrollment_id: UUID | None = None) -> dict[str, int]:
        counts = {status.value: 0 for status in OutboxStatus}
        for item in await self.recent(workspace_id, enrollment_id=enrollment_id, limit=len(self.staged)):
            counts[item.status.value] += 1
        return counts

    async def workspaces_with_due_writes(self, now: datetime) -> list[UUID]:
        return list(
            {
                i.workspace_id: None
                for i in self.staged.values()
                if i.status is OutboxStatus.PENDING and i.next_attempt_at <= now
            }
        )

    async def next_due_at(self, workspace_id: UUID) -> datetime | None:
        return min((i.next_attempt_at for i in self._pending(workspace_id)), default=None)


class FakeSyncStateRepository:
    """What the CRM was last told lives on the enrollment, as in PostgreSQL: no enrollment, no state."""

    def __init__(
        self, staged: dict[UUID, tuple[SyncedState, datetime | None]], enrollments: dict[UUID, Enrollment]
    ) -> None:
        self.staged = staged
        self.enrollments = enrollments

    async def lock(
        self, workspace_id: UUID, enrollment_id: UUID
    ) -> tuple[SyncedState, datetime | None] | None:
        enrollment = self.enrollments.get(enrollment_id)
        if enrollment is None or enrollment.workspace_id != workspace_id:
            return None
        return self.staged.get(enrollment_id, (SyncedState(), None))

    async def store(
        self, enrollment_id: UUID, synced: SyncedState, engine_updated_at: datetime | None
    ) -> None:
        if enrollment_id in self.enrollments:
            self.staged[enrollment_id] = (synced, engine_updated_at)


class FakeSyncRunRepository:
    def __init__(self, staged: dict[UUID, tuple[UUID, SyncRun]]) -> None:
        self.staged = staged  # run id → (workspace id, run)

    async def start(self, workspace_id: UUID, course_id: UUID, total: int, now: datetime) -> UUID:
        run = SyncRun(
            id=uuid4(),
            course_id=course_id,
            total=total,
            done=0,
            failed=0,
            started_at=now,
            finished_at=now if total == 0 else None,
        )
        self.staged[run.id] = (workspace_id, run)
        return run.id

    async def count(self, run_id: UUID, *, failed: bool, now: datetime) -> None:
        workspace_id, run = self.staged[run_id]
        run = replace(run, failed=run.failed + 1) if failed else replace(run, done=run.done + 1)
        if run.done + run.failed >= run.total:
            run = replace(run, finished_at=now)
        self.staged[run_id] = (workspace_id, run)

    async def latest(self, workspace_id: UUID, course_id: UUID) -> SyncRun | None:
        runs = [r for w, r in self.staged.values() if (w, r.course_id) == (workspace_id, course_id)]
        return max(runs, key=lambda r: r.started_at, default=None)

    async def abandon(self, run_id: UUID, now: datetime) -> None:
        workspace_id, run = self.staged[run_id]
        if run.finished_at is None:
            self.staged[run_id] = (workspace_id, replace(run, finished_at=now))

    async def running(self, workspace_id: UUID, course_id: UUID) -> SyncRun | None:
        latest = await self.latest(workspace_id, course_id)
        return latest if latest is not None and not latest.finished else None


if TYPE_CHECKING:
    _outbox: OutboxRepository = FakeOutboxRepository({})
    _sync_states: SyncStateRepository = FakeSyncStateRepository({}, {})
    _sync_runs: SyncRunRepository = FakeSyncRunRepository({})
