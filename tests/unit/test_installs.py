"""CRM installs on in-memory fakes: a location's grant connects it, an agency's fans out per location,
and stored INSTALL / UNINSTALL webhooks act once. tests/http/test_highlevel_install.py runs them over
HTTP on PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from fakes.crm import FakeAgencyAuth, FakeCrmWriter, FakeInstallations, grant
from fakes.system import FakeClock, FakeJobs
from fakes.uow import FakeStore, FakeUnitOfWork

from scormhub.domain.errors import CrmRejected, CrmUnavailable, DomainError
from scormhub.domain.installs import (
    install_agency_location,
    install_from_grant,
    process_crm_webhook,
    provision_crm,
)
from scormhub.domain.model import ConnectionStatus, InboxItem


class World:
    def __init__(self, *, installed: tuple[str, ...] = ()) -> None:
        self.store = FakeStore()
        self.jobs = FakeJobs()
        self.clock = FakeClock()
        self.installations = FakeInstallations()
        self.agency = FakeAgencyAuth(installed)

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    def jobs_named(self, name: str) -> list[dict[str, object]]:
        return [kwargs for job, _, kwargs in self.jobs.enqueued if job == name]

    async def install(self, token_grant: object, *, app_id: str | None = "app-1") -> object:
        return await install_from_grant(
            token_grant,  # type: ignore[arg-type]
            installations=self.installations,
            agency=self.agency,
            app_id=app_id,
            uow=self.uow(),
            jobs=self.jobs,
            clock=self.clock,
        )

    async def webhook(self, event: dict[str, object]) -> str:
        item = InboxItem(
            id=uuid.uuid4(),
            workspace_id=None,
            source="highlevel",
            content_type="application/json",
            body=json.dumps(event),
            received_at=datetime(2026, 11, 22, tzinfo=UTC),
        )
        self.store.inbox[item.id] = item
        return await process_crm_webhook(
            item.id, uow=self.uow, installations=self.installations, jobs=self.jobs, clock=self.clock
        )


async def test_a_location_grant_connects_its_workspace_and_queues_the_custom_objects() -> None:
    world = World()

    outcome = await world.install(grant(location_id="loc-1", company_id="co-1"))

    workspace = getattr(outcome, "workspace", None)
    assert workspace is not None
    assert workspace.crm_location_id == "loc-1"
    assert world.jobs_named("provision_crm") == [{"workspace_id": str(workspace.id)}]


async def test_an_agency_grant_queues_one_install_per_approved_location() -> None:
    world = World(installed=("loc-9",))

    outcome = await world.install(grant(company_id="co-1", approved_locations=("loc-1", "loc-2")))

    assert getattr(outcome, "locations", None) == 2
    assert getattr(outcome, "workspace", "") is None
    assert [job["location_id"] for job in world.jobs_named("install_agency_location")] == ["loc-1", "loc-2"]
    assert await world.installations.has_agency("co-1")


async def test_an_agency_grant_naming_no_locations_asks_the_marketplace_which_have_the_app() -> None:
    world = World(installed=("loc-9",))

    await world.install(grant(company_id="co-1"))

    assert [job["location_id"] for job in world.jobs_named("install_agency_location")] == ["loc-9"]


async def test_a_grant_naming_neither_a_location_nor_an_agency_is_refused() -> None:
    world = World()

    with pytest.raises(DomainError):
        await world.install(grant())

    assert world.jobs.enqueued == []


async def test_an_agency_location_is_connected_with_a_token_minted_from_the_agencys() -> None:
    world = World()

    workspace = await install_agency_location(
        "co-1",
        "loc-1",
        installations=world.installations,
        agency=world.agency,
        uow=world.uow(),
        jobs=world.jobs,
        clock=world.clock,
    )

    connection = await world.installations.by_location("loc-1")
    assert connection is not None
    assert connection.workspace_id == workspace.id
    assert world.jobs_named("provision_crm") == [{"workspace_id": str(workspace.id)}]


async def test_an_uninstall_webhook_disconnects_the_location_once() -> None:
    world = World()
    await world.install(grant(location_id="loc-1", company_id="co-1"))

    outcome = await world.webhook({"type": "UNINSTALL", "locationId": "loc-1"})

    connection = await world.installations.by_location("loc-1")
    assert outcome == "uninstalled location loc-1"
    assert connection is not None
    assert connection.status is ConnectionStatus.UNINSTALLED
    processed = [item for item in world.store.inbox.values() if item.processed_at is not None]
    assert [item.outcome for item in processed] == [outcome]


async def test_an_install_webhook_for_a_location_of_a_connected_agency_mints_its_token() -> None:
    world = World()
    await world.install(grant(company_id="co-1", approved_locations=()), app_id=None)

    outcome = await world.webhook({"type": "INSTALL", "locationId": "loc-7", "companyId": "co-1"})

    assert outcome == "installing location loc-7 from agency co-1"
    assert [job["location_id"] for job in world.jobs_named("install_agency_location")] == ["loc-7"]


async def test_an_install_webhook_alone_does_not_connect_an_unknown_location() -> None:
    world = World()

    outcome = await world.webhook({"type": "INSTALL", "locationId": "loc-3"})

    assert outcome == "location loc-3 waits for its OAuth callback"
    assert await world.installations.by_location("loc-3") is None


class RefusingCrm(FakeCrmWriter):
    async def provision_custom_objects(self) -> None:
        raise CrmRejected("Custom objects need the Pro plan.")


async def test_provisioning_creates_the_custom_objects() -> None:
    crm = FakeCrmWriter()

    assert await provision_crm(crm) is None
    assert crm.provisioned


async def test_a_crm_that_refuses_the_custom_objects_says_why_without_raising() -> None:
    assert await provision_crm(RefusingCrm()) == "Custom objects need the Pro plan."


async def test_a_crm_that_is_not_answering_raises_for_the_queue_to_retry() -> None:
    class DownCrm(FakeCrmWriter):
        async def provision_custom_objects(self) -> None:
            raise CrmUnavailable("HighLevel is not answering.")

    with pytest.raises(CrmUnavailable):
        await provision_crm(DownCrm())
