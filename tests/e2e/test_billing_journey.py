"""Settings → Account mode of a live HighLevel location, in a real Chromium against `scormhub serve`: the
plan, this month's registrations and the charges, and a refused charge retried from the page.

It leaves the page's picture at /tmp/billing-account-mode.png (1280 by 800) for the closing note."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import asyncpg
import pytest
from playwright.async_api import Page, expect
from test_embedded_journey import LOCATION, SSO_KEY, installed_location

from conftest import serve_app
from highlevel_sso import encrypt_sso
from scormhub.domain import enrollments as cases
from scormhub.domain.model import Course, CourseStatus, EngineKind
from scormhub.domain.scorm.package import Sco
from scormhub.integrations.clock import SystemClock
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.local_crm import LocalContactBook

if TYPE_CHECKING:
    from conftest import LiveServer

SCREENSHOT = "/tmp/billing-account-mode.png"
PLANS = [
    {"id": "e2e-free", "name": "Free", "mode": "trial", "free_registrations": 10},
    {
        "id": "e2e-live",
        "name": "Live",
        "mode": "live",
        "free_registrations": 2,
        "meter_id": "mtr_e2e",
        "price_usd": "0.50",
        "subscription": "US$29 a month",
    },
]


@pytest.fixture(scope="module")
def billing_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve_app(
        database_url,
        tmp_path_factory,
        {
            "HIGHLEVEL_CLIENT_ID": "e2eapp-suffix",
            "HIGHLEVEL_CLIENT_SECRET": "e2e-client-secret",
            "HIGHLEVEL_SSO_KEY": SSO_KEY,
            "HIGHLEVEL_API_URL": "http://127.0.0.1:9",  # nothing listens: charges wait, pages go on
            "HIGHLEVEL_PLANS": json.dumps(PLANS),
        },
    ) as server:
        yield server


async def live_location_with_charges(database_url: str) -> uuid.UUID:
    """A location on the Live plan: two free registrations this month, one charged, one refused."""
    workspace_id = await installed_location(database_url, name="Acme Training")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO billing_account (workspace_id, status, plan_id, plan_name, registration_limit, "
            "free_per_cycle, meter_id, price_usd, on_trial, source, updated_at) "
            "VALUES ($1, 'live', 'e2e-live', 'Live', NULL, 2, 'mtr_e2e', '0.50', false, 'plan_change', "
            "now())",
            workspace_id,
        )
        await conn.execute("UPDATE workspace SET plan = 'live' WHERE id = $1", workspace_id)
    finally:
        await conn.close()
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
    book = LocalContactBook(workspace_id)
    for first, email in [("Ann", "ann"), ("Bob", "bob"), ("Cy", "cy"), ("Di", "di")]:
        contact = await book.upsert_contact(
            first_name=first, last_name="Learner", email=f"{email}@example.com"
        )
        await cases.enroll_contact(
            workspace_id, course.id, contact.id, uow=PiccoloUnitOfWork(), contacts=book, clock=SystemClock()
        )
    conn = await asyncpg.connect(database_url)
    try:
        # What the charge job recorded: HighLevel charged Cy's registration and refused Di's.
        await conn.execute(
            "UPDATE usage_charge SET status = 'charged', charge_id = 'chg_6571a0c3', charged_at = now(), "
            "attempts = 1 WHERE description LIKE '%cy@example.com'"
        )
        await conn.execute(
            "UPDATE usage_charge SET status = 'refused', attempts = 1, last_error = $1 "
            "WHERE description LIKE '%di@example.com'",
            "The HighLevel wallet has insufficient funds for this registration (US$0.50). Top up the wallet "
            "in HighLevel (Settings → Billing → Wallet), then press Retry charge here: the learner can start "
            "once the charge goes through.",
        )
    finally:
        await conn.close()
    return workspace_id


async def test_account_mode_shows_the_plan_this_months_usage_and_charges_and_retries_a_refused_one(
    page: Page, billing_server: LiveServer, database_url: str
) -> None:
    base = billing_server.base_url
    await live_location_with_charges(database_url)
    payload = encrypt_sso(
        {
            "userId": "e2eUser000000000001",
            "companyId": "e2eCompany00000001",
            "role": "admin",
            "type": "location",
            "userName": "Ada Admin",
            "email": "ada@example.com",
            "activeLocation": LOCATION,
        },
        SSO_KEY,
    )
    signed_in = await page.request.post(
        f"{base}/sso/highlevel",
        data=json.dumps({"payload": payload}),
        headers={"content-type": "application/json"},
    )
    assert signed_in.ok, await signed_in.text()

    await page.goto(f"{base}/app/settings")
    billing = page.locator("#billing")
    await billing.scroll_into_view_if_needed()

    await expect(billing.get_by_text("Live · Live")).to_be_visible()
    await expect(
        billing.get_by_text("new registrations · the first 2 free, then US$0.50 each")
    ).to_be_visible()
    await expect(billing.get_by_role("cell", name="chg_6571a0c3")).to_be_visible()
    await expect(billing.locator(".badge", has_text="Charged")).to_be_visible()
    await expect(billing.locator(".badge", has_text="Refused")).to_be_visible()
    await expect(billing.get_by_role("alert").first).to_contain_text("insufficient funds")
    await page.screenshot(path=SCREENSHOT)

    await billing.get_by_role("button", name="Retry charge").click()

    await expect(page).to_have_url(f"{base}/app/settings?saved=charge")
    await expect(page.get_by_text("The charge is being sent again")).to_be_visible()
    await expect(page.locator("#billing .badge", has_text="Pending").first).to_be_visible()
