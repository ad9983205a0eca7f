"""HighLevel's OAuth 2.0 (API v2): the authorize URL, code and refresh exchanges, location tokens.

Every vendor failure is translated here into a domain error; no httpx exception leaves this module.
Reference: shared/reference/highlevel-api.md §1. Tokens and the client secret are never logged.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote, urlencode

import httpx

from scormhub.domain.errors import (
    CrmAuthExpired,
    CrmRateLimited,
    CrmRejected,
    CrmUnavailable,
    DomainError,
)
from scormhub.domain.model import TokenGrant
from scormhub.integrations.highlevel.client import API_VERSION, trace_id, vendor_message
from scormhub.integrations.highlevel.shapes import UNEXPECTED_MESSAGE
from scormhub.integrations.highlevel.shapes import unexpected as _unexpected
from scormhub.integrations.vendor_http import json_or_none, retry_after_seconds

log = logging.getLogger("scormhub.highlevel.oauth")

AUTHORIZE: Final = "/v2/oauth/chooselocation"
TOKEN: Final = "/oauth/token"  # noqa: S105 (a path)
LOCATION_TOKEN: Final = "/oauth/locationToken"  # noqa: S105 (a path)
INSTALLED_LOCATIONS: Final = "/oauth/installedLocations"

USER_TYPE_LOCATION: Final = "Location"
USER_TYPE_COMPANY: Final = "Company"
INSTALLED_PAGE_SIZE: Final = 100
_OAUTH_ERROR_CODE: Final = re.compile(r"[a-z][a-z_]{2,60}")
_MAX_PAGES: Final = 1000  # 100,000 locations: a server that never stops paging is a bug, not an agency

RECONNECT_MESSAGE: Final = (
    "HighLevel no longer accepts SCORM Hub's authorization ({reason}). Reconnect HighLevel from "
    "Settings; if that does not work, reinstall the SCORM Hub app from the HighLevel Marketplace."
)
REINSTALL_MESSAGE: Final = (
    "HighLevel would not let the agency's installation act for this sub-account ({reason}). "
    "Reinstall the SCORM Hub app for the sub-account, or reconnect the agency."
)


def now_utc() -> datetime:
    return datetime.now(UTC)


class HighLevelOAuth:
    """The app's side of HighLevel's OAuth, for one marketplace app (client id + secret)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_url: str,
        marketplace_url: str,
        client_id: str,
        client_secret: str,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self._client = client
        self._api_url = api_url.rstrip("/")
        self._marketplace_url = marketplace_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock

    def __repr__(self) -> str:
        return f"HighLevelOAuth(client_id={self._client_id!r}, api_url={self._api_url!r})"

    def authorize_url(self, *, redirect_uri: str, scopes: str, state: str) -> str:
        # Whether HighLevel echoes `state` is unconfirmed (§1). The callback still requires it (a code
        # without it cannot be told from one an attacker sent), and answers its absence with a page that
        # starts the install again from /oauth/install.
        query = urlencode(
            {
                "response_type": "code",
                "redirect_uri": redirect_uri,
                "client_id": self._client_id,
                "scope": scopes,
                "state": state,
            },
            quote_via=quote,  # %20 between scopes, as the reference's URL shows, rather than "+"
        )
        return f"{self._marketplace_url}{AUTHORIZE}?{query}"

    async def exchange_code(self, code: str, *, user_type: str, redirect_uri: str) -> TokenGrant:
        data = await self._token_call(
            {
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "grant_type": "authorization_code",
                "code": code,
                "user_type": user_type,
                "redirect_uri": redirect_uri,
            }
        )
        return self._grant(data, user_type=user_type)

    async def refresh(self, refresh_token: str, *, user_type: str) -> TokenGrant:
        """A new access token and a new refresh token: the one passed in is spent from now on."""
        data = await self._token_call(
            {
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "user_type": user_type,
            }
        )
        return self._grant(data, user_type=user_type)

    async def location_token(self, company_token: str, *, company_id: str, location_id: str) -> TokenGrant:
        """A sub-account token minted from the agency's; it has no refresh token: mint again on expiry."""
        response = await self._send(
            "POST",
            LOCATION_TOKEN,
            bearer=company_token,
            # The template posts JSON, but the spec says form (§1): form it is.
            data={"companyId": company_id, "locationId": location_id},
        )
        if not response.is_success:
            raise _error_for(response, refused=REINSTALL_MESSAGE)
        grant = self._grant(_json_object(response), user_type=USER_TYPE_LOCATION)
        return TokenGrant(
            access_token=grant.access_token,
            refresh_token=None,
            expires_at=grant.expires_at,
            scope=grant.scope,
            user_type=USER_TYPE_LOCATION,
            location_id=grant.location_id or location_id,
            company_id=grant.company_id or company_id,
            user_id=grant.user_id,
            approved_locations=grant.approved_locations,
            plan_id=grant.plan_id,
        )

    async def installed_locations(self, company_token: str, *, company_id: str, app_id: str) -> list[str]:
        """Ids of every sub-account of the agency where the app is installed, following skip/limit."""
        found: list[str] = []
        seen: set[str] = set()
        skip = 0
        for _ in range(_MAX_PAGES):
            response = await self._send(
                "GET",
                INSTALLED_LOCATIONS,
                bearer=company_token,
                params={
                    "companyId": company_id,
                    "appId": app_id,
                    "isInstalled": "true",
                    "skip": str(skip),
                    "limit": str(INSTALLED_PAGE_SIZE),
                },
            )
            if not response.is_success:
                raise _error_for(response, refused=RECONNECT_MESSAGE)
            page = _json_object(response)
            locations = page.get("locations")
            if not isinstance(locations, list):
                _unexpected()
            for item in locations:
                if not isinstance(item, dict):
                    _unexpected()
                location_id = item.get("_id")
                if not isinstance(location_id, str) or not location_id:
                    _unexpected()
                if item.get("isInstalled") is False or location_id in seen:
                    continue
                seen.add(location_id)
                found.append(location_id)
            skip += len(locations)
            count = page.get("count")
            total = count if isinstance(count, int) and not isinstance(count, bool) else None
            if len(locations) < INSTALLED_PAGE_SIZE or (total is not None and skip >= total):
                return found
        _unexpected()

    # --- plumbing -----------------------------------------------------------------------------------------

    async def _token_call(self, form: Mapping[str, str]) -> dict[str, Any]:
        # §1: /oauth/token takes no bearer token and, in the v2 spec, no Version header.
        response = await self._send("POST", TOKEN, data=form)
        if not response.is_success:
            raise _error_for(response, refused=RECONNECT_MESSAGE)
        return _json_object(response)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        bearer: str | None = None,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
            headers["Version"] = API_VERSION
        try:
            return await self._client.request(
                method, f"{self._api_url}{path}", headers=headers, data=data, params=params
            )
        except httpx.TimeoutException as exc:
            raise CrmUnavailable(f"HighLevel did not answer in time ({type(exc).__name__}).") from exc
        except httpx.HTTPError as exc:
            raise CrmUnavailable(f"HighLevel could not be reached ({type(exc).__name__}).") from exc

    def _grant(self, data: dict[str, Any], *, user_type: str) -> TokenGrant:
        access_token = data.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            _unexpected()
        expires_in = data.get("expires_in")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float | str):
            _unexpected()
        try:
            seconds = float(expires_in)
        except ValueError:
            _unexpected()
        if not math.isfinite(seconds) or seconds <= 0:
            _unexpected()
        approved = data.get("approvedLocations") or []
        if not isinstance(approved, list):
            _unexpected()
        return TokenGrant(
            access_token=access_token,
            refresh_token=_optional_str(data.get("refresh_token")),
            expires_at=self._clock() + timedelta(seconds=seconds),
            scope=_optional_str(data.get("scope")) or "",
            user_type=_optional_str(data.get("userType")) or user_type,
            location_id=_optional_str(data.get("locationId")),
            company_id=_optional_str(data.get("companyId")),
            user_id=_optional_str(data.get("userId")),
            approved_locations=tuple(item for item in approved if isinstance(item, str) and item),
            plan_id=_optional_str(data.get("planId")),
        )


