"""Two tenants side by side, for the hostile-access tests: each with a course, a contact, an enrollment,
a failed CRM write, an export and a queued job, all carrying a marker that must never show up elsewhere.

Also: a fingerprint of everything stored (every table, every file in the data dir) to show that a
refused request changed nothing, and module-scoped fixtures (one app for a whole module: hypothesis and
function-scoped fixtures don't mix).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from litestar import Litestar

from appserver import CONTENT, csrf_of, login_link_token, serving
from scormhub.app import create_app
from scormhub.domain import enrollments as cases
from scormhub.domain.automation.model import AutomationEvent, BulkRow, BulkRun, NewDelivery, WebhookEndpoint
from scormhub.domain.model import (
    Course,
    CrmKind,
    CrmWrite,
    EngineAccount,
    EngineKind,
    Enrollment,
    PlanMode,
    Workspace,
    WorkspaceKind,
    WriteKind,
)
from scormhub.domain.ports.automation import AttemptRecord
from scormhub.integrations.clock import SystemClock
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.exports import ExportFiles
from scormhub.integrations.local_crm import LocalContactBook
from scormhub.jobs.courses import import_course
from scormhub.settings import Settings
from shared_packages import PACKAGES

GOLF_12 = PACKAGES / "valid" / "RuntimeBasicCalls_SCORM12.zip"
TEST_SECRET = "test-secret-key-that-is-long-enough-for-hkdf-0123456789"
# Tables whose rows are not tenant data and change for reasons of their own.
UNTRACKED_TABLES = ("migration", "saq_versions", "rate_limit")
KEEP_TABLES = ("migration", "saq_versions")


@dataclass
class Tenant:
    """One workspace and the things an attacker from another workspace would aim at."""

    workspace: Workspace
    session: str  # an admin session token for this workspace
    marker: str  # appears in the course title, the learner's name, notes and the export
    course: Course
    contact_id: str
    enrollment: Enrollment
    outbox_id: UUID
    export_id: UUID
    job_key: str
    postback_user: str
    postback_password: str
    certificate_id: str = ""  # the public id of the enrollment's certificate
    login_token: str = ""  # a fresh one-time login link (standalone workspace only)
    webhook_endpoint_id: UUID | None = None  # Settings → Webhooks: an endpoint with a failed delivery
    webhook_delivery_id: UUID | None = None
    bulk_run_id: UUID | None = None  # a bulk enrollment preview of the course

    @property
    def sco(self) -> str:
        return self.course.scos[0].identifier


def settings_for(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        secret_key=TEST_SECRET,
        public_url="http://testserver.local",
        content_url="http://content.test",  # appserver.CONTENT
        in_process_worker=False,
        db_pool_size=4,
        # Nothing here may reach the real SCORM Cloud: a closed local port fails at once.
        scorm_cloud_api_url="http://127.0.0.1:9/api/v2",
        highlevel_sso_key="test-sso-key",  # so the SSO route answers for its payload, not for a missing key
    )


async def empty_database(database_url: str) -> None:
    """What the `db` fixture does, for module-scoped fixtures that cannot use it."""
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetchval(
            "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables "
            "WHERE schemaname = 'public' AND NOT (tablename = ANY($1::text[]))",
            list(KEEP_TABLES),
        )
        if tables:
            await conn.execute(f"TRUNCATE {tables} CASCADE")
    finally:
        await conn.close()


def client_for(app: Litestar, *, cookie: str | None = None, header: str | None = None) -> httpx.AsyncClient:
    """Another browser on the running app, signed in by the session cookie or by the session header."""
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver.local",
        headers={"x-scormhub-session": header} if header else None,
    )
    if cookie:
        client.cookies.set("scormhub_session", cookie)
    return client


async def add_highlevel_workspace(app: Litestar, name: str) -> Workspace:
    workspace = Workspace(
        id=uuid.uuid4(),
        name=name,
        kind=WorkspaceKind.HIGHLEVEL,
        plan=PlanMode.LIVE,
        engine=EngineKind.BUILTIN,
        crm=CrmKind.LOCAL,
        created_at=app.state.deps.clock.now(),
        crm_location_id=f"loc-{uuid.uuid4().hex[:8]}",
    )
    async with PiccoloUnitOfWork() as uow:
        await uow.workspaces.add(workspace)
        await uow.commit()
    return workspace


async def standalone_workspace() -> Workspace:
    async with PiccoloUnitOfWork() as uow:
        workspace = await uow.workspaces.get_standalone()
    assert workspace is not None
    return workspace


async def upload_ready_course(app: Litestar, session: str, title: str, package: Path = GOLF_12) -> Course:
    """Upload through the real form as that workspace's admin, import, and retitle with the marker."""
    async with client_for(app, cookie=session) as admin:
        await admin.get("/app/courses")
        response = await admin.post(
            "/app/courses",
            data={"_csrf_token": csrf_of(admin)},
            files={"package": (package.name, package.read_bytes(), "application/zip")},
        )
    assert response.status_code == 303, response.text
    course_id = UUID(response.headers["location"].rsplit("/", 1)[1])
    session_data = app.state.deps.sessions.read(session)
    workspace_id = session_data.workspace_id
    await import_course({"deps": app.state.deps}, workspace_id=str(workspace_id), course_id=str(course_id))
    async with PiccoloUnitOfWork() as uow:
        course = await uow.courses.get(workspace_id, course_id)
        assert course is not None
        assert course.status.value == "ready", course
        course = dataclasses.replace(course, title=title)
        await uow.courses.save(course)
        await uow.commit()
    return course


