"""HighLevel (LeadConnector API v2) as one location's ContactBook and CrmWriter.

Every vendor failure is translated here into a domain error; no httpx exception leaves this module.
Reference: shared/reference/highlevel-api.md (the section numbers in comments point into it). Where the
reference marks something UNCONFIRMED, the code accepts each shape the sources disagree on.
"""

from __future__ import annotations

import email.utils
import html
import json
import logging
import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final, NoReturn, Protocol
from urllib.parse import quote

import httpx

from scormhub.domain.contacts import Contact
from scormhub.domain.errors import (
    CrmAuthExpired,
    CrmRateLimited,
    CrmRejected,
    CrmUnavailable,
    DomainError,
    NotFound,
)
from scormhub.domain.sync import RateLimit

log = logging.getLogger("scormhub.highlevel")

API_VERSION: Final = "2021-07-28"

# --- endpoints (relative to the configured base URL) ----------------------------------------------------
CONTACTS_SEARCH: Final = "/contacts/search"
CONTACT_DUPLICATE: Final = "/contacts/search/duplicate"
CONTACTS_UPSERT: Final = "/contacts/upsert"
CONTACT: Final = "/contacts/{contact_id}"
CONTACT_TAGS: Final = "/contacts/{contact_id}/tags"
CONTACT_NOTES: Final = "/contacts/{contact_id}/notes"
OBJECTS: Final = "/objects/"
RECORDS: Final = "/objects/{object_key}/records"
RECORD: Final = "/objects/{object_key}/records/{record_id}"
CUSTOM_FIELDS: Final = "/custom-fields/"
CUSTOM_FIELDS_OF_OBJECT: Final = "/custom-fields/object-key/{object_key}"
CUSTOM_FIELD_FOLDER: Final = "/custom-fields/folder"
ASSOCIATIONS: Final = "/associations/"
RELATIONS: Final = "/associations/relations"

UNEXPECTED_MESSAGE: Final = "HighLevel answered with an unexpected body"
RECONNECT_MESSAGE: Final = (
    "HighLevel needs reconnecting: it no longer accepts SCORM Hub's access{detail}. "
    "Reconnect HighLevel in Settings to resume syncing."
)

# Someone is waiting on a type-ahead or an enroll click: past this, say HighLevel is slow instead.
INTERACTIVE_TIMEOUT_S: Final = 6.0
MAX_SEARCH_QUERY: Final = 75  # §4: longer full-text queries are refused
MAX_PAGE_LIMIT: Final = 500
# GET /associations/ pages (skip and limit are required); a location has a handful, so a few pages at most.
ASSOCIATION_PAGE: Final = 100
MAX_ASSOCIATION_PAGES: Final = 20
# §7: on 429 wait the window plus jitter, at most 3 retries.
MAX_RATE_LIMIT_RETRIES: Final = 3
RATE_LIMIT_JITTER_S: Final = 0.5
# A longer wait (a daily quota spent, say) is not slept through inside a job: the hold still tells every
# process, and the write goes back to the outbox with the wait as its retry_after.
MAX_INLINE_WAIT_S: Final = 60.0
# §7: slow down when X-RateLimit-Remaining drops below 10 (or a tenth of a smaller stated maximum).
LOW_REMAINING: Final = 10
_MAX_VENDOR_TEXT: Final = 300
# Relation-create answers for a pair that is already related are undocumented; these are the words such
# an answer must contain.
_ALREADY_EXISTS: Final = re.compile(r"already\s+(exists?|associated|related|linked)|duplicate", re.I)
_ISO_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_HTML_TAG: Final = re.compile(r"<[^>]*>")


# --- the custom objects SCORM Hub writes (§6) -------------------------------------------------------------

TEXT: Final = "TEXT"
NUMERICAL: Final = "NUMERICAL"
DATE: Final = "DATE"


@dataclass(frozen=True)
class FieldSpec:
    key: str  # without the `custom_objects.<obj>.` prefix: what record `properties` use
    name: str
    data_type: str


