"""The HighLevel adapter against respx stand-ins shaped like the v2 API: requests sent, answers mapped."""

from __future__ import annotations

import copy
import itertools
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from scormhub.domain.crm_writes import EnrollmentFacts, training_record
from scormhub.domain.errors import (
    CrmAuthExpired,
    CrmRateLimited,
    CrmRejected,
    CrmUnavailable,
    NotFound,
)
from scormhub.domain.model import Contact, RateLimit
from scormhub.domain.ports import ContactBook, CrmWriter
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.integrations.highlevel.client import API_VERSION, build_client
from scormhub.integrations.highlevel.crm import HighLevelCrm
from scormhub.integrations.highlevel.provisioning import (
    COMPANY_SUMMARIES,
    TRAINING_RECORDS,
    record_properties,
)

BASE = "https://services.hl.test"
LOCATION = "ve9EPM428h8vShlRW1KT"
CONTACT_ID = "nmFmQEsNgz6AVpgLVUJ0"
NOTE_USER = "YlWd2wuCAZQzh2cH1fVZ"
RECORD_ID = "66b0f2c1e4b0a1b2c3d4e5f6"
ASSOCIATION_ID = "ab12cd34ef56ab12cd34ef56"
TRAINING_KEY = "custom_objects.training_records"
COMPANY_KEY = "custom_objects.company_training_summaries"
RECORD_KEY = "0f8fad5b-d9cb-469f-a165-70867728950e"  # an enrollment id
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "highlevel"
RATE = RateLimit(requests=90, per_seconds=10)
PROVISIONED: dict[str, Any] = {
    "version": 1,
    "objects": {
        TRAINING_KEY: {"id": "679b7c8a2f4e1a0012a1b2c3", "key": TRAINING_KEY},
        COMPANY_KEY: {"id": "679b7c8a2f4e1a0012a1b2c4", "key": COMPANY_KEY},
    },
    "fields": {},
    "folders": {},
    "association": {"id": ASSOCIATION_ID, "key": "training_record_contact"},
}
PROPERTIES: dict[str, Any] = {
    "course_name": "Excel Basics",
    "course_id": "11111111-2222-3333-4444-555555555555",
    "enrollment_id": RECORD_KEY,
    "learner_email": "ada@example.com",
    "status": "completed",
    "result": "passed",
    "score_percent": 87.5,
    "time_spent_seconds": 1830,
    "attempts": 2,
    "enrolled_on": "2024-05-01",
    "first_access_on": "2024-05-02",
    "last_access_on": "2024-05-03",
    "completed_on": None,
}
SUMMARY: dict[str, Any] = {  # the shape of PiccoloEnrollmentRepository.company_summary()
    "company": "Analytical Engines Ltd",
    "learners": 3,
    "enrollments": 4,
    "completions": 2,
    "passed": 1,
    "completion_rate": 50.0,
    "average_score": None,
}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def respond(name: str, status: int = 200, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, json=fixture(name), **kwargs)


def sent(route: respx.Route) -> httpx.Request:
    assert route.called, "the request was never sent"
    return route.calls.last.request


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def assert_v2_call(request: httpx.Request, *, token: str = "tok-1") -> None:
    assert request.headers["Authorization"] == f"Bearer {token}"
    assert request.headers["Version"] == API_VERSION
    assert request.headers["Accept"] == "application/json"
    if request.content:
        assert request.headers["Content-Type"] == "application/json"


# --- in-memory fakes of what the caller provides ------------------------------------------------------------


class FakeTokens:
    """Hands out tok-1; each refresh gives the next one, or raises once HighLevel has cut us off."""

    def __init__(self) -> None:
        self.current = "tok-1"
        self.refreshed: list[str] = []
        self.revoked = False

    async def access_token(self) -> str:
        return self.current

    async def refresh(self, rejected: str) -> str:
        self.refreshed.append(rejected)
        if self.revoked:
            raise CrmAuthExpired()
        self.current = f"tok-{len(self.refreshed) + 1}"
        return self.current


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0


class FakeLimiter:
    """Records every turn and hold in order; with a clock, a hold passes that much virtual time."""

    def __init__(self, clock: VirtualClock | None = None) -> None:
        self.events: list[tuple[str, float]] = []
        self.clock = clock

    async def wait_turn(self) -> None:
        self.events.append(("turn", 0.0))

    async def hold(self, seconds: float) -> None:
        self.events.append(("hold", seconds))
        if self.clock is not None:
            self.clock.now += seconds

    @property
    def turns(self) -> int:
        return sum(1 for kind, _ in self.events if kind == "turn")

    @property
    def holds(self) -> list[float]:
        return [seconds for kind, seconds in self.events if kind == "hold"]


class FakeRecordRefs:
    def __init__(self) -> None:
        self.refs: dict[str, tuple[str, bool]] = {}

    async def get(self, record_key: str) -> tuple[str, bool] | None:
        return self.refs.get(record_key)

    async def put(self, record_key: str, record_id: str, *, related: bool) -> None:
        self.refs[record_key] = (record_id, related)


class FakeProvisionStore:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.saves = 0

    async def load(self) -> dict[str, Any]:
        return copy.deepcopy(self.data)

    async def save(self, data: dict[str, Any]) -> None:
        self.data = copy.deepcopy(data)
        self.saves += 1


@dataclass
class World:
    tokens: FakeTokens = field(default_factory=FakeTokens)
    limiter: FakeLimiter = field(default_factory=FakeLimiter)
    refs: FakeRecordRefs = field(default_factory=FakeRecordRefs)
    store: FakeProvisionStore = field(default_factory=FakeProvisionStore)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with build_client() as shared:
        yield shared


@pytest.fixture
def world() -> World:
    return World()


def make_crm(client: httpx.AsyncClient, world: World, **changes: Any) -> HighLevelCrm:
    options: dict[str, Any] = {
        "base_url": BASE,
        "location_id": LOCATION,
        "tokens": world.tokens,
        "limiter": world.limiter,
        "refs": world.refs,
        "provision": world.store,
        "rate_limit": RATE,
        "note_user_id": NOTE_USER,
        "jitter": lambda: 0.0,
    }
    options.update(changes)
    return HighLevelCrm(client, **options)


@pytest.fixture
def crm(client: httpx.AsyncClient, world: World) -> HighLevelCrm:
    return make_crm(client, world)


@pytest.fixture
def hl() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def the_crm_satisfies_both_ports(crm: HighLevelCrm) -> None:
    contacts: ContactBook = crm
    writer: CrmWriter = crm
    assert contacts is writer


# --- the adapter as a whole -------------------------------------------------------------------------------


def test_the_adapter_is_a_contact_book_and_a_crm_writer_that_throttles_itself(crm: HighLevelCrm) -> None:
    the_crm_satisfies_both_ports(crm)

    assert crm.self_throttling is True
    assert crm.rate_limit == RATE
    assert LOCATION in repr(crm)


async def test_the_shared_client_has_explicit_timeouts_and_connection_limits() -> None:
    async with build_client() as shared:
        assert shared.timeout == httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=5.0)
        assert shared.follow_redirects is False
        assert "Authorization" not in shared.headers


