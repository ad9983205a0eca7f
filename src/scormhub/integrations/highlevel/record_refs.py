"""Which HighLevel record holds each of our keys (an enrollment's training record, a company summary)."""

from __future__ import annotations

import uuid
from uuid import UUID

from scormhub.domain.ports import Clock
from scormhub.integrations.db.tables import CrmRecordRow


class PostgresRecordRefs:
    """RecordRefs for one workspace: which HighLevel record holds each of our keys."""

    def __init__(self, workspace_id: UUID, clock: Clock) -> None:
        self._workspace_id = workspace_id
        self._clock = clock

    async def get(self, record_key: str) -> tuple[str, bool] | None:
        row = (
            await CrmRecordRow.select(CrmRecordRow.record_id, CrmRecordRow.related)
            .where(
                (CrmRecordRow.workspace_id == self._workspace_id) & (CrmRecordRow.record_key == record_key)
            )
            .first()
        )
        return (row["record_id"], row["related"]) if row else None

    async def put(self, record_key: str, record_id: str, *, related: bool) -> None:
        await CrmRecordRow.raw(
            "INSERT INTO crm_record (id, workspace_id, record_key, record_id, related, updated_at) "
            "VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT (workspace_id, record_key) DO UPDATE SET "
            "record_id = EXCLUDED.record_id, related = EXCLUDED.related, updated_at = EXCLUDED.updated_at",
            uuid.uuid4(),
            self._workspace_id,
            record_key,
            record_id,
            related,
            self._clock.now(),
        )