@dataclass(frozen=True)
class ObjectSpec:
    key: str
    singular: str
    plural: str
    description: str
    primary: FieldSpec  # created with the schema (primaryDisplayPropertyDetails), never on its own
    fields: tuple[FieldSpec, ...]

    def data_types(self) -> dict[str, str]:
        return {spec.key: spec.data_type for spec in (self.primary, *self.fields)}


# The keys are exactly those of domain.sync.training_record(). Status and result are TEXT, not
# SINGLE_OPTIONS: option lists cannot lose options later (§6 PUT /custom-fields), and a new enum value
# would be refused. learner_email is TEXT: a HighLevel contact may have no email, and what the EMAIL type
# accepts is not documented.
TRAINING_RECORDS: Final = ObjectSpec(
    key="custom_objects.training_records",
    singular="Training Record",
    plural="Training Records",
    description="Course results written by SCORM Hub: one record per enrollment.",
    primary=FieldSpec("course_name", "Course", TEXT),
    fields=(
        FieldSpec("course_id", "Course ID", TEXT),
        FieldSpec("enrollment_id", "Enrollment ID", TEXT),
        FieldSpec("learner_email", "Learner email", TEXT),
        FieldSpec("status", "Status", TEXT),
        FieldSpec("result", "Result", TEXT),
        FieldSpec("score_percent", "Score (%)", NUMERICAL),
        FieldSpec("time_spent_seconds", "Time spent (seconds)", NUMERICAL),
        FieldSpec("attempts", "Attempts", NUMERICAL),
        FieldSpec("enrolled_on", "Enrolled on", DATE),
        FieldSpec("first_access_on", "First access on", DATE),
        FieldSpec("last_access_on", "Last access on", DATE),
        FieldSpec("completed_on", "Completed on", DATE),
    ),
)

# Company option (b) of §6: a custom object keyed by our company key, not custom fields on `business`.
# Option (a) writes to /objects/business/records/{businessId}: it needs a HighLevel business id, which
# we do not have (a learner's company is the contact's companyName), and the sources disagree on whether
# the records API accepts `business` at all. The keys are those of the enrollment repository's
# company_summary().
COMPANY_SUMMARIES: Final = ObjectSpec(
    key="custom_objects.company_training_summaries",
    singular="Company Training Summary",
    plural="Company Training Summaries",
    description="Training totals per company, kept up to date by SCORM Hub.",
    primary=FieldSpec("company", "Company", TEXT),
    fields=(
        FieldSpec("learners", "Learners", NUMERICAL),
        FieldSpec("enrollments", "Enrollments", NUMERICAL),
        FieldSpec("completions", "Completions", NUMERICAL),
        FieldSpec("passed", "Passed", NUMERICAL),
        FieldSpec("completion_rate", "Completion rate (%)", NUMERICAL),
        FieldSpec("average_score", "Average score (%)", NUMERICAL),
    ),
)
OBJECT_SPECS: Final = (TRAINING_RECORDS, COMPANY_SUMMARIES)
ASSOCIATION_KEY: Final = "training_record_contact"
FOLDER_NAME: Final = "SCORM Hub"
# Bump when the specs above gain a field: stores saved by an older version then re-provision.
PROVISION_VERSION: Final = 1


# --- what the caller provides ---------------------------------------------------------------------------


class TokenSource(Protocol):
    """The location's access token; the implementation refreshes ahead of expiry."""

    async def access_token(self) -> str: ...

    async def refresh(self, rejected: str) -> str:
        """`rejected` got a 401: return a newer token, or raise CrmAuthExpired."""
        ...


class RecordRefs(Protocol):
    """Which HighLevel record holds one of our keys (persisted by the caller)."""

    async def get(self, record_key: str) -> tuple[str, bool] | None:
        """(record_id, related_to_contact), or None when no record was made for the key yet."""
        ...

    async def put(self, record_key: str, record_id: str, *, related: bool) -> None: ...


class ProvisionStore(Protocol):
    """Ids of the provisioned schemas, fields and association (a JSON dict persisted by the caller)."""

    async def load(self) -> dict[str, Any]: ...

    async def save(self, data: dict[str, Any]) -> None: ...


class RequestLimiter(Protocol):
    """The location's request budget, shared by every process."""

    async def wait_turn(self) -> None: ...

    async def hold(self, seconds: float) -> None:
        """Nobody sends for this location for `seconds`."""
        ...


