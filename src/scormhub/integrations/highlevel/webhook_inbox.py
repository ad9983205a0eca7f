"""HighLevel's webhooks (installs, uninstalls) stored in the inbox before they are acknowledged."""

from __future__ import annotations

import uuid
from datetime import datetime
from uuid import UUID

from scormhub.integrations.db.tables import InboxRow


async def store_webhook(
    *, external_id: str | None, source: str, content_type: str, body: str, received_at: datetime
) -> UUID | None:
    """Store a webhook in the inbox before it is acknowledged; None when its id was seen before.

    Kept apart from the postbacks' hot path: these rows have no workspace yet (an install may be for a
    location we do not know), so the postback drain, which reads by workspace, never takes them.
    """
    rows = await InboxRow.raw(
        "INSERT INTO inbox (id, workspace_id, source, content_type, body, received_at, external_id) "
        "VALUES ({}, NULL, {}, {}, {}, {}, {}) "
        # The index is partial (postbacks have no external id): its predicate names it here.
        "ON CONFLICT (external_id) WHERE external_id IS NOT NULL DO NOTHING RETURNING id",
        uuid.uuid4(),
        source,
        content_type[:200],
        body,
        received_at,
        external_id,
    )
    return rows[0]["id"] if rows else None
