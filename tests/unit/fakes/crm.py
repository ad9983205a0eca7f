"""Fakes of the CRM's two sides (a contact book, a writer), of the throttle shared by its senders, and of
its installations (locations, agencies, and the agency side of its OAuth)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from scormhub.domain.model import (
    ConnectionStatus,
    Contact,
    CrmConnection,
    CrmKind,
    EngineKind,
    PlanMode,
    RateLimit,
    TokenGrant,
    Workspace,
    WorkspaceKind,
)

if TYPE_CHECKING:
    from scormhub.domain.ports import (
        ContactBook,
        ContactDirectory,
        CrmAgencyAuth,
        CrmInstallations,
        CrmWriter,
        Throttle,
    )


class FakeContactBook:
    """One workspace's contacts in memory; emails are unique whatever their case."""

    def __init__(self) -> None:
        self.contacts: dict[str, Contact] = {}

    async def search_contacts(self, query: str, *, limit: int = 10) -> list[Contact]:
        words = query.lower().split()
        found = [
            c
            for c in self.contacts.values()
            if all(w in f"{c.first_name} {c.last_name} {c.email}".lower() for w in words)
        ]
        return found[:limit]

    async def get_contact(self, contact_id: str) -> Contact | None:
        return self.contacts.get(contact_id)

    async def upsert_contact(self, *, first_name: str, last_name: str, email: str) -> Contact:
        existing = next((c for c in self.contacts.values() if c.email == email.lower()), None)
        if existing is not None:
            return existing
        contact = Contact(id=str(uuid4()), first_name=first_name, last_name=last_name, email=email.lower())
        self.contacts[contact.id] = contact
        return contact


class FakeContactDirectory(FakeContactBook):
    """A standalone workspace's contact book: the lookups, plus companies, notes and records by contact."""

    def __init__(self) -> None:
        super().__init__()
        self.companies: dict[str, str | None] = {}
        self.contact_notes: dict[str, list[tuple[datetime, str]]] = {}
        self.records: dict[str, list[dict[str, Any]]] = {}

    async def list_contacts(self, *, offset: int = 0, limit: int = 50) -> list[Contact]:
        return list(self.contacts.values())[offset : offset + limit]

    async def set_company(self, contact_id: str, company: str | None) -> None:
        self.companies[contact_id] = company

    async def company_summaries(self) -> list[dict[str, Any]]:
        return []

    async def notes(self, contact_id: str) -> list[tuple[datetime, str]]:
        return self.contact_notes.get(contact_id, [])

    async def training_records(self, contact_id: str) -> list[dict[str, Any]]:
        return self.records.get(contact_id, [])


class FakeCrmWriter:
    """A CRM that shows what it was told: each contact's tags, notes and training records.

    `failures` are raised by the next writes, one each, in order. `before_write` runs inside each write
    before it lands, for tests that change things while a write is in flight. Notes keep their
    idempotency key, as HighLevel's do, so a note delivered twice appears once.
    """

    def __init__(
        self,
        *,
        rate_limit: RateLimit = RateLimit(requests=100, per_seconds=10),
        self_throttling: bool = False,
    ) -> None:
        self.rate_limit = rate_limit
        self.self_throttling = self_throttling
        self.failures: list[Exception] = []
        self.before_write: Callable[[], Awaitable[None]] | None = None
        self.calls: list[tuple[str, str]] = []  # (write kind, contact id or company), in delivery order
        self.tags: dict[str, set[str]] = {}
        self.notes: dict[str, dict[str, tuple[str, str | None]]] = {}  # contact → key → (body, author)
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        self.summaries: dict[str, dict[str, Any]] = {}
        self.provisioned = False

    async def _write(self, kind: str, target: str) -> None:
        self.calls.append((kind, target))
        if self.before_write is not None:
            await self.before_write()
        if self.failures:
            raise self.failures.pop(0)

    async def add_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        await self._write("add_tags", contact_id)
        self.tags.setdefault(contact_id, set()).update(tags)

    async def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        await self._write("remove_tags", contact_id)
        self.tags.setdefault(contact_id, set()).difference_update(tags)

    async def add_note(
        self, contact_id: str, body: str, *, idempotency_key: str, author_id: str | None = None
    ) -> None:
        await self._write("note", contact_id)
        self.notes.setdefault(contact_id, {}).setdefault(idempotency_key, (body, author_id))

    async def upsert_training_record(
        self, contact_id: str, record_key: str, properties: Mapping[str, Any]
    ) -> None:
        await self._write("training_record", contact_id)
        self.records[(contact_id, record_key)] = dict(properties)

    async def upsert_company_summary(self, company_key: str, properties: Mapping[str, Any]) -> None:
        await self._write("company_summary", company_key)
        self.summaries[company_key] = dict(properties)

    async def custom_objects_provisioned(self) -> bool:
        return self.provisioned

    async def provision_custom_objects(self) -> None:
        self.provisioned = True


