from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T16:40:25:000000"
VERSION = "1.38.0"
DESCRIPTION = "CRM record references: one per (workspace, key)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="scormhub", description=DESCRIPTION)

    async def create_index() -> None:
        # Its own migration: a raw step runs before the table steps of the migration it is in.
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS crm_record_key ON crm_record (workspace_id, record_key)"
        )

    manager.add_raw(create_index)
    return manager
