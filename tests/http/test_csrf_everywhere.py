"""CSRF over the app's own route list: every state-changing route refuses a request without a valid
CSRF token with 403 and stores nothing, unless it is one of the documented exemptions below.

New routes are covered automatically (their path parameters are filled from test_tenant_isolation's
PROBES). A new exemption, by path prefix in `csrf_config` or by `opt={"exclude_from_csrf": True}`, fails
`test_every_exemption_is_documented_with_its_reason` until it is added here with its reason.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.middleware.csrf import generate_csrf_token
from test_tenant_isolation import PROBES
from two_workspaces import (
    GOLF_12,
    TEST_SECRET,
    Tenant,
    World,
    changed,
    client_for,
    fingerprint,
    route_table,
    serving_two_tenants,
    settings_for,
)

from appserver import csrf_of
from scormhub.app import csrf_config

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}

# Path patterns the CSRF middleware skips (csrf_config's `exclude`, regular expressions matched against
# the path), and why that is safe.
PATH_EXEMPTIONS = {
    "^/hooks/": "Webhooks (SCORM Cloud postbacks, the CRM's install/uninstall events) come from servers, "
    "not browsers: they carry per-workspace Basic credentials or a signature over the body, and no cookie "
    "of ours authenticates them, so there is nothing for a cross-site request to ride on.",
    "^/healthz$": "A GET that reads and changes nothing; listed so a load balancer never needs a cookie.",
    "^/sso/": "The CRM's SSO exchange is authenticated by a payload encrypted with the app's shared SSO key; "
    "inside the CRM's iframe there is no CSRF cookie to compare against yet. It only reads application/json "
    "(a cross-site page cannot send that without a CORS preflight) and refuses a Sec-Fetch-Site other than "
    "same-origin, or a foreign Origin.",
}
# Routes that opt out with `opt={"exclude_from_csrf": True}`, and why that is safe.
ROUTE_EXEMPTIONS = {
    ("POST", "/app/courses"): "The package upload streams its body, so the middleware (which would read "
    "the whole form first) is skipped; StreamedUpload makes the same check before a byte is stored. It "
    "still answers 403 without a token: asserted by the route table test like any other route.",
    ("POST", "/app/courses/{course_id:uuid}/versions"): "A new version's package streams like a course "
    "upload, checked by StreamedUpload in the same way before a byte is stored (403 without a token).",
    ("POST", "/play/{token:str}/commit"): "The player's commits are authenticated by the unguessable "
    "launch token in the path, never by a cookie, and come from navigator.sendBeacon, which cannot add a "
    "CSRF field. A forged commit would need the learner's token.",
    ("POST", "/play/{token:str}/nav"): "Sequencing navigation requests of the player: authenticated by the "
    "unguessable launch token in the path like commits, never by a cookie (the player's fetch omits "
    "credentials). A forged request would need the learner's token.",
}
# Exempt routes that still check the token themselves: they go through the 403 table like the rest.
SELF_CHECKED = {("POST", "/app/courses"), ("POST", "/app/courses/{course_id:uuid}/versions")}

# Plausible bodies for routes without ids, so a missing check would really store something.
FORMS: dict[str, dict[str, str]] = {
    "/app/contacts": {"first_name": "Mallory", "last_name": "Forged", "email": "mallory@example.com"},
    "/app/settings/crm": {"sync_tags": "on"},
    "/app/settings/branding": {"organization_name": "Forged Org", "primary_color": "#ff0000"},
    "/app/settings/scorm-cloud": {"app_id": "FORGED", "secret_key": "forged"},
}


@pytest.fixture(scope="module")
async def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with serving_two_tenants(database_url, tmp_path_factory.mktemp("csrf")) as built:
        yield built


def is_exempt(path: str, handler: Any) -> bool:
    return bool(handler.opt.get("exclude_from_csrf")) or any(
        re.search(pattern, path) for pattern in csrf_config(settings_for(Path("."))).exclude or []
    )


def guarded_routes(app: Litestar) -> list[tuple[str, str]]:
    routes = {
        (method, path)
        for method, path, handler in route_table(app)
        if method in STATE_CHANGING and (not is_exempt(path, handler) or (method, path) in SELF_CHECKED)
    }
    return sorted(routes)


def url_for(route: tuple[str, str], owner: Tenant) -> str:
    """The route aimed at the owner's own things, so a missing check would really change something."""
    _, path = route
    probe = PROBES.get(route)
    if probe is not None and probe.control is not None:
        template = probe.path if probe.control == "" else probe.control
        return template.format(v=owner, a=owner)
    # A route test_tenant_isolation doesn't know yet (that test fails and says so): fill its parameters
    # by name, so it is still checked here.
    own = {
        "course_id": owner.course.id,
        "enrollment_id": owner.enrollment.id,
        "contact_id": owner.contact_id,
        "item_id": owner.outbox_id,
        "export_id": owner.export_id,
        "workspace_id": owner.workspace.id,
        "certificate_id": owner.certificate_id,
        "token": owner.enrollment.launch_token,
    }
    return re.sub(
        r"\{(\w+):(\w+)\}",
        lambda m: str(own.get(m.group(1), uuid.uuid4() if m.group(2) == "uuid" else "x")),
        path,
    )


