"""HighLevel contacts as the domain's ContactBook: search, get, and create-if-new by email (§4)."""

from __future__ import annotations

import logging
from typing import Any, Final

from scormhub.domain.errors import NotFound
from scormhub.domain.model import Contact
from scormhub.integrations.highlevel.client import INTERACTIVE_TIMEOUT_S, HighLevelClient
from scormhub.integrations.highlevel.shapes import as_object, moment_of, required_str, unexpected
from scormhub.integrations.vendor_http import segment

log = logging.getLogger("scormhub.highlevel")

CONTACTS_SEARCH: Final = "/contacts/search"
CONTACT_DUPLICATE: Final = "/contacts/search/duplicate"
CONTACTS_UPSERT: Final = "/contacts/upsert"
CONTACT: Final = "/contacts/{contact_id}"

MAX_SEARCH_QUERY: Final = 75  # §4: longer full-text queries are refused
MAX_PAGE_LIMIT: Final = 500


class HighLevelContacts:
    """One location's contacts."""

    def __init__(self, api: HighLevelClient, *, location_id: str, source: str = "SCORM Hub") -> None:
        self._api = api
        self._location_id = location_id
        self._source = source

    async def search_contacts(self, query: str, *, limit: int = 10) -> list[Contact]:
        size = max(1, min(limit, MAX_PAGE_LIMIT))
        body = {
            "locationId": self._location_id,
            "page": 1,
            "pageLimit": size,
            "query": " ".join(query.split())[:MAX_SEARCH_QUERY],
        }
        data = as_object(
            await self._api.request(
                "POST", CONTACTS_SEARCH, body=body, missing="location", timeout=INTERACTIVE_TIMEOUT_S
            )
        )
        contacts = data.get("contacts")
        if not isinstance(contacts, list):
            unexpected()
        return [contact_from(item) for item in contacts[:size]]

    async def get_contact(self, contact_id: str) -> Contact | None:
        if not contact_id.strip():
            return None  # "/contacts/" is another endpoint (the deprecated list), never this contact
        try:
            data = await self._api.request(
                "GET",
                CONTACT.format(contact_id=segment(contact_id)),
                missing="contact",
                timeout=INTERACTIVE_TIMEOUT_S,
            )
        except NotFound:
            return None
        return contact_from(as_object(data).get("contact"))

    async def upsert_contact(self, *, first_name: str, last_name: str, email: str) -> Contact:
        address = email.strip().lower()
        # The port leaves an existing contact's names alone, but HighLevel's upsert overwrites them with
        # whatever a public enrollment form was given: look the email up first, upsert only if it is new.
        existing = await self._find_by_email(address)
        if existing is not None:
            return existing
        body: dict[str, Any] = {"locationId": self._location_id}
        if first_name.strip():
            body["firstName"] = first_name.strip()
        if last_name.strip():
            body["lastName"] = last_name.strip()
        body["email"] = address
        body["source"] = self._source
        # Never `tags`: on upsert they replace every tag the contact has (§4, §8).
        data = as_object(await self._api.request("POST", CONTACTS_UPSERT, body=body, missing="location"))
        return contact_from(data.get("contact"), fallback_email=address)

    async def _find_by_email(self, address: str) -> Contact | None:
        if not address:
            return None
        try:
            data = await self._api.request(
                "GET",
                CONTACT_DUPLICATE,
                params={"locationId": self._location_id, "email": address},
                missing="location",
            )
        except NotFound:
            return None
        # §4 documents this call but not its answer: `{contact: {...} | null}` is the likely shape. Any
        # other shape means "not known", and the upsert that follows still finds the contact.
        found = data.get("contact") if isinstance(data, dict) else None
        if isinstance(found, dict) and found.get("id"):
            return contact_from(found, fallback_email=address)
        if found is not None:
            log.warning("HighLevel's duplicate lookup answered in an unknown shape; upserting instead")
        return None


def contact_from(value: Any, *, fallback_email: str = "") -> Contact:
    """A HighLevel contact (get, search or upsert answer) as the domain's Contact."""
    data = as_object(value)
    contact_id = required_str(data, "id")
    address = (_text(data.get("email")) or fallback_email).lower()
    first, last = _text(data.get("firstName")), _text(data.get("lastName"))
    if not first and not last:
        name = _text(data.get("name"))
        if name:
            first, _, last = name.partition(" ")
        elif address:
            first = address.split("@", 1)[0]
    tags = data.get("tags")
    return Contact(
        id=contact_id,
        first_name=first,
        last_name=last.strip(),
        email=address,
        tags=tuple(tag for tag in tags if isinstance(tag, str) and tag) if isinstance(tags, list) else (),
        created_at=moment_of(data.get("dateAdded")),
        company=_text(data.get("companyName")) or None,
    )


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""
