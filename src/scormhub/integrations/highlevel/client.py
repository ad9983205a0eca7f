"""HighLevel (LeadConnector API v2) transport for one location: tokens, the request budget, errors.

Every call waits its turn on the location's limiter, refreshes its token once on a 401, waits out 429s and
paces itself by the rate-limit headers; every vendor failure is translated here into a domain error, so no
httpx exception leaves the HighLevel adapter. Reference: shared/reference/highlevel-api.md (the section
numbers in comments point into it).
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

import httpx

from scormhub.domain.errors import (
    CrmAuthExpired,
    CrmRateLimited,
    CrmRejected,
    CrmUnavailable,
    DomainError,
    NotFound,
)
from scormhub.domain.model import RateLimit
from scormhub.integrations.highlevel.shapes import UNEXPECTED_MESSAGE, unexpected
from scormhub.integrations.vendor_http import (
    MAX_VENDOR_TEXT,
    header_number,
    json_or_none,
    retry_after_seconds,
    transport_failure,
)
from scormhub.integrations.vendor_http import build_client as build_vendor_client

log = logging.getLogger("scormhub.highlevel")

API_VERSION: Final = "2021-07-28"

RECONNECT_MESSAGE: Final = (
    "HighLevel needs reconnecting: it no longer accepts SCORM Hub's access{detail}. "
    "Reconnect HighLevel in Settings to resume syncing."
)

# Someone is waiting on a type-ahead or an enroll click: past this, say HighLevel is slow instead.
INTERACTIVE_TIMEOUT_S: Final = 6.0
# §7: on 429 wait the window plus jitter, at most 3 retries.
MAX_RATE_LIMIT_RETRIES: Final = 3
RATE_LIMIT_JITTER_S: Final = 0.5
# A longer wait (a daily quota spent, say) is not slept through inside a job: the hold still tells every
# process, and the write goes back to the outbox with the wait as its retry_after.
MAX_INLINE_WAIT_S: Final = 60.0
# §7: slow down when X-RateLimit-Remaining drops below 10 (or a tenth of a smaller stated maximum).
LOW_REMAINING: Final = 10


# --- what the caller provides ---------------------------------------------------------------------------


class TokenSource(Protocol):
    """The location's access token; the implementation refreshes ahead of expiry."""

    async def access_token(self) -> str: ...

    async def refresh(self, rejected: str) -> str:
        """`rejected` got a 401: return a newer token, or raise CrmAuthExpired."""
        ...


class RequestLimiter(Protocol):
    """The location's request budget, shared by every process."""

    async def wait_turn(self) -> None: ...

    async def hold(self, seconds: float) -> None:
        """Nobody sends for this location for `seconds`."""
        ...


# --- the shared client ------------------------------------------------------------------------------------


def build_client() -> httpx.AsyncClient:
    """The one AsyncClient for HighLevel (API and OAuth), made once per process; tokens go per request."""
    return build_vendor_client(httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=5.0))


# --- one location's calls ---------------------------------------------------------------------------------


