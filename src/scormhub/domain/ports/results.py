"""Ports for what admins do with results: overrides and their audit log, and the question report's answers."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from scormhub.domain.model import Enrollment, OverrideAuditEntry
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
