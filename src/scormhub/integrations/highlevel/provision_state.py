"""The ids HighLevel gave SCORM Hub's custom objects, fields and association, kept on the connection."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from scormhub.integrations.db.tables import CrmConnectionRow


class PostgresProvisionStore:
    """ProvisionStore: the ids HighLevel gave the custom objects and association, on the connection."""

    def __init__(self, workspace_id: UUID) -> None:
        self._workspace_id = workspace_id

    async def load(self) -> dict[str, Any]:
        row = (
            await CrmConnectionRow.select(CrmConnectionRow.provisioned)
            .where(CrmConnectionRow.workspace_id == self._workspace_id)
            .first()
        )
        data = row["provisioned"] if row else None
        if isinstance(data, str):  # Piccolo hands JSONB over as text
            data = json.loads(data)
        return dict(data or {})

    async def save(self, data: dict[str, Any]) -> None:
        await CrmConnectionRow.raw(
            "UPDATE crm_connection SET provisioned = {}::jsonb WHERE workspace_id = {}",
            json.dumps(data),
            self._workspace_id,
        )
