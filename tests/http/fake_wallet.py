"""A stateful stand-in for HighLevel's marketplace billing API (respx side effects), shaped like the
reference (highlevel-workflows.md §8): has-funds, create/list charges, installer details.

It keeps the location's wallet (how many more charges it can pay) and the charges taken, and answers the
faults a test scripts, one per call, in order: "401", "429", "500", "timeout" (no answer, nothing charged)
and "charged-then-timeout" (HighLevel charged, but its answer never arrived).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import respx

CHARGES = "/marketplace/billing/charges"


@dataclass
class FakeWallet:
    host: str  # "hl.test"
    app_id: str
    funds: int = 1000  # charges the wallet can still pay
    has_funds_says: bool | None = None  # what has-funds answers, when it is not the truth
    plan_id: str | None = None  # installer details' marketplaceAppPlanId
    faults: list[str] = field(default_factory=list)  # scripted answers to POST /charges, in order
    charges: list[dict[str, Any]] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)  # every create-charge body received
    tokens: list[str] = field(default_factory=list)  # the bearer of each create-charge call
    hidden: set[str] = field(default_factory=set)  # charge ids the list leaves out (a lost charge)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def mount(self, router: respx.MockRouter) -> None:
        """Before any catch-all route of the same host: respx answers with the first route that matches."""
        router.get(host=self.host, path=f"{CHARGES}/has-funds").mock(side_effect=self._has_funds)
        router.post(host=self.host, path=CHARGES).mock(side_effect=self._create)
        router.get(host=self.host, path=CHARGES).mock(side_effect=self._list)
        router.get(host=self.host, path=f"/marketplace/app/{self.app_id}/installations").mock(
            side_effect=self._installation
        )

    def _has_funds(self, request: httpx.Request) -> httpx.Response:
        _check_headers(request)
        says = self.funds > 0 if self.has_funds_says is None else self.has_funds_says
        return httpx.Response(200, json={"hasFunds": says})

    def _create(self, request: httpx.Request) -> httpx.Response:
        _check_headers(request)
        body = json.loads(request.content)
        self.bodies.append(body)
        self.tokens.append(request.headers["Authorization"])
        fault = self.faults.pop(0) if self.faults else None
        if fault == "401":
            return httpx.Response(
                401,
                json={
                    "statusCode": 401,
                    "message": "Invalid token: access token is invalid",
                    "error": "Unauthorized",
                },
            )
        if fault == "429":
            return httpx.Response(
                429, json={"statusCode": 429, "message": "Too Many Requests"}, headers={"Retry-After": "0"}
            )
        if fault == "500":
            return httpx.Response(500, json={"statusCode": 500, "message": "Internal Server Error"})
        if fault == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if self.funds <= 0:
            return httpx.Response(
                400, json={"message": "Location wallet has insufficient funds", "statusCode": 400}
            )
        self.funds -= 1
        charge = {
            "chargeId": f"chg_{next(self._ids):04d}",
            "meterId": body["meterId"],
            "units": body["units"],
            "pricePerUnit": body.get("price", 0.5),
            "amountCharged": body.get("price", 0.5) * body["units"],
            "currency": "USD",
            "transactionType": "charge",
            "refunded": False,
            "entityId": body["locationId"],
            "meta": {"eventId": body["eventId"]},
            "createdAt": "2026-12-07T23:00:00.000Z",
        }
        self.charges.append(charge)
        if fault == "charged-then-timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(201, json={"success": True, "chargeId": charge["chargeId"]})

    def _list(self, request: httpx.Request) -> httpx.Response:
        _check_headers(request)
        params = request.url.params
        found = [
            c
            for c in self.charges
            if c["chargeId"] not in self.hidden
            and c["meterId"] == params.get("meterId", c["meterId"])
            and c["meta"]["eventId"] == params.get("eventId", c["meta"]["eventId"])
        ]
        skip, limit = int(params.get("skip", "0")), int(params.get("limit", "100"))
        return httpx.Response(
            200,
            json={
                "charges": found[skip : skip + limit],
                "pagination": {"total": len(found), "skip": skip, "limit": limit},
            },
        )

    def _installation(self, request: httpx.Request) -> httpx.Response:
        _check_headers(request)
        return httpx.Response(
            200, json={"installationDetails": {"marketplaceAppPlanId": self.plan_id, "locationId": "loc"}}
        )

    def paid_events(self) -> list[str]:
        return [c["meta"]["eventId"] for c in self.charges]


def _check_headers(request: httpx.Request) -> None:
    # The spec omits Version on these paths; the rendered docs require it (§8): it is always sent.
    assert request.headers.get("Version") == "2021-07-28", request.url
    assert request.headers.get("Authorization", "").startswith("Bearer "), request.url