def body_for(route: tuple[str, str], owner: Tenant) -> dict[str, Any]:
    """Keyword arguments for httpx: the form (or upload) this route takes, without any CSRF token."""
    _method, path = route
    if route in SELF_CHECKED:  # the package uploads
        return {"files": {"package": (GOLF_12.name, GOLF_12.read_bytes(), "application/zip")}}
    probe = PROBES.get(route)
    form = dict(FORMS.get(path, {}))
    if probe is not None and probe.form:
        form.update({k: v.format(v=owner, a=owner) for k, v in probe.form.items()})
    if probe is not None and probe.json is not None:
        return {"json": probe.json}
    return {"data": form}


async def forged(world: World, route: tuple[str, str], variant: str) -> tuple[httpx.Response, list[str]]:
    """Send the route's request as Alpha's signed-in browser, with the CSRF token missing or wrong."""
    owner = world.alpha
    async with client_for(world.app, cookie=owner.session) as browser:
        await browser.get("/app/courses")  # a real page visit: the browser now holds a CSRF cookie
        real = csrf_of(browser)
        kwargs = body_for(route, owner)
        if variant == "no cookie and no token":
            browser.cookies.delete("csrftoken")
        elif variant == "a token from another browser":
            kwargs.setdefault("data", {})["_csrf_token"] = generate_csrf_token(TEST_SECRET)
        elif variant == "a forged token in the header":
            kwargs["headers"] = {"x-csrftoken": secrets.token_hex(32) + secrets.token_hex(32)}
        elif variant == "the cookie's token signed with another key":
            foreign = generate_csrf_token("another-secret")
            browser.cookies.delete("csrftoken")
            browser.cookies.set("csrftoken", foreign)
            kwargs.setdefault("data", {})["_csrf_token"] = foreign
        else:
            assert variant == "cookie but no token", variant
        assert real
        before = await fingerprint(world.database_url, world.data_dir)
        response = await browser.request(route[0], url_for(route, owner), **kwargs)
        after = await fingerprint(world.database_url, world.data_dir)
    return response, changed(before, after)


VARIANTS = [
    "no cookie and no token",
    "cookie but no token",
    "a token from another browser",
    "a forged token in the header",
    "the cookie's token signed with another key",
]


# --- the exemptions are deliberate --------------------------------------------------------------------


async def test_every_exemption_is_documented_with_its_reason(world: World) -> None:
    prefixes = set(csrf_config(settings_for(Path("."))).exclude or [])
    opted_out = {(m, p) for m, p, h in route_table(world.app) if h.opt.get("exclude_from_csrf")}
    opted_out = {(m, p) for m, p in opted_out if m in STATE_CHANGING}

    assert prefixes == set(PATH_EXEMPTIONS), (
        "csrf_config's exclusions changed: document each one (and why it is safe) in PATH_EXEMPTIONS",
        prefixes ^ set(PATH_EXEMPTIONS),
    )
    assert opted_out == set(ROUTE_EXEMPTIONS), (
        "a route opted out of CSRF: document it (and why it is safe) in ROUTE_EXEMPTIONS",
        opted_out ^ set(ROUTE_EXEMPTIONS),
    )


async def test_the_table_covers_every_form_an_admin_or_learner_can_post(world: World) -> None:
    routes = guarded_routes(world.app)

    for expected in [
        ("POST", "/logout"),
        ("POST", "/app/courses"),
        ("POST", "/app/courses/{course_id:uuid}/delete"),
        ("POST", "/enroll/{token:str}"),
        ("POST", "/app/settings/scorm-cloud"),
    ]:
        assert expected in routes


# --- every state-changing route -------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
async def test_every_state_changing_route_refuses_a_missing_or_wrong_token_and_stores_nothing(
    world: World, variant: str
) -> None:
    refused = []
    for route in guarded_routes(world.app):
        response, what_changed = await forged(world, route, variant)
        if response.status_code != 403 or what_changed:
            refused.append((route, response.status_code, what_changed))

    assert refused == [], refused


