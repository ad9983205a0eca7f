"""The inbox in PostgreSQL: received postbacks and webhooks, as the drain reads them and marks them done."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from scormhub.domain.model import InboxItem
from scormhub.integrations.db.tables import InboxRow


class PiccoloInboxRepository:
    async def add(
        self, *, workspace_id: UUID | None, source: str, content_type: str, body: str, received_at: datetime
    ) -> UUID:
        item_id = uuid.uuid4()
        await InboxRow.insert(
            InboxRow(
                id=item_id,
                workspace_id=workspace_id,
                source=source,
                content_type=content_type[:200],
                body=body,
                received_at=received_at,
            )
        )
        return item_id

    async def get(self, item_id: UUID) -> InboxItem | None:
        row = await InboxRow.select().where(InboxRow.id == item_id).first()
        if row is None:
            return None
        return InboxItem(
            id=row["id"],
            workspace_id=row["workspace_id"],
            source=row["source"],
            content_type=row["content_type"],
            body=row["body"],
            received_at=row["received_at"],
            processed_at=row["processed_at"],
            outcome=row["outcome"],
        )

    async def mark_processed(self, item_id: UUID, outcome: str, at: datetime) -> None:
        await InboxRow.update({InboxRow.processed_at: at, InboxRow.outcome: outcome[:2000]}).where(
            InboxRow.id == item_id
        )

    async def unprocessed_items(
        self,
        received_before: datetime,
        *,
        limit: int,
        workspace_id: UUID,
        received_from: datetime | None = None,
    ) -> list[InboxItem]:
        query = InboxRow.select(
            InboxRow.id, InboxRow.content_type, InboxRow.body, InboxRow.received_at
        ).where(
            InboxRow.processed_at.is_null()
            & (InboxRow.received_at <= received_before)
            & (InboxRow.workspace_id == workspace_id)
        )
        if received_from is not None:
            # Where the index scan starts: past the entries of rows processed since the last VACUUM
            # (a processed row leaves the partial index only when PostgreSQL vacuums the table).
            query = query.where(InboxRow.received_at >= received_from)
        rows = await query.order_by(InboxRow.received_at).limit(limit)
        return [
            InboxItem(
                id=row["id"],
                workspace_id=workspace_id,
                source="scorm_cloud",
                content_type=row["content_type"],
                body=row["body"],
                received_at=row["received_at"],
            )
            for row in rows
        ]

    async def mark_processed_many(self, outcomes: Mapping[UUID, str], at: datetime) -> None:
        if not outcomes:
            return
        # One statement for the batch: unnest two parallel arrays into (id, outcome) pairs.
        await InboxRow.raw(
            "UPDATE inbox SET processed_at = {}, outcome = batch.outcome FROM "
            "(SELECT unnest({}::uuid[]) AS id, unnest({}::text[]) AS outcome) AS batch "
            "WHERE inbox.id = batch.id",
            at,
            list(outcomes),
            [text[:2000] for text in outcomes.values()],
        )

    async def unprocessed(
        self, received_before: datetime, *, limit: int = 500, workspace_id: UUID | None = None
    ) -> list[UUID]:
        query = InboxRow.select(InboxRow.id).where(
            InboxRow.processed_at.is_null() & (InboxRow.received_at <= received_before)
        )
        if workspace_id is not None:
            query = query.where(InboxRow.workspace_id == workspace_id)
        rows = await query.order_by(InboxRow.received_at).limit(limit)
        return [row["id"] for row in rows]
