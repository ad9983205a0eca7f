from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T15:07:22:608601"
VERSION = "1.38.0"
DESCRIPTION = "Unique indexes that carry invariants"

# Piccolo's auto-migrations can't express composite unique indexes; these carry invariants:
# one enrollment per course and contact, one contact per email in a workspace, one state per SCO.
STATEMENTS = (
    "CREATE UNIQUE INDEX IF NOT EXISTS enrollment_course_contact ON enrollment (course_id, contact_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS contact_workspace_email ON contact (workspace_id, email)",
    "CREATE UNIQUE INDEX IF NOT EXISTS sco_state_enrollment_sco ON sco_state (enrollment_id, sco_id)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="scormhub", description=DESCRIPTION)

    async def create_indexes() -> None:
        db = engine_finder()
        for statement in STATEMENTS:
            await db.run_ddl(statement)

    manager.add_raw(create_indexes)
    return manager
