"""Contacts by tag, for bulk enrollment: the built-in contact book (its JSONB tags) and HighLevel's contact
search with the tag filter, paged with `searchAfter` (reference §4: never together with `page`)."""

from __future__ import annotations

import json
from typing import Any, Final
from uuid import UUID

from scormhub.domain.model import Contact
from scormhub.integrations.db.tables import ContactRow
from scormhub.integrations.highlevel.client import HighLevelClient
from scormhub.integrations.highlevel.contacts import CONTACTS_SEARCH, contact_from
from scormhub.integrations.highlevel.shapes import as_object, unexpected

MAX_PAGE: Final = 100


class LocalTaggedContacts:
    def __init__(self, workspace_id: UUID) -> None:
        self._workspace_id = workspace_id

    async def page_with_tag(
        self, tag: str, *, after: str | None, limit: int
    ) -> tuple[list[Contact], str | None]:
        rows = await ContactRow.raw(
            "SELECT id, first_name, last_name, email, tags FROM contact "
            "WHERE workspace_id = {} AND tags ? {} AND ({}::uuid IS NULL OR id > {}::uuid) "
            "ORDER BY id LIMIT {}",
            self._workspace_id,
            tag,
            after,
            after,
            limit,
        )
        contacts = [
            Contact(
                id=str(r["id"]),
                first_name=r["first_name"],
                last_name=r["last_name"],
                email=r["email"],
                tags=tuple(json.loads(r["tags"]) if isinstance(r["tags"], str) else r["tags"] or ()),
            )
            for r in rows
        ]
        return contacts, (contacts[-1].id if len(contacts) == limit else None)


class HighLevelTaggedContacts:
    def __init__(self, api: HighLevelClient, *, location_id: str) -> None:
        self._api = api
        self._location_id = location_id

    async def page_with_tag(
        self, tag: str, *, after: str | None, limit: int
    ) -> tuple[list[Contact], str | None]:
        body: dict[str, Any] = {
            "locationId": self._location_id,
            "pageLimit": max(1, min(limit, MAX_PAGE)),
            "filters": [{"field": "tags", "operator": "eq", "value": tag}],
        }
        if after:
            body["searchAfter"] = json.loads(after)
        data = as_object(await self._api.request("POST", CONTACTS_SEARCH, body=body, missing="location"))
        found = data.get("contacts")
        if not isinstance(found, list):
            unexpected()
        contacts = [contact_from(item) for item in found]
        # Where the cursor is, is UNCONFIRMED (§4): the answer's own, or the last contact's.
        cursor = data.get("searchAfter")
        if cursor is None and found and isinstance(found[-1], dict):
            cursor = found[-1].get("searchAfter")
        more = bool(found) and len(found) >= body["pageLimit"] and cursor is not None
        return contacts, (json.dumps(cursor) if more else None)
