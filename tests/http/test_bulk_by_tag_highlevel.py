"""Bulk enrollment by HighLevel tag: the contact search with the tag filter, paged with searchAfter, within
the location's rate limit (HighLevel is the stateful fake, which answers 429 past 100 requests / 10 s)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import respx
from fake_highlevel import FakeHighLevel
from litestar import Litestar
from workflow_world import API, add_course, install, workflow_settings, workspace_of

from appserver import serving
from scormhub.app import create_app
from scormhub.bootstrap import Deps
from scormhub.domain import bulk_enrollment
from scormhub.domain.billing.plans import set_operator_plan
from scormhub.domain.model import PlanMode
from scormhub.settings import Settings


@pytest.fixture
def app(db: str, settings: Settings) -> Litestar:
    return create_app(workflow_settings(settings))


@pytest.fixture
def fake(respx_mock: respx.MockRouter) -> FakeHighLevel:
    fake = FakeHighLevel(API)
    fake.mount(respx_mock)
    return fake


@pytest.fixture
async def client(app: Litestar, fake: FakeHighLevel) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app) as test_client:
        await install(test_client)
        yield test_client


@respx.mock(assert_all_called=False)
async def test_every_contact_with_the_tag_is_found_page_by_page_and_enrolled_once(
    client: httpx.AsyncClient, app: Litestar, fake: FakeHighLevel, db: str
) -> None:
    deps: Deps = app.state.deps
    workspace = await workspace_of(deps)
    # 250 learners: past the trial's 10, so the workspace is on a live plan without a limit.
    await set_operator_plan(workspace, PlanMode.LIVE, None, uow=deps.uow(), clock=deps.clock)
    course = await add_course(deps, workspace, "Excel 101")
    for n in range(250):
        contact = fake.add_contact(f"C{n}", "Tagged", f"c{n}@example.com")
        contact["tags"] = ["customer"] if n % 5 else ["customer", "vip"]
    fake.add_contact("Not", "Tagged", "not@example.com")

    preview = await bulk_enrollment.preview_tag(
        workspace,
        course.id,
        "customer",
        tagged=await deps.crm.tagged_contacts(workspace),
        uow=deps.uow(),
        clock=deps.clock,
    )
    await bulk_enrollment.start(workspace, preview.run.id, uow=deps.uow(), jobs=deps.jobs, clock=deps.clock)
    done = await bulk_enrollment.run(
        workspace,
        preview.run.id,
        uow_factory=deps.uow,
        contacts=await deps.crm.contact_book(workspace),
        clock=deps.clock,
    )

    assert preview.to_enroll == 250
    assert done.counts == {"enrolled": 250}
    conn = await asyncpg.connect(db)
    try:
        enrolled = await conn.fetchval("SELECT count(DISTINCT contact_id) FROM enrollment")
    finally:
        await conn.close()
    assert enrolled == 250
    assert fake.refused == 0
    assert fake.busiest_window() <= 100
