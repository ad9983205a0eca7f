from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T23:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Bulk enrollment: runs and their rows"

STATEMENTS = (
    """
    CREATE TABLE IF NOT EXISTS bulk_run (
        id uuid PRIMARY KEY,
        workspace_id uuid NOT NULL REFERENCES workspace (id) ON DELETE CASCADE,
        course_id uuid NOT NULL REFERENCES course (id) ON DELETE CASCADE,
        source varchar(10) NOT NULL,
        label varchar(200) NOT NULL,
        status varchar(10) NOT NULL,
        created_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz
    )
    """,
    "CREATE INDEX IF NOT EXISTS bulk_run_workspace ON bulk_run (workspace_id, created_at DESC)",
    # No surrogate key: (run, line) names a row, and the job walks a run's pending rows in line order.
    """
    CREATE TABLE IF NOT EXISTS bulk_row (
        run_id uuid NOT NULL REFERENCES bulk_run (id) ON DELETE CASCADE,
        row_no integer NOT NULL,
        first_name text NOT NULL,
        last_name text NOT NULL,
        email text NOT NULL,
        status varchar(10) NOT NULL,
        reason text,
        contact_id varchar(100),
        PRIMARY KEY (run_id, row_no)
    )
    """,
    "CREATE INDEX IF NOT EXISTS bulk_row_pending ON bulk_row (run_id, row_no) WHERE status = 'pending'",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="scormhub", description=DESCRIPTION)

    async def create_tables() -> None:
        for statement in STATEMENTS:
            await engine_finder().run_ddl(statement)

    manager.add_raw(create_tables)
    return manager