# --- the shared client ------------------------------------------------------------------------------------


def build_client() -> httpx.AsyncClient:
    """The one AsyncClient for HighLevel (API and OAuth), made once per process; tokens go per request."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=5.0),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30.0),
        headers={"Accept": "application/json", "User-Agent": "SCORM Hub"},
        follow_redirects=False,
    )


# --- the adapter ------------------------------------------------------------------------------------------


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
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._location_id = location_id
        self._tokens = tokens
        self._limiter = limiter
        self._refs = refs
        self._provision = provision
        self._rate_limit = rate_limit
        self._note_user_id = note_user_id
        self._source = source
        self._jitter = jitter

    def __repr__(self) -> str:
        return f"HighLevelCrm(location_id={self._location_id!r}, base_url={self._base_url!r})"

    @property
    def rate_limit(self) -> RateLimit:
        return self._rate_limit

    # --- ContactBook ----------------------------------------------------------------------------------

    async def search_contacts(self, query: str, *, limit: int = 10) -> list[Contact]:
        size = max(1, min(limit, MAX_PAGE_LIMIT))
        body = {
            "locationId": self._location_id,
            "page": 1,
            "pageLimit": size,
            "query": " ".join(query.split())[:MAX_SEARCH_QUERY],
        }
        data = _object(
            await self._request(
                "POST", CONTACTS_SEARCH, body=body, missing="location", timeout=INTERACTIVE_TIMEOUT_S
            )
        )
        contacts = data.get("contacts")
        if not isinstance(contacts, list):
            _unexpected()
        return [contact_from(item) for item in contacts[:size]]

    async def get_contact(self, contact_id: str) -> Contact | None:
        if not contact_id.strip():
            return None  # "/contacts/" is another endpoint (the deprecated list), never this contact
        try:
            data = await self._request(
                "GET",
                CONTACT.format(contact_id=_segment(contact_id)),
                missing="contact",
                timeout=INTERACTIVE_TIMEOUT_S,
            )
        except NotFound:
            return None
        return contact_from(_object(data).get("contact"))

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
        data = _object(await self._request("POST", CONTACTS_UPSERT, body=body, missing="location"))
        return contact_from(data.get("contact"), fallback_email=address)

    async def _find_by_email(self, address: str) -> Contact | None:
        if not address:
            return None
        try:
            data = await self._request(
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

    # --- CrmWriter ------------------------------------------------------------------------------------

    async def add_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        # Only the tags that changed: the tag endpoints merge, unlike `tags` on create/upsert.
        wanted = _tags(tags)
        if not wanted:
            return
        data = await self._request(
            "POST", CONTACT_TAGS.format(contact_id=self._contact_segment(contact_id)), body={"tags": wanted}
        )
        _require_list(data, "tags")

    async def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        unwanted = _tags(tags)
        if not unwanted:
            return
        data = await self._request(
            "DELETE",
            CONTACT_TAGS.format(contact_id=self._contact_segment(contact_id)),
            body={"tags": unwanted},
        )
        _require_list(data, "tags")

    async def add_note(
        self, contact_id: str, body: str, *, idempotency_key: str, author_id: str | None = None
    ) -> None:
        path = CONTACT_NOTES.format(contact_id=self._contact_segment(contact_id))
        # HighLevel notes take no idempotency key. A retry after a timeout may follow a note that was in
        # fact created, so the contact's notes are read first and an identical body counts as done.
        listing = await self._request("GET", path)
        notes = listing.get("notes") if isinstance(listing, dict) else listing
        if not isinstance(notes, list):
            _unexpected()
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
        created = _object(await self._request("POST", path, body=payload))
        _object(created.get("note"))

    async def upsert_training_record(
        self, contact_id: str, record_key: str, properties: Mapping[str, Any]
    ) -> None:
        self._contact_segment(contact_id)  # an empty id must not create an orphan record first
        values = record_properties(TRAINING_RECORDS, properties)
        setup = await self._setup()
        record_id, related = await self._put_record(TRAINING_RECORDS, setup, record_key, values)
        if related:
            return
        await self._relate(setup["association"]["id"], record_id, contact_id)
        await self._refs.put(record_key, record_id, related=True)

    async def upsert_company_summary(self, company_key: str, properties: Mapping[str, Any]) -> None:
        values = record_properties(COMPANY_SUMMARIES, properties)
        values.setdefault(COMPANY_SUMMARIES.primary.key, company_key)
        setup = await self._setup()
        await self._put_record(COMPANY_SUMMARIES, setup, f"company:{company_key}", values)

    async def custom_objects_provisioned(self) -> bool:
        if _complete(await self._provision.load()):
            return True
        return await self._provision_run(create=False) is not None

    async def provision_custom_objects(self) -> None:
        await self._provision_run(create=True)

    # --- records --------------------------------------------------------------------------------------

    async def _setup(self) -> dict[str, Any]:
        """The provisioned ids the writes need; provisions first if they were never stored."""
        data = await self._provision.load()
        if _complete(data):
            return data
        provisioned = await self._provision_run(create=True)
        assert provisioned is not None  # create=True either provisions everything or raises
        return provisioned

    async def _put_record(
        self, spec: ObjectSpec, setup: dict[str, Any], record_key: str, values: dict[str, Any]
    ) -> tuple[str, bool]:
        """Update the record held for `record_key`, or create it; return (record id, related)."""
        object_key = _object_key(setup, spec)
        ref = await self._refs.get(record_key)
        if ref is not None:
            record_id, related = ref
            try:
                await self._request(
                    "PUT",
                    RECORD.format(object_key=_segment(object_key), record_id=_segment(record_id)),
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
            data = _object(
                await self._request(
                    "POST",
                    RECORDS.format(object_key=_segment(object_key)),
                    body={"locationId": self._location_id, "properties": values},
                    missing=f"{spec.plural} object",
                )
            )
        except (NotFound, CrmRejected):
            # Which status a write to a deleted schema gets is undocumented (404, or a strict 400): the
            # listing says whether the schema is gone. If it is, forgetting it was provisioned makes the
            # setup check say so, and the next try (the Retry button) provisions it again before writing.
            if _listed_key(await self._list_objects(), object_key) is not None:
                raise
            await self._provision.save({**setup, "version": None})
            raise NotFound(
                f"The {spec.plural} object no longer exists in HighLevel. "
                "Retry to have SCORM Hub create it again."
            ) from None
        record = data.get("record")
        record_id = _required_str(record if isinstance(record, dict) else data, "id")
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
            await self._request("POST", RELATIONS, body=body, missing="contact")
        except CrmRejected as exc:
            # Undocumented: a pair related by an earlier try that timed out. Already related is related.
            if not _ALREADY_EXISTS.search(exc.detail):
                raise
            log.info("HighLevel record %s was already related to its contact", record_id)

    # --- provisioning (§6) ----------------------------------------------------------------------------

    async def _provision_run(self, *, create: bool) -> dict[str, Any] | None:
        """Find (and with `create`, make) every schema, field and the association; save their ids.

        Returns what was saved, or None when something is missing and `create` is off. Always reads
        before it writes, so running it twice creates nothing the second time.
        """
        # What exists is read from listings, never inferred from the status of a lookup of something
        # missing: the reference lists no 404 for GET /objects/{key}, and a strict server answers 400.
        stored = await self._provision.load()
        listed = await self._list_objects()
        data: dict[str, Any] = {"objects": {}, "fields": {}, "folders": {}}
        for spec in OBJECT_SPECS:
            found = _listed_key(listed, _stored_object_key(stored, spec) or spec.key)
            if found is None:
                if not create:
                    return None
                found = await self._create_object(spec)
            object_id, object_key = found
            data["objects"][spec.key] = {"id": object_id, "key": object_key}
            field_ids, folder_id = await self._fields_and_folder(object_key)
            wanted = [f for f in spec.fields if f"{object_key}.{f.key}" not in field_ids]
            if wanted:
                if not create:
                    return None
                if folder_id is None:
                    folder_id = await self._create_folder(object_key)
                for spec_field in wanted:
                    full_key = f"{object_key}.{spec_field.key}"
                    field_ids[full_key] = await self._create_field(object_key, spec_field, folder_id)
            ours = {f"{object_key}.{f.key}" for f in (spec.primary, *spec.fields)}
            data["fields"].update({key: value for key, value in field_ids.items() if key in ours})
            if folder_id is not None:
                data["folders"][spec.key] = folder_id
        association_id = await self._find_association()
        if association_id is None:
            if not create:
                return None
            association_id = await self._create_association(data["objects"][TRAINING_RECORDS.key]["key"])
        data["association"] = {"id": association_id, "key": ASSOCIATION_KEY}
        data["version"] = PROVISION_VERSION
        await self._provision.save(data)
        return data

    async def _list_objects(self) -> dict[str, str]:
        """key → id of every schema of the location (§6 `GET /objects/?locationId=` → `{objects[]}`)."""
        params = {"locationId": self._location_id}
        data = await self._request("GET", OBJECTS, params=params, missing="location")
        _require_list(data, "objects")
        found: dict[str, str] = {}
        for item in data["objects"]:
            key, object_id = (item.get("key"), _id_of(item)) if isinstance(item, dict) else (None, None)
            if isinstance(key, str) and key and object_id:
                found[key] = object_id
        return found

    async def _create_object(self, spec: ObjectSpec) -> tuple[str, str]:
        body = {
            "labels": {"singular": spec.singular, "plural": spec.plural},
            "key": spec.key,
            "description": spec.description,
            "locationId": self._location_id,
            "primaryDisplayPropertyDetails": {
                "key": f"{spec.key}.{spec.primary.key}",
                "name": spec.primary.name,
                "dataType": spec.primary.data_type,
            },
        }
        data = _object(await self._request("POST", OBJECTS, body=body, missing="location"))
        schema = _object(data.get("object"))
        # Later calls use the key HighLevel answers with: the spec's own examples disagree on its form.
        return _required_str(schema, "id"), _required_str(schema, "key")

    async def _fields_and_folder(self, object_key: str) -> tuple[dict[str, str], str | None]:
        # Whether a field may omit its folder (parentId) is unconfirmed: use the object's first folder.
        data = _object(
            await self._request(
                "GET",
                CUSTOM_FIELDS_OF_OBJECT.format(object_key=_segment(object_key)),
                params={"locationId": self._location_id},
                missing="custom object",
            )
        )
        folders = data.get("folders") or []
        if not isinstance(folders, list):
            _unexpected()
        folder_id = next((_id_of(item) for item in folders if isinstance(item, dict) and _id_of(item)), None)
        return _field_ids(data.get("fields")), folder_id

    async def _create_folder(self, object_key: str) -> str:
        data = _object(
            await self._request(
                "POST",
                CUSTOM_FIELD_FOLDER,
                body={"objectKey": object_key, "name": FOLDER_NAME, "locationId": self._location_id},
                missing="custom object",
            )
        )
        # The answer's shape is undocumented: the folder itself, or wrapped in `folder`.
        folder = data.get("folder")
        found = _id_of(folder if isinstance(folder, dict) else data)
        if found is None:
            _unexpected()
        return found

    async def _create_field(self, object_key: str, spec: FieldSpec, folder_id: str) -> str:
        body = {
            "locationId": self._location_id,
            "objectKey": object_key,
            "fieldKey": f"{object_key}.{spec.key}",
            "name": spec.name,
            "dataType": spec.data_type,
            # Results are written by SCORM Hub, not collected from people: keep them out of form builders.
            "showInForms": False,
            "parentId": folder_id,
        }
        try:
            data = _object(await self._request("POST", CUSTOM_FIELDS, body=body, missing="custom object"))
        except CrmRejected as exc:
            # A field the listings did not show (their field shape is undocumented) but that exists.
            if not _ALREADY_EXISTS.search(exc.detail):
                raise
            return ""
        created = data.get("field")
        return _required_str(created if isinstance(created, dict) else data, "id")

    async def _find_association(self) -> str | None:
        """Our association's id, from the listing of the location's (`GET /associations/`)."""
        skip = 0
        for _ in range(MAX_ASSOCIATION_PAGES):
            params = {"locationId": self._location_id, "skip": str(skip), "limit": str(ASSOCIATION_PAGE)}
            page = _associations(await self._request("GET", ASSOCIATIONS, params=params, missing="location"))
            ours = (item for item in page if item.get("key") == ASSOCIATION_KEY and _id_of(item))
            found = next(ours, None)
            if found is not None:
                return _id_of(found)
            if len(page) < ASSOCIATION_PAGE:
                return None
            skip += len(page)
        return None

    async def _create_association(self, training_key: str) -> str:
        body = {
            "locationId": self._location_id,
            "key": ASSOCIATION_KEY,
            "firstObjectKey": training_key,
            "firstObjectLabel": TRAINING_RECORDS.singular,
            "secondObjectKey": "contact",
            "secondObjectLabel": "Learner",
        }
        data = _object(await self._request("POST", ASSOCIATIONS, body=body, missing="location"))
        found = _id_of(data)
        if found is None:
            _unexpected()
        return found

    # --- plumbing -------------------------------------------------------------------------------------

    def _contact_segment(self, contact_id: str) -> str:
        if not contact_id.strip():
            raise NotFound("The contact no longer exists in HighLevel.")
        return _segment(contact_id)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        missing: str = "contact",
        timeout: float | None = None,  # noqa: ASYNC109 - an httpx timeout for the call, not for this coroutine
    ) -> Any:
        """One call: limiter turn first, refresh once on 401, wait out 429s; the JSON answer or an error.

        `timeout` shortens the client's read timeout for calls a person is waiting on (a type-ahead)."""
        token = await self._tokens.access_token()
        refreshed = False
        rate_limited = 0
        while True:
            await self._limiter.wait_turn()
            response = await self._send(method, path, token, params=params, body=body, timeout=timeout)
            status = response.status_code
            if status == 401:
                _log_refusal(method, path, response)
                if refreshed:
                    detail = vendor_message(response)
                    raise CrmAuthExpired(RECONNECT_MESSAGE.format(detail=f" ({detail})" if detail else ""))
                token = await self._tokens.refresh(token)
                refreshed = True
                continue
            if status == 429:
                _log_refusal(method, path, response)
                delay = self._rate_limited_delay(response)
                # Every 429 holds the whole location, the last one too: other processes must back off.
                await self._limiter.hold(delay)
                if rate_limited >= MAX_RATE_LIMIT_RETRIES or delay > MAX_INLINE_WAIT_S:
                    raise CrmRateLimited(
                        "HighLevel's rate limit for this location was reached; SCORM Hub will try again.",
                        retry_after=delay,
                    )
                rate_limited += 1
                continue
            await self._pace(response)
            if response.is_success:
                return _body(response)
            raise _error_for(method, path, response, missing=missing)

    async def _send(
        self,
        method: str,
        path: str,
        token: str,
        *,
        params: Mapping[str, str] | None,
        body: Any,
        timeout: float | None = None,  # noqa: ASYNC109 - an httpx timeout for the call, not for this coroutine
    ) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token}",
            "Version": API_VERSION,
            "Accept": "application/json",
        }
        try:
            extra: dict[str, Any] = {}
            if timeout is not None:
                extra["timeout"] = httpx.Timeout(timeout, connect=min(timeout, 5.0))
            return await self._client.request(
                method, f"{self._base_url}{path}", params=params, json=body, headers=headers, **extra
            )
        except httpx.TimeoutException as exc:
            raise CrmUnavailable(f"HighLevel did not answer in time ({type(exc).__name__}).") from exc
        except httpx.TransportError as exc:
            raise CrmUnavailable(f"HighLevel could not be reached ({type(exc).__name__}).") from exc
        except httpx.HTTPError as exc:
            raise CrmUnavailable(f"The call to HighLevel failed ({type(exc).__name__}).") from exc

    def _rate_limited_delay(self, response: httpx.Response) -> float:
        # §7: the 429 body and Retry-After are unconfirmed; the burst window is the next best guess.
        delay = retry_after_seconds(response)
        if delay is None:
            window_ms = _header_number(response, "X-RateLimit-Interval-Milliseconds")
            delay = window_ms / 1000 if window_ms else self._rate_limit.per_seconds
        return delay + RATE_LIMIT_JITTER_S * self._jitter()

    async def _pace(self, response: httpx.Response) -> None:
        """Spread what is left of the burst over its window, so the budget never reaches 0.

        With r requests left in a window of W seconds, holding W/(r+1) after each lets the window slide
        past the burst's oldest requests before the last r are spent: remaining recovers instead of
        hitting 0 (the test drives 300 back-to-back requests through a simulated bucket).
        """
        remaining = _header_number(response, "X-RateLimit-Remaining")
        if remaining is None:
            return
        maximum = _header_number(response, "X-RateLimit-Max")
        low = LOW_REMAINING if not maximum else max(1, min(LOW_REMAINING, math.ceil(maximum / 10)))
        if remaining >= low:
            return
        window_ms = _header_number(response, "X-RateLimit-Interval-Milliseconds")
        window = window_ms / 1000 if window_ms else self._rate_limit.per_seconds
        await self._limiter.hold(window / (max(0.0, remaining) + 1))