async def test_the_self_enrollment_form_needs_its_token_even_without_any_session(world: World) -> None:
    url = f"/enroll/{world.alpha.course.self_enroll_token}"
    form = {"first_name": "Mallory", "last_name": "Forged", "email": "mallory@example.com"}
    async with client_for(world.app) as learner:
        page = await learner.get(url)
        before = await fingerprint(world.database_url, world.data_dir)
        refused = await learner.post(url, data=form)
        after = await fingerprint(world.database_url, world.data_dir)
        accepted = await learner.post(url, data={**form, "_csrf_token": csrf_of(learner)})

    assert page.status_code == 200
    assert 'name="_csrf_token"' in page.text
    assert refused.status_code == 403
    assert changed(before, after) == []
    assert accepted.status_code == 303


async def test_an_exclusion_prefix_inside_another_route_does_not_switch_the_check_off(world: World) -> None:
    # The exclusions must match the start of the path only: a self-enrollment token, a job id or any other
    # path segment that happens to read "healthz", "hooks" or "sso" must not make a route exempt.
    async with client_for(world.app, cookie=world.alpha.session) as browser:
        await browser.get("/app/courses")
        browser.cookies.delete("csrftoken")
        answers = {
            path: (
                await browser.post(path, data={"first_name": "M", "last_name": "F", "email": "m@e.com"})
            ).status_code
            for path in (
                "/enroll/healthz",
                "/enroll/sso/",
                "/enroll/hooks/",
                "/app/jobs/api/queues/scormhub/jobs/healthz/abort",
            )
        }

    assert answers == dict.fromkeys(answers, 403)


# --- the exemptions hold up -------------------------------------------------------------------------------


async def test_exempt_routes_called_cross_site_without_credentials_store_nothing(world: World) -> None:
    exempt = sorted(
        (m, p)
        for m, p, h in route_table(world.app)
        if m in STATE_CHANGING and is_exempt(p, h) and (m, p) not in SELF_CHECKED
    )
    assert exempt, "the documented exemptions exist"
    outcomes = {}
    async with client_for(world.app) as stranger:
        for method, path in exempt:
            url = path.replace("{workspace_id:uuid}", str(world.alpha.workspace.id)).replace(
                "{token:str}", "not-a-launch-token"
            )
            before = await fingerprint(world.database_url, world.data_dir)
            response = await stranger.request(method, url, json={"id": str(world.alpha.enrollment.id)})
            after = await fingerprint(world.database_url, world.data_dir)
            outcomes[(method, path)] = (response.status_code, changed(before, after))

    for route, (status, what_changed) in outcomes.items():
        assert 400 <= status < 500, (route, status)
        assert what_changed == [], (route, what_changed)


async def test_a_session_sent_as_a_header_needs_no_csrf_token_because_no_other_site_can_send_it(
    world: World,
) -> None:
    form = {"first_name": "Hedda", "last_name": "Header", "email": "hedda@example.com"}
    async with client_for(world.app, header=world.bravo.session) as iframe:
        accepted = await iframe.post("/app/contacts", data=form)

    assert accepted.status_code == 303


async def test_a_header_session_next_to_a_session_cookie_gets_the_csrf_check(world: World) -> None:
    # A page that has the cookie is an ordinary browser page: a header does not switch the check off.
    async with client_for(world.app, cookie=world.alpha.session, header=world.alpha.session) as browser:
        refused = await browser.post(
            "/app/contacts", data={"first_name": "A", "last_name": "B", "email": "a@b.co"}
        )

    assert refused.status_code == 403


async def test_an_invalid_header_session_does_not_switch_the_check_off(world: World) -> None:
    async with client_for(world.app, header=world.alpha.session[:-4] + "AAAA") as stranger:
        refused = await stranger.post(
            "/app/contacts", data={"first_name": "A", "last_name": "B", "email": "a@b.co"}
        )

    assert refused.status_code == 403


async def test_no_other_origin_is_granted_cors_so_it_cannot_send_the_session_header(world: World) -> None:
    preflight = {
        "origin": "https://evil.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "x-scormhub-session",
    }
    async with client_for(world.app) as stranger:
        answers = [
            await stranger.options(path, headers=preflight) for path in ("/app/contacts", "/app/courses")
        ]

    for answer in answers:
        assert "access-control-allow-origin" not in answer.headers
        assert "access-control-allow-headers" not in answer.headers
