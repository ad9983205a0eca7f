"""A HighLevel location's access token from PostgreSQL, refreshed by exactly one process at a time.

The rules come from the reference's pitfalls (§8): refresh tokens rotate, so two processes refreshing at
once would each spend the same refresh token and one of them would lose the location. Refreshing takes
the connection's row lock, re-reads the row, and only exchanges if the token it holds is still the one
that expired or was refused; the rotated refresh token is saved in the same transaction as the access
token it came with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

from scormhub.domain.errors import CrmAuthExpired
from scormhub.domain.model import ConnectionStatus, TokenGrant
from scormhub.domain.ports import Clock
from scormhub.integrations.crypto import SecretBox
from scormhub.integrations.db.database import engine
from scormhub.integrations.db.tables import CrmAgencyTokenRow, CrmConnectionRow
from scormhub.integrations.highlevel.connections import RECONNECT_MESSAGE, HighLevelConnections
from scormhub.integrations.highlevel.oauth import HighLevelOAuth

log = logging.getLogger(__name__)

# Refresh this long before expiry: a token that expires between our check and HighLevel's is a 401
# and a wasted request (the SDK uses 30 s; the reference recommends 5 minutes).
REFRESH_MARGIN = timedelta(minutes=5)
_SELECT_CONNECTION = "SELECT * FROM crm_connection WHERE workspace_id = {}"
_SELECT_CONNECTION_FOR_UPDATE = _SELECT_CONNECTION + " FOR UPDATE"


class PostgresTokenSource:
    """A location's access token: refreshed ahead of expiry, and after a 401, by exactly one process.

    Location tokens minted from an agency's Company token have no refresh token: they are minted again
    (refreshing the agency token first, under its own row lock, when that one is due).
    """

    def __init__(
        self,
        workspace_id: UUID,
        *,
        oauth: Callable[[], HighLevelOAuth],
        cipher: SecretBox,
        clock: Clock,
        connections: HighLevelConnections,
    ) -> None:
        self._workspace_id = workspace_id
        self._oauth = oauth
        self._cipher = cipher
        self._clock = clock
        self._connections = connections

    async def access_token(self) -> str:
        row = await self._row(lock=False)
        token = self._usable_token(row)
        if token is not None:
            return token
        return await self._renew(rejected=None)

    async def refresh(self, rejected: str) -> str:
        return await self._renew(rejected=rejected)

    async def _row(self, *, lock: bool) -> dict[str, Any]:
        query = _SELECT_CONNECTION_FOR_UPDATE if lock else _SELECT_CONNECTION
        rows = await CrmConnectionRow.raw(query, self._workspace_id)
        if not rows:
            raise CrmAuthExpired("This workspace is not connected to HighLevel. Install the app first.")
        row: dict[str, Any] = rows[0]
        if row["status"] != ConnectionStatus.CONNECTED.value:
            raise CrmAuthExpired(row["status_message"] or RECONNECT_MESSAGE)
        return row

    def _usable_token(self, row: dict[str, Any]) -> str | None:
        if row["access_token_enc"] is None or row["expires_at"] is None:
            return None
        if row["expires_at"] - self._clock.now() <= REFRESH_MARGIN:
            return None
        return self._cipher.decrypt(row["access_token_enc"])

    async def _renew(self, *, rejected: str | None) -> str:
        refused: CrmAuthExpired | None = None
        async with engine().transaction():
            row = await self._row(lock=True)
            current = self._usable_token(row)
            # Someone renewed while we waited for the lock: their token is the one to use.
            if current is not None and current != rejected:
                return current
            try:
                grant = await self._exchange(row)
            except CrmAuthExpired as exc:
                refused = exc
            else:
                await CrmConnectionRow.raw(
                    "UPDATE crm_connection SET access_token_enc = {}, refresh_token_enc = {}, "
                    "expires_at = {}, updated_at = {} WHERE workspace_id = {}",
                    self._cipher.encrypt(grant.access_token),
                    self._cipher.encrypt(grant.refresh_token)
                    if grant.refresh_token
                    else row["refresh_token_enc"],
                    grant.expires_at,
                    self._clock.now(),
                    self._workspace_id,
                )
                # Only the workspace id: neither token ever reaches a log line.
                log.info("renewed HighLevel access for workspace %s", self._workspace_id)
                return grant.access_token
        # Outside the transaction, so the status change is not rolled back with it.
        await self._connections.mark_reconnect(self._workspace_id, f"{RECONNECT_MESSAGE} ({refused})")
        raise refused

    async def _exchange(self, row: dict[str, Any]) -> TokenGrant:
        oauth = self._oauth()
        if row["refresh_token_enc"] is not None:
            return await oauth.refresh(self._cipher.decrypt(row["refresh_token_enc"]), user_type="Location")
        if row["company_id"]:
            company_token = await _agency_token(oauth, self._cipher, self._clock, row["company_id"])
            return await oauth.location_token(
                company_token, company_id=row["company_id"], location_id=row["location_id"]
            )
        raise CrmAuthExpired("HighLevel gave no refresh token for this location.")


async def agency_access_token(oauth: HighLevelOAuth, cipher: SecretBox, clock: Clock, company_id: str) -> str:
    """The agency's Company token, refreshed under its row lock when due (rotating its refresh token)."""
    async with engine().transaction():
        return await _agency_token(oauth, cipher, clock, company_id)


async def _agency_token(oauth: HighLevelOAuth, cipher: SecretBox, clock: Clock, company_id: str) -> str:
    rows = await CrmAgencyTokenRow.raw(
        "SELECT * FROM crm_agency_token WHERE company_id = {} AND status = 'connected' FOR UPDATE",
        company_id,
    )
    if not rows:
        raise CrmAuthExpired("The agency's HighLevel installation is gone.")
    agency = rows[0]
    if agency["expires_at"] - clock.now() > REFRESH_MARGIN:
        return cipher.decrypt(agency["access_token_enc"])
    try:
        grant = await oauth.refresh(cipher.decrypt(agency["refresh_token_enc"]), user_type="Company")
    except CrmAuthExpired:
        await CrmAgencyTokenRow.raw(
            "UPDATE crm_agency_token SET status = 'reconnect' WHERE company_id = {}", company_id
        )
        raise
    await CrmAgencyTokenRow.raw(
        "UPDATE crm_agency_token SET access_token_enc = {}, refresh_token_enc = {}, expires_at = {}, "
        "updated_at = {} WHERE company_id = {}",
        cipher.encrypt(grant.access_token),
        cipher.encrypt(grant.refresh_token) if grant.refresh_token else agency["refresh_token_enc"],
        grant.expires_at,
        clock.now(),
        company_id,
    )
    return grant.access_token


class HighLevelAgencyAuth:
    """The `CrmAgencyAuth` port over HighLevel's OAuth. The OAuth client is made on first use, so a server
    without HighLevel configured fails only when an agency install actually needs it."""

    def __init__(self, oauth: Callable[[], HighLevelOAuth], cipher: SecretBox, clock: Clock) -> None:
        self._oauth = oauth
        self._cipher = cipher
        self._clock = clock

    async def agency_token(self, company_id: str) -> str:
        return await agency_access_token(self._oauth(), self._cipher, self._clock, company_id)

    async def location_token(self, company_token: str, *, company_id: str, location_id: str) -> TokenGrant:
        return await self._oauth().location_token(
            company_token, company_id=company_id, location_id=location_id
        )

    async def installed_locations(self, company_token: str, *, company_id: str, app_id: str) -> list[str]:
        return await self._oauth().installed_locations(company_token, company_id=company_id, app_id=app_id)