if TYPE_CHECKING:
    from scormhub.domain.ports import ContactBook, CrmWriter

    def _satisfies_the_ports(crm: HighLevelCrm) -> None:
        contacts: ContactBook = crm
        writer: CrmWriter = crm
        del contacts, writer


# --- errors at the boundary ---------------------------------------------------------------------------------


def _error_for(method: str, path: str, response: httpx.Response, *, missing: str) -> DomainError:
    status = response.status_code
    _log_refusal(method, path, response)
    if status == 404:
        return NotFound(f"The {missing} no longer exists in HighLevel.")
    if status >= 500:
        return CrmUnavailable(
            f"HighLevel answered with a server error (HTTP {status}).",
            retry_after=retry_after_seconds(response),
        )
    if 400 <= status < 500:
        detail = vendor_message(response) or f"HTTP {status}"
        return CrmRejected(f"HighLevel refused the request: {detail}", detail=detail)
    # 1xx/3xx: redirects are not followed (a moved API is a configuration problem, not data).
    return CrmUnavailable(f"{UNEXPECTED_MESSAGE} (HTTP {status}).")


def _log_refusal(method: str, path: str, response: httpx.Response) -> None:
    # Only HighLevel's traceId and message: the request carried a token and is never logged.
    log.warning(
        "HighLevel %s %s answered HTTP %d (traceId %s): %s",
        method,
        path,
        response.status_code,
        _trace_id(response) or "-",
        vendor_message(response) or "-",
    )


