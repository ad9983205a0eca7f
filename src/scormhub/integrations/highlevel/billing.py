"""HighLevel's marketplace billing for one location: funds check, usage charges, the charge list, and the
installer details that name the location's plan. Reference: shared/reference/highlevel-workflows.md §8.

Each call goes through the location's HighLevelClient (limiter, one refresh on 401, 429 waits, errors
translated); what the reference marks UNCONFIRMED is read defensively: a missing field is never taken for
a yes that could charge twice or unlock a plan.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from scormhub.domain.errors import CrmRejected, CrmUnavailable, DomainError
from scormhub.domain.model_billing import InsufficientFunds, RemoteCharge
from scormhub.integrations.highlevel.client import HighLevelClient

CHARGES: Final = "/marketplace/billing/charges"
HAS_FUNDS: Final = "/marketplace/billing/charges/has-funds"
PAGE: Final = 100
MAX_PAGES: Final = 50
# Words of HighLevel's refusal when the wallet cannot pay ("Location wallet has insufficient funds").
FUNDS_WORDS: Final = ("insufficient", "funds", "balance", "wallet")


class HighLevelBilling:
    """The UsageBilling port for one installed location."""

    def __init__(
        self, api: HighLevelClient, *, app_id: str, location_id: str, company_id: str | None
    ) -> None:
        self._api = api
        self._app_id = app_id
        self._location_id = location_id
        self._company_id = company_id

    async def has_funds(self) -> bool:
        data = await self._api.request("GET", HAS_FUNDS, missing="billing endpoint")
        # Only an explicit false says no: the charge itself is the proof either way.
        return not (isinstance(data, dict) and data.get("hasFunds") is False)

    async def create_charge(
        self, *, event_id: str, meter_id: str, description: str, units: int, price_usd: str | None
    ) -> str:
        if not self._company_id:
            raise DomainError(
                "HighLevel did not tell SCORM Hub this location's agency (companyId), which a charge needs. "
                "Reconnect HighLevel in Settings."
            )
        body: dict[str, Any] = {
            "appId": self._app_id,
            "meterId": meter_id,
            "eventId": event_id,
            "locationId": self._location_id,
            "companyId": self._company_id,
            "description": description[:250],
            "units": units,
        }
        if price_usd is not None:
            body["price"] = float(price_usd)
        try:
            data = await self._api.request("POST", CHARGES, body=body, missing="billing endpoint")
        except CrmRejected as exc:
            detail = (exc.detail or str(exc)).lower()
            if any(word in detail for word in FUNDS_WORDS):
                raise InsufficientFunds(exc.detail or str(exc)) from exc
            raise
        charge_id = data.get("chargeId") if isinstance(data, dict) else None
        if not isinstance(charge_id, str) or not charge_id:
            # Accepted but no id: it may have charged. Retried, the charge is looked up by its eventId.
            raise CrmUnavailable("HighLevel accepted the charge but sent no charge id.")
        return charge_id

    async def find_charge(self, event_id: str, *, meter_id: str) -> RemoteCharge | None:
        data = await self._api.request(
            "GET", CHARGES, params={"meterId": meter_id, "eventId": event_id}, missing="billing endpoint"
        )
        # Filtered by HighLevel, and checked again here: an ignored filter must not match another charge.
        return next((c for c in _charges(data) if c.event_id == event_id), None)

    async def list_charges(self, *, meter_id: str, start: datetime, end: datetime) -> list[RemoteCharge]:
        found: list[RemoteCharge] = []
        for page in range(MAX_PAGES):
            params = {
                "meterId": meter_id,
                "startDate": start.isoformat(),
                "endDate": end.isoformat(),
                "skip": str(page * PAGE),
                "limit": str(PAGE),
            }
            data = await self._api.request("GET", CHARGES, params=params, missing="billing endpoint")
            batch = _charges(data)
            found += batch
            total = data.get("pagination", {}).get("total") if isinstance(data, dict) else None
            if len(batch) < PAGE or (isinstance(total, int) and len(found) >= total):
                break
        return found

    async def installed_plan_id(self) -> str | None:
        data = await self._api.request(
            "GET", f"/marketplace/app/{self._app_id}/installations", missing="installation"
        )
        if not isinstance(data, dict):
            return None
        details = data.get("installationDetails")
        source = details if isinstance(details, dict) else data
        plan = source.get("marketplaceAppPlanId")
        return plan if isinstance(plan, str) and plan else None


def _charges(data: Any) -> list[RemoteCharge]:
    items = data.get("charges") if isinstance(data, dict) else None
    found: list[RemoteCharge] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("chargeId"), str):
            continue
        meta = item.get("meta") if isinstance(item.get("meta"), dict) else {}
        event = meta.get("eventId") if isinstance(meta, dict) else None
        if not isinstance(event, str):
            event = item.get("eventId") if isinstance(item.get("eventId"), str) else None
        found.append(
            RemoteCharge(
                charge_id=item["chargeId"],
                event_id=event,
                meter_id=item.get("meterId") if isinstance(item.get("meterId"), str) else None,
                refunded=item.get("refunded") is True or item.get("transactionType") == "refund",
            )
        )
    return found
