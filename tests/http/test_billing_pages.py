"""Plans and usage billing through the HighLevel marketplace, at the HTTP level: webhooks, the charge
outbox against HighLevel's billing API (respx, shaped like highlevel-workflows.md §8), Settings → Account
mode, and Go Live."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from billing_world import FREE, LIVE, METER, BillingWorld, billing_settings, installed, plan_change, sso_as
from litestar import Litestar
from test_highlevel_install import API, APP_ID, COMPANY, LOCATION, install_event, rows, signed

from appserver import CONTENT, csrf_of, serving
from scormhub.app import create_app
from scormhub.domain.billing.plans import AppUninstalled
from scormhub.domain.enrollments import PlanLimitReached
from scormhub.domain.model_billing import ChargeStatus
from scormhub.jobs.billing import charge_usage, reconcile_charges
from scormhub.settings import Settings


@pytest.fixture
def app(db: str, settings: Settings) -> Litestar:
    return create_app(billing_settings(settings))


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app) as test_client:
        yield test_client


async def world(
    client: httpx.AsyncClient,
    app: Litestar,
    db: str,
    mock: respx.MockRouter,
    plan: str = FREE,
    **wallet: object,
) -> BillingWorld:
    return await installed(client, app, db, mock, plan, **wallet)


async def charge(w: BillingWorld) -> dict[str, int]:
    result: dict[str, int] = await charge_usage(w.ctx, workspace_id=str(w.workspace_id))
    return result


async def launch(w: BillingWorld, token: str) -> httpx.Response:
    return await w.client.get(f"{CONTENT}/play/{token}")


# --- plans --------------------------------------------------------------------------------------------


@respx.mock(assert_all_called=False)
async def test_an_install_on_the_free_plan_keeps_the_trial_limit(
    client: httpx.AsyncClient, app: Litestar, db: str, respx_mock: respx.MockRouter
) -> None:
    w = await world(client, app, db, respx_mock, FREE)

    for _ in range(3):
        await w.enroll()
    with pytest.raises(PlanLimitReached) as full:
        await w.enroll()
    page = await w.settings_page()

    assert "allows 3 active registrations" in str(full.value)
    assert "Free · Trial" in page
    assert "up to 3 active registrations" in page
    assert w.wallet.bodies == [], "nothing is charged on a trial"


@respx.mock(assert_all_called=False)
async def test_a_plan_change_to_the_paid_plan_lifts_the_limit(
    client: httpx.AsyncClient, app: Litestar, db: str, respx_mock: respx.MockRouter
) -> None:
    w = await world(client, app, db, respx_mock, FREE)
    for _ in range(3):
        await w.enroll()

    outcome = await w.webhook(plan_change(LIVE))
    fourth = await w.enroll()
    page = await w.settings_page()

    assert outcome == "plan change; plan: Live (live)"
    assert fourth.created
    assert "Live · Live" in page
    assert "up to 3 active registrations" not in page


@respx.mock(assert_all_called=False)
async def test_a_forged_plan_change_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, app: Litestar, db: str, respx_mock: respx.MockRouter
) -> None:
    w = await world(client, app, db, respx_mock, FREE)
    raw, headers = signed(plan_change(LIVE))
    forged = raw.replace(FREE.encode(), b"plan-anything")  # the body no longer matches its signature

    answer = await client.post("/hooks/crm", content=forged, headers=headers)

    assert answer.status_code == 401
    assert await rows(db, "SELECT id FROM inbox") == []
    [account] = await rows(db, "SELECT status, plan_id FROM billing_account")
    assert (account["status"], account["plan_id"]) == ("trial", FREE)
    for _ in range(3):
        await w.enroll()
    with pytest.raises(PlanLimitReached):
        await w.enroll()


@respx.mock(assert_all_called=False)
async def test_a_plan_change_for_an_unknown_location_or_plan_changes_nothing_and_says_so(
    client: httpx.AsyncClient, app: Litestar, db: str, respx_mock: respx.MockRouter
) -> None:
    w = await world(client, app, db, respx_mock, FREE)

    elsewhere = await w.webhook(plan_change(LIVE, location="someOtherLocation01"))
    unknown = await w.webhook(plan_change("plan-we-never-heard-of"))
    page = await w.settings_page()

    assert elsewhere == "plan change; plan: unknown location someOtherLocation01, nothing changed"
    assert unknown == "plan change; plan: unknown plan plan-we-never-heard-of, kept trial"
    assert "does not know: the workspace stays on the trial. Add the plan to HIGHLEVEL_PLANS." in page
    assert len(await rows(db, "SELECT * FROM workspace")) == 1, "no workspace for an unknown location"
    [account] = await rows(db, "SELECT status FROM billing_account")
    assert account["status"] == "trial"


@respx.mock(assert_all_called=False)
async def test_an_install_on_trial_after_a_live_plan_does_not_refill_the_free_allowance(
    client: httpx.AsyncClient, app: Litestar, db: str, respx_mock: respx.MockRouter
) -> None:
    w = await world(client, app, db, respx_mock, LIVE)
    await w.enroll()
    await w.enroll()

    outcome = await w.webhook(
        install_event(
            planId=LIVE, trial={"onTrial": True, "trialDuration": 14, "trialStartDate": "2026-12-07"}
        )
    )
    third = await w.enroll()
    page = await w.settings_page()

    assert outcome.endswith("plan: Live (live)")
    assert third.charge is ChargeStatus.PENDING, "the month's 2 free ones are used"
    assert "HighLevel trial" in page


@respx.mock(assert_all_called=False)
async def test_checking_the_plan_in_highlevel_repairs_a_missed_plan_change(
    client: httpx.AsyncClient, app: Litestar, db: str, respx_mock: respx.MockRouter
) -> None:
    w = await world(client, app, db, respx_mock, FREE, plan_id=LIVE)

    answer = await w.post("/app/settings/plan/refresh")

    assert answer.status_code == 303
    [account] = await rows(db, "SELECT status, plan_id, source FROM billing_account")
    assert (account["status"], account["plan_id"], account["source"]) == ("live", LIVE, "lookup")


# --- usage charges ------------------------------------------------------------------------------------


@respx.mock(assert_all_called=False)
async def test_each_registration_beyond_the_free_allowance_is_charged_once(
    client: httpx.AsyncClient, app: Litestar, db: str, respx_mock: respx.MockRouter
) -> None:
    w = await world(client, app, db, respx_mock, LIVE)
    free = [await w.enroll(), await w.enroll()]
    paid = await w.enroll("ann@example.com")
    held = await launch(w, paid.enrollment.launch_token)

    first = await charge(w)
    again = await charge(w)
    playing = await launch(w, paid.enrollment.launch_token)
    page = await w.settings_page()
    log = await client.get("/app/sync", headers=w.admin)

    assert [r.charge.value for r in free if r.charge] == ["free", "free"]
    assert held.status_code == 409
    assert "waiting for its payment to be confirmed" in held.text
    assert first["charged"] == 1
    assert again == {"charged": 0, "refused": 0, "retrying": 0, "failed": 0, "cancelled": 0}
    assert w.wallet.bodies == [
        {
            "appId": APP_ID,
            "meterId": METER,
            "eventId": f"reg_{paid.enrollment.id}",
            "locationId": LOCATION,
            "companyId": COMPANY,
            "description": "SCORM registration: Excel 101 / ann@example.com",
            "units": 1,
            "price": 0.5,
        }
    ]
    [row] = [c for c in await w.charges() if c["status"] != "free"]
    assert (row["status"], row["charge_id"]) == ("charged", "chg_0001")
    assert playing.status_code == 200
    assert "Charged" in page
    assert "chg_0001" in page
    assert "3</strong> new registrations" in page
    assert "Usage charges" in log.text
    assert "chg_0001" in log.text, "the sync log shows the charge too"


@respx.mock(assert_all_called=False)
async def test_insufficient_funds_blocks_that_registration_with_a_message_and_a_retry_charges_it(
    client: httpx.AsyncClient, app: Litestar, db: str, respx_mock: respx.MockRouter
) -> None:
    w = await world(client, app, db, respx_mock, LIVE, funds=0)
    await w.enroll()
    await w.enroll()
    paid = await w.enroll()

    refused = await charge(w)
    attempted = len(w.wallet.bodies)
    page = await w.settings_page()
    held = await launch(w, paid.enrollment.launch_token)
    w.wallet.funds = 5  # the admin topped the wallet up
    retried = await w.post(f"/app/settings/charges/{paid.enrollment.id}/retry")
    charged = await charge(w)

    assert refused["refused"] == 1
    assert attempted == 0, "has-funds said no: no charge was attempted"
    assert "insufficient funds for this registration (US$0.50)" in page
    assert "Top up the wallet in HighLevel" in page
    assert "Retry charge" in page
    assert held.status_code == 409
    assert retried.status_code == 303
    assert charged["charged"] == 1
    assert [b["eventId"] for b in w.wallet.bodies] == [f"reg_{paid.enrollment.id}"]
    assert (await launch(w, paid.enrollment.launch_token)).status_code == 200


@respx.mock(assert_all_called=False)
async def test_the_funds_check_saying_yes_and_the_charge_refusing_still_blocks_the_registration(
    client: httpx.AsyncClient, app: Litestar, db: str, respx_mock: respx.MockRouter
) -> None:
    w = await world(client, app, db, respx_mock, LIVE, funds=0, has_funds_says=True)
    await w.enroll()
    await w.enroll()
    paid = await w.enroll()

    outcome = await charge(w)

    assert outcome["refused"] == 1
    assert len(w.wallet.bodies) == 1
    [row] = [c for c in await w.charges() if c["status"] != "free"]
    assert row["status"] == "refused"
    assert row["charge_id"] is None
    assert (await launch(w, paid.enrollment.launch_token)).status_code == 409


@respx.mock(assert_all_called=False)
async def test_an_expired_token_is_refreshed_and_the_charge_sent_once(
    client: httpx.AsyncClient, app: Litestar, db: str, respx_mock: respx.MockRouter
) -> None:
    w = await world(client, app, db, respx_mock, LIVE, faults=["401"])
    await w.enroll()
    await w.enroll()
    await w.enroll()
    respx_mock.post(f"{API}/oauth/token").mock(
        return_value=httpx.Response(
            200,
            json={
                "access_token": "refreshed-token",
                "token_type": "Bearer",
                "expires_in": 86399,
                "refresh_token": "refresh-2",
                "scope": "charges.write charges.readonly",
                "userType": "Location",
                "locationId": LOCATION,
                "companyId": COMPANY,
                "userId": "u",
            },
        )
    )

    outcome = await charge(w)

    assert outcome["charged"] == 1
    assert w.wallet.tokens[-1] == "Bearer refreshed-token"
    assert w.wallet.tokens[0] != w.wallet.tokens[-1]
    assert len(w.wallet.charges) == 1


@pytest.mark.parametrize("fault", ["429", "500", "timeout"])
@respx.mock(assert_all_called=False)
async def test_a_charge_that_fails_transiently_is_retried_with_the_same_event_id(
    client: httpx.AsyncClient, app: Litestar, db: str, respx_mock: respx.MockRouter, fault: str
) -> None:
    # 429 is waited out inside the call; 5xx and no answer go back to the outbox for a later attempt.
    w = await world(client, app, db, respx_mock, LIVE, faults=[fault])
    await w.enroll()
    await w.enroll()
    paid = await w.enroll()

    first = await charge(w)
    await w.make_due()
    second = await charge(w)

    assert first["charged"] + second["charged"] == 1
    assert {b["eventId"] for b in w.wallet.bodies} == {f"reg_{paid.enrollment.id}"}
    assert len(w.wallet.charges) == 1
    [row] = [c for c in await w.charges() if c["status"] != "free"]
    assert row["status"] == "charged"


@respx.mock(assert_all_called=False)
async def test_a_timeout_after_highlevel_charged_is_looked_up_not_charged_twice(
    client: httpx.AsyncClient, app: Litestar, db: str, respx_mock: respx.MockRouter
) -> None:
    w = await world(client, app, db, respx_mock, LIVE, faults=["charged-then-timeout"])
    await w.enroll()
    await w.enroll()
    await w.enroll()

    first = await charge(w)
    [pending] = [c for c in await w.charges() if c["status"] != "free"]
    await w.make_due()
    second = await charge(w)

    assert first["retrying"] == 1
    assert pending["status"] == "pending"
    assert "did not answer in time" in pending["last_error"]
    assert second["charged"] == 1
    assert len(w.wallet.bodies) == 1, "the second attempt found the charge instead of sending another"
    [row] = [c for c in await w.charges() if c["status"] != "free"]
    assert (row["status"], row["charge_id"]) == ("charged", "chg_0001")


@respx.mock(assert_all_called=False)
async def test_after_an_uninstall_nothing_more_is_charged(
    client: httpx.AsyncClient, app: Litestar, db: str, respx_mock: respx.MockRouter
) -> None:
    w = await world(client, app, db, respx_mock, LIVE)
    await w.enroll()
    await w.enroll()
    await w.enroll()  # its charge is queued

    await w.webhook({"type": "UNINSTALL", "appId": APP_ID, "locationId": LOCATION, "webhookId": "w-un"})
    outcome = await charge(w)

    assert outcome["cancelled"] == 1
    assert w.wallet.bodies == []
    with pytest.raises(AppUninstalled):
        await w.enroll()
    statuses = sorted(c["status"] for c in await w.charges())
    assert statuses == ["cancelled", "free", "free"]
    assert "Uninstalled: no new registrations, nothing charged" in await w.settings_page()
    client.cookies.clear()
    await client.get(f"/enroll/{w.course.self_enroll_token}")
    learner = await client.post(
        f"/enroll/{w.course.self_enroll_token}",
        data={"_csrf_token": csrf_of(client), "first_name": "Late", "last_name": "Comer", "email": "l@x.io"},
    )
    assert learner.status_code == 403
    assert "Enrollment is closed for now" in learner.text


@respx.mock(assert_all_called=False)
async def test_the_daily_reconciliation_flags_a_charge_highlevel_does_not_list(
    client: httpx.AsyncClient, app: Litestar, db: str, respx_mock: respx.MockRouter
) -> None:
    w = await world(client, app, db, respx_mock, LIVE, plan_id=LIVE)
    await w.enroll()
    await w.enroll()
    await w.enroll()
    await w.enroll()
    await charge(w)
    w.wallet.hidden.add("chg_0002")  # HighLevel's list no longer has it

    result = await reconcile_charges(w.ctx)
    page = await w.settings_page()

    assert result["missing"] == 1
    flagged = [c for c in await w.charges() if c["reconcile_flag"]]
    assert [c["charge_id"] for c in flagged] == ["chg_0002"]
    assert "Not in HighLevel&#39;s list of charges (charge chg_0002)" in page


# --- Go Live --------------------------------------------------------------------------------------------


@respx.mock(assert_all_called=False)
async def test_a_location_user_without_the_admin_role_cannot_go_live(
    client: httpx.AsyncClient, app: Litestar, db: str, respx_mock: respx.MockRouter
) -> None:
    w = await world(client, app, db, respx_mock, FREE)
    client.cookies.clear()
    token = (await client.post("/sso/highlevel", json={"payload": sso_as("user")})).json()["token"]
    user = {"x-scormhub-session": token}

    page = await client.get("/app/settings/go-live", headers=user)
    pressed = await w.post("/app/settings/go-live", {"confirm": "yes"}, as_=user)

    for answer in (page, pressed):
        assert answer.status_code == 403
        assert "Only an admin of this HighLevel location can change its plan" in answer.text
    [account] = await rows(db, "SELECT status FROM billing_account")
    assert account["status"] == "trial"


@respx.mock(assert_all_called=False)
async def test_go_live_explains_the_cost_asks_to_confirm_and_sends_the_admin_to_highlevel(
    client: httpx.AsyncClient, app: Litestar, db: str, respx_mock: respx.MockRouter
) -> None:
    w = await world(client, app, db, respx_mock, FREE)

    settings = await w.settings_page()
    page = await client.get("/app/settings/go-live", headers=w.admin)
    unconfirmed = await w.post("/app/settings/go-live", {})
    confirmed = await w.post("/app/settings/go-live", {"confirm": "yes"})

    assert 'href="/app/settings/go-live"' in settings
    assert page.status_code == 200
    assert "US$29 a month" in page.text
    assert "first 2 new registrations are free" in page.text
    assert "US$0.50" in page.text
    assert 'name="confirm"' in page.text
    assert unconfirmed.status_code == 400
    assert "Tick the box to confirm" in unconfirmed.text
    assert confirmed.status_code == 200
    assert "Installed Apps" in confirmed.text
    assert "Change Plan" in confirmed.text
    [account] = await rows(db, "SELECT status FROM billing_account")
    assert account["status"] == "trial", "a button never makes a workspace live: HighLevel's plan does"