def vendor_message(response: httpx.Response) -> str:
    """HighLevel's own words: `message` (a string, or a list for 422s), else `error`; never the raw body."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ""
    if not isinstance(data, dict):
        return ""
    for key in ("message", "error_description", "error"):
        value = data.get(key)
        if isinstance(value, list):
            value = "; ".join(str(item).strip() for item in value if str(item).strip())
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:_MAX_VENDOR_TEXT]
    return ""


def retry_after_seconds(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP-date); None when absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def _trace_id(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    value = data.get("traceId") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _header_number(response: httpx.Response, name: str) -> float | None:
    try:
        value = float(response.headers.get(name, ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _body(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return {}
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        _unexpected()
    if not isinstance(data, dict | list):
        _unexpected()
    trace_id = data.get("traceId") if isinstance(data, dict) else None
    if isinstance(trace_id, str):
        log.debug("HighLevel traceId %s", trace_id)
    return data


def _unexpected() -> NoReturn:
    raise CrmUnavailable(UNEXPECTED_MESSAGE)


# --- mapping HighLevel's JSON ---------------------------------------------------------------------------


def contact_from(value: Any, *, fallback_email: str = "") -> Contact:
    """A HighLevel contact (get, search or upsert answer) as the domain's Contact."""
    data = _object(value)
    contact_id = _required_str(data, "id")
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
        created_at=_moment(data.get("dateAdded")),
        company=_text(data.get("companyName")) or None,
    )


