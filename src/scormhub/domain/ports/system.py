"""Time, background jobs, secrets and budgets: what every use case may need from the process."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from scormhub.domain.model import (
    RateLimit,
)

if TYPE_CHECKING:
    pass


class Clock(Protocol):
    """Time, injected so tests can move it."""

    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...


class JobQueue(Protocol):
    """Background work. A `key` collapses duplicates: enqueueing the same key twice runs the job once."""

    async def enqueue(
        self,
        job: str,
        *,
        key: str | None = None,
        timeout_s: int = 600,
        retries: int = 3,
        delay_s: float = 0,
        **kwargs: Any,
    ) -> str | None:
        """Return the job id, or None when a job with that key is already queued or running."""
        ...


class SecretCipher(Protocol):
    """Encryption at rest for credentials; the adapter holds the key, the domain never sees it."""

    def encrypt(self, plaintext: str) -> str: ...

    def decrypt(self, ciphertext: str) -> str: ...


class RequestLimits(Protocol):
    """Budgets on public requests, shared by every process: one hit counted per call."""

    async def allow(self, key: str, *, limit: int, window_s: int, now: datetime) -> bool:
        """False once `key` has spent its budget for the current window."""
        ...


class ReviewPasses(Protocol):
    """Links that play a course without recording anything (a course's review from self-enrollment)."""

    def issue(self, course_id: UUID) -> str: ...

    def course_of(self, token: str) -> UUID | None:
        """The course a genuine pass was issued for; None for anything else."""
        ...


class Throttle(Protocol):
    async def wait_turn(self, workspace_id: UUID, limit: RateLimit) -> None:
        """Return when one more request fits the workspace's budget (shared by every process)."""
        ...

    async def hold(self, workspace_id: UUID, limit: RateLimit, seconds: float) -> None:
        """The CRM asked us to stop for a while: every sender of the workspace waits it out."""
        ...
