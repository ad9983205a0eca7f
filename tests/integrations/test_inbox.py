"""The webhook inbox's group commit on real PostgreSQL: postbacks arriving together share INSERTs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from scormhub.integrations import inbox
from scormhub.integrations.db.database import engine
from scormhub.integrations.db.tables import InboxRow


@pytest.fixture
async def pool(db: str) -> AsyncIterator[None]:
    await engine().start_connection_pool(min_size=1, max_size=4)
    yield
    await engine().close_connection_pool()


INBOX = inbox.PostbackInbox()


async def store(workspace_id: uuid.UUID, n: int, *, source: str = "scorm_cloud") -> None:
    await INBOX.store(
        workspace_id=workspace_id,
        source=source,
        content_type="application/json",
        body=f'{{"id": "reg-{n}"}}',
        received_at=datetime.now(UTC),
    )


async def test_postbacks_arriving_together_are_each_stored_once_before_their_requests_return(
    pool: None,
) -> None:
    workspace_id = uuid.uuid4()

    await asyncio.gather(*(store(workspace_id, n) for n in range(60)))

    rows = await InboxRow.select(InboxRow.id, InboxRow.body).where(InboxRow.workspace_id == workspace_id)
    assert len({row["id"] for row in rows}) == 60
    assert sorted(row["body"] for row in rows) == sorted(f'{{"id": "reg-{n}"}}' for n in range(60))


async def test_a_row_postgresql_refuses_fails_only_its_own_request(pool: None) -> None:
    workspace_id = uuid.uuid4()

    results = await asyncio.gather(
        *(store(workspace_id, n, source="x" * 31 if n == 7 else "scorm_cloud") for n in range(20)),
        return_exceptions=True,
    )

    refused = [n for n, result in enumerate(results) if isinstance(result, BaseException)]
    assert refused == [7]
    assert isinstance(results[7], asyncpg.PostgresError)  # source is varchar(30)
    assert await InboxRow.count().where(InboxRow.workspace_id == workspace_id) == 19


async def test_without_a_connection_pool_a_postback_is_still_stored(db: str) -> None:
    workspace_id = uuid.uuid4()

    await store(workspace_id, 1)

    assert await InboxRow.count().where(InboxRow.workspace_id == workspace_id) == 1


async def test_a_burst_shares_insert_statements_with_at_most_two_in_flight(
    pool: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace_id = uuid.uuid4()
    real_insert = inbox._insert
    calls: list[int] = []
    in_flight = peak = 0

    async def counting_insert(connection: object, rows: list[inbox.Row]) -> None:
        nonlocal in_flight, peak
        calls.append(len(rows))
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.005)  # a slow commit, so the next waves arrive while it is in flight
            await real_insert(connection, rows)
        finally:
            in_flight -= 1

    monkeypatch.setattr(inbox, "_insert", counting_insert)

    async def wave(first: int) -> None:
        await asyncio.gather(*(store(workspace_id, n) for n in range(first, first + 20)))

    waves = []
    for first in range(0, 200, 20):  # ten waves, each arriving while earlier INSERTs are in flight
        waves.append(asyncio.create_task(wave(first)))
        await asyncio.sleep(0.001)
    await asyncio.gather(*waves)

    assert sum(calls) == 200
    assert len(calls) < 20, f"{len(calls)} INSERTs for 200 postbacks arriving together"
    assert peak == inbox.IN_FLIGHT == 2
    assert await InboxRow.count().where(InboxRow.workspace_id == workspace_id) == 200
