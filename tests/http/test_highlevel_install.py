"""HighLevel at the HTTP level: install (OAuth), webhooks, SSO in the iframe, token refresh, reconnect."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
import respx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from fake_highlevel import FakeHighLevel
from litestar import Litestar

from appserver import CONTENT, serving
from highlevel_sso import encrypt_sso
from scormhub.app import create_app
from scormhub.bootstrap import Deps
from scormhub.domain.errors import CrmAuthExpired
from scormhub.jobs.courses import import_course
from scormhub.jobs.highlevel import process_crm_webhook, provision_crm
from scormhub.jobs.sync import push_to_crm, sync_enrollment
from scormhub.settings import Settings
from shared_packages import PACKAGES
from waits import until_waiting_on_a_lock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "highlevel"
API = "https://hl.test"
MARKET = "https://marketplace.test"
APP_ID = "6612abcdef"
CLIENT_ID = f"{APP_ID}-lx1y2z3"
SSO_KEY = "a-shared-secret-from-the-marketplace"
LOCATION = "ve9EPM428h8vShlRW1KT"
COMPANY = "ocQHyuzHvysMo5N5VsXc"
GOLF_12 = PACKAGES / "valid" / "RuntimeBasicCalls_SCORM12.zip"
PASSED_12 = {
    "core": {
        "lesson_status": "passed",
        "score": {"raw": "85", "min": "0", "max": "100"},
        "session_time": "0000:01:30.00",
        "exit": "",
    },
}

ED_KEY = ed25519.Ed25519PrivateKey.generate()
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def hl_settings(settings: Settings) -> Settings:
    return replace(
        settings,
        highlevel_api_url=API,
        highlevel_marketplace_url=MARKET,
        highlevel_client_id=CLIENT_ID,
        highlevel_client_secret="client-secret",
        highlevel_sso_key=SSO_KEY,
        highlevel_webhook_ed25519_key=_pem(ED_KEY),
        highlevel_webhook_rsa_key=_pem(RSA_KEY),
    )


@pytest.fixture
def app(db: str, hl_settings: Settings) -> Litestar:
    return create_app(hl_settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app) as test_client:
        yield test_client


@pytest.fixture
def deps(app: Litestar) -> Deps:
    found: Deps = app.state.deps
    return found


def token_answer(**changes: Any) -> dict[str, Any]:
    answer: dict[str, Any] = fixture("oauth_token_location.json")
    answer.update(changes)
    return answer


async def install(client: httpx.AsyncClient, mock: respx.MockRouter | None, **grant: Any) -> httpx.Response:
    """Run the install as a browser would: /oauth/install, HighLevel's consent, back to the callback.

    With a router, the token exchange answers `grant`; without, whatever the test mounted answers."""
    if mock is not None:
        mock.post(f"{API}/oauth/token").mock(return_value=httpx.Response(200, json=token_answer(**grant)))
    start = await client.get("/oauth/install")
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    return await client.get("/oauth/callback", params={"code": "the-code", "state": state})


async def rows(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def signed(event: dict[str, Any], *, legacy: bool = False) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(event).encode()
    if legacy:
        signature = RSA_KEY.sign(raw, padding.PKCS1v15(), hashes.SHA256())
        return raw, {
            "x-wh-signature": base64.b64encode(signature).decode(),
            "content-type": "application/json",
        }
    return raw, {
        "x-ghl-signature": base64.b64encode(ED_KEY.sign(raw)).decode(),
        "content-type": "application/json",
    }


def sso_payload(location: str | None = LOCATION, *, key: str = SSO_KEY) -> str:
    user = {
        "userId": "YlWd2wuCAZQzh2cH1fVZ",
        "companyId": COMPANY,
        "role": "admin",
        "type": "location",
        "userName": "Ada Admin",
        "email": "ada@example.com",
    }
    if location:
        user["activeLocation"] = location
    return encrypt_sso(user, key)


# --- install ------------------------------------------------------------------------------------------


async def test_install_redirects_to_the_marketplace_with_our_client_and_a_state(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/oauth/install")

    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{MARKET}/v2/oauth/chooselocation"
    query = parse_qs(target.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://testserver.local/oauth/callback"]
    assert "contacts.write" in query["scope"][0]
    assert query["state"][0]
    assert "scormhub_oauth_state" in response.headers["set-cookie"]


@respx.mock(assert_all_called=False)
async def test_a_location_install_creates_its_workspace_stores_tokens_encrypted_and_signs_in(
    client: httpx.AsyncClient, db: str, respx_mock: respx.MockRouter
) -> None:
    response = await install(client, respx_mock)

    assert response.status_code == 303
    assert response.headers["location"] == "/app/courses"
    exchange = respx_mock.calls.last.request
    form = parse_qs(exchange.content.decode())
    assert form["grant_type"] == ["authorization_code"]
    assert form["code"] == ["the-code"]
    assert form["user_type"] == ["Location"]
    assert form["client_id"] == [CLIENT_ID]
    [workspace] = await rows(db, "SELECT * FROM workspace WHERE crm_location_id = $1", LOCATION)
    assert workspace["kind"] == "highlevel"
    assert workspace["crm"] == "highlevel"
    [connection] = await rows(db, "SELECT * FROM crm_connection")
    assert connection["status"] == "connected"
    assert connection["installer_user_id"] == "YlWd2wuCAZQzh2cH1fVZ"
    # Encrypted at rest: the stored values are not the tokens.
    assert "ya29" not in connection["access_token_enc"]
    assert "location-refresh-token" not in connection["refresh_token_enc"]
    page = await client.get("/app/courses")
    assert page.status_code == 200


@respx.mock(assert_all_called=False)
async def test_installing_again_reconnects_the_same_workspace(
    client: httpx.AsyncClient, db: str, respx_mock: respx.MockRouter
) -> None:
    await install(client, respx_mock)
    await rows(db, "UPDATE crm_connection SET status = 'reconnect', status_message = 'refused'")

    await install(client, respx_mock, access_token="second-token")

    assert len(await rows(db, "SELECT id FROM workspace")) == 1
    [connection] = await rows(db, "SELECT status, status_message FROM crm_connection")
    assert connection["status"] == "connected"
    assert connection["status_message"] is None


@respx.mock(assert_all_called=False)
async def test_a_callback_with_a_forged_state_is_refused_before_any_exchange(
    client: httpx.AsyncClient, db: str, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{API}/oauth/token").mock(return_value=httpx.Response(200, json=token_answer()))
    await client.get("/oauth/install")

    response = await client.get("/oauth/callback", params={"code": "c", "state": "not-our-state"})

    assert response.status_code == 400
    assert "expired or was not started here" in response.text
    assert not route.called
    assert await rows(db, "SELECT id FROM workspace") == []


@respx.mock(assert_all_called=False)
async def test_a_callback_without_our_state_installs_but_signs_nobody_in(
    client: httpx.AsyncClient, db: str, respx_mock: respx.MockRouter
) -> None:
    # An install started in the marketplace, or someone else's code sent to this browser: the code only
    # grants its own location, so installing is harmless; signing this browser in to it is not.
    route = respx_mock.post(f"{API}/oauth/token").mock(return_value=httpx.Response(200, json=token_answer()))

    response = await client.get("/oauth/callback", params={"code": "a-code-from-the-marketplace"})

    assert response.status_code == 200
    assert "SCORM Hub is installed" in response.text
    assert "Open SCORM Hub from the sub-account's menu in HighLevel" in response.text
    assert "scormhub_session" not in response.headers.get("set-cookie", "")
    assert route.called
    assert len(await rows(db, "SELECT id FROM workspace")) == 1
    assert (await client.get("/app/courses", follow_redirects=False)).status_code != 200


@respx.mock(assert_all_called=False)
async def test_a_state_from_another_browser_is_refused(
    client: httpx.AsyncClient, respx_mock: respx.MockRouter
) -> None:
    start = await client.get("/oauth/install")
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    client.cookies.clear()  # the callback arrives in a browser that did not start the install

    response = await client.get("/oauth/callback", params={"code": "c", "state": state})

    assert response.status_code == 400


@respx.mock(assert_all_called=False)
async def test_a_bad_code_shows_how_to_start_again_and_creates_nothing(
    client: httpx.AsyncClient, db: str, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(f"{API}/oauth/token").mock(
        return_value=httpx.Response(400, json=fixture("oauth_invalid_grant.json"))
    )

    response = await install(client, None)

    assert response.status_code == 400
    assert "Start the install again" in response.text
    assert await rows(db, "SELECT id FROM workspace") == []


async def test_a_callback_without_a_code_says_so(client: httpx.AsyncClient) -> None:
    response = await client.get("/oauth/callback")

    assert response.status_code == 400
    assert "authorization code" in response.text


# --- webhooks -----------------------------------------------------------------------------------------


def install_event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "INSTALL",
        "appId": APP_ID,
        "locationId": LOCATION,
        "companyId": COMPANY,
        "userId": "YlWd2wuCAZQzh2cH1fVZ",
        "companyName": "Acme Training",
        "webhookId": str(uuid.uuid4()),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
    }
    event.update(changes)
    return event


@pytest.mark.parametrize("legacy", [False, True], ids=["ed25519", "rsa"])
async def test_a_signed_webhook_is_stored_then_acknowledged(
    client: httpx.AsyncClient, db: str, legacy: bool
) -> None:
    raw, headers = signed(install_event(), legacy=legacy)

    response = await client.post("/hooks/crm", content=raw, headers=headers)

    assert response.status_code == 200
    [stored] = await rows(db, "SELECT source, body, external_id FROM inbox")
    assert stored["source"] == "highlevel"
    assert json.loads(stored["body"])["type"] == "INSTALL"


async def test_a_forged_webhook_is_refused_and_not_stored(client: httpx.AsyncClient, db: str) -> None:
    raw, headers = signed(install_event())
    tampered = raw.replace(LOCATION.encode(), b"someone-elses-location")

    forged = await client.post("/hooks/crm", content=tampered, headers=headers)
    unsigned = await client.post("/hooks/crm", content=raw, headers={"content-type": "application/json"})
    other_key = ed25519.Ed25519PrivateKey.generate()
    wrong_key = await client.post(
        "/hooks/crm",
        content=raw,
        headers={"x-ghl-signature": base64.b64encode(other_key.sign(raw)).decode()},
    )

    assert (forged.status_code, unsigned.status_code, wrong_key.status_code) == (401, 401, 401)
    assert await rows(db, "SELECT id FROM inbox") == []


async def test_a_replayed_webhook_is_acknowledged_once_and_ignored(
    client: httpx.AsyncClient, db: str
) -> None:
    raw, headers = signed(install_event())

    first = await client.post("/hooks/crm", content=raw, headers=headers)
    again = await client.post("/hooks/crm", content=raw, headers=headers)

    assert first.json() == {"status": "ok"}
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert len(await rows(db, "SELECT id FROM inbox")) == 1


async def test_an_old_or_foreign_webhook_is_refused(client: httpx.AsyncClient, db: str) -> None:
    stale = install_event(timestamp=int((time.time() - 600) * 1000))
    foreign = install_event(appId="another-app")

    old = await client.post("/hooks/crm", content=signed(stale)[0], headers=signed(stale)[1])
    other = await client.post("/hooks/crm", content=signed(foreign)[0], headers=signed(foreign)[1])

    assert old.status_code == 400
    assert "older than 5 minutes" in old.json()["error"]
    assert other.status_code == 403
    assert await rows(db, "SELECT id FROM inbox") == []


@pytest.mark.parametrize(
    "timestamp",
    [
        pytest.param("last tuesday", id="unparseable"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(True, id="boolean"),
        pytest.param(int((time.time() + 3600) * 1000), id="an-hour-ahead-ms"),
        pytest.param(
            time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + 3600)), id="an-hour-ahead-iso"
        ),
    ],
)
async def test_a_webhook_whose_age_cannot_be_told_is_refused(
    client: httpx.AsyncClient, db: str, timestamp: Any
) -> None:
    # Without a trustworthy send time the 5-minute rule cannot hold: a captured webhook would be good forever.
    event = install_event(timestamp=timestamp)

    response = await client.post("/hooks/crm", content=signed(event)[0], headers=signed(event)[1])

    assert response.status_code == 400
    assert "timestamp" in response.json()["error"]
    assert await rows(db, "SELECT id FROM inbox") == []


async def test_a_webhook_without_a_timestamp_is_taken_once_and_its_replays_are_duplicates(
    client: httpx.AsyncClient, db: str
) -> None:
    # The reference's INSTALL example has no timestamp: refusing it would lose real installs, so replays
    # are stopped by identity instead (its webhookId, or its signed bytes when it has none).
    for drop in (("timestamp",), ("timestamp", "webhookId")):
        event = install_event(locationId=f"location-without-{'-'.join(drop)}")
        for field in drop:
            del event[field]
        raw, headers = signed(event)

        first = await client.post("/hooks/crm", content=raw, headers=headers)
        replayed = await client.post("/hooks/crm", content=raw, headers=headers)

        assert first.json() == {"status": "ok"}
        assert replayed.json() == {"status": "duplicate"}
    assert len(await rows(db, "SELECT id FROM inbox")) == 2


async def test_a_replayed_webhook_without_an_id_is_still_a_duplicate(
    client: httpx.AsyncClient, db: str
) -> None:
    event = install_event()
    del event["webhookId"]
    raw, headers = signed(event)

    first = await client.post("/hooks/crm", content=raw, headers=headers)
    again = await client.post("/hooks/crm", content=raw, headers=headers)
    other = install_event(locationId="another-location")
    del other["webhookId"]
    different = await client.post("/hooks/crm", content=signed(other)[0], headers=signed(other)[1])

    assert first.json() == {"status": "ok"}
    assert again.json() == {"status": "duplicate"}
    assert different.json() == {"status": "ok"}
    assert len(await rows(db, "SELECT id FROM inbox")) == 2


@respx.mock(assert_all_called=False)
async def test_uninstall_revokes_the_tokens_pauses_writes_and_keeps_the_data(
    client: httpx.AsyncClient, deps: Deps, db: str, respx_mock: respx.MockRouter
) -> None:
    await install(client, respx_mock)
    [workspace] = await rows(db, "SELECT id FROM workspace")
    event = {
        "type": "UNINSTALL",
        "appId": APP_ID,
        "locationId": LOCATION,
        "webhookId": "w-uninstall",
        "timestamp": int(time.time() * 1000),
    }
    raw, headers = signed(event)

    stored = await client.post("/hooks/crm", content=raw, headers=headers)
    assert stored.json() == {"status": "ok"}
    [item] = await rows(db, "SELECT id FROM inbox")
    result = await process_crm_webhook({"deps": deps}, inbox_id=str(item["id"]))
    again = await process_crm_webhook({"deps": deps}, inbox_id=str(item["id"]))

    assert result["outcome"] == f"uninstalled location {LOCATION}"
    assert again["outcome"] == "already processed"
    [connection] = await rows(db, "SELECT * FROM crm_connection")
    assert connection["status"] == "uninstalled"
    assert connection["access_token_enc"] is None
    assert connection["refresh_token_enc"] is None
    assert len(await rows(db, "SELECT id FROM workspace WHERE id = $1", workspace["id"])) == 1
    with pytest.raises(CrmAuthExpired):
        await deps.crm.for_workspace(await _workspace(deps, workspace["id"])).search_contacts("ada")


async def _workspace(deps: Deps, workspace_id: uuid.UUID) -> Any:
    async with deps.uow() as uow:
        return await uow.workspaces.get(workspace_id)


# --- SSO inside the iframe ----------------------------------------------------------------------------


@respx.mock(assert_all_called=False)
async def test_sso_opens_a_session_usable_through_the_header_when_cookies_are_blocked(
    client: httpx.AsyncClient, respx_mock: respx.MockRouter, db: str
) -> None:
    await install(client, respx_mock)
    client.cookies.clear()  # third-party cookies blocked: nothing survives between requests

    response = await client.post("/sso/highlevel", json={"payload": sso_payload()})
    client.cookies.clear()

    assert response.status_code == 200
    token = response.json()["token"]
    assert "scormhub_session=" in response.headers["set-cookie"]
    page = await client.get("/app/courses", headers={"x-scormhub-session": token})
    assert page.status_code == 200
    assert "Courses" in page.text
    # A form post with the header token and no CSRF cookie (there is none in a cookie-less iframe).
    saved = await client.post(
        "/app/settings/crm", data={"sync_tags": "on"}, headers={"x-scormhub-session": token}
    )
    assert saved.status_code == 303
    # The same post without the header is what CSRF protects: refused.
    forged = await client.post("/app/settings/crm", data={"sync_tags": "on"})
    assert forged.status_code == 403


async def test_sso_for_a_location_without_an_installation_offers_install_not_a_sign_in_loop(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/sso/highlevel", json={"payload": sso_payload()})

    assert response.status_code == 409
    assert response.json()["install"] == "/oauth/install"
    assert "not installed" in response.json()["error"]
    assert "location" not in response.headers  # never a redirect


@pytest.mark.parametrize(
    ("headers", "status", "says"),
    [
        # What a cross-site <form enctype="text/plain"> or a no-cors fetch can send: a JSON-looking body
        # without the JSON content type (which would need a CORS preflight we never grant).
        pytest.param({"content-type": "text/plain"}, 415, "application/json", id="text-plain"),
        pytest.param(
            {"content-type": "application/x-www-form-urlencoded"}, 415, "application/json", id="form"
        ),
        pytest.param(
            {"content-type": "application/json", "sec-fetch-site": "cross-site"},
            403,
            "SCORM Hub's own page",
            id="cross-site-fetch",
        ),
        pytest.param(
            {"content-type": "application/json", "sec-fetch-site": "same-site"},
            403,
            "SCORM Hub's own page",
            id="same-site-fetch",
        ),
        pytest.param(
            {"content-type": "application/json", "origin": "https://attacker.example"},
            403,
            "SCORM Hub's own page",
            id="foreign-origin-older-browser",
        ),
        pytest.param(
            {"content-type": "application/json", "origin": "null"},
            403,
            "SCORM Hub's own page",
            id="sandboxed-frame",
        ),
        pytest.param(
            {"content-type": "application/json", "origin": "http://["},
            403,
            "SCORM Hub's own page",
            id="not-an-origin",
        ),
    ],
)
@respx.mock(assert_all_called=False)
async def test_sso_from_anything_but_our_own_page_opens_no_session(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    headers: dict[str, str],
    status: int,
    says: str,
) -> None:
    await install(client, respx_mock)
    client.cookies.clear()

    response = await client.post(
        "/sso/highlevel", content=json.dumps({"payload": sso_payload()}), headers=headers
    )

    assert response.status_code == status
    assert says in response.json()["error"]
    assert "token" not in response.json()
    assert "scormhub_session" not in response.headers.get("set-cookie", "")
    assert (await client.get("/app/courses")).status_code != 200


@respx.mock(assert_all_called=False)
async def test_sso_from_our_own_page_in_a_browser_opens_a_session(
    client: httpx.AsyncClient, respx_mock: respx.MockRouter
) -> None:
    await install(client, respx_mock)
    client.cookies.clear()

    modern = await client.post(
        "/sso/highlevel",
        json={"payload": sso_payload()},
        headers={"sec-fetch-site": "same-origin", "origin": "https://whatever-the-browser-says.example"},
    )
    # An older browser (no Sec-Fetch-Site) on the public URL, or on another name for this server.
    older = await client.post(
        "/sso/highlevel", json={"payload": sso_payload()}, headers={"origin": "http://testserver.local"}
    )
    by_host = await client.post(
        "/sso/highlevel",
        json={"payload": sso_payload()},
        headers={"origin": "http://localhost:8000", "host": "localhost:8000"},
    )

    assert [r.status_code for r in (modern, older, by_host)] == [200, 200, 200]
    assert all(r.json()["token"] for r in (modern, older, by_host))


@pytest.mark.parametrize(
    "body", [b"", b"\x00", b"not json", b'{"payload": "x"', b"\xff\xfe", b"[]", b'"a string"']
)
async def test_an_sso_body_that_is_not_a_json_object_is_a_clean_400(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await client.post("/sso/highlevel", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert "Send the payload" in response.json()["error"]


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(sso_payload(key="another-apps-secret"), id="other-key"),
        pytest.param(sso_payload()[:40], id="truncated"),
        pytest.param("bm90IGEgcGF5bG9hZA==", id="garbage"),
    ],
)
async def test_an_unreadable_sso_payload_is_refused(client: httpx.AsyncClient, payload: str) -> None:
    response = await client.post("/sso/highlevel", json={"payload": payload})

    assert response.status_code == 401
    assert "could not be read" in response.json()["error"]
    assert "set-cookie" not in response.headers or "scormhub_session" not in response.headers["set-cookie"]


async def test_the_iframe_entry_page_loads_the_sso_script(client: httpx.AsyncClient) -> None:
    page = await client.get("/hl")

    assert page.status_code == 200
    assert 'data-sso-url="/sso/highlevel"' in page.text
    assert "/static/js/sso.js" in page.text


async def test_the_iframe_page_accepts_sign_in_messages_only_from_the_origins_allowed_to_frame_it(
    db: str, hl_settings: Settings
) -> None:
    # A white-label agency added its CRM domain to SCORMHUB_FRAME_ANCESTORS: its messages count too.
    ancestors = "'self' https://*.gohighlevel.com https://crm.Agency.example/some/path 'unsafe-inline' https:"
    async with serving(create_app(replace(hl_settings, frame_ancestors=ancestors))) as client:
        page = await client.get("/hl")

    origins = page.text.split('data-crm-origins="', 1)[1].split('"', 1)[0].split()
    assert origins == ["&#39;self&#39;", "https://*.gohighlevel.com", "https://crm.agency.example", "https:"]


async def test_cookies_over_https_are_partitioned_for_the_iframe(db: str, hl_settings: Settings) -> None:
    app = create_app(replace(hl_settings, public_url="https://hub.example.com"))
    async with serving(app) as client:
        response = await client.post("/sso/highlevel", json={"payload": sso_payload()})
        page = await client.get("/hl")
    assert response.status_code == 409  # not installed; the cookie rules show on any page
    csrf = next(c for c in page.headers.get_list("set-cookie") if c.startswith("csrftoken="))
    assert "SameSite=None" in csrf
    assert "Partitioned" in csrf
    assert "Secure" in csrf
    session = app.state.deps.sessions.cookie_header("token")
    assert "SameSite=None" in session
    assert "Partitioned" in session


# --- tokens -------------------------------------------------------------------------------------------


@respx.mock(assert_all_called=False)
async def test_two_workers_refreshing_at_once_make_one_token_exchange(
    client: httpx.AsyncClient,
    deps: Deps,
    db: str,
    respx_mock: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await install(client, respx_mock)
    [workspace] = await rows(db, "SELECT id FROM workspace")
    await rows(db, "UPDATE crm_connection SET expires_at = now() - interval '1 minute'")
    exchanges = 0

    async def slow_refresh(request: httpx.Request) -> httpx.Response:
        nonlocal exchanges
        exchanges += 1
        await until_waiting_on_a_lock(db)  # the other worker waits on the row lock this one holds
        return httpx.Response(
            200, json=token_answer(access_token=f"fresh-{exchanges}", refresh_token=f"rotated-{exchanges}")
        )

    respx_mock.post(f"{API}/oauth/token").mock(side_effect=slow_refresh)
    ws = await _workspace(deps, workspace["id"])
    first, second = deps.crm.for_workspace(ws), deps.crm.for_workspace(ws)

    tokens = await asyncio.gather(first._api._tokens.access_token(), second._api._tokens.access_token())

    assert exchanges == 1
    assert tokens == ["fresh-1", "fresh-1"]
    [connection] = await rows(db, "SELECT refresh_token_enc, expires_at FROM crm_connection")
    assert deps.cipher.decrypt(connection["refresh_token_enc"]) == "rotated-1"
    assert "renewed HighLevel access" in caplog.text
    assert "fresh-1" not in caplog.text
    assert "rotated-1" not in caplog.text  # no token, old or new, in any log line


@respx.mock(assert_all_called=False)
async def test_a_revoked_refresh_token_asks_for_reconnect_and_holds_the_writes(
    client: httpx.AsyncClient, deps: Deps, db: str, respx_mock: respx.MockRouter
) -> None:
    await install(client, respx_mock)
    [workspace] = await rows(db, "SELECT id FROM workspace")
    await rows(db, "UPDATE crm_connection SET expires_at = now() - interval '1 minute'")
    respx_mock.post(f"{API}/oauth/token").mock(
        return_value=httpx.Response(400, json=fixture("oauth_invalid_grant.json"))
    )
    await rows(
        db,
        "INSERT INTO outbox (id, workspace_id, kind, contact_id, payload, idempotency_key, status, attempts, "
        "next_attempt_at, created_at) VALUES ($1, $2, 'add_tags', 'c1', '{\"tags\": [\"scorm_completed\"]}', "
        "'k1', 'pending', 0, now(), now())",
        uuid.uuid4(),
        workspace["id"],
    )
    result = await push_to_crm({"deps": deps}, workspace_id=str(workspace["id"]))

    assert result["sent"] == 0
    [write] = await rows(
        db, "SELECT status, attempts, next_attempt_at > now() + interval '1 hour' AS held FROM outbox"
    )
    assert (write["status"], write["attempts"], write["held"]) == ("pending", 0, True)
    [connection] = await rows(db, "SELECT status FROM crm_connection")
    assert connection["status"] == "reconnect"
    session = deps.sessions.issue(workspace["id"])
    settings_page = await client.get("/app/settings", headers={"x-scormhub-session": session})
    assert "Reconnect HighLevel" in settings_page.text
    assert "nothing is lost" in settings_page.text

    # Reconnecting (a new install) makes the held write due again.
    respx_mock.routes.clear()
    await install(client, respx_mock)
    [write] = await rows(db, "SELECT next_attempt_at <= now() AS due FROM outbox")
    assert write["due"]


# --- the whole journey ----------------------------------------------------------------------------------


@respx.mock(assert_all_called=False)
async def test_install_sso_search_enroll_learn_and_the_results_reach_highlevel_within_its_limit(
    client: httpx.AsyncClient, app: Litestar, deps: Deps, db: str, respx_mock: respx.MockRouter
) -> None:
    fake = FakeHighLevel(API)
    fake.mount(respx_mock)
    ada = fake.add_contact("Ada", "Lovelace", "ada@example.com")
    fake.add_contact("Grace", "Hopper", "grace@example.com")
    ctx = {"deps": deps}

    # Install from the marketplace, then the objects are provisioned by their job.
    installed = await install(client, None)
    assert installed.status_code == 303
    [workspace] = await rows(db, "SELECT id FROM workspace")
    assert (await provision_crm(ctx, workspace_id=str(workspace["id"])))["provisioned"] is True
    assert set(fake.objects) == {
        "custom_objects.training_records",
        "custom_objects.company_training_summaries",
    }

    # Open the app inside HighLevel with cookies blocked: SSO, then everything through the header.
    client.cookies.clear()
    token = (await client.post("/sso/highlevel", json={"payload": sso_payload()})).json()["token"]
    client.cookies.clear()
    header = {"x-scormhub-session": token}
    uploaded = await client.post(
        "/app/courses",
        headers=header,
        files={"package": (GOLF_12.name, GOLF_12.read_bytes(), "application/zip")},
    )
    assert uploaded.status_code == 303, uploaded.text
    course_id = uploaded.headers["location"].rsplit("/", 1)[1]
    await import_course(ctx, workspace_id=str(workspace["id"]), course_id=course_id)

    # Type-ahead against HighLevel's contact search, then enroll the contact it found.
    found = await client.get(
        f"/app/courses/{course_id}/contacts", params={"q": "ada"}, headers={**header, "HX-Request": "true"}
    )
    assert "Ada Lovelace" in found.text
    assert "Grace" not in found.text
    enrolled = await client.post(
        f"/app/courses/{course_id}/enrollments",
        data={"contact_id": ada["id"]},
        headers={**header, "HX-Request": "true"},
    )
    assert "Ada Lovelace is enrolled." in enrolled.text
    [enrollment] = await rows(db, "SELECT id, launch_token, contact_id FROM enrollment")
    assert enrollment["contact_id"] == ada["id"]

    # The learner passes; the sync and the outbox push carry it to HighLevel.
    page = await client.get(f"{CONTENT}/play/{enrollment['launch_token']}")
    config = json.loads(page.text.split('id="player-config">', 1)[1].split("</script>", 1)[0])
    reply = await client.post(config["commitUrl"] + "&final=true", json=PASSED_12)
    assert reply.status_code == 200
    await sync_enrollment(ctx, workspace_id=str(workspace["id"]), enrollment_id=str(enrollment["id"]))
    pushed = await push_to_crm(ctx, workspace_id=str(workspace["id"]))

    assert pushed["failed"] == 0
    assert {"scorm_completed", "scorm_passed", "scorm_score_80_89"} <= set(fake.contacts[ada["id"]]["tags"])
    [note] = fake.notes[ada["id"]]
    assert "RuntimeBasicCalls" in note["body"] or "Golf" in note["body"]
    [record] = [r for r in fake.records.values() if r["objectKey"] == "custom_objects.training_records"]
    assert record["properties"]["status"] == "completed"
    assert record["properties"]["score_percent"] == 85
    [relation] = fake.relations
    assert (relation["firstRecordId"], relation["secondRecordId"]) == (record["id"], ada["id"])
    outbox = await rows(db, "SELECT status FROM outbox")
    assert outbox
    assert {row["status"] for row in outbox} == {"sent"}
    assert fake.refused == 0
    assert fake.busiest_window() <= 100

    # Syncing again changes nothing in HighLevel: no duplicate note, record or relation.
    calls_before = len(fake.sent)
    await sync_enrollment(ctx, workspace_id=str(workspace["id"]), enrollment_id=str(enrollment["id"]))
    await push_to_crm(ctx, workspace_id=str(workspace["id"]))
    assert len(fake.notes[ada["id"]]) == 1
    assert len(fake.relations) == 1
    assert len(fake.sent) == calls_before


@respx.mock(assert_all_called=False)
async def test_a_contact_deleted_in_highlevel_while_enrolled_shows_as_a_failed_write(
    client: httpx.AsyncClient, deps: Deps, db: str, respx_mock: respx.MockRouter
) -> None:
    fake = FakeHighLevel(API)
    fake.mount(respx_mock)
    await install(client, None)
    [workspace] = await rows(db, "SELECT id FROM workspace")
    await rows(
        db,
        "INSERT INTO outbox (id, workspace_id, kind, contact_id, payload, idempotency_key, status, attempts, "
        "next_attempt_at, created_at) VALUES ($1, $2, 'add_tags', 'ct-deleted', "
        "'{\"tags\": [\"scorm_completed\"]}', 'k-deleted', 'pending', 0, now(), now())",
        uuid.uuid4(),
        workspace["id"],
    )

    result = await push_to_crm({"deps": deps}, workspace_id=str(workspace["id"]))

    assert result["failed"] == 1
    [write] = await rows(db, "SELECT status, last_error FROM outbox")
    assert write["status"] == "failed"
    assert "no longer exists in HighLevel" in write["last_error"]


@respx.mock(assert_all_called=False)
async def test_a_strict_endpoint_refusing_a_write_fails_that_write_with_its_message_and_sends_the_rest(
    client: httpx.AsyncClient, deps: Deps, db: str, respx_mock: respx.MockRouter
) -> None:
    fake = FakeHighLevel(API)
    fake.mount(respx_mock)
    ada = fake.add_contact("Ada", "Lovelace", "ada@example.com")
    fake.failures[("POST", "/notes")] = (422, fixture("error_422.json"))
    await install(client, None)
    [workspace] = await rows(db, "SELECT id FROM workspace")
    for key, kind, payload in (
        ("k-tags", "add_tags", {"tags": ["scorm_completed"]}),
        ("k-note", "note", {"body": "Completed Golf"}),
    ):
        await rows(
            db,
            "INSERT INTO outbox (id, workspace_id, kind, contact_id, payload, idempotency_key, status, "
            "attempts, next_attempt_at, created_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, now(), now())",
            uuid.uuid4(),
            workspace["id"],
            kind,
            ada["id"],
            json.dumps(payload),
            key,
        )

    result = await push_to_crm({"deps": deps}, workspace_id=str(workspace["id"]))

    assert (result["sent"], result["failed"]) == (1, 1)
    writes = {row["idempotency_key"]: row for row in await rows(db, "SELECT * FROM outbox")}
    assert writes["k-tags"]["status"] == "sent"
    assert writes["k-note"]["status"] == "failed"
    assert any(text in writes["k-note"]["last_error"] for text in fixture("error_422.json")["message"])
    assert fake.contacts[ada["id"]]["tags"] == ["scorm_completed"]


@respx.mock(assert_all_called=False)
async def test_the_tabs_own_header_session_wins_over_the_browsers_shared_cookie(
    client: httpx.AsyncClient, deps: Deps, db: str, respx_mock: respx.MockRouter
) -> None:
    # Two locations open in two tabs of one browser: the cookie is the last sign-in's, the header each tab's.
    FakeHighLevel(API).mount(respx_mock)
    await install(client, None)
    [location] = await rows(db, "SELECT id FROM workspace WHERE crm_location_id = $1", LOCATION)
    await rows(db, "UPDATE workspace SET name = 'Location tab' WHERE id = $1", location["id"])
    other = uuid.uuid4()
    await rows(
        db,
        "INSERT INTO workspace (id, name, kind, plan, engine, crm, created_at) "
        "VALUES ($1, 'Other tab', 'highlevel', 'trial', 'builtin', 'local', now())",
        other,
    )
    client.cookies.set("scormhub_session", deps.sessions.issue(other))

    page = await client.get(
        "/app/settings", headers={"x-scormhub-session": deps.sessions.issue(location["id"])}
    )

    assert page.status_code == 200
    assert "ve9EPM428h8vShlRW1KT" in page.text  # the header's location, not the cookie's workspace


async def test_a_highlevel_that_never_answers_leaves_the_contact_search_responsive(
    db: str, hl_settings: Settings
) -> None:
    # A server that accepts connections and never answers: the worst kind of slow.
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)
    try:
        app = create_app(replace(hl_settings, highlevel_api_url=f"http://127.0.0.1:{hung.getsockname()[1]}"))
        deps: Deps = app.state.deps
        workspace_id = uuid.uuid4()
        await rows(
            db,
            "INSERT INTO workspace (id, name, kind, plan, engine, crm, crm_location_id, created_at) "
            "VALUES ($1, 'Acme', 'highlevel', 'trial', 'builtin', 'highlevel', $2, now())",
            workspace_id,
            LOCATION,
        )
        await rows(
            db,
            "INSERT INTO crm_connection (workspace_id, location_id, access_token_enc, refresh_token_enc, "
            "expires_at, scope, status, provisioned, installed_at, updated_at) VALUES "
            "($1, $2, $3, $4, now() + interval '1 day', '', 'connected', '{}'::jsonb, now(), now())",
            workspace_id,
            LOCATION,
            deps.cipher.encrypt("token"),
            deps.cipher.encrypt("refresh"),
        )
        async with serving(app) as client:
            started = time.monotonic()
            response = await client.get(
                "/app/contacts",
                params={"q": "ada"},
                headers={"x-scormhub-session": deps.sessions.issue(workspace_id)},
            )
            waited = time.monotonic() - started
    finally:
        hung.close()

    assert response.status_code == 200
    assert "Contacts could not be searched" in response.text
    assert "did not answer in time" in response.text
    assert waited < 10  # the interactive timeout (6 s), not the jobs' 20 s
