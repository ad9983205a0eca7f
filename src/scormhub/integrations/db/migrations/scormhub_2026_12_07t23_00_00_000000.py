from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T23:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "SCORM 2004 sequencing: one activity tree state per enrollment"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="scormhub", description=DESCRIPTION)

    async def create_table() -> None:
        # One row per enrollment (unique), removed with it. `version` lets a writer detect that another
        # tab saved in between, so the server keeps the last valid state instead of a mix of two.
        await engine_finder().run_ddl(
            "CREATE TABLE IF NOT EXISTS sequencing_state ("
            " id UUID PRIMARY KEY,"
            " enrollment_id UUID NOT NULL UNIQUE REFERENCES enrollment (id) ON DELETE CASCADE ON UPDATE CASCADE,"
            " state JSONB NOT NULL,"
            " version INTEGER NOT NULL DEFAULT 0,"
            " updated_at TIMESTAMPTZ NOT NULL)"
        )

    manager.add_raw(create_table)
    return manager
