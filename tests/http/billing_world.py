"""A HighLevel location with SCORM Hub installed on a chosen marketplace plan, for the billing tests: the
app, HighLevel's OAuth and billing API (respx), a Ready course, and learners to enroll."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

import httpx
import respx
from fake_wallet import FakeWallet
from litestar import Litestar
from test_highlevel_install import (
    API,
    APP_ID,
    CLIENT_ID,
    COMPANY,
    ED_KEY,
    LOCATION,
    MARKET,
    RSA_KEY,
    SSO_KEY,
    _pem,
    install,
    rows,
    signed,
)

from highlevel_sso import encrypt_sso
from scormhub.bootstrap import Deps
from scormhub.domain import enrollments as cases
from scormhub.domain.enrollments import EnrollResult
from scormhub.domain.model import Course, CourseStatus, EngineKind
from scormhub.domain.model_billing import parse_plans
from scormhub.domain.scorm.package import Sco
from scormhub.integrations.clock import SystemClock
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.local_crm import LocalContactBook
from scormhub.jobs.highlevel import process_crm_webhook
from scormhub.settings import Settings

HOST = "hl.test"
FREE, LIVE = "plan-free-2026", "plan-live-2026"
METER = "mtr_scorm_registration"
PLANS = json.dumps(
    [
        {"id": FREE, "name": "Free", "mode": "trial", "free_registrations": 3},
        {
            "id": LIVE,
            "name": "Live",
            "mode": "live",
            "free_registrations": 2,
            "meter_id": METER,
            "price_usd": "0.50",
            "subscription": "US$29 a month",
        },
    ]
)


def billing_settings(settings: Settings) -> Settings:
    """HighLevel set up as test_highlevel_install's tests have it, with the marketplace plans above."""
    return replace(
        settings,
        highlevel_api_url=API,
        highlevel_marketplace_url=MARKET,
        highlevel_client_id=CLIENT_ID,
        highlevel_client_secret="client-secret",
        highlevel_sso_key=SSO_KEY,
        highlevel_webhook_ed25519_key=_pem(ED_KEY),
        highlevel_webhook_rsa_key=_pem(RSA_KEY),
        highlevel_plans=parse_plans(PLANS),
    )


def sso_as(role: str, location: str = LOCATION) -> str:
    return encrypt_sso(
        {
            "userId": f"user-{role}",
            "companyId": COMPANY,
            "role": role,
            "type": "location",
            "userName": f"A {role}",
            "email": f"{role}@example.com",
            "activeLocation": location,
        },
        SSO_KEY,
    )


def plan_change(new_plan: str, *, location: str = LOCATION, current: str = FREE) -> dict[str, Any]:
    return {
        "type": "PLAN_CHANGE",
        "appId": APP_ID,
        "locationId": location,
        "companyId": COMPANY,
        "userId": "user-admin",
        "currentPlanId": current,
        "newPlanId": new_plan,
        "webhookId": str(uuid.uuid4()),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
    }


@dataclass
class BillingWorld:
    client: httpx.AsyncClient
    app: Litestar
    db: str
    wallet: FakeWallet
    workspace_id: uuid.UUID
    course: Course
    admin: dict[str, str]  # the header of an SSO session with HighLevel's admin role
    learners: int = 0

    @property
    def deps(self) -> Deps:
        found: Deps = self.app.state.deps
        return found

    @property
    def ctx(self) -> dict[str, Any]:
        return {"deps": self.deps}

    async def enroll(self, email: str | None = None) -> EnrollResult:
        self.learners += 1
        book = LocalContactBook(self.workspace_id)
        contact = await book.upsert_contact(
            first_name="Learner", last_name=str(self.learners), email=email or f"l{self.learners}@example.com"
        )
        return await cases.enroll_contact(
            self.workspace_id,
            self.course.id,
            contact.id,
            uow=PiccoloUnitOfWork(),
            contacts=book,
            clock=SystemClock(),
        )

    async def webhook(self, event: dict[str, Any]) -> str:
        """HighLevel posts it signed; the job acts on it. The job's outcome."""
        raw, headers = signed(event)
        stored = await self.client.post("/hooks/crm", content=raw, headers=headers)
        assert stored.status_code == 200, stored.text
        [item] = await rows(self.db, "SELECT id FROM inbox WHERE processed_at IS NULL")
        outcome: str = (await process_crm_webhook(self.ctx, inbox_id=str(item["id"])))["outcome"]
        return outcome

    async def charges(self) -> list[Any]:
        return await rows(self.db, "SELECT * FROM usage_charge ORDER BY created_at")

    async def make_due(self) -> None:
        """Skip the backoff: the retry is due now (the backoff itself is tested with a clock elsewhere)."""
        await rows(self.db, "UPDATE usage_charge SET next_attempt_at = now() WHERE status = 'pending'")

    async def post(
        self, path: str, data: dict[str, str] | None = None, *, as_: dict[str, str] | None = None
    ) -> httpx.Response:
        """A form post from inside HighLevel's iframe: the session in the header, no cookies (blocked)."""
        self.client.cookies.clear()
        return await self.client.post(path, data=data or {}, headers=as_ or self.admin)

    async def settings_page(self) -> str:
        page = await self.client.get("/app/settings", headers=self.admin)
        assert page.status_code == 200
        return page.text


async def installed(
    client: httpx.AsyncClient, app: Litestar, db: str, mock: respx.MockRouter, plan: str, **wallet: Any
) -> BillingWorld:
    fake = FakeWallet(HOST, APP_ID, **wallet)
    fake.mount(mock)
    answer = await install(client, mock, planId=plan)
    assert answer.status_code == 303, answer.text
    # The rest of HighLevel (the Settings page asks about custom objects): not this test's concern.
    mock.route(host=HOST).mock(return_value=httpx.Response(200, json={"objects": []}))
    [workspace] = await rows(db, "SELECT id FROM workspace WHERE crm_location_id = $1", LOCATION)
    client.cookies.clear()
    token = (await client.post("/sso/highlevel", json={"payload": sso_as("admin")})).json()["token"]
    course = await _ready_course(workspace["id"])
    return BillingWorld(client, app, db, fake, workspace["id"], course, {"x-scormhub-session": token})


async def _ready_course(workspace_id: uuid.UUID) -> Course:
    now = SystemClock().now()
    course = Course(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        title="Excel 101",
        standard="scorm12",
        edition=None,
        status=CourseStatus.READY,
        engine=EngineKind.BUILTIN,
        package_key="k",
        package_bytes=1,
        file_name="excel.zip",
        self_enroll_token=uuid.uuid4().hex,
        created_at=now,
        updated_at=now,
        scos=(Sco(identifier="sco-1", title="Excel 101", launch="index.html"),),
    )
    async with PiccoloUnitOfWork() as uow:
        await uow.courses.add(course)
        await uow.commit()
    return course


__all__ = ["API", "BillingWorld", "installed"]
