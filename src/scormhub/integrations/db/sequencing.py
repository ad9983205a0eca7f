"""The SCORM 2004 activity tree state of each enrollment (table sequencing_state)."""

from __future__ import annotations

import json
import uuid
from uuid import UUID

from scormhub.domain.scorm.sequencing.state import TreeState
from scormhub.integrations.db.tables import SequencingStateRow


class PiccoloSequencingStateRepository:
    async def get_for_update(self, enrollment_id: UUID) -> tuple[TreeState, int] | None:
        # The row lock makes a second tab's navigation wait for this one instead of interleaving.
        row = (
            await SequencingStateRow.select(SequencingStateRow.state, SequencingStateRow.version)
            .where(SequencingStateRow.enrollment_id == enrollment_id)
            .lock_rows("UPDATE")
            .output(load_json=True)
            .first()
        )
        if row is None:
            return None
        return TreeState.from_dict(row["state"]), int(row["version"])

    async def save(self, enrollment_id: UUID, state: TreeState, expected_version: int) -> bool:
        data = json.dumps(state.to_dict())
        if expected_version == 0:
            # Two tabs creating the first state: one insert wins, the other is told it lost.
            rows = await SequencingStateRow.raw(
                "INSERT INTO sequencing_state (id, enrollment_id, state, version, updated_at) "
                "VALUES ({}, {}, {}::jsonb, 1, now()) ON CONFLICT (enrollment_id) DO NOTHING RETURNING id",
                uuid.uuid4(),
                enrollment_id,
                data,
            )
        else:
            rows = await SequencingStateRow.raw(
                "UPDATE sequencing_state SET state = {}::jsonb, version = version + 1, updated_at = now() "
                "WHERE enrollment_id = {} AND version = {} RETURNING id",
                data,
                enrollment_id,
                expected_version,
            )
        return bool(rows)
