"""start_export and build_export on fakes: what the progress page reads at each step, and what is written."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from fakes.branding import FakeBrandingStore
from fakes.reports import FakeReportExports
from fakes.system import FakeClock, FakeJobs
from fakes.uow import FakeStore, FakeUnitOfWork

from scormhub.domain.exports import build_export, export_file_name, start_export
from scormhub.domain.model import Branding, CrmKind, EngineKind, PlanMode, Workspace, WorkspaceKind
from scormhub.domain.reports import parse_filter

TODAY = date(2026, 11, 22)


class World:
    def __init__(self, rows: int = 5) -> None:
        self.clock = FakeClock()
        self.store = FakeStore()
        self.jobs = FakeJobs()
        self.brandings = FakeBrandingStore()
        self.workspace = Workspace(
            id=uuid.uuid4(),
            name="Agency",
            kind=WorkspaceKind.STANDALONE,
            plan=PlanMode.LIVE,
            engine=EngineKind.BUILTIN,
            crm=CrmKind.LOCAL,
            created_at=self.clock.now(),
        )
        self.store.workspaces[self.workspace.id] = self.workspace
        self.exports = FakeReportExports({self.workspace.id: rows})
        self.flt, _ = parse_filter({"q": "golf", "range": "7d"}, today=TODAY)

    async def build(self, export_id: uuid.UUID, kind: str) -> dict[str, object]:
        return await build_export(
            self.workspace.id,
            export_id,
            kind,
            self.flt,
            exports=self.exports,
            brandings=self.brandings,
            uow=FakeUnitOfWork(self.store),
            clock=self.clock,
        )


async def test_starting_an_export_sweeps_old_ones_records_it_queued_and_queues_one_job() -> None:
    world = World()

    export_id = await start_export(
        world.workspace.id, world.flt, "xlsx", exports=world.exports, jobs=world.jobs
    )

    assert world.exports.swept == [world.workspace.id]
    assert world.exports.status(world.workspace.id, export_id) == {
        "state": "queued",
        "done": 0,
        "total": 0,
        "kind": "xlsx",
        "file_name": export_file_name(world.flt, "xlsx"),
        "filter": world.flt.describe(),
    }
    [(job, key, kwargs)] = world.jobs.enqueued
    assert (job, key) == ("export_report", f"export:{export_id}")
    assert kwargs["params"] == world.flt.params(page=1)
    assert kwargs["kind"] == "xlsx"


async def test_an_export_reports_progress_per_batch_and_ends_ready_with_the_rows_written() -> None:
    world = World(rows=5)
    export_id = uuid.uuid4()

    result = await world.build(export_id, "csv")

    assert result == {"rows": 5, "kind": "csv"}
    history = world.exports.statuses[(world.workspace.id, export_id)]
    assert [(s["state"], s["done"]) for s in history] == [
        ("running", 0),
        ("running", 2),
        ("running", 4),
        ("running", 5),
        ("ready", 5),
    ]
    assert {s["total"] for s in history} == {5}
    assert world.exports.files[(world.workspace.id, export_id)] == ("csv", None)


async def test_a_pdf_export_is_titled_and_branded_for_its_workspace() -> None:
    world = World()
    await world.brandings.save(world.workspace.id, Branding(organization_name="Acme"), world.clock.now())
    export_id = uuid.uuid4()

    await world.build(export_id, "pdf")

    kind, options = world.exports.files[(world.workspace.id, export_id)]
    assert kind == "pdf"
    assert options is not None
    assert options["branding"] == Branding(organization_name="Acme")
    assert options["title"] == "Learner report"
    assert options["filter_text"] == world.flt.describe()
    assert options["generated_at"] == world.clock.now()


async def test_a_failed_export_is_recorded_failed_with_how_far_it_got_and_the_job_sees_the_error() -> None:
    world = World(rows=3)
    world.exports.fail_with = OSError("disk full")
    export_id = uuid.uuid4()

    with pytest.raises(OSError, match="disk full"):
        await world.build(export_id, "csv")

    final = world.exports.status(world.workspace.id, export_id)
    assert final is not None
    assert (final["state"], final["done"]) == ("failed", 3)
