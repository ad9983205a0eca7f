"""The webhook inbox's hot path: one INSERT per postback, outside any explicit transaction.

A postback must be stored before it is acknowledged, and SCORM Cloud may send hundreds a second; a
BEGIN/INSERT/COMMIT through the ORM costs three round trips and ~1 ms of query building, a single
autocommitted statement on the pool costs one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from uuid import UUID

from scormhub.integrations.db.database import engine

_INSERT = (
    "INSERT INTO inbox (id, workspace_id, source, content_type, body, received_at) "
    "VALUES ($1, $2, $3, $4, $5, $6)"
)


async def store(
    *, workspace_id: UUID, source: str, content_type: str, body: str, received_at: datetime
) -> UUID:
    item_id = uuid.uuid4()
    pool = engine().pool
    if pool is None:  # no pool (a one-off script): Piccolo opens a connection for the statement
        from scormhub.integrations.db.uow import PiccoloInboxRepository

        return await PiccoloInboxRepository().add(
            workspace_id=workspace_id,
            source=source,
            content_type=content_type,
            body=body,
            received_at=received_at,
        )
    await pool.execute(_INSERT, item_id, workspace_id, source, content_type[:200], body, received_at)
    return item_id
