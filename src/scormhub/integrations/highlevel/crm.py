"""HighLevel (LeadConnector API v2) as one location's ContactBook and CrmWriter.

The ports are met by composing the location's client (transport, limiter, errors) with its contacts,
writes and custom-object provisioning; each lives in its own module of this package. Reference:
shared/reference/highlevel-api.md. Where the reference marks something UNCONFIRMED, the code accepts
each shape the sources disagree on.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from scormhub.domain.model import Contact, RateLimit
from scormhub.integrations.highlevel.client import HighLevelClient, RequestLimiter, TokenSource
from scormhub.integrations.highlevel.contacts import HighLevelContacts
from scormhub.integrations.highlevel.messages import send_email
from scormhub.integrations.highlevel.provisioning import ProvisionStore, SchemaProvisioner
from scormhub.integrations.highlevel.writes import HighLevelWrites, RecordRefs


class HighLevelCrm:
    """One HighLevel location (sub-account) as ContactBook and CrmWriter."""

    # Every request waits its turn on the limiter and obeys the rate-limit headers, so whoever drives this
    # writer (push_to_crm) must not throttle it a second time.
    self_throttling = True

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        location_id: str,
        tokens: TokenSource,
        limiter: RequestLimiter,
        refs: RecordRefs,
        provision: ProvisionStore,
        rate_limit: RateLimit,
        note_user_id: str | None = None,
        source: str = "SCORM Hub",
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._location_id = location_id
        self._api = HighLevelClient(
            client,
            base_url=base_url,
            tokens=tokens,
            limiter=limiter,
            rate_limit=rate_limit,
            jitter=jitter,
        )
        self._contacts = HighLevelContacts(self._api, location_id=location_id, source=source)
        self._schemas = SchemaProvisioner(self._api.request, location_id=location_id, provision=provision)
        self._writes = HighLevelWrites(
            self._api,
            location_id=location_id,
            refs=refs,
            provision=provision,
            schemas=self._schemas,
            note_user_id=note_user_id,
        )

    def __repr__(self) -> str:
        return f"HighLevelCrm(location_id={self._location_id!r}, base_url={self._api.base_url!r})"

    @property
    def rate_limit(self) -> RateLimit:
        return self._api.rate_limit

    # --- ContactBook ----------------------------------------------------------------------------------

    async def search_contacts(self, query: str, *, limit: int = 10) -> list[Contact]:
        return await self._contacts.search_contacts(query, limit=limit)

    async def get_contact(self, contact_id: str) -> Contact | None:
        return await self._contacts.get_contact(contact_id)

    async def upsert_contact(self, *, first_name: str, last_name: str, email: str) -> Contact:
        return await self._contacts.upsert_contact(first_name=first_name, last_name=last_name, email=email)

    # --- CrmWriter ------------------------------------------------------------------------------------

    async def add_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        await self._writes.add_tags(contact_id, tags)

    async def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        await self._writes.remove_tags(contact_id, tags)

    async def add_note(
        self, contact_id: str, body: str, *, idempotency_key: str, author_id: str | None = None
    ) -> None:
        await self._writes.add_note(contact_id, body, idempotency_key=idempotency_key, author_id=author_id)

    async def upsert_training_record(
        self, contact_id: str, record_key: str, properties: Mapping[str, Any]
    ) -> None:
        await self._writes.upsert_training_record(contact_id, record_key, properties)

    async def send_email(self, contact_id: str, *, subject: str, text: str, html: str) -> None:
        """Email the contact through the location's conversations (issue 23's CRM mail transport)."""
        await send_email(self._api, contact_id, subject=subject, text=text, html=html)

    async def upsert_company_summary(self, company_key: str, properties: Mapping[str, Any]) -> None:
        await self._writes.upsert_company_summary(company_key, properties)

    async def custom_objects_provisioned(self) -> bool:
        return await self._schemas.provisioned()

    async def provision_custom_objects(self) -> None:
        await self._schemas.run(create=True)


if TYPE_CHECKING:
    from scormhub.domain.ports import ContactBook, CrmWriter

    def _satisfies_the_ports(crm: HighLevelCrm) -> None:
        contacts: ContactBook = crm
        writer: CrmWriter = crm
        del contacts, writer
