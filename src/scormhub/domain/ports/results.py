"""Ports for what admins do with results: overrides and their audit log, and the question report's answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from scormhub.domain.model import Answer, Enrollment, OverrideAuditEntry
from scormhub.domain.ports.persistence import UnitOfWork


class ResultOverrideRepository(Protocol):
    async def apply(self, enrollment: Enrollment) -> None:
        """Write the enrollment's result and its override (or its absence) exactly as given."""
        ...

    async def record(self, entry: OverrideAuditEntry) -> None: ...

    async def history(self, workspace_id: UUID, enrollment_id: UUID) -> list[OverrideAuditEntry]:
        """The enrollment's audit entries, newest first."""
        ...


class OverrideUnitOfWork(UnitOfWork, Protocol):
    """A unit of work that also holds result overrides and their audit log."""

    @property
    def result_overrides(self) -> ResultOverrideRepository: ...


class QuestionAnswerRepository(Protocol):
    async def for_course(self, workspace_id: UUID, course_id: UUID) -> list[tuple[Enrollment, list[Answer]]]:
        """Every enrollment of the course with the answers the built-in player stored, in answer order."""
        ...


class QuestionUnitOfWork(UnitOfWork, Protocol):
    @property
    def question_answers(self) -> QuestionAnswerRepository: ...


class InteractionSource(Protocol):
    """An engine that keeps learners' answers itself (SCORM Cloud)."""

    async def interactions_of(self, registration_ids: Sequence[str]) -> dict[str, list[Answer] | None]:
        """Each registration's answers; None for one that could not be read (the report says so)."""
        ...
