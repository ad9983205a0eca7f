from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T15:25:06:000000"
VERSION = "1.38.0"
DESCRIPTION = "One company training summary per company name in a workspace"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="scormhub", description=DESCRIPTION)

    async def create_index() -> None:
        # A raw step runs before the table steps of its own migration, so it lives in one of its own.
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS company_summary_key ON company_summary (workspace_id, company_key)"
        )

    manager.add_raw(create_index)
    return manager