def test_the_training_record_fields_are_exactly_what_the_sync_policy_writes() -> None:
    facts = EnrollmentFacts(
        enrollment_id=uuid.uuid4(),
        contact_id=CONTACT_ID,
        learner_name="Ada Lovelace",
        learner_email="ada@example.com",
        course_id=uuid.uuid4(),
        course_title="Excel",
        completion=Completion.COMPLETED,
        success=Success.PASSED,
        score_percent=91.0,
        score_raw=91.0,
        total_seconds=600,
        attempts=1,
        enrolled_at=datetime(2024, 5, 1, tzinfo=UTC),
        first_access_at=datetime(2024, 5, 2, tzinfo=UTC),
        last_access_at=datetime(2024, 5, 3, tzinfo=UTC),
        completed_at=datetime(2024, 5, 3, tzinfo=UTC),
    )
    written = training_record(facts)

    assert set(TRAINING_RECORDS.data_types()) == set(written)
    types = TRAINING_RECORDS.data_types()
    assert {k for k, t in types.items() if t == "DATE"} == {k for k in written if k.endswith("_on")}
    assert {k for k, t in types.items() if t == "NUMERICAL"} == {
        "score_percent",
        "time_spent_seconds",
        "attempts",
    }
    assert record_properties(TRAINING_RECORDS, written) == written  # nothing dropped, nothing reformatted


def test_the_company_summary_fields_are_exactly_what_the_summary_holds() -> None:
    assert set(COMPANY_SUMMARIES.data_types()) == set(SUMMARY)
    assert COMPANY_SUMMARIES.data_types()["company"] == "TEXT"
    assert {t for k, t in COMPANY_SUMMARIES.data_types().items() if k != "company"} == {"NUMERICAL"}


def test_record_properties_follow_the_reference_formats() -> None:
    values = record_properties(
        TRAINING_RECORDS,
        {
            "course_name": "Excel",
            "score_percent": "87.5",
            "attempts": 3,
            "completed_on": datetime(2024, 5, 3, 23, 30, tzinfo=UTC),
            "enrolled_on": "2024-05-01T10:00:00+00:00",
            "first_access_on": None,
            "not_a_field": "dropped",
        },
    )

    assert values == {
        "course_name": "Excel",
        "score_percent": 87.5,
        "attempts": 3,
        "completed_on": "2024-05-03",
        "enrolled_on": "2024-05-01",
    }


def test_a_value_that_cannot_be_written_is_rejected_not_sent() -> None:
    with pytest.raises(CrmRejected, match="score_percent"):
        record_properties(TRAINING_RECORDS, {"score_percent": "lots"})
    with pytest.raises(CrmRejected, match="completed_on"):
        record_properties(TRAINING_RECORDS, {"completed_on": "yesterday"})


# --- ContactBook ------------------------------------------------------------------------------------------


