"""Bad input at every route of the app: always a 4xx (or the page itself), never a 500 or a traceback.

The walk takes the app's own route table (as the isolation test does), so a route added later is fuzzed
too: each path parameter gets a NUL byte, a huge number and 3,000 characters; each query parameter the
handlers read gets the same; every POST gets bodies in the wrong shape (broken JSON, a form with NUL
bytes, text, multipart with more parts than any form has). Requests come from Alpha's admin (the
operator, so the job dashboard answers too) with a valid CSRF token, so they reach the handlers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from test_tenant_isolation import PROBES
from two_workspaces import World, client_for, route_table, serving_two_tenants

from appserver import CONTENT, csrf_of

NUL, HUGE, LONG = "%00", "99999999999999999999999", "a" * 3000
BAD_VALUES = (NUL, HUGE, LONG, "%ff%fe")
# Every query parameter a handler reads (request.query_params.get(...)), and the callback/SSO ones.
QUERY_NAMES = (
    "q",
    "page",
    "range",
    "from",
    "to",
    "sco",
    "session",
    "final",
    "code",
    "state",
    "notice",
    "error",
    "enrollment",
    "compact",
    "polling",
    "notes",
    "saved",
    "deleted",
    "app_id",
    "crm_error",
    "scorm_cloud_error",
)
PARAMETER = re.compile(r"\{(\w+):(\w+)\}")


def multipart(parts: int) -> tuple[str, bytes]:
    boundary = "fuzzboundary"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="field{n}"\r\n\r\nvalue\x00{n}\r\n'.encode()
        for n in range(parts)
    )
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="package"; filename="c.zip"\r\n'
        f"Content-Type: application/zip\r\n\r\nPK\x03\x04\r\n--{boundary}--\r\n"
    ).encode()
    return f"multipart/form-data; boundary={boundary}", body


BODIES: tuple[tuple[str, bytes], ...] = (
    ("application/json", b'{"not json'),
    ("application/json", b"[" * 5000),
    ("application/json", b'{"id": "a\\u0000b", "first_name": "\\u0000"}'),
    (
        "application/x-www-form-urlencoded",
        b"first_name=%00&last_name=%00&email=a%00%40b.c&contact_id=%00&app_id=%00&secret_key=%00"
        b"&name=%00&title=%00&mode=%00&payload=%00&key=%00&color=%00",
    ),
    ("application/x-www-form-urlencoded", b"%ff%fe=%ff&=&&&" + b"x=" + b"y" * 3000),
    ("text/plain", b"\x00\xff\xfe not a form"),
    ("application/octet-stream", bytes(range(256))),
    multipart(12),
    multipart(2),
    ("multipart/form-data", b"--x\r\n"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\n"),
)


@pytest.fixture(scope="module")
async def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with serving_two_tenants(database_url, tmp_path_factory.mktemp("route-fuzz")) as built:
        yield built


@pytest.fixture
def errors(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING)
    return caplog


def valid_path(world: World, method: str, template: str) -> str:
    """The route aimed at Alpha's own things, so the bad value is the only thing wrong."""
    probe = PROBES.get((method, template))
    if probe is None:
        return template
    path = probe.control if probe.control else probe.path
    # Sent to the app's origin: the player's routes answer bad input there as well (a 404, never a 5xx).
    return path.removeprefix(CONTENT).format(v=world.alpha, a=world.alpha).split("?", 1)[0]


def with_bad_parameter(template: str, name: str, valid: str, value: str) -> str:
    """`valid` with the segment(s) that fill parameter `name` replaced by `value`."""
    pattern = "^" + PARAMETER.sub(lambda m: "(.+)" if m.group(2) == "path" else "([^/]+)", template) + "$"
    found = re.match(pattern, valid)
    assert found, (template, valid)
    names = [m.group(1) for m in PARAMETER.finditer(template)]
    start, end = found.span(names.index(name) + 1)
    return valid[:start] + value + valid[end:]


def requests_for(world: World, method: str, template: str) -> Iterator[tuple[str, str, str | None, bytes]]:
    """(method, url, content type, body) for one route: every bad shape, one at a time."""
    valid = valid_path(world, method, template)
    for match in PARAMETER.finditer(template):
        for value in BAD_VALUES:
            yield method, with_bad_parameter(template, match.group(1), valid, value), None, b""
    for value in BAD_VALUES:
        yield method, valid + "?" + "&".join(f"{name}={value}" for name in QUERY_NAMES), None, b""
        if method == "GET" and value in (NUL, HUGE):
            # One at a time as well: a handler that refuses one parameter must not hide another.
            for name in QUERY_NAMES:
                yield method, f"{valid}?{name}={value}", None, b""
    if method == "POST":
        for content_type, body in BODIES:
            yield method, valid, content_type, body


async def send(client: httpx.AsyncClient, method: str, url: str, kind: str | None, body: bytes) -> int:
    headers = {"x-csrftoken": csrf_of(client), "accept": "text/html"}
    if kind is not None:
        headers["content-type"] = kind
    response = await client.request(method, url, content=body or None, headers=headers)
    return response.status_code


