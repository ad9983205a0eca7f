from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T20:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Contacts list: newest first from an index"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="scormhub", description=DESCRIPTION)

    async def create_index() -> None:
        # The Contacts page lists a workspace's contacts newest first, 50 at a time: with this index
        # PostgreSQL reads the page's rows instead of sorting every contact of the workspace.
        await engine_finder().run_ddl(
            "CREATE INDEX IF NOT EXISTS contact_recent ON contact (workspace_id, created_at DESC)"
        )

    manager.add_raw(create_index)
    return manager
