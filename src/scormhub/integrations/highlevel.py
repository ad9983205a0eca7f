"""HighLevel (LeadConnector API v2) as one location's ContactBook and CrmWriter.

Every vendor failure is translated here (with highlevel_json) into a domain error; no httpx exception
leaves this module. The custom objects and their provisioning are in highlevel_schemas.
Reference: shared/reference/highlevel-api.md (the section numbers in comments point into it). Where the
reference marks something UNCONFIRMED, the code accepts each shape the sources disagree on.
"""

from __future__ import annotations

import html
import logging
import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

import httpx

from scormhub.domain.errors import (
    CrmAuthExpired,
    CrmRateLimited,
    CrmRejected,
    CrmUnavailable,
    NotFound,
)
from scormhub.domain.model import Contact, RateLimit
from scormhub.integrations.highlevel_json import ALREADY_EXISTS as _ALREADY_EXISTS
from scormhub.integrations.highlevel_json import UNEXPECTED_MESSAGE as UNEXPECTED_MESSAGE
from scormhub.integrations.highlevel_json import as_object as _object
from scormhub.integrations.highlevel_json import body_of as _body
from scormhub.integrations.highlevel_json import error_for as _error_for
from scormhub.integrations.highlevel_json import header_number as _header_number
from scormhub.integrations.highlevel_json import log_refusal as _log_refusal
from scormhub.integrations.highlevel_json import moment_of as _moment
from scormhub.integrations.highlevel_json import require_list as _require_list
from scormhub.integrations.highlevel_json import required_str as _required_str
from scormhub.integrations.highlevel_json import retry_after_seconds as retry_after_seconds
from scormhub.integrations.highlevel_json import segment as _segment
from scormhub.integrations.highlevel_json import unexpected as _unexpected
from scormhub.integrations.highlevel_json import vendor_message as vendor_message
from scormhub.integrations.highlevel_schemas import COMPANY_SUMMARIES as COMPANY_SUMMARIES
from scormhub.integrations.highlevel_schemas import TRAINING_RECORDS as TRAINING_RECORDS
from scormhub.integrations.highlevel_schemas import ObjectSpec, ProvisionStore, SchemaProvisioner
from scormhub.integrations.highlevel_schemas import complete as _complete
from scormhub.integrations.highlevel_schemas import listed_key as _listed_key
from scormhub.integrations.highlevel_schemas import object_key_of as _object_key
from scormhub.integrations.highlevel_schemas import record_properties as record_properties

log = logging.getLogger("scormhub.highlevel")

API_VERSION: Final = "2021-07-28"

# --- endpoints (relative to the configured base URL) ----------------------------------------------------
CONTACTS_SEARCH: Final = "/contacts/search"
CONTACT_DUPLICATE: Final = "/contacts/search/duplicate"
CONTACTS_UPSERT: Final = "/contacts/upsert"
CONTACT: Final = "/contacts/{contact_id}"
CONTACT_TAGS: Final = "/contacts/{contact_id}/tags"
CONTACT_NOTES: Final = "/contacts/{contact_id}/notes"
RECORDS: Final = "/objects/{object_key}/records"
RECORD: Final = "/objects/{object_key}/records/{record_id}"
RELATIONS: Final = "/associations/relations"

RECONNECT_MESSAGE: Final = (
    "HighLevel needs reconnecting: it no longer accepts SCORM Hub's access{detail}. "
    "Reconnect HighLevel in Settings to resume syncing."
)

# Someone is waiting on a type-ahead or an enroll click: past this, say HighLevel is slow instead.
INTERACTIVE_TIMEOUT_S: Final = 6.0
MAX_SEARCH_QUERY: Final = 75  # §4: longer full-text queries are refused
MAX_PAGE_LIMIT: Final = 500
# §7: on 429 wait the window plus jitter, at most 3 retries.
MAX_RATE_LIMIT_RETRIES: Final = 3
RATE_LIMIT_JITTER_S: Final = 0.5
# A longer wait (a daily quota spent, say) is not slept through inside a job: the hold still tells every
# process, and the write goes back to the outbox with the wait as its retry_after.
MAX_INLINE_WAIT_S: Final = 60.0
# §7: slow down when X-RateLimit-Remaining drops below 10 (or a tenth of a smaller stated maximum).
LOW_REMAINING: Final = 10
_HTML_TAG: Final = re.compile(r"<[^>]*>")


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
        self._schemas = SchemaProvisioner(self._request, location_id=location_id, provision=provision)
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
        return await self._schemas.run(create=False) is not None

    async def provision_custom_objects(self) -> None:
        await self._schemas.run(create=True)

    # --- records --------------------------------------------------------------------------------------

    async def _setup(self) -> dict[str, Any]:
        """The provisioned ids the writes need; provisions first if they were never stored."""
        data = await self._provision.load()
        if _complete(data):
            return data
        provisioned = await self._schemas.run(create=True)
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
            if _listed_key(await self._schemas.list_objects(), object_key) is not None:
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


def _tags(tags: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(tag.strip() for tag in tags if tag and tag.strip()))


def _note_text(text: str) -> str:
    # How HighLevel stores a note body (plain, or as HTML with <br> and entities) is undocumented.
    return " ".join(html.unescape(_HTML_TAG.sub(" ", text)).split())


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""
