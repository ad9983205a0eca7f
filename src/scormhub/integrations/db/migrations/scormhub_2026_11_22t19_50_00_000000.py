from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T19:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Inbox: partial indexes (unprocessed rows; external ids where there are some)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="scormhub", description=DESCRIPTION)

    async def create_indexes() -> None:
        # Its own migration: a raw step runs before the table steps of the migration it is in, and the
        # previous one drops the full indexes these replace.
        run_ddl = engine_finder().run_ddl
        # What the drain (one workspace, oldest first) and the sweeper (every workspace, older than a
        # while) read. Processed rows, nearly all of them, are not in it: a postback is written into this
        # index once and leaves it when processed, where the full indexes on workspace_id and
        # processed_at took an entry per row version (the write and the processing each) and grew forever.
        await run_ddl(
            "CREATE INDEX IF NOT EXISTS inbox_unprocessed ON inbox (workspace_id, received_at) "
            "WHERE processed_at IS NULL"
        )
        # HighLevel's webhook ids, to ignore a replay (INSERT ... ON CONFLICT). Postbacks have none and
        # no longer put a NULL entry into it.
        await run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS inbox_external_id ON inbox (external_id) "
            "WHERE external_id IS NOT NULL"
        )

    manager.add_raw(create_indexes)
    return manager
