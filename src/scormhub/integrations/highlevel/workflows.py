"""Firing HighLevel workflow triggers: POST the event to the subscription's targetUrl (reference §7).

Auth is undocumented; the only reported working pattern is the location's OAuth token with `Version`,
refreshed once on 401. 404/410 or a message that the trigger is inactive means the subscription is gone;
429 and 5xx are transient (the outbox retries them with backoff).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import httpx

from scormhub.domain.automation.events import absolute
from scormhub.domain.automation.triggers import TriggerGone
from scormhub.domain.errors import CrmAuthExpired, CrmRateLimited, CrmRejected, CrmUnavailable
from scormhub.integrations.highlevel.client import (
    API_VERSION,
    RECONNECT_MESSAGE,
    RequestLimiter,
    TokenSource,
    log_refusal,
    vendor_message,
)
from scormhub.integrations.vendor_http import retry_after_seconds, transport_failure

# A trigger POST carries one small event: HighLevel either takes it quickly or the outbox tries later.
FIRE_TIMEOUT_S: Final = 10.0


class HighLevelTriggers:
    """One location's trigger firings, paced by the same per-location limiter as its other API calls."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        tokens: TokenSource,
        limiter: RequestLimiter,
        public_url: str,
        window_s: float = 10.0,
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._limiter = limiter
        self._public_url = public_url
        self._window_s = window_s

    async def fire(self, target_url: str, body: Mapping[str, Any]) -> None:
        payload = absolute(dict(body), self._public_url)
        token = await self._tokens.access_token()
        refreshed = False
        while True:
            await self._limiter.wait_turn()
            try:
                response = await self._client.post(
                    target_url,
                    json=payload,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Version": API_VERSION,
                        "Accept": "application/json",
                    },
                    timeout=httpx.Timeout(FIRE_TIMEOUT_S, connect=5.0),
                    follow_redirects=False,
                )
            except httpx.HTTPError as exc:
                raise CrmUnavailable(transport_failure("HighLevel", exc)) from exc
            status = response.status_code
            if response.is_success:
                return
            log_refusal("POST", "/workflows-marketplace/triggers/execute/…", response)
            message = vendor_message(response)
            if status == 401 and not refreshed:
                token = await self._tokens.refresh(token)
                refreshed = True
                continue
            if status == 401:
                raise CrmAuthExpired(RECONNECT_MESSAGE.format(detail=f" ({message})" if message else ""))
            if status in (404, 410) or "inactive" in message.lower():
                raise TriggerGone(f"HTTP {status}" + (f": {message}" if message else ""))
            if status == 429:
                delay = retry_after_seconds(response) or self._window_s
                await self._limiter.hold(delay)  # every process backs off this location
                raise CrmRateLimited(
                    "HighLevel's rate limit was reached; the trigger fires later.", retry_after=delay
                )
            if status >= 500:
                raise CrmUnavailable(
                    f"HighLevel answered the trigger with a server error (HTTP {status}).",
                    retry_after=retry_after_seconds(response),
                )
            detail = message or f"HTTP {status}"
            raise CrmRejected(f"HighLevel refused the trigger: {detail}", detail=detail)
