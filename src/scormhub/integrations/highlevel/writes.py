"""HighLevel writes for one location (the CrmWriter side): tags, notes, and custom-object records.

Records are upserted through the keys the caller persists (RecordRefs); the custom objects they live in
are provisioned first when they never were (provisioning.SchemaProvisioner).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

from scormhub.domain.errors import CrmRejected, NotFound
from scormhub.integrations.highlevel.client import HighLevelClient
from scormhub.integrations.highlevel.provisioning import (
    COMPANY_SUMMARIES,
    TRAINING_RECORDS,
    ObjectSpec,
    ProvisionStore,
    SchemaProvisioner,
    listed_key,
    object_key_of,
    record_properties,
)
from scormhub.integrations.highlevel.shapes import (
    ALREADY_EXISTS,
    as_object,
    require_list,
    required_str,
    unexpected,
)
from scormhub.integrations.vendor_http import segment

log = logging.getLogger("scormhub.highlevel")

CONTACT_TAGS: Final = "/contacts/{contact_id}/tags"
CONTACT_NOTES: Final = "/contacts/{contact_id}/notes"
RECORDS: Final = "/objects/{object_key}/records"
RECORD: Final = "/objects/{object_key}/records/{record_id}"
RELATIONS: Final = "/associations/relations"
_HTML_TAG: Final = re.compile(r"<[^>]*>")


class RecordRefs(Protocol):
    """Which HighLevel record holds one of our keys (persisted by the caller)."""

    async def get(self, record_key: str) -> tuple[str, bool] | None:
        """(record_id, related_to_contact), or None when no record was made for the key yet."""
        ...

    async def put(self, record_key: str, record_id: str, *, related: bool) -> None: ...


class HighLevelWrites:
    """One location's tags, notes, training records and company summaries."""

    def __init__(
        self,
        api: HighLevelClient,
        *,
        location_id: str,
        refs: RecordRefs,
        provision: ProvisionStore,
        schemas: SchemaProvisioner,
        note_user_id: str | None = None,
    ) -> None:
        self._api = api
        self._location_id = location_id
        self._refs = refs
        self._provision = provision
        self._schemas = schemas
        self._note_user_id = note_user_id

    async def add_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        # Only the tags that changed: the tag endpoints merge, unlike `tags` on create/upsert.
        wanted = _tags(tags)
        if not wanted:
            return
        data = await self._api.request(
            "POST", CONTACT_TAGS.format(contact_id=_contact_segment(contact_id)), body={"tags": wanted}
        )
        require_list(data, "tags")

    async def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        unwanted = _tags(tags)
        if not unwanted:
            return
        data = await self._api.request(
            "DELETE",
            CONTACT_TAGS.format(contact_id=_contact_segment(contact_id)),
            body={"tags": unwanted},
        )
        require_list(data, "tags")

    async def add_note(
        self, contact_id: str, body: str, *, idempotency_key: str, author_id: str | None = None
    ) -> None:
        path = CONTACT_NOTES.format(contact_id=_contact_segment(contact_id))
        # HighLevel notes take no idempotency key. A retry after a timeout may follow a note that was in
        # fact created, so the contact's notes are read first and an identical body counts as done.
        listing = await self._api.request("GET", path)
        notes = listing.get("notes") if isinstance(listing, dict) else listing
        if not isinstance(notes, list):
            unexpected()
        wanted = _note_text(body)
        if any(
            isinstance(note, dict)
            and isinstance(note.get("body"), str)
            and _note_text(note["body"]) == wanted
            for note in notes
        ):
            log.info("HighLevel already has note %s; not writing it again", idempotency_key)
            return
        payload: dict[str, Any] = {"body": body}
        # The HighLevel user who enrolled the learner (SSO) is credited; else this writer's default user.
        user_id = author_id or self._note_user_id
        if user_id:
            payload["userId"] = user_id
        created = as_object(await self._api.request("POST", path, body=payload))
        as_object(created.get("note"))

    async def upsert_training_record(
        self, contact_id: str, record_key: str, properties: Mapping[str, Any]
    ) -> None:
        _contact_segment(contact_id)  # an empty id must not create an orphan record first
        values = record_properties(TRAINING_RECORDS, properties)
        setup = await self._schemas.setup()
        record_id, related = await self._put_record(TRAINING_RECORDS, setup, record_key, values)
        if related:
            return
        await self._relate(setup["association"]["id"], record_id, contact_id)
        await self._refs.put(record_key, record_id, related=True)

    async def upsert_company_summary(self, company_key: str, properties: Mapping[str, Any]) -> None:
        values = record_properties(COMPANY_SUMMARIES, properties)
        values.setdefault(COMPANY_SUMMARIES.primary.key, company_key)
        setup = await self._schemas.setup()
        await self._put_record(COMPANY_SUMMARIES, setup, f"company:{company_key}", values)

    async def _put_record(
        self, spec: ObjectSpec, setup: dict[str, Any], record_key: str, values: dict[str, Any]
    ) -> tuple[str, bool]:
        """Update the record held for `record_key`, or create it; return (record id, related)."""
        object_key = object_key_of(setup, spec)
        ref = await self._refs.get(record_key)
        if ref is not None:
            record_id, related = ref
            try:
                await self._api.request(
                    "PUT",
                    RECORD.format(object_key=segment(object_key), record_id=segment(record_id)),
                    params={"locationId": self._location_id},
                    body={"properties": values},
                    missing=spec.singular.lower(),
                )
            except NotFound:
                # Deleted in HighLevel by someone: write a fresh one and point our key at it.
                log.info("HighLevel %s %s is gone; creating a new one", spec.singular, record_id)
            else:
                return record_id, related
        try:
            data = as_object(
                await self._api.request(
                    "POST",
                    RECORDS.format(object_key=segment(object_key)),
                    body={"locationId": self._location_id, "properties": values},
                    missing=f"{spec.plural} object",
                )
            )
        except (NotFound, CrmRejected):
            # Which status a write to a deleted schema gets is undocumented (404, or a strict 400): the
            # listing says whether the schema is gone. If it is, forgetting it was provisioned makes the
            # setup check say so, and the next try (the Retry button) provisions it again before writing.
            if listed_key(await self._schemas.list_objects(), object_key) is not None:
                raise
            await self._provision.save({**setup, "version": None})
            raise NotFound(
                f"The {spec.plural} object no longer exists in HighLevel. "
                "Retry to have SCORM Hub create it again."
            ) from None
        record = data.get("record")
        record_id = required_str(record if isinstance(record, dict) else data, "id")
        await self._refs.put(record_key, record_id, related=False)
        return record_id, False

    async def _relate(self, association_id: str, record_id: str, contact_id: str) -> None:
        body = {
            "locationId": self._location_id,
            "associationId": association_id,
            "firstRecordId": record_id,  # the definition's first object is the training record
            "secondRecordId": contact_id,
        }
        try:
            await self._api.request("POST", RELATIONS, body=body, missing="contact")
        except CrmRejected as exc:
            # Undocumented: a pair related by an earlier try that timed out. Already related is related.
            if not ALREADY_EXISTS.search(exc.detail):
                raise
            log.info("HighLevel record %s was already related to its contact", record_id)


def _contact_segment(contact_id: str) -> str:
    if not contact_id.strip():
        raise NotFound("The contact no longer exists in HighLevel.")
    return segment(contact_id)


def _tags(tags: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(tag.strip() for tag in tags if tag and tag.strip()))


def _note_text(text: str) -> str:
    # How HighLevel stores a note body (plain, or as HTML with <br> and entities) is undocumented.
    return " ".join(html.unescape(_HTML_TAG.sub(" ", text)).split())