def _error_for(response: httpx.Response, *, refused: str) -> DomainError:
    status = response.status_code
    log.warning("HighLevel OAuth answered HTTP %d (traceId %s)", status, trace_id(response) or "-")
    if status in (400, 401, 403):
        # invalid_grant, a used or revoked refresh token, a bad code, an uninstalled app: all need a person.
        return CrmAuthExpired(refused.format(reason=_reason(response, status)))
    if status == 429:
        return CrmRateLimited(
            "HighLevel asked SCORM Hub to slow down.", retry_after=retry_after_seconds(response)
        )
    if status >= 500:
        return CrmUnavailable(
            f"HighLevel answered with a server error (HTTP {status}).",
            retry_after=retry_after_seconds(response),
        )
    if 400 <= status < 500:
        detail = vendor_message(response) or f"HTTP {status}"
        return CrmRejected(f"HighLevel refused the request: {detail}", detail=detail)
    return CrmUnavailable(f"{UNEXPECTED_MESSAGE} (HTTP {status}).")


def _reason(response: httpx.Response, status: int) -> str:
    """The OAuth error code (`invalid_grant`), else HighLevel's message: short, never the raw body."""
    data = json_or_none(response)
    if isinstance(data, dict):
        code = data.get("error")
        # OAuth codes are snake_case (`invalid_grant`); HighLevel's own `error` is a status phrase.
        if isinstance(code, str) and _OAUTH_ERROR_CODE.fullmatch(code.strip()):
            return code.strip()
    return (vendor_message(response) or f"HTTP {status}")[:120]


def _json_object(response: httpx.Response) -> dict[str, Any]:
    data = json_or_none(response)
    if not isinstance(data, dict):
        _unexpected()
    return data


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