async def test_search_sends_the_type_ahead_body_and_maps_each_contact(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    route = hl.post("/contacts/search").mock(return_value=respond("contacts_search.json"))

    found = await crm.search_contacts("  ada   love ")

    request = sent(route)
    assert_v2_call(request)
    assert body_of(request) == {"locationId": LOCATION, "page": 1, "pageLimit": 10, "query": "ada love"}
    assert found == [
        Contact(
            id=CONTACT_ID,
            first_name="Ada",
            last_name="Lovelace",
            email="ada@example.com",
            tags=("vip", "course:excel"),
            created_at=datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
            company="Analytical Engines Ltd",
        ),
        Contact(  # names only in `name`; email in mixed case
            id="Xk2s9dJ4pQmR7tUvWx01",
            first_name="Grace",
            last_name="Brewster Hopper",
            email="grace@example.com",
            tags=(),
            created_at=datetime(2024, 6, 10, 8, 15, tzinfo=UTC),
            company=None,
        ),
        Contact(  # no names at all: the email's local part stands in
            id="Zz9Yy8Xx7Ww6Vv5Uu4Tt",
            first_name="alan",
            last_name="",
            email="alan@example.com",
            tags=("lead",),
            created_at=datetime(2024, 7, 1, 9, 0, tzinfo=UTC),
            company=None,
        ),
    ]
    assert world.limiter.turns == 1


async def test_search_keeps_the_page_and_the_query_within_highlevels_limits(
    crm: HighLevelCrm, hl: respx.MockRouter
) -> None:
    route = hl.post("/contacts/search").mock(return_value=respond("contacts_search_empty.json"))

    assert await crm.search_contacts("x" * 200, limit=5000) == []

    body = body_of(sent(route))
    assert body["pageLimit"] == 500
    assert body["query"] == "x" * 75


async def test_get_contact_reads_the_contact(crm: HighLevelCrm, hl: respx.MockRouter) -> None:
    route = hl.get(f"/contacts/{CONTACT_ID}").mock(return_value=respond("contact.json"))

    contact = await crm.get_contact(CONTACT_ID)

    assert_v2_call(sent(route))
    assert contact is not None
    assert (contact.id, contact.full_name, contact.email, contact.company) == (
        CONTACT_ID,
        "Ada Lovelace",
        "ada@example.com",
        "Analytical Engines Ltd",
    )


async def test_a_contact_deleted_in_highlevel_is_none(crm: HighLevelCrm, hl: respx.MockRouter) -> None:
    hl.get(f"/contacts/{CONTACT_ID}").mock(return_value=respond("error_404.json", 404))

    assert await crm.get_contact(CONTACT_ID) is None


async def test_an_empty_contact_id_is_none_without_asking(crm: HighLevelCrm, hl: respx.MockRouter) -> None:
    assert await crm.get_contact("  ") is None
    assert not hl.calls


async def test_upsert_of_a_new_email_looks_it_up_then_upserts_without_tags(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    lookup = hl.get("/contacts/search/duplicate").mock(return_value=respond("contact_duplicate_none.json"))
    upsert = hl.post("/contacts/upsert").mock(return_value=respond("contact_upsert.json", 201))

    contact = await crm.upsert_contact(
        first_name=" Rosalind ", last_name="Franklin", email=" Rosalind@Example.COM "
    )

    looked_up = sent(lookup)
    assert_v2_call(looked_up)
    assert dict(looked_up.url.params) == {"locationId": LOCATION, "email": "rosalind@example.com"}
    request = sent(upsert)
    assert_v2_call(request)
    assert body_of(request) == {
        "locationId": LOCATION,
        "firstName": "Rosalind",
        "lastName": "Franklin",
        "email": "rosalind@example.com",
        "source": "SCORM Hub",
    }
    assert "tags" not in body_of(request)
    assert contact.id == "seD4PfOuKoVMLkEZqohJ"
    assert contact.email == "rosalind@example.com"
    assert world.limiter.turns == 2


async def test_upsert_of_a_known_email_returns_that_contact_and_leaves_its_names_alone(
    crm: HighLevelCrm, hl: respx.MockRouter
) -> None:
    hl.get("/contacts/search/duplicate").mock(return_value=respond("contact_duplicate_found.json"))
    upsert = hl.post("/contacts/upsert").mock(return_value=respond("contact_upsert.json", 201))

    contact = await crm.upsert_contact(first_name="Someone", last_name="Else", email="ada@example.com")

    assert not upsert.called
    assert (contact.id, contact.full_name) == (CONTACT_ID, "Ada Lovelace")


async def test_upsert_still_works_when_the_lookup_answers_in_an_unknown_shape(
    crm: HighLevelCrm, hl: respx.MockRouter
) -> None:
    hl.get("/contacts/search/duplicate").mock(return_value=httpx.Response(200, json={"contact": "n/a"}))
    upsert = hl.post("/contacts/upsert").mock(return_value=respond("contact_upsert.json", 201))

    contact = await crm.upsert_contact(
        first_name="Rosalind", last_name="Franklin", email="rosalind@example.com"
    )

    assert upsert.called
    assert contact.id == "seD4PfOuKoVMLkEZqohJ"


async def test_upsert_sends_the_configured_source_and_omits_empty_names(
    client: httpx.AsyncClient, world: World, hl: respx.MockRouter
) -> None:
    crm = make_crm(client, world, source="Acme Academy")
    hl.get("/contacts/search/duplicate").mock(return_value=respond("contact_duplicate_none.json"))
    upsert = hl.post("/contacts/upsert").mock(return_value=respond("contact_upsert.json", 201))

    await crm.upsert_contact(first_name="", last_name=" ", email="rosalind@example.com")

    assert body_of(sent(upsert)) == {
        "locationId": LOCATION,
        "email": "rosalind@example.com",
        "source": "Acme Academy",
    }


# --- tags -------------------------------------------------------------------------------------------------


async def test_add_tags_posts_only_the_tags_that_changed(crm: HighLevelCrm, hl: respx.MockRouter) -> None:
    route = hl.post(f"/contacts/{CONTACT_ID}/tags").mock(return_value=respond("tags_added.json", 201))

    await crm.add_tags(CONTACT_ID, ["scorm_completed", "scorm_passed", "scorm_completed", " "])

    request = sent(route)
    assert_v2_call(request)
    assert body_of(request) == {"tags": ["scorm_completed", "scorm_passed"]}


async def test_remove_tags_sends_a_delete_with_the_tags_in_its_body(
    crm: HighLevelCrm, hl: respx.MockRouter
) -> None:
    route = hl.delete(f"/contacts/{CONTACT_ID}/tags").mock(return_value=respond("tags_removed.json"))

    await crm.remove_tags(CONTACT_ID, ["scorm_failed", "scorm_score_0_49"])

    request = sent(route)
    assert_v2_call(request)
    assert body_of(request) == {"tags": ["scorm_failed", "scorm_score_0_49"]}


async def test_no_tags_means_no_request(crm: HighLevelCrm, world: World, hl: respx.MockRouter) -> None:
    await crm.add_tags(CONTACT_ID, [])
    await crm.remove_tags(CONTACT_ID, [""])

    assert not hl.calls
    assert world.limiter.turns == 0


async def test_a_write_for_an_empty_contact_id_is_not_found_without_asking(
    crm: HighLevelCrm, hl: respx.MockRouter
) -> None:
    with pytest.raises(NotFound, match="contact no longer exists in HighLevel"):
        await crm.add_tags("", ["scorm_passed"])
    with pytest.raises(NotFound):
        await crm.upsert_training_record(" ", RECORD_KEY, PROPERTIES)
    assert not hl.calls


# --- notes ------------------------------------------------------------------------------------------------


NOTE = (
    "Completed the course “Excel”.\n"
    "Result: Passed · Score: 91% · Time spent: 10m 00s · Completed on 2024-05-03."
)


async def test_add_note_reads_the_notes_then_creates_it_for_the_enrolling_user(
    crm: HighLevelCrm, hl: respx.MockRouter
) -> None:
    listing = hl.get(f"/contacts/{CONTACT_ID}/notes").mock(return_value=respond("notes.json"))
    create = hl.post(f"/contacts/{CONTACT_ID}/notes").mock(return_value=respond("note_created.json", 201))

    await crm.add_note(CONTACT_ID, NOTE, idempotency_key="e1:note:abc")

    assert_v2_call(sent(listing))
    request = sent(create)
    assert_v2_call(request)
    assert body_of(request) == {"body": NOTE, "userId": NOTE_USER}


async def test_add_note_without_a_known_user_sends_the_body_alone(
    client: httpx.AsyncClient, world: World, hl: respx.MockRouter
) -> None:
    crm = make_crm(client, world, note_user_id=None)
    hl.get(f"/contacts/{CONTACT_ID}/notes").mock(return_value=respond("notes.json"))
    create = hl.post(f"/contacts/{CONTACT_ID}/notes").mock(return_value=respond("note_created.json", 201))

    await crm.add_note(CONTACT_ID, NOTE, idempotency_key="k")

    assert body_of(sent(create)) == {"body": NOTE}


async def test_add_note_credits_the_author_when_the_write_names_one(
    crm: HighLevelCrm, hl: respx.MockRouter
) -> None:
    hl.get(f"/contacts/{CONTACT_ID}/notes").mock(return_value=respond("notes.json"))
    create = hl.post(f"/contacts/{CONTACT_ID}/notes").mock(return_value=respond("note_created.json", 201))

    await crm.add_note(CONTACT_ID, NOTE, idempotency_key="k", author_id="enrolling-user-7")

    assert body_of(sent(create)) == {"body": NOTE, "userId": "enrolling-user-7"}


async def test_a_retry_after_a_timed_out_create_does_not_duplicate_the_note(
    crm: HighLevelCrm, hl: respx.MockRouter
) -> None:
    notes = fixture("notes.json")
    listing = hl.get(f"/contacts/{CONTACT_ID}/notes").mock(
        side_effect=lambda request: httpx.Response(200, json=notes)
    )

    def created_but_lost(request: httpx.Request) -> httpx.Response:
        notes["notes"].append({"id": "n2", "body": body_of(request)["body"], "contactId": CONTACT_ID})
        raise httpx.ReadTimeout("the answer was lost", request=request)

    create = hl.post(f"/contacts/{CONTACT_ID}/notes").mock(side_effect=created_but_lost)

    with pytest.raises(CrmUnavailable):
        await crm.add_note(CONTACT_ID, NOTE, idempotency_key="k")
    await crm.add_note(CONTACT_ID, NOTE, idempotency_key="k")  # the outbox's retry

    assert create.call_count == 1
    assert listing.call_count == 2


async def test_a_note_highlevel_stored_as_html_counts_as_the_same_note(
    crm: HighLevelCrm, hl: respx.MockRouter
) -> None:
    stored = NOTE.replace("\n", "<br>").replace("“", "&ldquo;").replace("”", "&rdquo;")
    hl.get(f"/contacts/{CONTACT_ID}/notes").mock(
        return_value=httpx.Response(200, json={"notes": [{"id": "n1", "body": f"<p>{stored}</p>"}]})
    )
    create = hl.post(f"/contacts/{CONTACT_ID}/notes").mock(return_value=respond("note_created.json", 201))

    await crm.add_note(CONTACT_ID, NOTE, idempotency_key="k")

    assert not create.called


# --- training records -------------------------------------------------------------------------------------


def expected_record_properties() -> dict[str, Any]:
    return {key: value for key, value in PROPERTIES.items() if value is not None}


async def test_the_first_write_creates_the_record_and_relates_it_to_the_contact(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    world.store.data = copy.deepcopy(PROVISIONED)
    create = hl.post(f"/objects/{TRAINING_KEY}/records").mock(
        return_value=respond("record_created.json", 201)
    )
    relate = hl.post("/associations/relations").mock(return_value=respond("relation_created.json", 201))

    await crm.upsert_training_record(CONTACT_ID, RECORD_KEY, PROPERTIES)

    request = sent(create)
    assert_v2_call(request)
    assert body_of(request) == {"locationId": LOCATION, "properties": expected_record_properties()}
    assert isinstance(body_of(request)["properties"]["score_percent"], float)
    assert isinstance(body_of(request)["properties"]["attempts"], int)
    relation = sent(relate)
    assert_v2_call(relation)
    assert body_of(relation) == {
        "locationId": LOCATION,
        "associationId": ASSOCIATION_ID,
        "firstRecordId": RECORD_ID,
        "secondRecordId": CONTACT_ID,
    }
    assert world.refs.refs == {RECORD_KEY: (RECORD_ID, True)}


async def test_a_later_write_updates_the_same_record_and_relates_nothing(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    world.store.data = copy.deepcopy(PROVISIONED)
    world.refs.refs[RECORD_KEY] = (RECORD_ID, True)
    update = hl.put(f"/objects/{TRAINING_KEY}/records/{RECORD_ID}").mock(
        return_value=respond("record_updated.json")
    )
    create = hl.post(f"/objects/{TRAINING_KEY}/records")
    relate = hl.post("/associations/relations")

    await crm.upsert_training_record(CONTACT_ID, RECORD_KEY, PROPERTIES)

    request = sent(update)
    assert_v2_call(request)
    assert dict(request.url.params) == {"locationId": LOCATION}
    assert body_of(request) == {"properties": expected_record_properties()}
    assert not create.called
    assert not relate.called


async def test_a_record_deleted_in_highlevel_is_created_again_and_the_ref_replaced(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    world.store.data = copy.deepcopy(PROVISIONED)
    world.refs.refs[RECORD_KEY] = ("deleted-record", True)
    hl.put(f"/objects/{TRAINING_KEY}/records/deleted-record").mock(
        return_value=respond("error_404.json", 404)
    )
    create = hl.post(f"/objects/{TRAINING_KEY}/records").mock(
        return_value=respond("record_created.json", 201)
    )
    relate = hl.post("/associations/relations").mock(return_value=respond("relation_created.json", 201))

    await crm.upsert_training_record(CONTACT_ID, RECORD_KEY, PROPERTIES)

    assert create.called
    assert relate.called
    assert body_of(sent(relate))["firstRecordId"] == RECORD_ID
    assert world.refs.refs == {RECORD_KEY: (RECORD_ID, True)}


async def test_a_relation_that_already_exists_counts_as_related(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    world.store.data = copy.deepcopy(PROVISIONED)
    world.refs.refs[RECORD_KEY] = (RECORD_ID, False)  # created, then the relate call timed out
    hl.put(f"/objects/{TRAINING_KEY}/records/{RECORD_ID}").mock(return_value=respond("record_updated.json"))
    hl.post("/associations/relations").mock(return_value=respond("error_400_relation_exists.json", 400))

    await crm.upsert_training_record(CONTACT_ID, RECORD_KEY, PROPERTIES)

    assert world.refs.refs == {RECORD_KEY: (RECORD_ID, True)}


async def test_a_refused_relation_is_retried_by_the_next_write_on_the_same_record(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    world.store.data = copy.deepcopy(PROVISIONED)
    create = hl.post(f"/objects/{TRAINING_KEY}/records").mock(
        return_value=respond("record_created.json", 201)
    )
    update = hl.put(f"/objects/{TRAINING_KEY}/records/{RECORD_ID}").mock(
        return_value=respond("record_updated.json")
    )
    relate = hl.post("/associations/relations").mock(
        side_effect=[respond("error_422.json", 422), respond("relation_created.json", 201)]
    )

    with pytest.raises(CrmRejected):
        await crm.upsert_training_record(CONTACT_ID, RECORD_KEY, PROPERTIES)
    assert world.refs.refs == {RECORD_KEY: (RECORD_ID, False)}
    await crm.upsert_training_record(CONTACT_ID, RECORD_KEY, PROPERTIES)

    assert create.call_count == 1
    assert update.call_count == 1
    assert relate.call_count == 2
    assert world.refs.refs == {RECORD_KEY: (RECORD_ID, True)}


@pytest.mark.parametrize(
    "refusal", [("error_404.json", 404), ("error_400_object_not_found.json", 400)], ids=["404", "400"]
)
async def test_a_deleted_training_object_says_so_and_is_no_longer_counted_as_provisioned(
    refusal: tuple[str, int], crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    world.store.data = copy.deepcopy(PROVISIONED)
    hl.post(f"/objects/{TRAINING_KEY}/records").mock(return_value=respond(*refusal))
    hl.get("/objects/").mock(return_value=respond("objects_list_standard_only.json"))

    with pytest.raises(NotFound, match="Training Records object no longer exists in HighLevel"):
        await crm.upsert_training_record(CONTACT_ID, RECORD_KEY, PROPERTIES)

    assert await crm.custom_objects_provisioned() is False


async def test_a_refused_record_of_a_listed_object_is_refused_not_taken_for_a_deleted_object(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    world.store.data = copy.deepcopy(PROVISIONED)
    hl.post(f"/objects/{TRAINING_KEY}/records").mock(return_value=respond("error_400.json", 400))
    hl.get("/objects/").mock(return_value=respond("objects_list.json"))

    with pytest.raises(CrmRejected, match="Bad Request"):
        await crm.upsert_training_record(CONTACT_ID, RECORD_KEY, PROPERTIES)

    assert world.store.data == PROVISIONED


async def test_a_write_before_provisioning_provisions_first(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    highlevel = FakeHighLevelSchemas()
    highlevel.install(hl)
    hl.post(f"/objects/{TRAINING_KEY}/records").mock(return_value=respond("record_created.json", 201))
    relate = hl.post("/associations/relations").mock(return_value=respond("relation_created.json", 201))

    await crm.upsert_training_record(CONTACT_ID, RECORD_KEY, PROPERTIES)

    assert body_of(sent(relate))["associationId"] == highlevel.association_id
    assert await crm.custom_objects_provisioned() is True


# --- company summaries ------------------------------------------------------------------------------------


async def test_a_company_summary_is_a_record_of_its_own_object_keyed_by_the_company(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    world.store.data = copy.deepcopy(PROVISIONED)
    create = hl.post(f"/objects/{COMPANY_KEY}/records").mock(return_value=respond("record_created.json", 201))
    update = hl.put(f"/objects/{COMPANY_KEY}/records/{RECORD_ID}").mock(
        return_value=respond("record_updated.json")
    )
    relate = hl.post("/associations/relations")

    await crm.upsert_company_summary("Analytical Engines Ltd", SUMMARY)
    await crm.upsert_company_summary("Analytical Engines Ltd", {**SUMMARY, "completions": 3})

    first = sent(create)
    assert_v2_call(first)
    expected = {k: v for k, v in SUMMARY.items() if v is not None}
    assert body_of(first) == {"locationId": LOCATION, "properties": expected}
    assert dict(sent(update).url.params) == {"locationId": LOCATION}
    assert body_of(sent(update)) == {"properties": {**expected, "completions": 3}}
    assert not relate.called
    assert world.refs.refs == {"company:Analytical Engines Ltd": (RECORD_ID, False)}


# --- provisioning -----------------------------------------------------------------------------------------


class FakeHighLevelSchemas:
    """A stateful stand-in for the schema, custom-field and association endpoints of one location."""

    def __init__(self, *, default_folder: bool = False) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.fields: dict[str, list[dict[str, Any]]] = {}
        self.folders: dict[str, list[dict[str, Any]]] = {}
        self.association_id: str | None = None
        self.default_folder = default_folder
        self.posts: list[httpx.Request] = []
        self.ids = (f"id{n:04d}" for n in itertools.count())

    def install(self, router: respx.MockRouter) -> None:
        router.get("/objects/").mock(side_effect=self.list_objects)
        router.get(path__regex=r"^/objects/(?P<key>[^/]+)$").mock(side_effect=self.get_object)
        router.post("/objects/").mock(side_effect=self.create_object)
        router.get(path__regex=r"^/custom-fields/object-key/(?P<key>[^/]+)$").mock(
            side_effect=self.get_fields
        )
        router.post("/custom-fields/folder").mock(side_effect=self.create_folder)
        router.post("/custom-fields/").mock(side_effect=self.create_field)
        router.get("/associations/key/training_record_contact").mock(side_effect=self.get_association)
        router.get("/associations/").mock(side_effect=self.list_associations)
        router.post("/associations/").mock(side_effect=self.create_association)

    def list_objects(self, request: httpx.Request) -> httpx.Response:
        assert dict(request.url.params) == {"locationId": LOCATION}
        standard = fixture("objects_list_standard_only.json")["objects"]
        return httpx.Response(200, json={"objects": [*standard, *self.objects.values()]})

    def get_object(self, request: httpx.Request, key: str) -> httpx.Response:
        if key not in self.objects:  # a strict server: the reference lists no 404 for this lookup
            return respond("error_400_object_not_found.json", 400)
        return httpx.Response(
            200, json={"object": self.objects[key], "cache": False, "fields": self.fields[key]}
        )

    def create_object(self, request: httpx.Request) -> httpx.Response:
        self.posts.append(request)
        body = body_of(request)
        key = body["key"]
        self.objects[key] = {
            "id": next(self.ids),
            "key": key,
            "labels": body["labels"],
            "locationId": LOCATION,
        }
        primary = body["primaryDisplayPropertyDetails"]
        self.fields[key] = [
            {"id": next(self.ids), "fieldKey": primary["key"], "dataType": primary["dataType"]}
        ]
        self.folders[key] = [{"id": next(self.ids), "name": "General"}] if self.default_folder else []
        return httpx.Response(201, json={"object": self.objects[key]})

    def get_fields(self, request: httpx.Request, key: str) -> httpx.Response:
        return httpx.Response(
            200, json={"fields": self.fields.get(key, []), "folders": self.folders.get(key, [])}
        )

    def create_folder(self, request: httpx.Request) -> httpx.Response:
        self.posts.append(request)
        body = body_of(request)
        folder = {"id": next(self.ids), "name": body["name"], "objectKey": body["objectKey"]}
        self.folders.setdefault(body["objectKey"], []).append(folder)
        return httpx.Response(201, json=folder)

    def create_field(self, request: httpx.Request) -> httpx.Response:
        self.posts.append(request)
        body = body_of(request)
        created = {"id": next(self.ids), **body}
        self.fields[body["objectKey"]].append(created)
        return httpx.Response(201, json={"field": created})

    def get_association(self, request: httpx.Request) -> httpx.Response:
        if self.association_id is None:
            return respond("error_400.json", 400)
        return httpx.Response(200, json={**fixture("association.json"), "id": self.association_id})

    def list_associations(self, request: httpx.Request) -> httpx.Response:
        assert dict(request.url.params) == {"locationId": LOCATION, "skip": "0", "limit": "100"}
        ours = [{**fixture("association.json"), "id": self.association_id}] if self.association_id else []
        return httpx.Response(200, json=ours)

    def create_association(self, request: httpx.Request) -> httpx.Response:
        self.posts.append(request)
        self.association_id = next(self.ids)
        return httpx.Response(201, json={**fixture("association.json"), "id": self.association_id})

    def posted(self, path: str) -> list[Any]:
        return [body_of(r) for r in self.posts if r.url.path == path]


async def test_provisioning_creates_both_objects_their_fields_and_the_association(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    highlevel = FakeHighLevelSchemas(default_folder=True)
    highlevel.install(hl)

    await crm.provision_custom_objects()

    assert highlevel.posted("/objects/") == [
        {
            "labels": {"singular": "Training Record", "plural": "Training Records"},
            "key": TRAINING_KEY,
            "description": TRAINING_RECORDS.description,
            "locationId": LOCATION,
            "primaryDisplayPropertyDetails": {
                "key": f"{TRAINING_KEY}.course_name",
                "name": "Course",
                "dataType": "TEXT",
            },
        },
        {
            "labels": {"singular": "Company Training Summary", "plural": "Company Training Summaries"},
            "key": COMPANY_KEY,
            "description": COMPANY_SUMMARIES.description,
            "locationId": LOCATION,
            "primaryDisplayPropertyDetails": {
                "key": f"{COMPANY_KEY}.company",
                "name": "Company",
                "dataType": "TEXT",
            },
        },
    ]
    fields = highlevel.posted("/custom-fields/")
    training_folder = highlevel.folders[TRAINING_KEY][0]["id"]
    assert fields[0] == {
        "locationId": LOCATION,
        "objectKey": TRAINING_KEY,
        "fieldKey": f"{TRAINING_KEY}.course_id",
        "name": "Course ID",
        "dataType": "TEXT",
        "showInForms": False,
        "parentId": training_folder,
    }
    created_types = {f["fieldKey"]: f["dataType"] for f in fields}
    assert created_types[f"{TRAINING_KEY}.completed_on"] == "DATE"
    assert created_types[f"{TRAINING_KEY}.score_percent"] == "NUMERICAL"
    assert created_types[f"{COMPANY_KEY}.completion_rate"] == "NUMERICAL"
    assert len(fields) == len(TRAINING_RECORDS.fields) + len(COMPANY_SUMMARIES.fields)
    assert f"{TRAINING_KEY}.course_name" not in created_types  # came with the schema
    assert highlevel.posted("/custom-fields/folder") == []  # the object's own folder is used
    assert highlevel.posted("/associations/") == [
        {
            "locationId": LOCATION,
            "key": "training_record_contact",
            "firstObjectKey": TRAINING_KEY,
            "firstObjectLabel": "Training Record",
            "secondObjectKey": "contact",
            "secondObjectLabel": "Learner",
        }
    ]
    for call in hl.calls:
        assert_v2_call(call.request)
        if call.request.method == "GET":
            assert call.request.url.params["locationId"] == LOCATION
    saved = world.store.data
    assert saved["version"] == 1
    assert saved["association"] == {"id": highlevel.association_id, "key": "training_record_contact"}
    assert saved["objects"][TRAINING_KEY] == {
        "id": highlevel.objects[TRAINING_KEY]["id"],
        "key": TRAINING_KEY,
    }
    assert saved["fields"][f"{TRAINING_KEY}.completed_on"]


async def test_provisioning_twice_creates_nothing_the_second_time(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    highlevel = FakeHighLevelSchemas()
    highlevel.install(hl)
    await crm.provision_custom_objects()
    posts = len(highlevel.posts)

    await crm.provision_custom_objects()
    world.store.data = {}  # even with our saved ids lost, what exists is found, not made again
    await crm.provision_custom_objects()

    assert posts > 0
    assert len(highlevel.posts) == posts
    assert world.store.data["association"]["id"] == highlevel.association_id


async def test_an_object_without_a_folder_gets_one_for_its_fields(
    crm: HighLevelCrm, hl: respx.MockRouter
) -> None:
    highlevel = FakeHighLevelSchemas(default_folder=False)
    highlevel.install(hl)

    await crm.provision_custom_objects()

    folders = highlevel.posted("/custom-fields/folder")
    assert folders == [
        {"objectKey": TRAINING_KEY, "name": "SCORM Hub", "locationId": LOCATION},
        {"objectKey": COMPANY_KEY, "name": "SCORM Hub", "locationId": LOCATION},
    ]
    training_folder = highlevel.folders[TRAINING_KEY][0]["id"]
    assert {f["parentId"] for f in highlevel.posted("/custom-fields/") if f["objectKey"] == TRAINING_KEY} == {
        training_folder
    }


async def test_a_missing_field_on_an_existing_object_is_added_alone(
    crm: HighLevelCrm, hl: respx.MockRouter
) -> None:
    existing = fixture("custom_fields_training_records.json")
    existing["fields"] = [f for f in existing["fields"] if not f["fieldKey"].endswith(".completed_on")]
    hl.get("/objects/").mock(return_value=respond("objects_list.json"))
    hl.get(f"/custom-fields/object-key/{COMPANY_KEY}").mock(
        return_value=respond("custom_fields_company_summaries.json")
    )
    listing = hl.get(f"/custom-fields/object-key/{TRAINING_KEY}").mock(
        return_value=httpx.Response(200, json=existing)
    )
    create = hl.post("/custom-fields/").mock(return_value=respond("field_created.json", 201))
    hl.get("/associations/").mock(return_value=respond("association.json"))

    await crm.provision_custom_objects()

    assert dict(sent(listing).url.params) == {"locationId": LOCATION}
    assert create.call_count == 1
    assert body_of(sent(create)) == {
        "locationId": LOCATION,
        "objectKey": TRAINING_KEY,
        "fieldKey": f"{TRAINING_KEY}.completed_on",
        "name": "Completed on",
        "dataType": "DATE",
        "showInForms": False,
        "parentId": "fo1der0000000000000001",
    }


async def test_everything_already_there_means_only_reads(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    _everything_exists(hl)

    await crm.provision_custom_objects()

    assert {call.request.method for call in hl.calls} == {"GET"}
    assert world.store.data["association"]["id"] == ASSOCIATION_ID
    assert world.store.data["objects"][TRAINING_KEY] == {
        "id": "679b7c8a2f4e1a0012a1b2c3",
        "key": TRAINING_KEY,
    }
    assert world.limiter.turns == 4  # the objects, the fields of each, the associations


def _everything_exists(router: respx.MockRouter, *, but: str = "") -> None:
    """Every listing provisioning reads answers that all is there; `but` is left for the test to answer."""
    if but != "/objects/":
        _objects_listed(router)
    for key, listing in (
        (TRAINING_KEY, "custom_fields_training_records.json"),
        (COMPANY_KEY, "custom_fields_company_summaries.json"),
    ):
        router.get(f"/custom-fields/object-key/{key}").mock(return_value=respond(listing))
    if but != "/associations/":
        router.get("/associations/").mock(return_value=respond("association.json"))


def _objects_listed(router: respx.MockRouter) -> None:
    router.get("/objects/").mock(return_value=respond("objects_list.json"))


async def test_a_strict_highlevel_that_answers_400_for_missing_things_is_provisioned(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    highlevel = FakeHighLevelSchemas(default_folder=True)
    highlevel.install(hl)

    assert await crm.custom_objects_provisioned() is False
    await crm.provision_custom_objects()

    assert [body["key"] for body in highlevel.posted("/objects/")] == [TRAINING_KEY, COMPANY_KEY]
    assert len(highlevel.posted("/associations/")) == 1
    assert await crm.custom_objects_provisioned() is True
    assert world.store.data["association"]["id"] == highlevel.association_id


@pytest.mark.parametrize(
    "answer",
    [
        [],
        {"associations": []},
        [{**fixture("association.json"), "key": "someone_elses"}],
    ],
    ids=["empty-list", "wrapped-empty", "only-others"],
)
async def test_an_association_listing_without_ours_in_any_shape_means_create_it(
    answer: Any, crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    _everything_exists(hl)
    hl.get("/associations/").mock(return_value=httpx.Response(200, json=answer))
    create = hl.post("/associations/").mock(return_value=respond("association.json", 201))

    await crm.provision_custom_objects()

    assert create.call_count == 1
    assert world.store.data["association"]["id"] == ASSOCIATION_ID


async def test_the_association_is_found_on_a_later_page_of_the_listing(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    _everything_exists(hl)
    others = [{**fixture("association.json"), "id": f"other{n}", "key": f"other_{n}"} for n in range(100)]
    listing = hl.get("/associations/").mock(
        side_effect=[
            httpx.Response(200, json=others),
            httpx.Response(200, json=[fixture("association.json")]),
        ]
    )
    create = hl.post("/associations/")

    await crm.provision_custom_objects()

    assert [dict(c.request.url.params)["skip"] for c in listing.calls] == ["0", "100"]
    assert not create.called
    assert world.store.data["association"]["id"] == ASSOCIATION_ID


async def test_provisioned_is_false_while_something_is_missing_and_creates_nothing(
    crm: HighLevelCrm, hl: respx.MockRouter
) -> None:
    highlevel = FakeHighLevelSchemas()
    highlevel.install(hl)

    assert await crm.custom_objects_provisioned() is False
    assert highlevel.posts == []


async def test_provisioned_is_true_once_everything_exists(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    _everything_exists(hl)

    assert await crm.custom_objects_provisioned() is True
    calls = len(hl.calls)
    assert await crm.custom_objects_provisioned() is True  # from the saved ids: no request
    assert len(hl.calls) == calls


# --- failures, for every call -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One HTTP request the adapter makes; `others` answers the rest of that operation's requests."""

    name: str
    method: str
    path: str
    ok: Callable[[], httpx.Response]
    run: Callable[[HighLevelCrm], Awaitable[Any]]
    others: Callable[[respx.MockRouter], object] = lambda router: None
    provisioned: bool = False
    refs: dict[str, tuple[str, bool]] = field(default_factory=dict)
    not_found: str | None = "no longer exists in HighLevel"  # None: a 404 is not an error for this call


def _relation_ok(router: respx.MockRouter) -> None:
    router.post("/associations/relations").mock(return_value=respond("relation_created.json", 201))


def _record_created(router: respx.MockRouter) -> None:
    router.post(f"/objects/{TRAINING_KEY}/records").mock(return_value=respond("record_created.json", 201))


CALLS = [
    Call(
        "search_contacts",
        "POST",
        "/contacts/search",
        lambda: respond("contacts_search.json"),
        lambda crm: crm.search_contacts("ada"),
    ),
    Call(
        "get_contact",
        "GET",
        f"/contacts/{CONTACT_ID}",
        lambda: respond("contact.json"),
        lambda crm: crm.get_contact(CONTACT_ID),
        not_found=None,
    ),
    Call(
        "upsert_contact:lookup",
        "GET",
        "/contacts/search/duplicate",
        lambda: respond("contact_duplicate_none.json"),
        lambda crm: crm.upsert_contact(
            first_name="Rosalind", last_name="Franklin", email="rosalind@example.com"
        ),
        others=lambda r: r.post("/contacts/upsert").mock(return_value=respond("contact_upsert.json", 201)),
        not_found=None,
    ),
    Call(
        "upsert_contact:upsert",
        "POST",
        "/contacts/upsert",
        lambda: respond("contact_upsert.json", 201),
        lambda crm: crm.upsert_contact(
            first_name="Rosalind", last_name="Franklin", email="rosalind@example.com"
        ),
        others=lambda r: r.get("/contacts/search/duplicate").mock(
            return_value=respond("contact_duplicate_none.json")
        ),
    ),
    Call(
        "add_tags",
        "POST",
        f"/contacts/{CONTACT_ID}/tags",
        lambda: respond("tags_added.json", 201),
        lambda crm: crm.add_tags(CONTACT_ID, ["scorm_passed"]),
    ),
    Call(
        "remove_tags",
        "DELETE",
        f"/contacts/{CONTACT_ID}/tags",
        lambda: respond("tags_removed.json"),
        lambda crm: crm.remove_tags(CONTACT_ID, ["scorm_failed"]),
    ),
    Call(
        "add_note:read",
        "GET",
        f"/contacts/{CONTACT_ID}/notes",
        lambda: respond("notes.json"),
        lambda crm: crm.add_note(CONTACT_ID, NOTE, idempotency_key="k"),
        others=lambda r: r.post(f"/contacts/{CONTACT_ID}/notes").mock(
            return_value=respond("note_created.json", 201)
        ),
    ),
    Call(
        "add_note:create",
        "POST",
        f"/contacts/{CONTACT_ID}/notes",
        lambda: respond("note_created.json", 201),
        lambda crm: crm.add_note(CONTACT_ID, NOTE, idempotency_key="k"),
        others=lambda r: r.get(f"/contacts/{CONTACT_ID}/notes").mock(return_value=respond("notes.json")),
    ),
    Call(
        "training_record:create",
        "POST",
        f"/objects/{TRAINING_KEY}/records",
        lambda: respond("record_created.json", 201),
        lambda crm: crm.upsert_training_record(CONTACT_ID, RECORD_KEY, PROPERTIES),
        others=lambda router: (_relation_ok(router), _objects_listed(router)),
        provisioned=True,
    ),
    Call(
        "training_record:update",
        "PUT",
        f"/objects/{TRAINING_KEY}/records/{RECORD_ID}",
        lambda: respond("record_updated.json"),
        lambda crm: crm.upsert_training_record(CONTACT_ID, RECORD_KEY, PROPERTIES),
        provisioned=True,
        refs={RECORD_KEY: (RECORD_ID, True)},
        not_found=None,  # a deleted record is created again (its own test)
    ),
    Call(
        "training_record:relate",
        "POST",
        "/associations/relations",
        lambda: respond("relation_created.json", 201),
        lambda crm: crm.upsert_training_record(CONTACT_ID, RECORD_KEY, PROPERTIES),
        others=_record_created,
        provisioned=True,
    ),
    Call(
        "company_summary:create",
        "POST",
        f"/objects/{COMPANY_KEY}/records",
        lambda: respond("record_created.json", 201),
        lambda crm: crm.upsert_company_summary("Acme", SUMMARY),
        others=lambda router: _objects_listed(router),
        provisioned=True,
    ),
    Call(
        "company_summary:update",
        "PUT",
        f"/objects/{COMPANY_KEY}/records/{RECORD_ID}",
        lambda: respond("record_updated.json"),
        lambda crm: crm.upsert_company_summary("Acme", SUMMARY),
        provisioned=True,
        refs={"company:Acme": (RECORD_ID, False)},
        not_found=None,
    ),
    Call(
        "provision:list_objects",
        "GET",
        "/objects/",
        lambda: respond("objects_list.json"),
        lambda crm: crm.provision_custom_objects(),
        others=lambda router: _everything_exists(router, but="/objects/"),
        not_found="location no longer exists",
    ),
    Call(
        "provisioned:list_objects",
        "GET",
        "/objects/",
        lambda: respond("objects_list.json"),
        lambda crm: crm.custom_objects_provisioned(),
        others=lambda router: _everything_exists(router, but="/objects/"),
        not_found="location no longer exists",
    ),
    Call(
        "provision:list_associations",
        "GET",
        "/associations/",
        lambda: respond("association.json"),
        lambda crm: crm.provision_custom_objects(),
        others=lambda router: _everything_exists(router, but="/associations/"),
        not_found="location no longer exists",
    ),
]
EVERY_CALL = pytest.mark.parametrize("call", CALLS, ids=[c.name for c in CALLS])
CALLS_WHERE_404_IS_AN_ERROR = [c for c in CALLS if c.not_found]
RATE_HEADERS_429 = {
    "X-RateLimit-Remaining": "0",
    "X-RateLimit-Interval-Milliseconds": "10000",
    "X-RateLimit-Max": "100",
}


def arrange(call: Call, world: World, router: respx.MockRouter) -> respx.Route:
    if call.provisioned:
        world.store.data = copy.deepcopy(PROVISIONED)
    world.refs.refs.update(call.refs)
    call.others(router)
    return router.route(method=call.method, path=call.path)


@EVERY_CALL
async def test_a_401_refreshes_the_token_once_and_retries_with_the_new_one(
    call: Call, crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    route = arrange(call, world, hl).mock(side_effect=[respond("error_401.json", 401), call.ok()])

    await call.run(crm)

    assert world.tokens.refreshed == ["tok-1"]
    first, second = (c.request for c in route.calls)
    assert_v2_call(first, token="tok-1")
    assert_v2_call(second, token="tok-2")
    assert first.content == second.content


@EVERY_CALL
async def test_a_second_401_means_highlevel_needs_reconnecting(
    call: Call, crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    route = arrange(call, world, hl).mock(return_value=respond("error_401.json", 401))

    with pytest.raises(CrmAuthExpired, match="HighLevel needs reconnecting"):
        await call.run(crm)

    assert route.call_count == 2
    assert world.tokens.refreshed == ["tok-1"]


@EVERY_CALL
async def test_a_refresh_that_fails_means_reconnecting_without_another_request(
    call: Call, crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    world.tokens.revoked = True
    route = arrange(call, world, hl).mock(return_value=respond("error_401.json", 401))

    with pytest.raises(CrmAuthExpired):
        await call.run(crm)

    assert route.call_count == 1


@pytest.mark.parametrize(
    "call", CALLS_WHERE_404_IS_AN_ERROR, ids=[c.name for c in CALLS_WHERE_404_IS_AN_ERROR]
)
async def test_a_404_says_the_thing_no_longer_exists_in_highlevel(
    call: Call, crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    arrange(call, world, hl).mock(return_value=respond("error_404.json", 404))

    with pytest.raises(NotFound, match=call.not_found or ""):
        await call.run(crm)


@EVERY_CALL
async def test_a_422_is_rejected_with_highlevels_messages_joined(
    call: Call, crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    arrange(call, world, hl).mock(return_value=respond("error_422.json", 422))

    with pytest.raises(CrmRejected) as caught:
        await call.run(crm)

    assert caught.value.detail == "property tags should not exist; email must be an email"
    assert "HighLevel refused the request: property tags should not exist" in str(caught.value)


@EVERY_CALL
async def test_a_400_is_rejected_with_highlevels_message(
    call: Call, crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    arrange(call, world, hl).mock(return_value=respond("error_400.json", 400))

    with pytest.raises(CrmRejected, match="Bad Request"):
        await call.run(crm)


@EVERY_CALL
async def test_a_429_holds_the_location_for_the_window_then_retries(
    call: Call, crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    route = arrange(call, world, hl).mock(
        side_effect=[respond("error_429.json", 429, headers=RATE_HEADERS_429), call.ok()]
    )

    await call.run(crm)

    assert route.call_count == 2
    assert world.limiter.holds == [10.0]
    # The hold comes before the retry's turn: the retry waits it out like everybody else.
    target = next(i for i, (kind, _) in enumerate(world.limiter.events) if kind == "hold")
    assert world.limiter.events[target + 1] == ("turn", 0.0)


@EVERY_CALL
async def test_four_429s_in_a_row_are_rate_limited_after_three_retries(
    call: Call, crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    route = arrange(call, world, hl).mock(
        return_value=respond("error_429.json", 429, headers={**RATE_HEADERS_429, "Retry-After": "4"})
    )

    with pytest.raises(CrmRateLimited) as caught:
        await call.run(crm)

    assert route.call_count == 4
    assert world.limiter.holds == [4.0, 4.0, 4.0, 4.0]  # the last one too: other processes back off
    assert caught.value.retry_after == 4.0


@EVERY_CALL
@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_server_error_is_unavailable_and_retryable(
    call: Call, status: int, crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    arrange(call, world, hl).mock(
        return_value=respond("error_500.json", status, headers={"Retry-After": "30"})
    )

    with pytest.raises(CrmUnavailable, match=f"HTTP {status}") as caught:
        await call.run(crm)

    assert caught.value.retry_after == 30.0


@EVERY_CALL
@pytest.mark.parametrize(
    "error",
    [httpx.ReadTimeout("slow"), httpx.ConnectTimeout("slow"), httpx.ConnectError("refused")],
    ids=["read-timeout", "connect-timeout", "connect-error"],
)
async def test_a_timeout_or_connection_error_is_unavailable(
    call: Call, error: Exception, crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    arrange(call, world, hl).mock(side_effect=error)

    with pytest.raises(CrmUnavailable):
        await call.run(crm)


@EVERY_CALL
async def test_a_malformed_answer_is_unavailable_never_a_crash(
    call: Call, crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    arrange(call, world, hl).mock(return_value=httpx.Response(200, text="<html>upstream gateway</html>"))

    with pytest.raises(CrmUnavailable, match="HighLevel answered with an unexpected body"):
        await call.run(crm)


# Calls whose answer carries keys we need: an object without them is as unreadable as bad JSON.
# The lookup's answer is undocumented (an unknown shape falls back to the upsert); updates and relations
# are not read.
ANSWERS_NOT_READ = (
    "upsert_contact:lookup",
    "training_record:update",
    "training_record:relate",
    "company_summary:update",
)
CALLS_WITH_REQUIRED_KEYS = [c for c in CALLS if c.name not in ANSWERS_NOT_READ]


@pytest.mark.parametrize("call", CALLS_WITH_REQUIRED_KEYS, ids=[c.name for c in CALLS_WITH_REQUIRED_KEYS])
async def test_an_answer_missing_its_keys_is_unavailable_never_a_key_error(
    call: Call, crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    arrange(call, world, hl).mock(return_value=httpx.Response(200, json={"traceId": "t-1"}))

    with pytest.raises(CrmUnavailable, match="HighLevel answered with an unexpected body"):
        await call.run(crm)


@EVERY_CALL
async def test_the_limiter_gives_a_turn_before_every_request(
    call: Call, crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    arrange(call, world, hl).mock(side_effect=[respond("error_401.json", 401), call.ok()])

    await call.run(crm)

    assert world.limiter.turns == len(hl.calls)
    assert world.limiter.events[0] == ("turn", 0.0)


# --- rate limits ------------------------------------------------------------------------------------------


async def test_a_429_without_headers_waits_the_stated_rate_window_plus_jitter(
    client: httpx.AsyncClient, world: World, hl: respx.MockRouter
) -> None:
    crm = make_crm(client, world, jitter=lambda: 1.0)
    hl.post(f"/contacts/{CONTACT_ID}/tags").mock(
        side_effect=[respond("error_429.json", 429), respond("tags_added.json", 201)]
    )

    await crm.add_tags(CONTACT_ID, ["a"])

    assert world.limiter.holds == [RATE.per_seconds + 0.5]


async def test_retry_after_wins_over_the_window_header(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    hl.post(f"/contacts/{CONTACT_ID}/tags").mock(
        side_effect=[
            respond("error_429.json", 429, headers={**RATE_HEADERS_429, "Retry-After": "2"}),
            respond("tags_added.json", 201),
        ]
    )

    await crm.add_tags(CONTACT_ID, ["a"])

    assert world.limiter.holds == [2.0]


async def test_a_long_retry_after_is_not_slept_through_but_handed_back(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    route = hl.post(f"/contacts/{CONTACT_ID}/tags").mock(
        return_value=respond("error_429.json", 429, headers={"Retry-After": "3600"})
    )

    with pytest.raises(CrmRateLimited) as caught:
        await crm.add_tags(CONTACT_ID, ["a"])

    assert route.call_count == 1
    assert world.limiter.holds == [3600.0]  # every process still learns of it
    assert caught.value.retry_after == 3600.0


@pytest.mark.parametrize(
    ("remaining", "maximum", "expected"),
    [
        ("50", "100", []),
        ("10", "100", []),
        ("9", "100", [1.0]),
        ("4", "100", [2.0]),
        ("0", "100", [10.0]),
        ("3", "20", []),  # a small stated maximum lowers the threshold (a tenth of it)
        ("1", "20", [5.0]),
    ],
)
async def test_a_low_remaining_budget_spreads_the_rest_over_the_window(
    remaining: str, maximum: str, expected: list[float], crm: HighLevelCrm, world: World, hl: respx.MockRouter
) -> None:
    headers = {
        "X-RateLimit-Remaining": remaining,
        "X-RateLimit-Interval-Milliseconds": "10000",
        "X-RateLimit-Max": maximum,
    }
    hl.post(f"/contacts/{CONTACT_ID}/tags").mock(
        return_value=respond("tags_added.json", 201, headers=headers)
    )

    await crm.add_tags(CONTACT_ID, ["a"])

    assert world.limiter.holds == pytest.approx(expected)


class SimulatedBucket:
    """HighLevel's burst limit as a sliding window on a virtual clock: 429 once `limit` are in the window."""

    def __init__(self, clock: VirtualClock, *, limit: int = 100, window_s: float = 10.0) -> None:
        self.clock = clock
        self.limit = limit
        self.window_s = window_s
        self.sent: list[float] = []
        self.rejected = 0
        self.lowest_remaining = limit

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.clock.now += 0.005  # the round trip
        now = self.clock.now
        self.sent = [t for t in self.sent if t > now - self.window_s]
        headers = {
            "X-RateLimit-Interval-Milliseconds": str(int(self.window_s * 1000)),
            "X-RateLimit-Max": str(self.limit),
        }
        if len(self.sent) >= self.limit:
            self.rejected += 1
            return respond("error_429.json", 429, headers={**headers, "X-RateLimit-Remaining": "0"})
        self.sent.append(now)
        remaining = self.limit - len(self.sent)
        self.lowest_remaining = min(self.lowest_remaining, remaining)
        return respond("tags_added.json", 201, headers={**headers, "X-RateLimit-Remaining": str(remaining)})


async def test_the_headers_alone_keep_a_long_burst_off_the_limit(
    client: httpx.AsyncClient, hl: respx.MockRouter
) -> None:
    clock = VirtualClock()
    world = World(limiter=FakeLimiter(clock))  # a limiter that never makes anyone wait its turn
    crm = make_crm(client, world)
    bucket = SimulatedBucket(clock)
    hl.post(f"/contacts/{CONTACT_ID}/tags").mock(side_effect=bucket)

    for n in range(300):
        await crm.add_tags(CONTACT_ID, [f"t{n}"])

    assert bucket.rejected == 0
    assert bucket.lowest_remaining > 0
    assert len(world.limiter.holds) > 0
    assert clock.now < 60  # 300 requests at 100 per 10 s take at least 20 s; pacing costs little more


# --- logging ----------------------------------------------------------------------------------------------


async def test_refusals_log_highlevels_trace_id_and_never_a_token(
    crm: HighLevelCrm, world: World, hl: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world.tokens.current = "secret-access-token-1"
    hl.post(f"/contacts/{CONTACT_ID}/tags").mock(
        side_effect=[respond("error_401.json", 401), respond("error_422.json", 422)]
    )

    with pytest.raises(CrmRejected) as caught:
        await crm.add_tags(CONTACT_ID, ["a"])

    assert "4f1e2d3c-0000-4000-8000-000000000422" in caplog.text
    for secret in ("secret-access-token-1", world.tokens.current):
        assert secret not in caplog.text
        assert secret not in str(caught.value)
    assert re.search(r"HTTP 401", caplog.text)
