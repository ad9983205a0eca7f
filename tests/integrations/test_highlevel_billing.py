"""HighLevel's billing API through the adapter, with respx answers shaped like the reference
(highlevel-workflows.md §8): what is sent, and how each answer is read, including the odd ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import respx

from scormhub.domain.errors import CrmRejected, CrmUnavailable
from scormhub.domain.model import RateLimit
from scormhub.domain.model_billing import InsufficientFunds
from scormhub.integrations.highlevel.billing import HighLevelBilling
from scormhub.integrations.highlevel.client import HighLevelClient

API = "https://hl.test"


class StaticTokens:
    async def access_token(self) -> str:
        return "location-token"

    async def refresh(self, rejected: str) -> str:
        return "location-token-2"


class NoLimit:
    async def wait_turn(self) -> None:
        return None

    async def hold(self, seconds: float) -> None:
        return None


@pytest.fixture
async def billing() -> AsyncIterator[HighLevelBilling]:
    async with httpx.AsyncClient() as http:
        api = HighLevelClient(
            http, base_url=API, tokens=StaticTokens(), limiter=NoLimit(), rate_limit=RateLimit(100, 10)
        )
        yield HighLevelBilling(api, app_id="APP", location_id="LOC", company_id="CMP")


def charges_page(*event_ids: str, total: int | None = None) -> dict[str, object]:
    return {
        "charges": [
            {
                "chargeId": f"chg_{event}",
                "meterId": "MTR",
                "units": 1,
                "pricePerUnit": 0.5,
                "amountCharged": 0.5,
                "currency": "USD",
                "transactionType": "charge",
                "refunded": False,
                "entityId": "LOC",
                "meta": {"eventId": event},
                "createdAt": "2026-12-07T10:00:00.000Z",
            }
            for event in event_ids
        ],
        "pagination": {"total": total if total is not None else len(event_ids), "skip": 0, "limit": 100},
    }


@respx.mock
async def test_a_charge_sends_the_reference_body_and_returns_highlevels_charge_id(
    billing: HighLevelBilling,
) -> None:
    route = respx.post(f"{API}/marketplace/billing/charges").mock(
        return_value=httpx.Response(201, json={"success": True, "chargeId": "chg_1"})
    )

    charge_id = await billing.create_charge(
        event_id="reg_enr_9f2",
        meter_id="MTR",
        description="SCORM registration: Excel 101 / ann@example.com",
        units=1,
        price_usd=None,
    )

    assert charge_id == "chg_1"
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == "Bearer location-token"
    assert sent.headers["Version"] == "2021-07-28"
    assert httpx.Response(200, content=sent.content).json() == {
        "appId": "APP",
        "meterId": "MTR",
        "eventId": "reg_enr_9f2",
        "locationId": "LOC",
        "companyId": "CMP",
        "description": "SCORM registration: Excel 101 / ann@example.com",
        "units": 1,
    }


@respx.mock
async def test_an_accepted_charge_without_an_id_is_retried_not_taken_for_done(
    billing: HighLevelBilling,
) -> None:
    respx.post(f"{API}/marketplace/billing/charges").mock(
        return_value=httpx.Response(201, json={"success": True})
    )

    with pytest.raises(CrmUnavailable, match="no charge id"):
        await billing.create_charge(event_id="e", meter_id="MTR", description="d", units=1, price_usd="0.5")


@respx.mock
async def test_a_400_for_funds_is_insufficient_funds_and_other_refusals_stay_refusals(
    billing: HighLevelBilling,
) -> None:
    respx.post(f"{API}/marketplace/billing/charges").mock(
        side_effect=[
            httpx.Response(
                400, json={"message": "Location wallet has insufficient funds", "statusCode": 400}
            ),
            httpx.Response(
                422, json={"statusCode": 422, "message": ["meterId must be a string"], "error": "x"}
            ),
        ]
    )

    with pytest.raises(InsufficientFunds):
        await billing.create_charge(event_id="e", meter_id="MTR", description="d", units=1, price_usd=None)
    with pytest.raises(CrmRejected, match="meterId must be a string"):
        await billing.create_charge(event_id="e", meter_id="MTR", description="d", units=1, price_usd=None)


@respx.mock
async def test_only_an_explicit_no_from_has_funds_is_a_no(billing: HighLevelBilling) -> None:
    respx.get(f"{API}/marketplace/billing/charges/has-funds").mock(
        side_effect=[
            httpx.Response(200, json={"hasFunds": False}),
            httpx.Response(200, json={"hasFunds": True}),
            httpx.Response(200, json={}),
        ]
    )

    assert [await billing.has_funds() for _ in range(3)] == [False, True, True]


@respx.mock
async def test_finding_a_charge_checks_its_event_id_even_when_highlevel_ignores_the_filter(
    billing: HighLevelBilling,
) -> None:
    route = respx.get(f"{API}/marketplace/billing/charges").mock(
        return_value=httpx.Response(200, json=charges_page("reg_a", "reg_b"))
    )

    found = await billing.find_charge("reg_b", meter_id="MTR")
    missing = await billing.find_charge("reg_c", meter_id="MTR")

    assert found is not None
    assert found.charge_id == "chg_reg_b"
    assert missing is None
    assert route.calls.last.request.url.params["eventId"] == "reg_c"


@respx.mock
async def test_the_charge_list_follows_the_pages(billing: HighLevelBilling) -> None:
    first = [f"reg_{i}" for i in range(100)]
    route = respx.get(f"{API}/marketplace/billing/charges").mock(
        side_effect=[
            httpx.Response(200, json=charges_page(*first, total=101)),
            httpx.Response(200, json=charges_page("reg_last", total=101)),
        ]
    )

    listed = await billing.list_charges(
        meter_id="MTR", start=datetime(2026, 11, 1, tzinfo=UTC), end=datetime(2026, 12, 7, tzinfo=UTC)
    )

    assert len(listed) == 101
    assert [call.request.url.params["skip"] for call in route.calls] == ["0", "100"]


@respx.mock
async def test_the_installed_plan_is_read_from_the_installer_details(billing: HighLevelBilling) -> None:
    respx.get(f"{API}/marketplace/app/APP/installations").mock(
        side_effect=[
            httpx.Response(200, json={"installationDetails": {"marketplaceAppPlanId": "plan-live"}}),
            httpx.Response(200, json={"installationDetails": {}}),
        ]
    )

    assert await billing.installed_plan_id() == "plan-live"
    assert await billing.installed_plan_id() is None
