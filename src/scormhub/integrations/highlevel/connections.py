"""HighLevel installations in PostgreSQL: a location's (or agency's) connection, its tokens as granted
(encrypted), uninstalls, and the status that asks a person to reconnect.

Renewing the tokens is in tokens.py."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from scormhub.domain.model import (
    ConnectionStatus,
    CrmConnection,
    CrmKind,
    EngineKind,
    PlanMode,
    TokenGrant,
    Workspace,
    WorkspaceKind,
)
from scormhub.domain.ports import Clock
from scormhub.integrations.crypto import SecretBox
from scormhub.integrations.db.database import engine
from scormhub.integrations.db.tables import CrmAgencyTokenRow, CrmConnectionRow
from scormhub.integrations.db.workspaces import PiccoloWorkspaceRepository

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