class FakeThrottle:
    """Never waits; records each turn taken and each hold the CRM asked for."""

    def __init__(self) -> None:
        self.turns: list[UUID] = []
        self.holds: list[tuple[UUID, float]] = []

    async def wait_turn(self, workspace_id: UUID, limit: RateLimit) -> None:
        self.turns.append(workspace_id)

    async def hold(self, workspace_id: UUID, limit: RateLimit, seconds: float) -> None:
        self.holds.append((workspace_id, seconds))


def grant(*, location_id: str | None = None, company_id: str | None = None, **fields: Any) -> TokenGrant:
    values: dict[str, Any] = {
        "access_token": "access",
        "refresh_token": "refresh",
        "expires_at": datetime(2026, 11, 23, tzinfo=UTC),
        "scope": "contacts.write",
        "user_type": "Location" if location_id else "Company",
        "location_id": location_id,
        "company_id": company_id,
        "user_id": "user-1",
    }
    return TokenGrant(**(values | fields))


class FakeInstallations:
    """Installed locations (each with its workspace) and connected agencies."""

    def __init__(self) -> None:
        self.locations: dict[str, tuple[Workspace, CrmConnection, TokenGrant | None]] = {}
        self.agencies: dict[str, TokenGrant] = {}

    async def by_location(self, location_id: str) -> CrmConnection | None:
        found = self.locations.get(location_id)
        return found[1] if found else None

    async def install_location(
        self,
        *,
        location_id: str,
        company_id: str | None,
        grant: TokenGrant | None,
        name: str | None = None,
        user_id: str | None = None,
    ) -> Workspace:
        now = datetime(2026, 11, 22, tzinfo=UTC)
        found = self.locations.get(location_id)
        workspace = (
            found[0]
            if found
            else Workspace(
                id=uuid4(),
                name=name or f"HighLevel location {location_id}",
                kind=WorkspaceKind.HIGHLEVEL,
                plan=PlanMode.TRIAL,
                engine=EngineKind.BUILTIN,
                crm=CrmKind.HIGHLEVEL,
                created_at=now,
                crm_location_id=location_id,
            )
        )
        connection = CrmConnection(
            workspace_id=workspace.id,
            location_id=location_id,
            company_id=company_id,
            status=ConnectionStatus.CONNECTED,
            status_message=None,
            installer_user_id=user_id,
            installed_at=now,
        )
        self.locations[location_id] = (workspace, connection, grant or (found[2] if found else None))
        return workspace

    async def save_agency(self, grant: TokenGrant) -> None:
        assert grant.company_id
        self.agencies[grant.company_id] = grant

    async def has_agency(self, company_id: str) -> bool:
        return company_id in self.agencies

    def _uninstall(self, location_id: str) -> UUID:
        workspace, connection, _ = self.locations[location_id]
        uninstalled = replace(connection, status=ConnectionStatus.UNINSTALLED)
        self.locations[location_id] = (workspace, uninstalled, None)
        return workspace.id

    async def uninstall_location(self, location_id: str) -> UUID | None:
        return self._uninstall(location_id) if location_id in self.locations else None

    async def uninstall_company(self, company_id: str) -> list[UUID]:
        self.agencies.pop(company_id, None)
        return [
            self._uninstall(location_id)
            for location_id, (_, connection, _) in list(self.locations.items())
            if connection.company_id == company_id
        ]


class FakeAgencyAuth:
    """Mints a location's grant from an agency's token; `installed` is what the marketplace lists."""

    def __init__(self, installed: Sequence[str] = ()) -> None:
        self.installed = list(installed)

    async def agency_token(self, company_id: str) -> str:
        return f"agency-token:{company_id}"

    async def location_token(self, company_token: str, *, company_id: str, location_id: str) -> TokenGrant:
        assert company_token == f"agency-token:{company_id}"
        return grant(location_id=location_id, company_id=company_id)

    async def installed_locations(self, company_token: str, *, company_id: str, app_id: str) -> list[str]:
        return list(self.installed)


if TYPE_CHECKING:
    _book: ContactBook = FakeContactBook()
    _directory: ContactDirectory = FakeContactDirectory()
    _writer: CrmWriter = FakeCrmWriter()
    _throttle: Throttle = FakeThrottle()
    _installations: CrmInstallations = FakeInstallations()
    _agency: CrmAgencyAuth = FakeAgencyAuth()
