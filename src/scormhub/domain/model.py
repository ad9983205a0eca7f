"""Entities and value objects shared by the use cases."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

TRIAL_REGISTRATION_LIMIT = 10


class WorkspaceKind(enum.StrEnum):
    STANDALONE = "standalone"
    HIGHLEVEL = "highlevel"


class PlanMode(enum.StrEnum):
    TRIAL = "trial"
    LIVE = "live"


class EngineKind(enum.StrEnum):
    BUILTIN = "builtin"
    SCORM_CLOUD = "scorm_cloud"


class CrmKind(enum.StrEnum):
    LOCAL = "local"
    HIGHLEVEL = "highlevel"


@dataclass(frozen=True)
class Workspace:
    """The tenant: one per CRM location, or the single standalone one. Every owned row carries its id."""

    id: UUID
    name: str
    kind: WorkspaceKind
    plan: PlanMode
    engine: EngineKind
    crm: CrmKind
    created_at: datetime
    crm_location_id: str | None = None
    sync_tags: bool = True
    sync_notes: bool = True
    sync_records: bool = True

    @property
    def registration_limit(self) -> int | None:
        """Live workspaces have no limit; trial ones allow a fixed number of active registrations."""
        return TRIAL_REGISTRATION_LIMIT if self.plan is PlanMode.TRIAL else None


@dataclass(frozen=True)
class LoginToken:
    """A one-time admin login link; only its hash is ever stored."""

    token_hash: str
    workspace_id: UUID
    expires_at: datetime
    used_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


class ConnectionStatus(enum.StrEnum):
    CONNECTED = "connected"
    RECONNECT = "reconnect"  # the CRM refused our tokens: an admin must reconnect; writes wait
    UNINSTALLED = "uninstalled"  # the app was removed from the location; its data is kept


@dataclass(frozen=True)
class CrmConnection:
    """A workspace's installation in HighLevel (its tokens stay in the adapter, encrypted)."""

    workspace_id: UUID
    location_id: str
    company_id: str | None
    status: ConnectionStatus
    status_message: str | None
    installer_user_id: str | None
    installed_at: datetime

    @property
    def usable(self) -> bool:
        return self.status is ConnectionStatus.CONNECTED
