"""Admin sessions under attack: expired, tampered, replayed after sign-out; the public form's rate limit.

Already covered in test_admin_access.py (not repeated here): a made-up cookie is signed out, sign-out
needs the CSRF token, the cookie is HttpOnly. In test_enrollment_pages.py: the self-enrollment form is
limited per address and per course.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar
from two_workspaces import TEST_SECRET, client_for, standalone_workspace, upload_ready_course

from appserver import csrf_of, login_link_token, serving
from scormhub.app import create_app
from scormhub.bootstrap import build_deps
from scormhub.integrations.clock import SystemClock
from scormhub.integrations.crypto import TokenSigner
from scormhub.routes.learn import ENROLL_PER_IP_PER_MINUTE
from scormhub.settings import Settings
from scormhub.web.middleware import forwarded_client
from scormhub.web.sessions import SESSION_MAX_AGE_S, SSO_SESSION_MAX_AGE_S

SIGNED_OUT = "/signed-out"


def issued_at(monkeypatch: pytest.MonkeyPatch, app: Litestar, moment: float, **kwargs: Any) -> str:
    """A real session token, minted as if the clock read `moment` (Fernet stamps the token itself)."""
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: moment)
        token: str = app.state.deps.sessions.issue(app.state.test_workspace, **kwargs)
    return token


@pytest.fixture
async def signed_app(app: Litestar, client: httpx.AsyncClient) -> Litestar:
    """The running app, its standalone workspace created and remembered for minting tokens."""
    await login_link_token()
    app.state.test_workspace = (await standalone_workspace()).id
    return app


async def outcome(app: Litestar, token: str, transport: str) -> int:
    """What /app/courses answers a browser presenting `token` as the cookie or as the header."""
    kwargs = {"cookie": token} if transport == "cookie" else {"header": token}
    async with client_for(app, **kwargs) as browser:
        response = await browser.get("/app/courses")
    assert response.status_code != 500
    if response.status_code == 303:
        assert response.headers["location"] == SIGNED_OUT
    return response.status_code


BOTH = pytest.mark.parametrize("transport", ["cookie", "header"])


# --- expiry -----------------------------------------------------------------------------------------------


@BOTH
async def test_a_session_older_than_its_maximum_age_is_signed_out(
    signed_app: Litestar, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    now = time.time()
    fresh = issued_at(monkeypatch, signed_app, now - SESSION_MAX_AGE_S + 60)
    stale = issued_at(monkeypatch, signed_app, now - SESSION_MAX_AGE_S - 60)

    assert await outcome(signed_app, fresh, transport) == 200
    assert await outcome(signed_app, stale, transport) == 303


@BOTH
async def test_an_sso_session_lasts_its_own_shorter_lifetime(
    signed_app: Litestar, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    now = time.time()
    young = issued_at(
        monkeypatch, signed_app, now - SSO_SESSION_MAX_AGE_S + 60, max_age_s=SSO_SESSION_MAX_AGE_S
    )
    old = issued_at(
        monkeypatch, signed_app, now - SSO_SESSION_MAX_AGE_S - 60, max_age_s=SSO_SESSION_MAX_AGE_S
    )

    assert await outcome(signed_app, young, transport) == 200
    assert await outcome(signed_app, old, transport) == 303


@BOTH
async def test_a_token_cannot_ask_for_a_longer_life_than_the_maximum(
    signed_app: Litestar, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    ten_years = 10 * 365 * 24 * 3600
    token = issued_at(monkeypatch, signed_app, time.time() - SESSION_MAX_AGE_S - 60, max_age_s=ten_years)

    assert await outcome(signed_app, token, transport) == 303


@BOTH
async def test_a_token_stamped_in_the_future_is_refused(
    signed_app: Litestar, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    # A stolen key aside, nobody can mint one; but a clock-skewed issuer must not create immortal sessions.
    token = issued_at(monkeypatch, signed_app, time.time() + 2 * 3600)

    assert await outcome(signed_app, token, transport) == 303


async def test_the_session_cookie_expires_with_the_session(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/login/{await login_link_token()}")

    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("scormhub_session="))
    assert f"Max-Age={SESSION_MAX_AGE_S}" in cookie
    assert "Path=/" in cookie


# --- tampering ---------------------------------------------------------------------------------------------


def flip(token: str, at: int) -> str:
    replacement = "A" if token[at] != "A" else "B"
    return token[:at] + replacement + token[at + 1 :]


def forged_tokens(workspace: uuid.UUID) -> dict[str, str]:
    """Tokens an attacker (or a bug) could produce, from bit flips to well-signed nonsense."""
    right_key = TokenSigner(TEST_SECRET, "admin-session")
    now = int(time.time())
    real = right_key.dumps({"w": str(workspace), "t": now})
    return {
        "one character changed in the middle": flip(real, len(real) // 2),
        "one character changed in the signature": flip(real, len(real) - 5),
        "truncated": real[:-10],
        "with junk in front": "AAAA" + real,
        "not base64 at all": "<script>alert(1)</script>",
        "made with another secret key": TokenSigner("x" * 64, "admin-session").dumps(
            {"w": str(workspace), "t": now}
        ),
        "made for another purpose (OAuth state)": TokenSigner(TEST_SECRET, "oauth-state").dumps(
            {"w": str(workspace), "t": now}
        ),
        "well signed, workspace is not a UUID": right_key.dumps({"w": "../../etc", "t": now}),
        "well signed, no issue time": right_key.dumps({"w": str(workspace)}),
        "well signed, issue time is text": right_key.dumps({"w": str(workspace), "t": "yesterday"}),
        "well signed, max age is text": right_key.dumps({"w": str(workspace), "t": now, "m": "forever"}),
        "well signed, a list instead of an object": right_key._fernet.encrypt(b"[1, 2]").decode(),
        "well signed, not JSON": right_key._fernet.encrypt(b"\xff\xfe not json").decode(),
        "well signed, for a workspace that does not exist": right_key.dumps(
            {"w": str(uuid.uuid4()), "t": now}
        ),
    }


@BOTH
async def test_every_forged_or_damaged_token_is_signed_out_never_an_error(
    signed_app: Litestar, transport: str
) -> None:
    outcomes = {}
    for name, token in forged_tokens(signed_app.state.test_workspace).items():
        outcomes[name] = await outcome(signed_app, token, transport)

    assert outcomes == dict.fromkeys(outcomes, 303)


async def test_a_damaged_token_on_an_htmx_request_asks_the_page_to_reload_to_sign_in(
    signed_app: Litestar,
) -> None:
    token = forged_tokens(signed_app.state.test_workspace)["one character changed in the middle"]
    async with client_for(signed_app, header=token) as page:
        response = await page.get("/app/courses", headers={"HX-Request": "true"})

    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == SIGNED_OUT


# --- signing out --------------------------------------------------------------------------------------------


async def test_signing_out_tells_the_browser_to_drop_the_cookie_at_once(admin: httpx.AsyncClient) -> None:
    await admin.get("/app/courses")

    response = await admin.post("/logout", data={"_csrf_token": csrf_of(admin)})

    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("scormhub_session="))
    assert cookie.startswith("scormhub_session=;")
    assert "Max-Age=0" in cookie
    assert "Path=/" in cookie
    assert "HttpOnly" in cookie
    assert "scormhub_session" not in admin.cookies
    assert (await admin.get("/app/courses")).headers["location"] == SIGNED_OUT


async def test_signing_out_cannot_revoke_a_copied_token_which_stays_valid_until_it_expires(
    app: Litestar, admin: httpx.AsyncClient
) -> None:
    # Documented in SECURITY.md: sessions are stateless encrypted tokens. Sign-out clears the browser's
    # cookie, but a copy taken before (a stolen cookie, a header token kept by a page) still works until
    # SESSION_MAX_AGE_S (SSO: SSO_SESSION_MAX_AGE_S) after it was issued. Rotating SCORMHUB_SECRET_KEY ends
    # every session at once. If sign-out ever revokes tokens server-side, flip this test.
    copied = admin.cookies["scormhub_session"]
    await admin.get("/app/courses")
    await admin.post("/logout", data={"_csrf_token": csrf_of(admin)})

    async with client_for(app, cookie=copied) as thief:
        replayed = await thief.get("/app/courses")

    assert replayed.status_code == 200


# --- the public form's rate limit ---------------------------------------------------------------------------


class MovableClock(SystemClock):
    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return super().now() + self.offset


@pytest.fixture
def clock() -> Iterator[MovableClock]:
    return MovableClock()


@pytest.fixture
async def clocked_app(db: str, settings: Settings, clock: MovableClock) -> AsyncIterator[Litestar]:
    app = create_app(settings, build_deps(settings, clock=clock))
    async with serving(app):
        yield app


async def test_the_self_enrollment_limit_reopens_after_its_minute_and_ignores_forwarded_for(
    clocked_app: Litestar, clock: MovableClock
) -> None:
    await login_link_token()
    workspace = await standalone_workspace()
    course = await upload_ready_course(
        clocked_app, clocked_app.state.deps.sessions.issue(workspace.id), "Golf"
    )
    url = f"/enroll/{course.self_enroll_token}"
    bad = {"first_name": "A", "last_name": "B", "email": "not-an-email"}

    async with client_for(clocked_app) as learner:
        await learner.get(url)
        bad["_csrf_token"] = csrf_of(learner)
        spent = [(await learner.post(url, data=bad)).status_code for _ in range(ENROLL_PER_IP_PER_MINUTE)]
        blocked = await learner.post(url, data=bad)
        # The app trusts the ASGI server's idea of the client; a header the client writes changes nothing.
        spoofed = await learner.post(url, data=bad, headers={"X-Forwarded-For": "198.51.100.77"})
        clock.offset = timedelta(seconds=61)
        reopened = await learner.post(url, data=bad)

    assert spent == [422] * ENROLL_PER_IP_PER_MINUTE
    assert blocked.status_code == 429
    assert spoofed.status_code == 429
    assert reopened.status_code == 422


@pytest.fixture
async def behind_one_proxy(db: str, settings: Settings, clock: MovableClock) -> AsyncIterator[Litestar]:
    """As on Heroku: one router in front, which appends the address that connected to it."""
    proxied = dataclasses.replace(settings, trusted_proxy_hops=1)
    app = create_app(proxied, build_deps(proxied, clock=clock))
    async with serving(app):
        yield app


async def test_behind_a_proxy_the_limit_keys_on_the_address_the_proxy_appended_not_the_clients_own(
    behind_one_proxy: Litestar,
) -> None:
    await login_link_token()
    workspace = await standalone_workspace()
    course = await upload_ready_course(
        behind_one_proxy, behind_one_proxy.state.deps.sessions.issue(workspace.id), "Golf"
    )
    url = f"/enroll/{course.self_enroll_token}"
    bad = {"first_name": "A", "last_name": "B", "email": "not-an-email"}

    def via_router(claimed: str, connecting: str) -> dict[str, str]:
        # The client wrote `claimed` itself; the router appended the address it saw.
        return {"X-Forwarded-For": f"{claimed}, {connecting}"}

    async with client_for(behind_one_proxy) as attacker:
        await attacker.get(url)
        bad["_csrf_token"] = csrf_of(attacker)
        spent = [
            (await attacker.post(url, data=bad, headers=via_router(f"10.0.0.{n}", "203.0.113.9"))).status_code
            for n in range(ENROLL_PER_IP_PER_MINUTE)
        ]
        # A fresh made-up entry each time does not buy a fresh budget.
        rotated = await attacker.post(url, data=bad, headers=via_router("10.9.9.9", "203.0.113.9"))
        # Someone else behind the same router still has their own.
        neighbour = await attacker.post(url, data=bad, headers=via_router("203.0.113.9", "198.51.100.20"))

    assert spent == [422] * ENROLL_PER_IP_PER_MINUTE
    assert rotated.status_code == 429
    assert neighbour.status_code == 422


@pytest.mark.parametrize(
    ("headers", "hops", "client"),
    [
        ([(b"x-forwarded-for", b"10.0.0.1, 203.0.113.9")], 1, "203.0.113.9"),
        ([(b"x-forwarded-for", b"10.0.0.1, 203.0.113.9, 198.51.100.2")], 2, "203.0.113.9"),
        # Two header lines are one list, in order (RFC 9110 §5.3).
        ([(b"x-forwarded-for", b"10.0.0.1"), (b"X-Forwarded-For", b"203.0.113.9")], 1, "203.0.113.9"),
        # Fewer entries than proxies: every entry is a proxy's, and the first is the client.
        ([(b"x-forwarded-for", b"203.0.113.9")], 2, "203.0.113.9"),
        ([(b"x-forwarded-for", b" , ")], 1, None),
        ([], 1, None),
    ],
)
def test_the_client_address_is_the_entry_the_trusted_proxies_wrote(
    headers: list[tuple[bytes, bytes]], hops: int, client: str | None
) -> None:
    assert forwarded_client(headers, hops) == client
