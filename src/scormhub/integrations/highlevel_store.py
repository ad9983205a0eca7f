"""HighLevel installations in PostgreSQL: tokens (encrypted), refresh under a row lock, record references.

The rules for tokens come from the reference's pitfalls (§8): refresh tokens rotate, so two processes
refreshing at once would each spend the same refresh token and one of them would lose the location.
Refreshing takes the connection's row lock, re-reads the row, and only exchanges if the token it holds
is still the one that expired or was refused; the rotated refresh token is saved in the same
transaction as the access token it came with.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from scormhub.domain.errors import CrmAuthExpired
from scormhub.domain.model import (
    ConnectionStatus,
    CrmConnection,
    CrmKind,
    EngineKind,
    PlanMode,
    RateLimit,
    Workspace,
    WorkspaceKind,
)
from scormhub.domain.ports import Clock, Throttle
from scormhub.integrations.crypto import SecretBox
from scormhub.integrations.db.database import engine
from scormhub.integrations.db.tables import CrmAgencyTokenRow, CrmConnectionRow, CrmRecordRow, InboxRow
from scormhub.integrations.db.uow import PiccoloWorkspaceRepository
from scormhub.integrations.highlevel_oauth import HighLevelOAuth, TokenGrant

log = logging.getLogger(__name__)

# Refresh this long before expiry: a token that expires between our check and HighLevel's is a 401
# and a wasted request (the SDK uses 30 s; the reference recommends 5 minutes).
REFRESH_MARGIN = timedelta(minutes=5)
_SELECT_CONNECTION = "SELECT * FROM crm_connection WHERE workspace_id = {}"
_SELECT_CONNECTION_FOR_UPDATE = _SELECT_CONNECTION + " FOR UPDATE"
RECONNECT_MESSAGE = "HighLevel no longer accepts SCORM Hub's access. Reconnect to resume syncing."


def _connection(row: dict[str, Any]) -> CrmConnection:
    return CrmConnection(
        workspace_id=row["workspace_id"],
        location_id=row["location_id"],
        company_id=row["company_id"],
        status=ConnectionStatus(row["status"]),
        status_message=row["status_message"],
        installer_user_id=row["installer_user_id"],
        installed_at=row["installed_at"],
    )


class HighLevelConnections:
    """Installations of the app in HighLevel locations (and agencies), one transaction per call."""

    def __init__(self, cipher: SecretBox, clock: Clock) -> None:
        self._cipher = cipher
        self._clock = clock

    async def get(self, workspace_id: UUID) -> CrmConnection | None:
        row = await CrmConnectionRow.select().where(CrmConnectionRow.workspace_id == workspace_id).first()
        return _connection(row) if row else None

    async def by_location(self, location_id: str) -> CrmConnection | None:
        row = await CrmConnectionRow.select().where(CrmConnectionRow.location_id == location_id).first()
        return _connection(row) if row else None

    async def install_location(
        self,
        *,
        location_id: str,
        company_id: str | None,
        grant: TokenGrant | None,
        name: str | None = None,
        user_id: str | None = None,
    ) -> Workspace:
        """Create the location's workspace, or reconnect the one it had (its data is kept)."""
        now = self._clock.now()
        workspaces = PiccoloWorkspaceRepository()
        async with engine().transaction():
            # One installer at a time per location: the OAuth callback and the INSTALL webhook race.
            await CrmConnectionRow.raw(
                "SELECT pg_advisory_xact_lock(hashtext('scormhub:hl-location:' || {}))", location_id
            )
            found = await CrmConnectionRow.raw(
                "SELECT w.id FROM workspace w WHERE w.crm_location_id = {}", location_id
            )
            if found:
                workspace = await workspaces.get(found[0]["id"])
                assert workspace is not None
            else:
                workspace = Workspace(
                    id=uuid.uuid4(),
                    name=(name or f"HighLevel location {location_id}")[:200],
                    kind=WorkspaceKind.HIGHLEVEL,
                    plan=PlanMode.TRIAL,
                    engine=EngineKind.BUILTIN,
                    crm=CrmKind.HIGHLEVEL,
                    created_at=now,
                    crm_location_id=location_id,
                )
                await workspaces.add(workspace)
            tokens = self._token_values(grant)
            await CrmConnectionRow.raw(
                "INSERT INTO crm_connection (workspace_id, location_id, company_id, access_token_enc, "
                "refresh_token_enc, expires_at, scope, installer_user_id, status, status_message, "
                "installed_at, updated_at) "
                "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, 'connected', NULL, {}, {}) "
                "ON CONFLICT (workspace_id) DO UPDATE SET "
                "company_id = coalesce(EXCLUDED.company_id, crm_connection.company_id), "
                "access_token_enc = coalesce(EXCLUDED.access_token_enc, crm_connection.access_token_enc), "
                "refresh_token_enc = CASE WHEN EXCLUDED.access_token_enc IS NULL "
                "THEN crm_connection.refresh_token_enc ELSE EXCLUDED.refresh_token_enc END, "
                "expires_at = coalesce(EXCLUDED.expires_at, crm_connection.expires_at), "
                "scope = CASE WHEN EXCLUDED.scope = '' THEN crm_connection.scope ELSE EXCLUDED.scope END, "
                "installer_user_id = coalesce(EXCLUDED.installer_user_id, crm_connection.installer_user_id), "
                "status = CASE WHEN EXCLUDED.access_token_enc IS NULL "
                "AND crm_connection.status <> 'connected' THEN crm_connection.status ELSE 'connected' END, "
                "status_message = CASE WHEN EXCLUDED.access_token_enc IS NULL "
                "THEN crm_connection.status_message ELSE NULL END, "
                "updated_at = EXCLUDED.updated_at",
                workspace.id,
                location_id,
                company_id,
                tokens["access"],
                tokens["refresh"],
                tokens["expires_at"],
                grant.scope if grant else "",
                user_id or (grant.user_id if grant else None),
                now,
                now,
            )
            if name and workspace.name.startswith("HighLevel location "):
                await CrmConnectionRow.raw(
                    "UPDATE workspace SET name = {} WHERE id = {}", name[:200], workspace.id
                )
        return workspace

    def _token_values(self, grant: TokenGrant | None) -> dict[str, Any]:
        if grant is None:
            return {"access": None, "refresh": None, "expires_at": None}
        return {
            "access": self._cipher.encrypt(grant.access_token),
            "refresh": self._cipher.encrypt(grant.refresh_token) if grant.refresh_token else None,
            "expires_at": grant.expires_at,
        }

    async def save_agency(self, grant: TokenGrant) -> None:
        assert grant.company_id
        assert grant.refresh_token
        await CrmAgencyTokenRow.raw(
            "INSERT INTO crm_agency_token (company_id, access_token_enc, refresh_token_enc, expires_at, "
            "scope, status, updated_at) VALUES ({}, {}, {}, {}, {}, 'connected', {}) "
            "ON CONFLICT (company_id) DO UPDATE SET access_token_enc = EXCLUDED.access_token_enc, "
            "refresh_token_enc = EXCLUDED.refresh_token_enc, expires_at = EXCLUDED.expires_at, "
            "scope = EXCLUDED.scope, status = 'connected', updated_at = EXCLUDED.updated_at",
            grant.company_id,
            self._cipher.encrypt(grant.access_token),
            self._cipher.encrypt(grant.refresh_token),
            grant.expires_at,
            grant.scope,
            self._clock.now(),
        )

    async def has_agency(self, company_id: str) -> bool:
        return bool(
            await CrmAgencyTokenRow.exists().where(
                (CrmAgencyTokenRow.company_id == company_id) & (CrmAgencyTokenRow.status == "connected")
            )
        )

    async def uninstall_location(self, location_id: str) -> UUID | None:
        """Revoke the location's tokens and stop its writes; the workspace and its data stay."""
        rows = await CrmConnectionRow.raw(
            "UPDATE crm_connection SET status = 'uninstalled', access_token_enc = NULL, "
            "refresh_token_enc = NULL, expires_at = NULL, status_message = {}, updated_at = {} "
            "WHERE location_id = {} RETURNING workspace_id",
            "The app was uninstalled from this HighLevel location. Install it again to resume.",
            self._clock.now(),
            location_id,
        )
        return rows[0]["workspace_id"] if rows else None

    async def uninstall_company(self, company_id: str) -> list[UUID]:
        async with engine().transaction():
            await CrmAgencyTokenRow.raw("DELETE FROM crm_agency_token WHERE company_id = {}", company_id)
            rows = await CrmConnectionRow.raw(
                "UPDATE crm_connection SET status = 'uninstalled', access_token_enc = NULL, "
                "refresh_token_enc = NULL, expires_at = NULL, status_message = {}, updated_at = {} "
                "WHERE company_id = {} RETURNING workspace_id",
                "The app was uninstalled by the agency. Install it again to resume.",
                self._clock.now(),
                company_id,
            )
        return [row["workspace_id"] for row in rows]

    async def mark_reconnect(self, workspace_id: UUID, message: str = RECONNECT_MESSAGE) -> None:
        await CrmConnectionRow.raw(
            "UPDATE crm_connection SET status = 'reconnect', status_message = {}, updated_at = {} "
            "WHERE workspace_id = {} AND status = 'connected'",
            message,
            self._clock.now(),
            workspace_id,
        )


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


