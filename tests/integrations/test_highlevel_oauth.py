"""HighLevel OAuth against respx stand-ins shaped like the v2 API: the forms sent, the grants read."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
import respx

from scormhub.domain.errors import CrmAuthExpired, CrmRateLimited, CrmRejected, CrmUnavailable
from scormhub.domain.model import TokenGrant
from scormhub.integrations.highlevel.client import build_client
from scormhub.integrations.highlevel.oauth import HighLevelOAuth

API = "https://services.hl.test"
MARKETPLACE = "https://marketplace.hl.test"
CLIENT_ID = "66a1b2c3d4e5f6a7b8c9d0e1-m0abcdef"
CLIENT_SECRET = "client-secret-that-must-never-leak"
LOCATION = "ve9EPM428h8vShlRW1KT"
COMPANY = "ocQHyuzHvysMo5N5VsXc"
COMPANY_TOKEN = "company-token-that-must-never-leak"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "highlevel"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def respond(name: str, status: int = 200, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, json=fixture(name), **kwargs)


def form_of(request: httpx.Request) -> dict[str, str]:
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return dict(parse_qsl(request.content.decode(), strict_parsing=True))


def sent(route: respx.Route) -> httpx.Request:
    assert route.called, "the request was never sent"
    return route.calls.last.request


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with build_client() as shared:
        yield shared


@pytest.fixture
def oauth(client: httpx.AsyncClient) -> HighLevelOAuth:
    return HighLevelOAuth(
        client,
        api_url=API,
        marketplace_url=MARKETPLACE,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        clock=lambda: NOW,
    )


@pytest.fixture
def hl() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


# --- authorize ------------------------------------------------------------------------------------------


def test_the_authorize_url_is_the_v2_choose_location_page_with_every_parameter(oauth: HighLevelOAuth) -> None:
    url = oauth.authorize_url(
        redirect_uri="https://hub.test/highlevel/callback?x=1",
        scopes="contacts.readonly objects/record.write",
        state="st@te 1",
    )

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{MARKETPLACE}/v2/oauth/chooselocation"
    assert parse_qs(parts.query) == {
        "response_type": ["code"],
        "redirect_uri": ["https://hub.test/highlevel/callback?x=1"],
        "client_id": [CLIENT_ID],
        "scope": ["contacts.readonly objects/record.write"],
        "state": ["st@te 1"],
    }
    assert "%20" in parts.query
    assert "+" not in parts.query


# --- token exchanges --------------------------------------------------------------------------------------


async def test_exchange_code_posts_the_form_without_bearer_or_version(
    oauth: HighLevelOAuth, hl: respx.MockRouter
) -> None:
    route = hl.post("/oauth/token").mock(return_value=respond("oauth_token_location.json"))

    grant = await oauth.exchange_code(
        "the-code", user_type="Location", redirect_uri="https://hub.test/highlevel/callback"
    )

    request = sent(route)
    assert form_of(request) == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "authorization_code",
        "code": "the-code",
        "user_type": "Location",
        "redirect_uri": "https://hub.test/highlevel/callback",
    }
    assert "Authorization" not in request.headers
    assert "Version" not in request.headers
    assert request.headers["Accept"] == "application/json"
    assert grant == TokenGrant(
        access_token="ya29.location-access-token",
        refresh_token="location-refresh-token",
        expires_at=NOW + timedelta(seconds=86399),
        scope="contacts.readonly contacts.write",
        user_type="Location",
        location_id=LOCATION,
        company_id=COMPANY,
        user_id="YlWd2wuCAZQzh2cH1fVZ",
        approved_locations=(LOCATION,),
        plan_id="plan-1",  # the marketplace plan the install chose (billing)
    )


async def test_an_agency_install_gives_a_company_grant_with_its_approved_locations(
    oauth: HighLevelOAuth, hl: respx.MockRouter
) -> None:
    hl.post("/oauth/token").mock(return_value=respond("oauth_token_company.json"))

    grant = await oauth.exchange_code("code", user_type="Company", redirect_uri="https://hub.test/cb")

    assert grant.user_type == "Company"
    assert grant.location_id is None
    assert grant.company_id == COMPANY
    assert grant.approved_locations == (LOCATION, "a1b2c3d4e5f6g7h8i9j0")
    assert grant.refresh_token == "company-refresh-token"


async def test_refresh_sends_the_refresh_grant_with_the_stored_user_type(
    oauth: HighLevelOAuth, hl: respx.MockRouter
) -> None:
    route = hl.post("/oauth/token").mock(return_value=respond("oauth_token_location.json"))

    grant = await oauth.refresh("old-refresh-token", user_type="Location")

    request = sent(route)
    assert form_of(request) == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": "old-refresh-token",
        "user_type": "Location",
    }
    assert "Authorization" not in request.headers
    assert grant.refresh_token == "location-refresh-token"  # rotated: the old one is spent
    assert grant.expires_at == NOW + timedelta(seconds=86399)


def test_a_grant_never_shows_its_tokens_in_repr() -> None:
    grant = TokenGrant(
        access_token="secret-access",
        refresh_token="secret-refresh",
        expires_at=NOW,
        scope="",
        user_type="Location",
        location_id=LOCATION,
        company_id=None,
        user_id=None,
        approved_locations=(),
    )

    assert "secret-access" not in repr(grant)
    assert "secret-refresh" not in repr(grant)
    assert LOCATION in repr(grant)


def test_the_client_never_shows_its_secret_in_repr(oauth: HighLevelOAuth) -> None:
    assert CLIENT_SECRET not in repr(oauth)


# --- location token ---------------------------------------------------------------------------------------


async def test_location_token_posts_a_form_with_the_company_bearer_and_version(
    oauth: HighLevelOAuth, hl: respx.MockRouter
) -> None:
    route = hl.post("/oauth/locationToken").mock(return_value=respond("oauth_location_token.json"))

    grant = await oauth.location_token(COMPANY_TOKEN, company_id=COMPANY, location_id=LOCATION)

    request = sent(route)
    assert form_of(request) == {"companyId": COMPANY, "locationId": LOCATION}
    assert request.headers["Authorization"] == f"Bearer {COMPANY_TOKEN}"
    assert request.headers["Version"] == "2021-07-28"
    assert grant.access_token == "ya29.minted-location-token"
    assert grant.refresh_token is None  # minted tokens are minted again, never refreshed
    assert grant.user_type == "Location"
    assert grant.location_id == LOCATION
    assert grant.company_id == COMPANY
    assert grant.expires_at == NOW + timedelta(seconds=86399)


# --- installed locations ----------------------------------------------------------------------------------


async def test_installed_locations_pages_through_skip_and_limit(
    oauth: HighLevelOAuth, hl: respx.MockRouter
) -> None:
    route = hl.get("/oauth/installedLocations").mock(
        side_effect=[respond("installed_locations_page1.json"), respond("installed_locations_page2.json")]
    )

    locations = await oauth.installed_locations(
        COMPANY_TOKEN, company_id=COMPANY, app_id="66a1b2c3d4e5f6a7b8c9d0e1"
    )

    assert locations == [f"loc{i:03d}" for i in range(102)]
    first, second = (call.request for call in route.calls)
    for request, skip in ((first, "0"), (second, "100")):
        assert dict(request.url.params) == {
            "companyId": COMPANY,
            "appId": "66a1b2c3d4e5f6a7b8c9d0e1",
            "isInstalled": "true",
            "skip": skip,
            "limit": "100",
        }
        assert request.headers["Authorization"] == f"Bearer {COMPANY_TOKEN}"
        assert request.headers["Version"] == "2021-07-28"


async def test_installed_locations_stops_at_a_short_page_and_skips_uninstalled_ones(
    oauth: HighLevelOAuth, hl: respx.MockRouter
) -> None:
    route = hl.get("/oauth/installedLocations").mock(
        return_value=httpx.Response(
            200,
            json={
                "locations": [
                    {"_id": "a", "name": "A", "isInstalled": True},
                    {"_id": "b", "name": "B", "isInstalled": False},
                ],
                "count": 2,
                "installToFutureLocations": False,
            },
        )
    )

    assert await oauth.installed_locations(COMPANY_TOKEN, company_id=COMPANY, app_id="app") == ["a"]
    assert route.call_count == 1


# --- failures, for every call -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OAuthCall:
    name: str
    method: str
    path: str
    run: Callable[[HighLevelOAuth], Awaitable[Any]]
    advice: str  # what the person is told to do when HighLevel refuses


CALLS = [
    OAuthCall(
        "exchange_code",
        "POST",
        "/oauth/token",
        lambda o: o.exchange_code("code", user_type="Location", redirect_uri="https://hub.test/cb"),
        "Reconnect HighLevel",
    ),
    OAuthCall(
        "refresh",
        "POST",
        "/oauth/token",
        lambda o: o.refresh("refresh-token-that-must-never-leak", user_type="Location"),
        "Reconnect HighLevel",
    ),
    OAuthCall(
        "location_token",
        "POST",
        "/oauth/locationToken",
        lambda o: o.location_token(COMPANY_TOKEN, company_id=COMPANY, location_id=LOCATION),
        "Reinstall the SCORM Hub app",
    ),
    OAuthCall(
        "installed_locations",
        "GET",
        "/oauth/installedLocations",
        lambda o: o.installed_locations(COMPANY_TOKEN, company_id=COMPANY, app_id="app"),
        "Reconnect HighLevel",
    ),
]
BY_NAME = pytest.mark.parametrize("call", CALLS, ids=[c.name for c in CALLS])


@BY_NAME
async def test_an_invalid_grant_asks_the_person_to_reconnect(
    call: OAuthCall, oauth: HighLevelOAuth, hl: respx.MockRouter
) -> None:
    hl.route(method=call.method, path=call.path).mock(return_value=respond("oauth_invalid_grant.json", 400))

    with pytest.raises(CrmAuthExpired, match=call.advice) as caught:
        await call.run(oauth)

    assert "invalid_grant" in str(caught.value)


@BY_NAME
@pytest.mark.parametrize("name", ["error_400.json", "error_401.json"])
async def test_a_refused_exchange_needs_a_person_not_a_retry(
    call: OAuthCall, name: str, oauth: HighLevelOAuth, hl: respx.MockRouter
) -> None:
    status = int(name.split("_")[1].split(".")[0])
    hl.route(method=call.method, path=call.path).mock(return_value=respond(name, status))

    with pytest.raises(CrmAuthExpired, match=call.advice):
        await call.run(oauth)


@BY_NAME
async def test_a_422_is_rejected_with_highlevels_message(
    call: OAuthCall, oauth: HighLevelOAuth, hl: respx.MockRouter
) -> None:
    hl.route(method=call.method, path=call.path).mock(return_value=respond("error_422.json", 422))

    with pytest.raises(CrmRejected, match="property tags should not exist; email must be an email"):
        await call.run(oauth)


@BY_NAME
async def test_a_429_is_rate_limited_with_retry_after(
    call: OAuthCall, oauth: HighLevelOAuth, hl: respx.MockRouter
) -> None:
    hl.route(method=call.method, path=call.path).mock(
        return_value=respond("error_429.json", 429, headers={"Retry-After": "7"})
    )

    with pytest.raises(CrmRateLimited) as caught:
        await call.run(oauth)

    assert caught.value.retry_after == 7.0


@BY_NAME
@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_server_error_is_unavailable(
    call: OAuthCall, status: int, oauth: HighLevelOAuth, hl: respx.MockRouter
) -> None:
    hl.route(method=call.method, path=call.path).mock(return_value=respond("error_500.json", status))

    with pytest.raises(CrmUnavailable, match=f"HTTP {status}"):
        await call.run(oauth)


@BY_NAME
@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout("slow"), httpx.ConnectTimeout("slow"), httpx.ConnectError("refused")]
)
async def test_a_timeout_or_connection_error_is_unavailable(
    call: OAuthCall, error: Exception, oauth: HighLevelOAuth, hl: respx.MockRouter
) -> None:
    hl.route(method=call.method, path=call.path).mock(side_effect=error)

    with pytest.raises(CrmUnavailable):
        await call.run(oauth)


@BY_NAME
@pytest.mark.parametrize(
    "response",
    [
        pytest.param(lambda: httpx.Response(200, text="<html>gateway</html>"), id="not-json"),
        pytest.param(lambda: httpx.Response(200, json=["a", "list"]), id="not-an-object"),
        pytest.param(lambda: httpx.Response(200, json={"token_type": "Bearer"}), id="missing-keys"),
    ],
)
async def test_a_malformed_answer_is_unavailable_never_a_crash(
    call: OAuthCall, response: Callable[[], httpx.Response], oauth: HighLevelOAuth, hl: respx.MockRouter
) -> None:
    hl.route(method=call.method, path=call.path).mock(return_value=response())

    with pytest.raises(CrmUnavailable, match="unexpected body"):
        await call.run(oauth)


@pytest.mark.parametrize("expires_in", [None, "soon", -5, 0, True])
async def test_a_grant_without_a_usable_lifetime_is_unavailable(
    expires_in: Any, oauth: HighLevelOAuth, hl: respx.MockRouter
) -> None:
    body = fixture("oauth_token_location.json")
    body["expires_in"] = expires_in
    hl.post("/oauth/token").mock(return_value=httpx.Response(200, json=body))

    with pytest.raises(CrmUnavailable, match="unexpected body"):
        await oauth.refresh("r", user_type="Location")


async def test_no_secret_or_token_reaches_the_logs_or_the_error(
    oauth: HighLevelOAuth, hl: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hl.post("/oauth/token").mock(return_value=respond("oauth_invalid_grant.json", 400))

    with pytest.raises(CrmAuthExpired) as caught:
        await oauth.refresh("refresh-token-that-must-never-leak", user_type="Location")

    for secret in (CLIENT_SECRET, "refresh-token-that-must-never-leak"):
        assert secret not in caplog.text
        assert secret not in str(caught.value)