def record_properties(spec: ObjectSpec, properties: Mapping[str, Any]) -> dict[str, Any]:
    """Properties as §6 wants them: only the object's field keys, numbers as numbers, dates as YYYY-MM-DD.

    None is left out: the reference documents no way to clear a value, and strict bodies refuse what
    they do not expect.
    """
    types = spec.data_types()
    values: dict[str, Any] = {}
    for key, value in properties.items():
        data_type = types.get(key)
        if data_type is None:
            log.warning("HighLevel %s has no field %r; not sent", spec.plural, key)
            continue
        if value is None:
            continue
        formatted = _format_value(key, value, data_type)
        if formatted is not None:
            values[key] = formatted
    return values


def _format_value(key: str, value: Any, data_type: str) -> Any:
    if data_type == NUMERICAL:
        number: float | int
        if isinstance(value, bool):
            raise _unwritable(key, value)
        if isinstance(value, int | float):
            number = value
        else:
            try:
                number = float(str(value))
            except ValueError:
                raise _unwritable(key, value) from None
        return number if math.isfinite(number) else None
    if data_type == DATE:
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
            return moment.astimezone(UTC).date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        text = str(value).strip()
        if _ISO_DAY.fullmatch(text):
            return text
        parsed = _moment(text)
        if parsed is None:
            raise _unwritable(key, value)
        return parsed.date().isoformat()
    return value if isinstance(value, str) else str(value)