class PostgresRecordRefs:
    """RecordRefs for one workspace: which HighLevel record holds each of our keys."""

    def __init__(self, workspace_id: UUID, clock: Clock) -> None:
        self._workspace_id = workspace_id
        self._clock = clock

    async def get(self, record_key: str) -> tuple[str, bool] | None:
        row = (
            await CrmRecordRow.select(CrmRecordRow.record_id, CrmRecordRow.related)
            .where(
                (CrmRecordRow.workspace_id == self._workspace_id) & (CrmRecordRow.record_key == record_key)
            )
            .first()
        )
        return (row["record_id"], row["related"]) if row else None

    async def put(self, record_key: str, record_id: str, *, related: bool) -> None:
        await CrmRecordRow.raw(
            "INSERT INTO crm_record (id, workspace_id, record_key, record_id, related, updated_at) "
            "VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT (workspace_id, record_key) DO UPDATE SET "
            "record_id = EXCLUDED.record_id, related = EXCLUDED.related, updated_at = EXCLUDED.updated_at",
            uuid.uuid4(),
            self._workspace_id,
            record_key,
            record_id,
            related,
            self._clock.now(),
        )


class PostgresProvisionStore:
    """ProvisionStore: the ids HighLevel gave the custom objects and association, on the connection."""

    def __init__(self, workspace_id: UUID) -> None:
        self._workspace_id = workspace_id

    async def load(self) -> dict[str, Any]:
        row = (
            await CrmConnectionRow.select(CrmConnectionRow.provisioned)
            .where(CrmConnectionRow.workspace_id == self._workspace_id)
            .first()
        )
        data = row["provisioned"] if row else None
        if isinstance(data, str):  # Piccolo hands JSONB over as text
            data = json.loads(data)
        return dict(data or {})

    async def save(self, data: dict[str, Any]) -> None:
        await CrmConnectionRow.raw(
            "UPDATE crm_connection SET provisioned = {}::jsonb WHERE workspace_id = {}",
            json.dumps(data),
            self._workspace_id,
        )


