from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T23:00:10:000000"
VERSION = "1.38.0"
DESCRIPTION = "Result overrides on enrollments, and their audit log"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="scormhub", description=DESCRIPTION)

    async def create() -> None:
        await engine_finder().run_ddl("ALTER TABLE enrollment ADD COLUMN IF NOT EXISTS result_override JSONB NULL")
        await engine_finder().run_ddl(
            "CREATE TABLE IF NOT EXISTS result_override_audit ("
            " id UUID PRIMARY KEY,"
            " workspace_id UUID NOT NULL REFERENCES workspace (id) ON DELETE CASCADE,"
            " enrollment_id UUID NOT NULL,"
            " action VARCHAR(20) NOT NULL,"
            " actor VARCHAR(200) NOT NULL,"
            " reason TEXT NOT NULL,"
            " before JSONB NOT NULL,"
            " after JSONB NOT NULL,"
            " at TIMESTAMPTZ NOT NULL)"
        )
        # The override page reads one enrollment's entries, newest first.
        await engine_finder().run_ddl(
            "CREATE INDEX IF NOT EXISTS result_override_audit_enrollment "
            "ON result_override_audit (workspace_id, enrollment_id, at DESC)"
        )

    manager.add_raw(create)
    return manager
