"""The CRM: contacts, the writes that carry results onto them, and installs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from scormhub.domain.model import (
    Contact,
    CrmConnection,
    RateLimit,
    TokenGrant,
    Workspace,
)

if TYPE_CHECKING:
    from collections.abc import Sequence


class CrmWriter(Protocol):
    """The write side of a CRM, for one workspace. Transient failures raise CrmUnavailable/CrmRateLimited."""

    @property
    def rate_limit(self) -> RateLimit: ...

    async def add_tags(self, contact_id: str, tags: Sequence[str]) -> None: ...

    async def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None: ...

    async def add_note(
        self, contact_id: str, body: str, *, idempotency_key: str, author_id: str | None = None
    ) -> None:
        """Add a note to the contact's timeline, credited to the CRM user `author_id` where supported."""
        ...

    # A writer that throttles each of its own HTTP requests (one write may take several) sets this,
    # so push_to_crm does not take a turn of the same budget for it again.
    self_throttling: bool

    async def upsert_training_record(
        self, contact_id: str, record_key: str, properties: Mapping[str, Any]
    ) -> None: ...

    async def upsert_company_summary(self, company_key: str, properties: Mapping[str, Any]) -> None: ...

    async def custom_objects_provisioned(self) -> bool:
        """Whether the Training Record and Company Training Summary schemas exist in the CRM."""
        ...

    async def provision_custom_objects(self) -> None:
        """Create the schemas (and their fields and associations) if missing. Idempotent."""
        ...


class CrmInstallations(Protocol):
    """Installations of the app in CRM locations and agencies (HighLevel), each call its own transaction."""

    async def by_location(self, location_id: str) -> CrmConnection | None: ...

    async def install_location(
        self,
        *,
        location_id: str,
        company_id: str | None,
        grant: TokenGrant | None,
        name: str | None = None,
        user_id: str | None = None,
    ) -> Workspace:
        """Create the location's workspace, or reconnect the one it had (its data is kept); without a
        grant the tokens held are kept."""
        ...

    async def save_agency(self, grant: TokenGrant) -> None: ...

    async def has_agency(self, company_id: str) -> bool:
        """Whether the agency's own install is connected (its locations' tokens are minted from it)."""
        ...

    async def uninstall_location(self, location_id: str) -> UUID | None:
        """Revoke the location's tokens; the workspace and its data stay. None: no such location."""
        ...

    async def uninstall_company(self, company_id: str) -> list[UUID]: ...


class CrmAgencyAuth(Protocol):
    """The agency side of a CRM's OAuth: the locations an agency install covers, and their tokens."""

    async def agency_token(self, company_id: str) -> str:
        """The agency's access token, renewed when due."""
        ...

    async def location_token(self, company_token: str, *, company_id: str, location_id: str) -> TokenGrant:
        """A location's tokens, minted with the agency's."""
        ...

    async def installed_locations(self, company_token: str, *, company_id: str, app_id: str) -> list[str]: ...


class ContactBook(Protocol):
    """The contact side of a CRM, for one workspace: find, read and upsert learners."""

    async def search_contacts(self, query: str, *, limit: int = 10) -> list[Contact]: ...

    async def get_contact(self, contact_id: str) -> Contact | None: ...

    async def upsert_contact(self, *, first_name: str, last_name: str, email: str) -> Contact:
        """Create the contact, or return the one with that email (its names are left as they are)."""
        ...


class ContactDirectory(ContactBook, Protocol):
    """A standalone workspace's own contact book, with what its pages show beside the lookups."""

    async def list_contacts(self, *, offset: int = 0, limit: int = 50) -> list[Contact]: ...

    async def set_company(self, contact_id: str, company: str | None) -> None: ...

    async def company_summaries(self) -> list[dict[str, Any]]: ...

    async def notes(self, contact_id: str) -> list[tuple[datetime, str]]: ...

    async def training_records(self, contact_id: str) -> list[dict[str, Any]]: ...