class ThrottleLimiter:
    """RequestLimiter over the shared PostgreSQL sliding log: every process, one budget per location."""

    def __init__(self, throttle: Throttle, workspace_id: UUID, limit: RateLimit) -> None:
        self._throttle = throttle
        self._workspace_id = workspace_id
        self._limit = limit

    async def wait_turn(self) -> None:
        await self._throttle.wait_turn(self._workspace_id, self._limit)

    async def hold(self, seconds: float) -> None:
        await self._throttle.hold(self._workspace_id, self._limit, seconds)


async def store_webhook(
    *, external_id: str | None, source: str, content_type: str, body: str, received_at: datetime
) -> UUID | None:
    """Store a webhook in the inbox before it is acknowledged; None when its id was seen before.

    Kept apart from the postbacks' hot path: these rows have no workspace yet (an install may be for a
    location we do not know), so the postback drain, which reads by workspace, never takes them.
    """
    rows = await InboxRow.raw(
        "INSERT INTO inbox (id, workspace_id, source, content_type, body, received_at, external_id) "
        "VALUES ({}, NULL, {}, {}, {}, {}, {}) "
        # The index is partial (postbacks have no external id): its predicate names it here.
        "ON CONFLICT (external_id) WHERE external_id IS NOT NULL DO NOTHING RETURNING id",
        uuid.uuid4(),
        source,
        content_type[:200],
        body,
        received_at,
        external_id,
    )
    return rows[0]["id"] if rows else None
