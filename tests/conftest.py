"""Shared fixtures: a fresh PostgreSQL database for the run (embedded by default, or TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from s3server import s3_server  # noqa: F401 - the session fixture for tests against real S3
from scormhub.integrations.db import database
from scormhub.settings import Settings

REPO = Path(__file__).resolve().parents[1]
TEST_SECRET = "test-secret-key-that-is-long-enough-for-hkdf-0123456789"
# Kept across tests: what records the schema itself (Piccolo's and SAQ's migration state).
KEEP_TABLES = ("migration", "saq_versions")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database for the whole run, migrated once; tests clean what they use through `db`."""
    name = f"scormhub_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    given = os.environ.get("TEST_DATABASE_URL")
    embedded = None
    if given:
        server_url = given
    else:
        embedded = database.EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
        server_url = embedded.start()
    url = database.ensure_database(server_url, name)
    database.configure(url)
    asyncio.run(database.migrate())
    try:
        yield url
    finally:
        if embedded is not None:
            embedded.stop()
        else:
            asyncio.run(_drop_database(server_url, name))


async def _drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """The run's database, emptied before the test so each test starts from nothing."""
    conn = await asyncpg.connect(database_url)
    try:
        # Every table but the migration records: a new table can never leak rows between tests.
        tables = await conn.fetchval(
            "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables "
            "WHERE schemaname = 'public' AND NOT (tablename = ANY($1::text[]))",
            list(KEEP_TABLES),
        )
        if tables:
            await conn.execute(f"TRUNCATE {tables} CASCADE")
    finally:
        await conn.close()
    return database_url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key=TEST_SECRET,
        public_url="http://testserver.local",
        content_url="http://content.test",  # appserver.CONTENT
        in_process_worker=False,
        db_pool_size=4,
    )