def _unwritable(key: str, value: Any) -> CrmRejected:
    return CrmRejected(
        f"SCORM Hub could not write {key} = {value!r} to HighLevel.", detail=f"{key}: {value!r}"
    )


def _field_ids(value: Any) -> dict[str, str]:
    """fieldKey → id of a field listing (`fields[]`); the item shape is undocumented, so read both keys."""
    if value is None:
        return {}
    if not isinstance(value, list):
        _unexpected()
    found: dict[str, str] = {}
    for item in value:
        if not isinstance(item, dict):
            continue
        key = item.get("fieldKey") or item.get("key")
        if isinstance(key, str) and key:
            found[key] = _id_of(item) or ""
    return found


def _listed_key(listed: Mapping[str, str], wanted: str) -> tuple[str, str] | None:
    """(id, key) of the listed schema `wanted` names. The spec's examples disagree on the prefix
    (`custom_object.pet` vs `custom_objects.pet`), so the name after it decides when the key differs."""
    if wanted in listed:
        return listed[wanted], wanted
    name = wanted.partition(".")[2]
    for key, object_id in listed.items():
        if key.startswith("custom_object") and key.partition(".")[2] == name:
            return object_id, key
    return None


def _associations(data: Any) -> list[dict[str, Any]]:
    """The items of an association listing. Its shape is undocumented (the spec gives a single
    association): accept a list, `{associations: [...]}`, or one association."""
    if isinstance(data, dict) and "associations" in data:
        data = data["associations"]
    elif isinstance(data, dict) and ("key" in data or not data):
        data = [data] if data else []
    if not isinstance(data, list):
        _unexpected()
    return [item for item in data if isinstance(item, dict)]


