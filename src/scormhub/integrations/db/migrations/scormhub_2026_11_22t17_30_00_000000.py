from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T17:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Contact type-ahead (pg_trgm) and the course page's enrolled table: indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="scormhub", description=DESCRIPTION)

    async def create_indexes() -> None:
        # Its own migration: a raw step runs before the table steps of the migration it is in.
        run_ddl = engine_finder().run_ddl
        # pg_trgm ships with PostgreSQL (contrib) and is a trusted extension: the database owner may
        # create it without superuser rights (PostgreSQL 13+).
        await run_ddl("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        # What the type-ahead matches each word against, lower-cased once when the row is written: a
        # case-insensitive match per row (ILIKE, or lower() at query time) costs three times a LIKE on
        # this. Not a column of ContactRow: PostgreSQL keeps it, only LocalContactBook.search_contacts
        # reads it.
        await run_ddl(
            "ALTER TABLE contact ADD COLUMN IF NOT EXISTS search_text text GENERATED ALWAYS AS "
            "(lower(first_name || ' ' || last_name || ' ' || email)) STORED"
        )
        # Each word anywhere in it (LIKE '%word%'): a trigram index finds the rows without reading every
        # contact of the workspace.
        await run_ddl(
            "CREATE INDEX IF NOT EXISTS contact_search ON contact USING gin (search_text gin_trgm_ops)"
        )
        # Short or very common words match too many rows for the trigram index to pay: the search first
        # walks contacts in the result's order (first, last name), reading this index alone.
        await run_ddl(
            "CREATE INDEX IF NOT EXISTS contact_by_name ON contact (workspace_id, first_name, last_name) "
            "INCLUDE (id, search_text)"
        )
        # The enrolled table on a course page: its count reads this index alone, its newest-first page
        # stops after the page instead of sorting the course's enrollments.
        await run_ddl(
            "CREATE INDEX IF NOT EXISTS enrollment_course_recent "
            "ON enrollment (workspace_id, course_id, created_at DESC)"
        )

    manager.add_raw(create_indexes)
    return manager
