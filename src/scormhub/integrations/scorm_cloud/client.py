"""SCORM Cloud (REST API v2) transport for one application: Basic auth, retries, error translation.

Every vendor failure is translated here into a domain error, so no httpx exception leaves the SCORM Cloud
adapter; the App ID's secret, and any secret a request carries, never reaches an error message.
Reference: shared/reference/scorm-cloud-api.md (the section numbers in comments point into it).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any, Final, NoReturn

import httpx

from scormhub.domain.errors import (
    DomainError,
    EngineAccountLimit,
    EngineRateLimited,
    EngineRefused,
    EngineUnavailable,
    InvalidCredentials,
    NotFound,
    ServiceUnavailable,
)
from scormhub.integrations.vendor_http import (
    MAX_VENDOR_TEXT,
    RetryPolicy,
    json_or_none,
    retry_after_seconds,
    transport_failure,
)
from scormhub.integrations.vendor_http import build_client as build_vendor_client

log = logging.getLogger("scormhub.scorm_cloud")

# Launch links live 10 to 300 s (§3 Launch link); anything outside is a 400 from SCORM Cloud.
MIN_LINK_EXPIRY_S: Final = 10
MAX_LINK_EXPIRY_S: Final = 300

CREDENTIALS_MESSAGE: Final = "SCORM Cloud rejected this App ID / Secret Key."
UNREADABLE_MESSAGE: Final = "SCORM Cloud sent a response SCORM Hub could not read"
ACCOUNT_LIMIT_MESSAGE: Final = (
    "Your SCORM Cloud account has reached a limit of its SCORM Cloud plan (SCORM Cloud said: {detail}). "
    "This is your own SCORM Cloud plan, not SCORM Hub's trial. Delete finished registrations or unused "
    "courses in SCORM Cloud, or upgrade your SCORM Cloud plan, then try again."
)
# The wording of SCORM Cloud's plan-limit refusals is not documented: match what such a message must say.
_ACCOUNT_LIMIT_PATTERNS: Final = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"registration\s+(limit|cap|quota)",
        r"(maximum|max)\s+(number\s+of\s+)?registrations",
        r"\d+\s*mb\b",
        r"\bmb\s+(limit|of\s+storage)",
        r"\bstorage\b",
        r"\bquota\b",
        r"\bupgrade\b",
        r"\b(plan|account|subscription|trial)\b.*\blimit",
        r"\blimit\b.*\b(plan|account|subscription|trial)\b",
    )
)


# --- the shared client ------------------------------------------------------------------------------------


def build_client(timeout_s: float = 20.0) -> httpx.AsyncClient:
    """The one AsyncClient for SCORM Cloud, made once per process (credentials go on each request).

    `timeout_s` (SCORM_CLOUD_TIMEOUT_S) bounds the wait for an answer; connecting gets at most 5 s of it.
    """
    # Writes may carry a 50 MB package; everything else should answer quickly.
    return build_vendor_client(
        httpx.Timeout(connect=min(5.0, timeout_s), read=timeout_s, write=120.0, pool=5.0)
    )


class _Secret:
    """Holds the secret key so that no repr, log line or traceback local can show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'********'"


# --- one application's calls ------------------------------------------------------------------------------


class ScormCloudClient:
    """One SCORM Cloud application's calls (App ID + Secret Key), each translated into a domain error."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        app_id: str,
        secret_key: str,
        base_url: str,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._client = client
        self.app_id = app_id
        self._secret = _Secret(secret_key)
        self._auth = httpx.BasicAuth(app_id, secret_key)
        self.base_url = base_url.rstrip("/")
        self._retry = retry or RetryPolicy()

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    async def send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        files: Mapping[str, Any] | None = None,
        missing: str = "such item",
        sensitive: tuple[str, ...] = (),
    ) -> httpx.Response:
        """One call with Basic auth; safe calls retry transient failures, with backoff and jitter."""
        secrets = (self._secret.reveal(), *sensitive)
        retry = 0
        started = time.monotonic()
        while True:
            cause: Exception | None = None
            try:
                response = await self._client.request(
                    method, self._url(path), params=params, json=json, files=files, auth=self._auth
                )
            except httpx.HTTPError as exc:
                error: DomainError = EngineUnavailable(transport_failure("SCORM Cloud", exc))
                cause = exc
            else:
                if response.is_success:
                    return response
                error = error_for(response, missing=missing, secrets=secrets)
            last_try = not idempotent or retry + 1 >= self._retry.attempts
            if last_try or not isinstance(error, ServiceUnavailable):
                raise error from cause
            delay = self._retry.delay(retry, error.retry_after)
            budget = self._retry.budget_s
            if delay is None or (budget is not None and time.monotonic() - started + delay >= budget):
                raise error from cause
            log.warning(
                "SCORM Cloud %s %s failed (%s); retry %d in %.1fs", method, path, error, retry + 1, delay
            )
            await self._retry.sleep(delay)
            retry += 1

    @staticmethod
    def json_object(response: httpx.Response) -> dict[str, Any]:
        """A success's body, which must be a JSON object."""
        data = json_or_none(response)
        return as_object(data)


def link_expiry(expiry_s: int) -> int:
    """A launch or preview link's lifetime, within what SCORM Cloud accepts."""
    return max(MIN_LINK_EXPIRY_S, min(MAX_LINK_EXPIRY_S, int(expiry_s)))


# --- errors at the boundary ---------------------------------------------------------------------------------


def error_for(response: httpx.Response, *, missing: str, secrets: tuple[str, ...]) -> DomainError:
    status = response.status_code
    if status == 401:
        return InvalidCredentials(CREDENTIALS_MESSAGE)
    if status == 404:
        return NotFound(f"SCORM Cloud has no {missing}.")
    if status == 429:
        return EngineRateLimited(
            "SCORM Cloud asked SCORM Hub to slow down.", retry_after=retry_after_seconds(response)
        )
    if status >= 500:
        return EngineUnavailable(
            f"SCORM Cloud answered with a server error (HTTP {status}).",
            retry_after=retry_after_seconds(response),
        )
    if 400 <= status < 500:
        detail = scrub(vendor_message(response) or f"HTTP {status}", secrets)
        if status in (400, 403, 413) and any(p.search(detail) for p in _ACCOUNT_LIMIT_PATTERNS):
            return EngineAccountLimit(ACCOUNT_LIMIT_MESSAGE.format(detail=detail))
        return EngineRefused(f"SCORM Cloud refused the request: {detail}")
    # 1xx/3xx: redirects are not followed (a moved API is a configuration problem, not data).
    return EngineUnavailable(f"{UNREADABLE_MESSAGE} (HTTP {status}).")


def vendor_message(response: httpx.Response) -> str:
    """SCORM Cloud's own words: `message` (MessageSchema), else `error` (the gateway), else the text."""
    data = json_or_none(response)
    if isinstance(data, dict):
        for key in ("message", "error"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:MAX_VENDOR_TEXT]
    try:
        text = response.text
    except UnicodeDecodeError:
        return ""
    return " ".join(text.split())[:MAX_VENDOR_TEXT]


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def unreadable() -> NoReturn:
    raise EngineUnavailable(UNREADABLE_MESSAGE)


def as_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        unreadable()
    return value


def required_str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        unreadable()
    return value
