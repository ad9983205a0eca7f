"""What every vendor HTTP adapter (HighLevel, SCORM Cloud) reads and builds the same way.

The shared AsyncClient settings, a transport failure put into words, the standard headers
(`Retry-After`, numeric rate-limit headers), a body read as JSON without raising, a path segment, and
the retry policy for safe calls. What each vendor's error bodies mean stays in its own adapter.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

import httpx

# The most of a vendor's own words that reach a person or a log line.
MAX_VENDOR_TEXT: Final = 300


def build_client(timeout: httpx.Timeout) -> httpx.AsyncClient:
    """One vendor's AsyncClient, made once per process; credentials go on each request."""
    return httpx.AsyncClient(
        timeout=timeout,
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30.0),
        headers={"Accept": "application/json", "User-Agent": "SCORM Hub"},
        # A moved API is a configuration problem, not data: redirects are answered as errors.
        follow_redirects=False,
    )


def transport_failure(vendor: str, exc: httpx.HTTPError) -> str:
    """What a person reads when `vendor` could not be asked at all (no answer, no connection): what
    happened and what to check, never the HTTP library's class name (the logs have that)."""
    if isinstance(exc, httpx.TimeoutException):
        return f"{vendor} did not answer in time. Try again in a minute."
    if isinstance(exc, httpx.TransportError):
        return (
            f"{vendor} could not be reached. Check this server's internet connection and {vendor}'s "
            "status page, then try again."
        )
    return f"The call to {vendor} failed. Try again in a minute."


def json_or_none(response: httpx.Response) -> Any:
    """The body as JSON, or None when it is not JSON: for reading error bodies, which may be anything."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def retry_after_seconds(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP-date); None when absent or unreadable.

    An infinite or NaN delta is unreadable, not "wait forever": the caller's own backoff applies.
    """
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def header_number(response: httpx.Response, name: str) -> float | None:
    """A numeric header (`X-RateLimit-Remaining`), or None when absent, unreadable or not finite."""
    try:
        value = float(response.headers.get(name, ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def segment(value: str) -> str:
    """`value` as one path segment: a `/` or `?` in an id never reaches another endpoint."""
    return quote(value, safe="")


@dataclass(frozen=True)
class RetryPolicy:
    """How safe calls retry transient failures inside an adapter (no retry library is installed).

    `attempts` counts the first try. A Retry-After longer than `max_retry_after_s` is not waited out here:
    the error goes up with its retry_after so the job layer can reschedule.

    `budget_s` bounds one call, retries included: no retry is made that would start after it. A timeout
    spends the budget, so a page waits out a vendor's silence once, not three times over; a job that
    fails is retried later by the queue, with backoff.
    """

    attempts: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_retry_after_s: float = 30.0
    budget_s: float | None = None
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    jitter: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, retry: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number `retry` (0-based), or None to give up now."""
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after_s else None
        backoff = min(self.max_delay_s, self.base_delay_s * 2.0**retry)
        return backoff * (0.5 + self.jitter() / 2)