class HighLevelClient:
    """One HighLevel location's API calls: the limiter, token refresh and error mapping around each."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        tokens: TokenSource,
        limiter: RequestLimiter,
        rate_limit: RateLimit,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self.base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._limiter = limiter
        self.rate_limit = rate_limit
        self._jitter = jitter

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        missing: str = "contact",
        timeout: float | None = None,  # noqa: ASYNC109 - an httpx timeout for the call, not for this coroutine
    ) -> Any:
        """One call: limiter turn first, refresh once on 401, wait out 429s; the JSON answer or an error.

        `timeout` shortens the client's read timeout for calls a person is waiting on (a type-ahead)."""
        token = await self._tokens.access_token()
        refreshed = False
        rate_limited = 0
        while True:
            await self._limiter.wait_turn()
            response = await self._send(method, path, token, params=params, body=body, timeout=timeout)
            status = response.status_code
            if status == 401:
                log_refusal(method, path, response)
                if refreshed:
                    detail = vendor_message(response)
                    raise CrmAuthExpired(RECONNECT_MESSAGE.format(detail=f" ({detail})" if detail else ""))
                token = await self._tokens.refresh(token)
                refreshed = True
                continue
            if status == 429:
                log_refusal(method, path, response)
                delay = self._rate_limited_delay(response)
                # Every 429 holds the whole location, the last one too: other processes must back off.
                await self._limiter.hold(delay)
                if rate_limited >= MAX_RATE_LIMIT_RETRIES or delay > MAX_INLINE_WAIT_S:
                    raise CrmRateLimited(
                        "HighLevel's rate limit for this location was reached; SCORM Hub will try again.",
                        retry_after=delay,
                    )
                rate_limited += 1
                continue
            await self._pace(response)
            if response.is_success:
                return body_of(response)
            raise error_for(method, path, response, missing=missing)

    async def _send(
        self,
        method: str,
        path: str,
        token: str,
        *,
        params: Mapping[str, str] | None,
        body: Any,
        timeout: float | None = None,  # noqa: ASYNC109 - an httpx timeout for the call, not for this coroutine
    ) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token}",
            "Version": API_VERSION,
            "Accept": "application/json",
        }
        try:
            extra: dict[str, Any] = {}
            if timeout is not None:
                extra["timeout"] = httpx.Timeout(timeout, connect=min(timeout, 5.0))
            return await self._client.request(
                method, f"{self.base_url}{path}", params=params, json=body, headers=headers, **extra
            )
        except httpx.HTTPError as exc:
            raise CrmUnavailable(transport_failure("HighLevel", exc)) from exc

    def _rate_limited_delay(self, response: httpx.Response) -> float:
        # §7: the 429 body and Retry-After are unconfirmed; the burst window is the next best guess.
        delay = retry_after_seconds(response)
        if delay is None:
            window_ms = header_number(response, "X-RateLimit-Interval-Milliseconds")
            delay = window_ms / 1000 if window_ms else self.rate_limit.per_seconds
        return delay + RATE_LIMIT_JITTER_S * self._jitter()

    async def _pace(self, response: httpx.Response) -> None:
        """Spread what is left of the burst over its window, so the budget never reaches 0.

        With r requests left in a window of W seconds, holding W/(r+1) after each lets the window slide
        past the burst's oldest requests before the last r are spent: remaining recovers instead of
        hitting 0 (the test drives 300 back-to-back requests through a simulated bucket).
        """
        remaining = header_number(response, "X-RateLimit-Remaining")
        if remaining is None:
            return
        maximum = header_number(response, "X-RateLimit-Max")
        low = LOW_REMAINING if not maximum else max(1, min(LOW_REMAINING, math.ceil(maximum / 10)))
        if remaining >= low:
            return
        window_ms = header_number(response, "X-RateLimit-Interval-Milliseconds")
        window = window_ms / 1000 if window_ms else self.rate_limit.per_seconds
        await self._limiter.hold(window / (max(0.0, remaining) + 1))


# --- errors at the boundary ---------------------------------------------------------------------------------


def error_for(method: str, path: str, response: httpx.Response, *, missing: str) -> DomainError:
    status = response.status_code
    log_refusal(method, path, response)
    if status == 404:
        return NotFound(f"The {missing} no longer exists in HighLevel.")
    if status >= 500:
        return CrmUnavailable(
            f"HighLevel answered with a server error (HTTP {status}).",
            retry_after=retry_after_seconds(response),
        )
    if 400 <= status < 500:
        detail = vendor_message(response) or f"HTTP {status}"
        return CrmRejected(f"HighLevel refused the request: {detail}", detail=detail)
    # 1xx/3xx: redirects are not followed (a moved API is a configuration problem, not data).
    return CrmUnavailable(f"{UNEXPECTED_MESSAGE} (HTTP {status}).")


def log_refusal(method: str, path: str, response: httpx.Response) -> None:
    # Only HighLevel's traceId and message: the request carried a token and is never logged.
    log.warning(
        "HighLevel %s %s answered HTTP %d (traceId %s): %s",
        method,
        path,
        response.status_code,
        trace_id(response) or "-",
        vendor_message(response) or "-",
    )


def vendor_message(response: httpx.Response) -> str:
    """HighLevel's own words: `message` (a string, or a list for 422s), else `error`; never the raw body."""
    data = json_or_none(response)
    if not isinstance(data, dict):
        return ""
    for key in ("message", "error_description", "error"):
        value = data.get(key)
        if isinstance(value, list):
            value = "; ".join(str(item).strip() for item in value if str(item).strip())
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:MAX_VENDOR_TEXT]
    return ""


def trace_id(response: httpx.Response) -> str | None:
    data = json_or_none(response)
    value = data.get("traceId") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def body_of(response: httpx.Response) -> Any:
    """A success's JSON (an object or a list); an empty answer is `{}`."""
    if response.status_code == 204 or not response.content:
        return {}
    data = json_or_none(response)
    if not isinstance(data, dict | list):
        unexpected()  # not JSON at all, or a bare string or number
    trace = data.get("traceId") if isinstance(data, dict) else None
    if isinstance(trace, str):
        log.debug("HighLevel traceId %s", trace)
    return data