async def build_tenant(app: Litestar, workspace: Workspace, marker: str) -> Tenant:
    deps = app.state.deps
    session = deps.sessions.issue(workspace.id)
    course = await upload_ready_course(app, session, f"{marker} course")
    book = LocalContactBook(workspace.id)
    contact = await book.upsert_contact(
        first_name=marker, last_name="Learner", email=f"{marker.lower()}@example.com"
    )
    await book.add_note(contact.id, f"{marker} note", idempotency_key=f"note-{marker}")
    enrolled = await cases.enroll_contact(
        workspace.id, course.id, contact.id, uow=PiccoloUnitOfWork(), contacts=book, clock=SystemClock()
    )
    enrollment = enrolled.enrollment
    certificate_id = await complete_with_certificate(app, session, enrollment)
    now = deps.clock.now()
    write = CrmWrite(
        kind=WriteKind.ADD_TAGS,
        contact_id=contact.id,
        payload={"tags": [f"{marker.lower()}_tag"]},
        idempotency_key=f"tags-{marker}",
    )
    async with PiccoloUnitOfWork() as uow:
        await uow.outbox.add_new(workspace.id, enrollment.id, [write], now)
        [item] = await uow.outbox.recent(workspace.id, limit=1)
        await uow.outbox.mark_failed(item.id, f"{marker} CRM said no")
        await uow.sync_runs.start(workspace.id, course.id, 1, now - timedelta(minutes=1))
        # SCORM Cloud postback credentials, so the webhook can be aimed at too (the courses stay built-in).
        user, password = f"user-{marker.lower()}", f"password-{marker.lower()}"
        await uow.engine_accounts.save(
            EngineAccount(
                workspace_id=workspace.id,
                app_id=f"APP-{marker}",
                secret_key_enc=deps.cipher.encrypt("secret"),
                postback_user=user,
                postback_password_enc=deps.cipher.encrypt(password),
                connected_at=now,
            )
        )
        await uow.commit()
    endpoint_id, delivery_id, run_id = await automation_rows(deps, workspace.id, course.id, marker)
    export_id = uuid.uuid4()
    files = ExportFiles(deps.settings.data_dir)
    name = f"learners_{marker}.csv"
    files.write_status(workspace.id, export_id, state="ready", done=1, total=1, kind="csv", file_name=name)
    files.file(workspace.id, export_id, "csv").write_text(f"name\n{marker} Learner\n")
    job_key = f"sync_enrollment:{enrollment.id}"
    await deps.jobs.enqueue(
        "sync_enrollment", key=job_key, workspace_id=str(workspace.id), enrollment_id=str(enrollment.id)
    )
    return Tenant(
        workspace=workspace,
        session=session,
        marker=marker,
        course=course,
        contact_id=contact.id,
        enrollment=enrollment,
        outbox_id=item.id,
        export_id=export_id,
        job_key=job_key,
        postback_user=user,
        postback_password=password,
        certificate_id=certificate_id,
        webhook_endpoint_id=endpoint_id,
        webhook_delivery_id=delivery_id,
        bulk_run_id=run_id,
    )