def server_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.ERROR or record.exc_info
    ]


def routes(world_routes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # Destructive routes last: deleting Alpha's course would leave later probes nothing to aim at.
    return sorted(world_routes, key=lambda r: (PROBES.get(r) is not None and PROBES[r].destructive, r))


# The shapes reported in the issue, each with the answer a person can act on.
REPORTED: tuple[tuple[str, str, str | None, bytes], ...] = (
    ("POST", "/sso/highlevel", "application/x-www-form-urlencoded", b"payload=abc"),
    ("POST", "/sso/highlevel", *multipart(1)),
    ("POST", "/sso/highlevel", "text/plain", b"not json"),
    ("GET", "/enroll/%00", None, b""),
    ("GET", "/play/%00", None, b""),
    ("GET", "/play/%00/exit", None, b""),
    ("GET", "/play/%00/certificate", None, b""),
    ("GET", "/app/contacts?q=%00", None, b""),
    ("GET", "/app/reports?q=%00", None, b""),
    ("GET", "/app/reports/export.csv?q=%00", None, b""),
    ("POST", "/app/courses", *multipart(12)),
)


@pytest.mark.parametrize("request_", REPORTED, ids=lambda r: f"{r[0]} {r[1]} {r[2] or ''}")
async def test_the_reported_requests_get_a_clear_4xx(
    world: World, errors: pytest.LogCaptureFixture, request_: tuple[str, str, str | None, bytes]
) -> None:
    method, url, kind, body = request_
    async with client_for(world.app, cookie=world.alpha.session) as admin:
        await admin.get("/signed-out")
        headers = {"x-csrftoken": csrf_of(admin), "accept": "text/html"}
        if kind:
            headers["content-type"] = kind
        response = await admin.request(method, url, content=body or None, headers=headers)

    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert "Something went wrong" not in response.text
    assert not server_errors(errors)


async def test_a_3000_character_content_path_is_a_404(world: World, errors: pytest.LogCaptureFixture) -> None:
    alpha = world.alpha
    learner_files = f"{CONTENT}/play/{alpha.enrollment.launch_token}/content"
    async with client_for(world.app) as learner, client_for(world.app, cookie=alpha.session) as admin:
        control = await learner.get(f"{learner_files}/shared/launchpage.html")
        statuses = {
            url: (await (learner if base == learner_files else admin).get(url)).status_code
            for base in (learner_files, "/static", "/app/jobs/static")
            # One name longer than any file name; a path longer than any path (PATH_MAX); multi-byte.
            for url in (f"{base}/{LONG}", f"{base}/{'a/' * 1500}x", f"{base}/{'%C3%A9' * 200}")
        }

    assert control.status_code == 200, "the route serves the course's files"
    assert set(statuses.values()) == {404}, statuses
    assert not server_errors(errors)


async def test_a_page_number_past_any_database_limit_shows_a_page(
    world: World, errors: pytest.LogCaptureFixture
) -> None:
    async with client_for(world.app, cookie=world.alpha.session) as admin:
        course = await admin.get(f"/app/courses/{world.alpha.course.id}?page={HUGE}")
        table = await admin.get(
            f"/app/courses/{world.alpha.course.id}/enrollments?page={HUGE}", headers={"HX-Request": "true"}
        )
        reports = await admin.get(f"/app/reports?page={HUGE}")

    assert [course.status_code, table.status_code, reports.status_code] == [200, 200, 200]
    assert not server_errors(errors)


# Last: its destructive routes (run last within it, too) may delete what the tests above aim at.
async def test_every_route_answers_bad_input_with_a_4xx_and_logs_no_traceback(
    world: World, errors: pytest.LogCaptureFixture
) -> None:
    table = routes([(method, path) for method, path, _ in route_table(world.app)])
    assert ("POST", "/sso/highlevel") in table
    assert ("GET", "/play/{token:str}/certificate") in table

    failures: list[str] = []
    async with client_for(world.app, cookie=world.alpha.session) as admin:
        await admin.get("/signed-out")  # sets the CSRF cookie
        for method, template in table:
            for method_, url, kind, body in requests_for(world, method, template):
                status = await send(admin, method_, url, kind, body)
                if status >= 500:
                    failures.append(f"{status} {method_} {url[:120]} {kind or ''}")

    assert not failures, f"{len(failures)} requests answered 5xx:\n" + "\n".join(failures)
    assert not server_errors(errors), server_errors(errors)[:20]


async def test_a_server_without_highlevel_says_so_with_a_404_not_a_server_error(world: World) -> None:
    # Nothing is failing on such a server: it has no HighLevel app to install or sign in to.
    async with client_for(world.app) as anyone:
        install = await anyone.get("/oauth/install")
        callback = await anyone.get("/oauth/callback", params={"code": "c", "state": "s"})

    assert install.status_code == callback.status_code == 404
    assert "HighLevel is not set up on this server" in install.text
    assert "HIGHLEVEL_CLIENT_ID" in install.text
