"""Fakes of the plain services every use case touches: the clock, the job queue and the secret cipher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scormhub.domain.ports import Clock, JobQueue, SecretCipher


class FakeClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


class FakeJobs:
    """Records what was enqueued; a key that is already queued is ignored, as in SAQ."""

    def __init__(self) -> None:
        self.enqueued: list[tuple[str, str | None, dict[str, Any]]] = []

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
        if key is not None and any(k == key for _, k, _ in self.enqueued):
            return None
        self.enqueued.append((job, key, kwargs))
        return f"job-{len(self.enqueued)}"


class FakeCipher:
    """Reversible and visibly not the plaintext, so a test can tell a stored secret was encrypted."""

    def encrypt(self, plaintext: str) -> str:
        return f"sealed:{plaintext[::-1]}"

    def decrypt(self, ciphertext: str) -> str:
        assert ciphertext.startswith("sealed:"), ciphertext
        return ciphertext.removeprefix("sealed:")[::-1]


if TYPE_CHECKING:
    _clock: Clock = FakeClock()
    _jobs: JobQueue = FakeJobs()
    _cipher: SecretCipher = FakeCipher()