async def automation_rows(
    deps: Any, workspace_id: UUID, course_id: UUID, marker: str
) -> tuple[UUID, UUID, UUID]:
    """A webhook endpoint with a failed delivery, and a bulk enrollment preview, for the probes."""
    now = deps.clock.now()
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        url=f"https://{marker.lower()}.example.com/hooks",
        events=frozenset({AutomationEvent.LEARNER_ENROLLED}),
        secret_enc=deps.cipher.encrypt("whsec_" + marker),
        created_at=now,
    )
    run = BulkRun(uuid.uuid4(), workspace_id, course_id, "csv", f"{marker}.csv", "preview", now)
    async with PiccoloUnitOfWork() as uow:
        await uow.automation.add_endpoint(endpoint)
        await uow.automation.add_deliveries(
            workspace_id,
            [NewDelivery(endpoint.id, "test", f"msg-{marker}", {"event": "test"}, f"k-{marker}")],
            now,
        )
        [delivery] = await uow.automation.recent_deliveries(workspace_id)
        await uow.automation.record_attempt(
            delivery.id, AttemptRecord("failed", now, error=f"{marker} said no")
        )
        await uow.bulk.create_run(run, [BulkRow(1, marker, "Learner", f"bulk-{marker.lower()}@example.com")])
        await uow.commit()
    return endpoint.id, delivery.id, run.id


async def complete_with_certificate(app: Litestar, session: str, enrollment: Enrollment) -> str:
    """The learner passes in the player; the admin's first download issues the certificate."""
    async with client_for(app) as learner:
        page = await learner.get(f"{CONTENT}/play/{enrollment.launch_token}")
        found = re.search(r'id="player-config">(.*?)</script>', page.text, re.S)
        assert found is not None, page.text
        commit_url = json.loads(found.group(1))["commitUrl"] + "&final=true"
        passed = {
            "core": {"lesson_status": "passed", "score": {"raw": "90"}, "session_time": "0000:02:00.00"}
        }
        assert (await learner.post(commit_url, json=passed)).status_code == 200
    async with client_for(app, cookie=session) as admin:
        issued = await admin.get(f"/app/enrollments/{enrollment.id}/certificate")
        assert issued.status_code == 200, issued.text[:300]
    async with PiccoloUnitOfWork() as uow:
        certificate = await uow.certificates.for_enrollment(enrollment.workspace_id, enrollment.id)
    assert certificate is not None
    return certificate.id


async def two_tenants(app: Litestar) -> tuple[Tenant, Tenant]:
    """Alpha is the standalone workspace (its admin is the operator); Bravo is a HighLevel location."""
    await login_link_token()  # creates the standalone workspace
    alpha = await build_tenant(app, await standalone_workspace(), "Alpha")
    bravo = await build_tenant(app, await add_highlevel_workspace(app, "Bravo agency"), "Bravo")
    alpha.login_token = await login_link_token()
    return alpha, bravo


@dataclass
class World:
    """Two tenants built through the real app, served for a whole test module."""

    app: Litestar
    alpha: Tenant
    bravo: Tenant
    database_url: str
    data_dir: Path


@contextlib.asynccontextmanager
async def serving_two_tenants(database_url: str, data_dir: Path) -> AsyncIterator[World]:
    await empty_database(database_url)
    app = create_app(settings_for(data_dir))
    async with serving(app):
        alpha, bravo = await two_tenants(app)
        yield World(app, alpha, bravo, database_url, data_dir)


async def fingerprint(database_url: str, data_dir: Path) -> dict[str, str]:
    """A digest per table and one for the data dir: equal fingerprints mean nothing was stored."""
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables "
            "WHERE schemaname = 'public' AND NOT (tablename = ANY($1::text[])) "
            "ORDER BY tablename",
            list(UNTRACKED_TABLES),
        )
        prints = {}
        for row in tables:
            name = row["tablename"]
            prints[name] = await conn.fetchval(
                f"SELECT md5(coalesce(string_agg(t::text, chr(10) ORDER BY t::text), '')) FROM \"{name}\" t"
            )
    finally:
        await conn.close()
    prints["<data dir>"] = _tree_digest(data_dir)
    return prints


def _tree_digest(root: Path) -> str:
    digest = hashlib.md5()
    for folder, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            path = Path(folder) / name
            stat = path.stat()
            digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def route_table(app: Litestar) -> list[tuple[str, str, Any]]:
    """(method, path template, handler) for every route the app serves, OPTIONS and HEAD left out."""
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                found.append((method, route.path, handler))
        mounted = getattr(route, "route_handler", None)  # a plain ASGI handler: no methods of its own
        if mounted is not None:
            serves = mounted.opt.get("serves")
            assert serves, f"the ASGI handler at {route.path} must say what it serves in opt['serves']"
            found += [(method, path, mounted) for method, path in serves]
    return found