def _stored_object_key(stored: Mapping[str, Any], spec: ObjectSpec) -> str | None:
    objects = stored.get("objects")
    entry = objects.get(spec.key) if isinstance(objects, dict) else None
    key = entry.get("key") if isinstance(entry, dict) else None
    return key if isinstance(key, str) and key else None


def _object_key(setup: Mapping[str, Any], spec: ObjectSpec) -> str:
    return _stored_object_key(setup, spec) or spec.key


def _complete(data: Mapping[str, Any]) -> bool:
    if data.get("version") != PROVISION_VERSION:
        return False
    association = data.get("association")
    if not isinstance(association, dict) or not association.get("id"):
        return False
    return all(_stored_object_key(data, spec) for spec in OBJECT_SPECS)


def _id_of(data: Mapping[str, Any]) -> str | None:
    for key in ("id", "_id"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _tags(tags: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(tag.strip() for tag in tags if tag and tag.strip()))


def _note_text(text: str) -> str:
    # How HighLevel stores a note body (plain, or as HTML with <br> and entities) is undocumented.
    return " ".join(html.unescape(_HTML_TAG.sub(" ", text)).split())


def _require_list(data: Any, key: str) -> None:
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        _unexpected()


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        _unexpected()
    return value


def _required_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        _unexpected()
    return value


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _segment(value: str) -> str:
    return quote(value, safe="")
