"""Tenant isolation over the app's own route list: another workspace's ids are a 404 everywhere.

`PROBES` says, for every route with a path parameter, how to aim it at the other workspace's ids. A
route the app serves but `PROBES` doesn't name fails `test_every_route_with_a_path_parameter_has_a_probe`:
add an entry (and scope the handler's queries by the session's workspace).

Each probe runs both ways: Alpha's admin (the standalone workspace, by session cookie) at Bravo's ids,
and Bravo's admin (a HighLevel location, by session header) at Alpha's. Every probe must answer 404 (not
403: that would confirm the id exists), and nothing stored may change. A control request with the
workspace's own ids must reach the handler (not 404), or the probe proves nothing.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest
from two_workspaces import (
    Tenant,
    World,
    changed,
    client_for,
    fingerprint,
    route_table,
    serving_two_tenants,
)

from appserver import CONTENT, csrf_of

Kind = Literal["session", "operator", "learner-token", "login-token", "public-id", "webhook", "not-an-id"]


@dataclass(frozen=True)
class Probe:
    """How to aim one route at the victim `v`'s ids while signed in as the attacker `a`.

    `path` is formatted with v= and a= (Tenants). `control` is the request that must reach the handler
    with the attacker's own ids ("" means `path` with v = the attacker; None: nothing to control).
    kinds: session (scoped by the admin session: must be 404), operator (the operator-only job UI: a
    tenant admin gets 404 for everything in it), learner-token / login-token (the path holds a secret
    token, not an id: the victim's ids must not work as tokens), public-id (an unguessable id meant to be
    shared, like a certificate's verification id: other ids must not work as one), webhook (authenticated
    by per-workspace credentials), not-an-id (a file path the same for everyone).
    """

    kind: Kind
    path: str
    control: str | None = ""
    form: dict[str, str] | None = None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    expect: int = 404
    destructive: bool = False  # its control changes the attacker's data: run last


HX = {"HX-Request": "true"}
COURSE = "/app/courses/{v.course.id}"
PLAY = "/play/{v.enrollment.id}"  # an enrollment id where a launch token belongs
OWN_PLAY = "/play/{v.enrollment.launch_token}"
JOBS = "/app/jobs/api/queues/scormhub/jobs/{v.job_key}"

PROBES: dict[tuple[str, str], Probe] = {
    # Courses
    ("GET", "/app/courses/{course_id:uuid}"): Probe("session", COURSE),
    ("GET", "/app/courses/{course_id:uuid}/status"): Probe("session", COURSE + "/status", headers=HX),
    ("GET", "/app/courses/{course_id:uuid}/delete"): Probe("session", COURSE + "/delete"),
    ("POST", "/app/courses/{course_id:uuid}/delete"): Probe(
        "session", COURSE + "/delete", form={}, destructive=True
    ),
    ("GET", "/app/courses/{course_id:uuid}/preview"): Probe("session", COURSE + "/preview"),
    # Enrolling and the enrolled table
    ("GET", "/app/courses/{course_id:uuid}/contacts"): Probe(
        "session", COURSE + "/contacts?q={v.marker}", headers=HX
    ),
    ("GET", "/app/courses/{course_id:uuid}/enrollments"): Probe(
        "session", COURSE + "/enrollments", headers=HX
    ),
    ("POST", "/app/courses/{course_id:uuid}/enrollments"): Probe(
        "session", COURSE + "/enrollments", form={"contact_id": "{v.contact_id}"}, headers=HX
    ),
    ("GET", "/app/courses/{course_id:uuid}/enrollments/{enrollment_id:uuid}/launch"): Probe(
        "session", COURSE + "/enrollments/{v.enrollment.id}/launch"
    ),
    ("POST", "/app/courses/{course_id:uuid}/enrollments/{enrollment_id:uuid}/delete"): Probe(
        "session", COURSE + "/enrollments/{v.enrollment.id}/delete", form={}, destructive=True
    ),
    ("POST", "/app/courses/{course_id:uuid}/enrollments/{enrollment_id:uuid}/sync"): Probe(
        "session", COURSE + "/enrollments/{v.enrollment.id}/sync", form={}
    ),
    # Result overrides, the question report, course versions (issue #22)
    ("GET", "/app/courses/{course_id:uuid}/enrollments/{enrollment_id:uuid}/override"): Probe(
        "session", COURSE + "/enrollments/{v.enrollment.id}/override"
    ),
    ("POST", "/app/courses/{course_id:uuid}/enrollments/{enrollment_id:uuid}/override"): Probe(
        "session",
        COURSE + "/enrollments/{v.enrollment.id}/override",
        form={"completion": "completed", "success": "passed", "score": "90", "reason": "probe"},
    ),
    ("POST", "/app/courses/{course_id:uuid}/enrollments/{enrollment_id:uuid}/override/clear"): Probe(
        "session", COURSE + "/enrollments/{v.enrollment.id}/override/clear", form={}
    ),
    ("GET", "/app/courses/{course_id:uuid}/questions"): Probe("session", COURSE + "/questions"),
    ("GET", "/app/courses/{course_id:uuid}/questions.csv"): Probe("session", COURSE + "/questions.csv"),
    ("GET", "/app/courses/{course_id:uuid}/questions.xlsx"): Probe("session", COURSE + "/questions.xlsx"),
    # Not multipart: the victim's course is a 404 before the body is read; one's own is a 415.
    ("POST", "/app/courses/{course_id:uuid}/versions"): Probe("session", COURSE + "/versions", form={}),
    # Each tenant has one course: the victim's course made a version of the attacker's (no control: with
    # one course of one's own there is no second course to aim at).
    ("POST", "/app/courses/{course_id:uuid}/as-version-of/{target_id:uuid}"): Probe(
        "session", COURSE + "/as-version-of/{a.course.id}", control=None, form={"policy": "never"}
    ),
    # Contacts
    ("GET", "/app/contacts/{contact_id:str}"): Probe("session", "/app/contacts/{v.contact_id}"),
    # CRM sync
    ("GET", "/app/courses/{course_id:uuid}/sync"): Probe("session", COURSE + "/sync", headers=HX),
    ("POST", "/app/courses/{course_id:uuid}/sync"): Probe("session", COURSE + "/sync", form={}),
    ("POST", "/app/sync/{item_id:uuid}/retry"): Probe(
        "session", "/app/sync/{v.outbox_id}/retry", form={}, destructive=True
    ),
    # Bulk enrollment (course-scoped; a run of another workspace is not found even under one's own course)
    ("GET", "/app/courses/{course_id:uuid}/bulk"): Probe("session", COURSE + "/bulk"),
    ("POST", "/app/courses/{course_id:uuid}/bulk/preview"): Probe(
        "session", COURSE + "/bulk/preview", form={}
    ),
    ("POST", "/app/courses/{course_id:uuid}/bulk/preview-tag"): Probe(
        "session", COURSE + "/bulk/preview-tag", form={"tag": "nobody-has-this"}
    ),
    ("GET", "/app/courses/{course_id:uuid}/bulk/{run_id:uuid}"): Probe(
        "session", "/app/courses/{a.course.id}/bulk/{v.bulk_run_id}", control=COURSE + "/bulk/{v.bulk_run_id}"
    ),
    ("POST", "/app/courses/{course_id:uuid}/bulk/{run_id:uuid}/start"): Probe(
        "session",
        "/app/courses/{a.course.id}/bulk/{v.bulk_run_id}/start",
        control=COURSE + "/bulk/{v.bulk_run_id}/start",
        form={},
        destructive=True,
    ),
    # Settings → Webhooks
    ("POST", "/app/settings/webhooks/{endpoint_id:uuid}/test"): Probe(
        "session", "/app/settings/webhooks/{v.webhook_endpoint_id}/test", form={}
    ),
    ("POST", "/app/settings/webhooks/{endpoint_id:uuid}/delete"): Probe(
        "session", "/app/settings/webhooks/{v.webhook_endpoint_id}/delete", form={}, destructive=True
    ),
    ("POST", "/app/settings/webhooks/deliveries/{delivery_id:uuid}/retry"): Probe(
        "session",
        "/app/settings/webhooks/deliveries/{v.webhook_delivery_id}/retry",
        form={},
        destructive=True,
    ),
    # Exports run as jobs
    ("GET", "/app/reports/exports/{export_id:uuid}"): Probe("session", "/app/reports/exports/{v.export_id}"),
    ("GET", "/app/reports/exports/{export_id:uuid}/download"): Probe(
        "session", "/app/reports/exports/{v.export_id}/download"
    ),
    # Certificates
    ("GET", "/app/enrollments/{enrollment_id:uuid}/certificate"): Probe(
        "session", "/app/enrollments/{v.enrollment.id}/certificate"
    ),
    ("GET", "/app/enrollments/{enrollment_id:uuid}/certificate/details"): Probe(
        "session", "/app/enrollments/{v.enrollment.id}/certificate/details"
    ),
    ("GET", "/app/enrollments/{enrollment_id:uuid}/certificate/revoke"): Probe(
        "session", "/app/enrollments/{v.enrollment.id}/certificate/revoke"
    ),
    # Billing: only a refused or failed charge of the session's own workspace can be retried.
    ("POST", "/app/settings/charges/{enrollment_id:uuid}/retry"): Probe(
        "session", "/app/settings/charges/{v.enrollment.id}/retry", form={}, control=None
    ),
    ("POST", "/app/enrollments/{enrollment_id:uuid}/certificate/revoke"): Probe(
        "session", "/app/enrollments/{v.enrollment.id}/certificate/revoke", form={}, destructive=True
    ),
    ("GET", "/play/{token:str}/certificate"): Probe(
        "learner-token", PLAY + "/certificate", control=OWN_PLAY + "/certificate"
    ),
    # The public verification page: its id is meant to be shared (QR code); an enrollment id is not one.
    ("GET", "/certificates/{certificate_id:str}"): Probe(
        "public-id", "/certificates/{v.enrollment.id}", control="/certificates/{v.certificate_id}"
    ),
    # Who a course certifies: the course page's Certificates card.
    ("POST", "/app/courses/{course_id:uuid}/certificate-rule"): Probe(
        "session", COURSE + "/certificate-rule", form={"rule": "passed"}
    ),
    # Learner pages' look: public by design (a learner has no session), by workspace or certificate id;
    # another kind of id (an enrollment's) is not one. A workspace without a logo has none to control.
    ("GET", "/brand/{workspace_id:uuid}/theme.css"): Probe(
        "public-id", "/brand/{v.enrollment.id}/theme.css", control="/brand/{v.workspace.id}/theme.css"
    ),
    ("GET", "/brand/{workspace_id:uuid}/logo"): Probe(
        "public-id", "/brand/{v.enrollment.id}/logo", control=None
    ),
    ("GET", "/certificates/{certificate_id:str}/theme.css"): Probe(
        "public-id",
        "/certificates/{v.enrollment.id}/theme.css",
        control="/certificates/{v.certificate_id}/theme.css",
    ),
    ("GET", "/certificates/{certificate_id:str}/logo"): Probe(
        "public-id", "/certificates/{v.enrollment.id}/logo", control=None
    ),
    # The job dashboard shows every workspace's jobs: it is the operator's, no tenant admin's.
    ("GET", "/app/jobs/queues/{queue_id:str}"): Probe("operator", "/app/jobs/queues/scormhub"),
    ("GET", "/app/jobs/queues/{queue_id:str}/jobs/{job_id:str}"): Probe(
        "operator", "/app/jobs/queues/scormhub/jobs/{v.job_key}"
    ),
    ("GET", "/app/jobs/api/queues/{queue_id:str}"): Probe("operator", "/app/jobs/api/queues/scormhub"),
    ("GET", "/app/jobs/api/queues/{queue_id:str}/jobs/{job_id:str}"): Probe("operator", JOBS),
    ("POST", "/app/jobs/api/queues/{queue_id:str}/jobs/{job_id:str}/abort"): Probe(
        "operator", JOBS + "/abort", form={}, destructive=True
    ),
    ("POST", "/app/jobs/api/queues/{queue_id:str}/jobs/{job_id:str}/retry"): Probe(
        "operator", JOBS + "/retry", form={}, destructive=True
    ),
    ("GET", "/app/jobs/static/{file_path:path}"): Probe("operator", "/app/jobs/static/app.js"),
    # Learner pages: the launch token is the credential; an enrollment id is not one.
    # The player and package files answer on the content origin only.
    ("GET", "/play/{token:str}"): Probe("learner-token", CONTENT + PLAY, control=CONTENT + OWN_PLAY),
    ("GET", "/play/{token:str}/content/{path:path}"): Probe(
        "learner-token",
        CONTENT + PLAY + "/content/shared/launchpage.html",
        control=CONTENT + OWN_PLAY + "/content/shared/launchpage.html",
    ),
    ("POST", "/play/{token:str}/commit"): Probe(
        "learner-token",
        PLAY + "/commit?sco={v.sco}&session=probe",
        control=OWN_PLAY + "/commit?sco={v.sco}&session=probe",
        json={"core": {"lesson_location": "page 2"}},
    ),
    ("GET", "/play/{token:str}/nav"): Probe("learner-token", PLAY + "/nav", control=OWN_PLAY + "/nav"),
    ("POST", "/play/{token:str}/nav"): Probe(
        "learner-token", PLAY + "/nav", control=OWN_PLAY + "/nav", json={"request": "continue"}
    ),
    ("GET", "/play/{token:str}/exit"): Probe("learner-token", PLAY + "/exit", control=OWN_PLAY + "/exit"),
    ("GET", "/play/{token:str}/exit/result"): Probe(
        "learner-token", PLAY + "/exit/result", control=OWN_PLAY + "/exit/result"
    ),
    ("GET", "/enroll/{token:str}"): Probe(
        "learner-token", "/enroll/{v.course.id}", control="/enroll/{v.course.self_enroll_token}"
    ),
    ("POST", "/enroll/{token:str}"): Probe(
        "learner-token",
        "/enroll/{v.course.id}",
        control="/enroll/{v.course.self_enroll_token}",
        form={"first_name": "Eve", "last_name": "Probe", "email": "eve@example.com"},
    ),
    ("GET", "/login/{token:str}"): Probe(
        "login-token", "/login/{v.workspace.id}", control="/login/{v.login_token}", expect=410
    ),
    # SCORM Cloud's postbacks: one workspace's credentials are no key to another's inbox.
    ("POST", "/hooks/scorm-cloud/{workspace_id:uuid}"): Probe(
        "webhook", "/hooks/scorm-cloud/{v.workspace.id}", json={"id": "{v.enrollment.id}"}, expect=401
    ),
    # Issue 23. A course's certificate validity and the delivery log are the session's workspace's.
    ("GET", "/app/courses/{course_id:uuid}/validity"): Probe("session", COURSE + "/validity"),
    ("POST", "/app/courses/{course_id:uuid}/validity"): Probe(
        "session", COURSE + "/validity", form={"validity_days": "30"}, destructive=True
    ),
    ("POST", "/app/mail/{mail_id:uuid}/retry"): Probe(
        "session", "/app/mail/{v.course.id}/retry", form={}, control=None
    ),
    # The learner portal's address holds the workspace id, shared like an enrollment link; no other id
    # opens a portal (the sign-in link itself is a one-time token, tested in test_portal.py).
    ("GET", "/learn/{workspace_id:uuid}"): Probe(
        "public-id", "/learn/{v.course.id}", control="/learn/{v.workspace.id}"
    ),
    ("POST", "/learn/{workspace_id:uuid}/link"): Probe(
        "public-id",
        "/learn/{v.course.id}/link",
        control="/learn/{v.workspace.id}/link",
        form={"email": "eve@example.com"},
    ),
    ("GET", "/learn/{workspace_id:uuid}/link/{token:str}"): Probe(
        "public-id", "/learn/{v.course.id}/link/probe", control="/learn/{v.workspace.id}/link/probe"
    ),
    ("POST", "/learn/{workspace_id:uuid}/link/{token:str}"): Probe(
        "public-id", "/learn/{v.course.id}/link/probe", form={}, control=None
    ),
    ("POST", "/learn/{workspace_id:uuid}/sign-out"): Probe(
        "public-id", "/learn/{v.course.id}/sign-out", form={}, control="/learn/{v.workspace.id}/sign-out"
    ),
    # Paths that hold no id at all.
    ("GET", "/static/{file_path:path}"): Probe("not-an-id", "/static/css/app.css"),
    ("GET", "/schema/{path:str}"): Probe("not-an-id", "/schema/openapi.json"),
}


@pytest.fixture(scope="module")
async def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with serving_two_tenants(database_url, tmp_path_factory.mktemp("isolation")) as built:
        yield built


def attacker_client(world: World, attacker: Tenant) -> httpx.AsyncClient:
    # Alpha signs in with the cookie (CSRF applies), Bravo with the header, as inside the CRM's iframe.
    if attacker is world.alpha:
        return client_for(world.app, cookie=attacker.session)
    return client_for(world.app, header=attacker.session)


def fill(template: str, victim: Tenant, attacker: Tenant) -> str:
    return template.format(v=victim, a=attacker)


async def send(
    client: httpx.AsyncClient, method: str, probe: Probe, path: str, victim: Tenant, attacker: Tenant
) -> httpx.Response:
    headers = dict(probe.headers)
    if path.startswith(CONTENT):
        # A browser sends the app's cookies to no other host; httpx's jar would, so the cookie goes.
        headers["cookie"] = ""
    if method == "GET":
        return await client.get(path, headers=headers)
    if path.startswith("/hooks/"):
        return await client.post(
            path,
            json={k: fill(v, victim, attacker) for k, v in probe.json.items()},
            auth=(attacker.postback_user, attacker.postback_password),
        )
    if probe.json is not None:
        return await client.post(path, json=probe.json, headers=headers)
    await client.get("/signed-out")  # any page: sets the CSRF cookie for cookie sessions
    form = {k: fill(v, victim, attacker) for k, v in (probe.form or {}).items()}
    if "csrftoken" in client.cookies:
        form["_csrf_token"] = csrf_of(client)
    return await client.post(path, data=form, headers=headers)


def directions(world: World, probe: Probe) -> list[tuple[Tenant, Tenant]]:
    """(attacker, victim) pairs: both ways, except that the operator may see every job by design."""
    if probe.kind == "operator":
        return [(world.bravo, world.alpha)]
    return [(world.alpha, world.bravo), (world.bravo, world.alpha)]


# --- the table covers the app ---------------------------------------------------------------------------


async def test_every_route_with_a_path_parameter_has_a_probe(world: World) -> None:
    served = {(method, path) for method, path, _ in route_table(world.app) if "{" in path}

    unprobed = sorted(served - PROBES.keys())
    stale = sorted(PROBES.keys() - served)

    assert not unprobed, (
        "These routes take a path parameter but tests/http/test_tenant_isolation.py has no PROBES entry "
        f"saying how to aim them at another workspace's ids: {unprobed}. Add one (and make sure the "
        "handler looks the id up within the session's workspace, answering 404 otherwise)."
    )
    assert not stale, f"PROBES names routes the app no longer serves: {stale}. Remove or rename them."


# --- another workspace's ids ----------------------------------------------------------------------------


@pytest.mark.parametrize("route", sorted(PROBES), ids=lambda r: f"{r[0]} {r[1]}")
async def test_another_workspaces_id_is_a_404_and_changes_nothing(
    world: World, route: tuple[str, str]
) -> None:
    method, _ = route
    probe = PROBES[route]
    if probe.kind == "not-an-id":
        return  # nothing to aim: the same file for every visitor

    for attacker, victim in directions(world, probe):
        before = await fingerprint(world.database_url, world.data_dir)
        async with attacker_client(world, attacker) as client:
            response = await send(client, method, probe, fill(probe.path, victim, attacker), victim, attacker)
        after = await fingerprint(world.database_url, world.data_dir)

        who = f"{attacker.marker} at {victim.marker}'s ids"
        assert response.status_code == probe.expect, (who, response.status_code, response.text[:300])
        assert not changed(before, after), (who, changed(before, after))
        assert victim.marker not in response.text, (who, "the page shows the other workspace's data")


# --- pages without ids show only the workspace's own data --------------------------------------------------


def visible_text(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "")
    if "spreadsheetml" in kind:
        with zipfile.ZipFile(io.BytesIO(response.content)) as book:
            return " ".join(book.read(name).decode("utf-8", "replace") for name in book.namelist())
    if "text/csv" in kind:
        return " ".join(
            " ".join(row) for row in csv.reader(io.StringIO(response.content.decode("utf-8-sig")))
        )
    return response.text


async def test_no_page_without_an_id_shows_another_workspaces_data(world: World) -> None:
    pages = sorted(
        path
        for method, path, _ in route_table(world.app)
        if method == "GET" and "{" not in path and path.startswith("/app")
    )
    assert "/app/courses" in pages
    assert "/app/reports/export.csv" in pages

    for attacker, victim in [(world.alpha, world.bravo), (world.bravo, world.alpha)]:
        async with attacker_client(world, attacker) as client:
            for path in pages:
                if path.startswith("/app/jobs") and attacker is world.alpha:
                    continue  # the operator's job dashboard lists every workspace's jobs by design
                response = await client.get(path, headers={"accept": "text/html"})
                assert response.status_code < 500, (path, response.status_code)
                assert victim.marker not in visible_text(response), (attacker.marker, path)
                assert str(victim.enrollment.id) not in response.text, (attacker.marker, path)


async def test_the_operator_dashboard_is_a_404_for_a_tenant_admin_and_open_to_the_operator(
    world: World,
) -> None:
    async with attacker_client(world, world.bravo) as tenant, attacker_client(world, world.alpha) as operator:
        for path in ("/app/jobs", "/app/jobs/api/queues", "/app/jobs/health"):
            assert (await tenant.get(path)).status_code == 404, path
            assert (await operator.get(path)).status_code == 200, path


# --- controls: the probes aim at real handlers -------------------------------------------------------


@pytest.mark.parametrize(
    "route",
    sorted(r for r, p in PROBES.items() if p.control is not None and not p.destructive),
    ids=lambda r: f"{r[0]} {r[1]}",
)
async def test_the_same_request_with_the_workspaces_own_ids_reaches_the_handler(
    world: World, route: tuple[str, str]
) -> None:
    await assert_controls_pass(world, route)


async def test_destructive_routes_reach_their_handler_with_own_ids_last(world: World) -> None:
    def last_things_last(route: tuple[str, str]) -> int:
        # A revoked certificate needs its enrollment, the enrollment its course.
        path = route[1]
        return 2 if path.endswith("{course_id:uuid}/delete") else 1 if path.endswith("/delete") else 0

    order = sorted(
        (r for r, p in PROBES.items() if p.destructive and p.control is not None), key=last_things_last
    )
    for route in order:
        await assert_controls_pass(world, route)


async def assert_controls_pass(world: World, route: tuple[str, str]) -> None:
    method, _ = route
    probe = PROBES[route]
    owners = [world.alpha] if probe.kind in ("operator", "login-token") else [world.alpha, world.bravo]
    for owner in owners:
        template = probe.path if probe.control == "" else probe.control
        assert template is not None
        async with attacker_client(world, owner) as client:
            response = await send(client, method, probe, fill(template, owner, owner), owner, owner)
        assert response.status_code < 500, (route, owner.marker, response.text[:300])
        assert response.status_code not in (401, 403, 404), (route, owner.marker, response.status_code)
