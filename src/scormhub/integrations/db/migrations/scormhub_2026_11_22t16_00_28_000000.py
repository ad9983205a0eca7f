from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T16:00:28:000000"
VERSION = "1.38.0"
DESCRIPTION = "Reports: enrollments by workspace and enrollment date, covering the dashboard's aggregates"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="scormhub", description=DESCRIPTION)

    async def create_index() -> None:
        # Its own migration: a raw step runs before the table steps of the migration it is in.
        # INCLUDE lets the dashboard's GROUP BY and the export cursor read the index alone.
        await engine_finder().run_ddl(
            "CREATE INDEX IF NOT EXISTS enrollment_report ON enrollment (workspace_id, created_at) "
            "INCLUDE (course_id, completion, score_percent, completed_at)"
        )

    manager.add_raw(create_index)
    return manager
