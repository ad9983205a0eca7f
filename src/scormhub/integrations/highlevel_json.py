"""Reading HighLevel's answers: shapes are checked, and a body that is not what the reference says is
CrmUnavailable (retryable), never a KeyError."""

from __future__ import annotations

import email.utils
import json
import logging
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, NoReturn
from urllib.parse import quote

import httpx

from scormhub.domain.errors import CrmRejected, CrmUnavailable, DomainError, NotFound

log = logging.getLogger("scormhub.highlevel")

_MAX_VENDOR_TEXT: Final = 300
UNEXPECTED_MESSAGE: Final = "HighLevel answered with an unexpected body"
# Create answers for something that already exists (a relation, a field) are undocumented; these are the
# words such an answer must contain.
ALREADY_EXISTS: Final = re.compile(r"already\s+(exists?|associated|related|linked)|duplicate", re.I)


def id_of(data: Mapping[str, Any]) -> str | None:
    for key in ("id", "_id"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def require_list(data: Any, key: str) -> None:
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        unexpected()


def as_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        unexpected()
    return value


def required_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        unexpected()
    return value


def segment(value: str) -> str:
    return quote(value, safe="")


def unexpected() -> NoReturn:
    raise CrmUnavailable(UNEXPECTED_MESSAGE)


def moment_of(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


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
        _trace_id(response) or "-",
        vendor_message(response) or "-",
    )


def vendor_message(response: httpx.Response) -> str:
    """HighLevel's own words: `message` (a string, or a list for 422s), else `error`; never the raw body."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ""
    if not isinstance(data, dict):
        return ""
    for key in ("message", "error_description", "error"):
        value = data.get(key)
        if isinstance(value, list):
            value = "; ".join(str(item).strip() for item in value if str(item).strip())
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:_MAX_VENDOR_TEXT]
    return ""


def retry_after_seconds(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP-date); None when absent or unreadable."""
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


def _trace_id(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    value = data.get("traceId") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def header_number(response: httpx.Response, name: str) -> float | None:
    try:
        value = float(response.headers.get(name, ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def body_of(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return {}
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        unexpected()
    if not isinstance(data, dict | list):
        unexpected()
    trace_id = data.get("traceId") if isinstance(data, dict) else None
    if isinstance(trace_id, str):
        log.debug("HighLevel traceId %s", trace_id)
    return data
