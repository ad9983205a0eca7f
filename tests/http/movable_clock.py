"""A clock the test moves instead of waiting: the real time plus an offset."""

from __future__ import annotations

from datetime import datetime, timedelta

from scormhub.integrations.clock import SystemClock


class MovableClock(SystemClock):
    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return super().now() + self.offset
