"""Learners' answers as the built-in player stored them (cmi.interactions inside each SCO's state)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from scormhub.domain.model import Enrollment
from scormhub.domain.questions import Answer, answers_from_cmi
from scormhub.integrations.db.enrollments import _enrollment
from scormhub.integrations.db.tables import EnrollmentRow


class PiccoloQuestionAnswerRepository:
    async def for_course(self, workspace_id: UUID, course_id: UUID) -> list[tuple[Enrollment, list[Answer]]]:
        # Only the interactions leave the database, not each state's suspend data and the rest of its cmi.
        rows = await EnrollmentRow.raw(
            "SELECT e.*, s.state -> 'cmi' -> 'interactions' AS interactions FROM enrollment e "
            "LEFT JOIN sco_state s ON s.enrollment_id = e.id AND s.state -> 'cmi' ? 'interactions' "
            "WHERE e.workspace_id = {} AND e.course_id = {} "
            "ORDER BY lower(e.learner_name), e.id, s.updated_at",
            workspace_id,
            course_id,
        )
        found: dict[UUID, tuple[Enrollment, list[Answer]]] = {}
        for row in rows:
            entry = found.setdefault(row["id"], (_enrollment(row), []))
            interactions: Any = row["interactions"]
            if isinstance(interactions, str):
                interactions = json.loads(interactions)
            entry[1].extend(answers_from_cmi(interactions))
        return list(found.values())
