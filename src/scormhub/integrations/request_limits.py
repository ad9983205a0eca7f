"""Fixed-window limits on requests to our public routes (public enrollment, certificate checks), kept in
PostgreSQL so every process counts against the same budget."""

from __future__ import annotations

from datetime import datetime

from scormhub.integrations.db.tables import RateLimitRow


async def allow(key: str, *, limit: int, window_s: int, now: datetime) -> bool:
    """Count one hit for `key`; False once the window's budget is spent. One statement, no race."""
    rows = await RateLimitRow.raw(
        "INSERT INTO rate_limit (key, window_start, hits) VALUES ({}, {}, 1) "
        "ON CONFLICT (key) DO UPDATE SET "
        "hits = CASE WHEN rate_limit.window_start > "
        "{}::timestamptz - make_interval(secs => {}::float8) "
        "THEN rate_limit.hits + 1 ELSE 1 END, "
        "window_start = CASE WHEN rate_limit.window_start > "
        "{}::timestamptz - make_interval(secs => {}::float8) "
        "THEN rate_limit.window_start ELSE {} END "
        "RETURNING hits",
        key[:200],
        now,
        now,
        window_s,
        now,
        window_s,
        now,
    )
    return int(rows[0]["hits"]) <= limit


class PostgresRequestLimits:
    """The RequestLimits port over `allow`."""

    async def allow(self, key: str, *, limit: int, window_s: int, now: datetime) -> bool:
        return await allow(key, limit=limit, window_s=window_s, now=now)
