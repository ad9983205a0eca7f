from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T23:20:10:000000"
VERSION = "1.38.0"
DESCRIPTION = "Course versions: every existing course becomes version 1, its learners on it"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="scormhub", description=DESCRIPTION)

    async def create() -> None:
        run = engine_finder().run_ddl
        await run("ALTER TABLE course ADD COLUMN IF NOT EXISTS version INTEGER NOT NULL DEFAULT 1")
        await run("ALTER TABLE enrollment ADD COLUMN IF NOT EXISTS course_version INTEGER NOT NULL DEFAULT 1")
        await run(
            "CREATE TABLE IF NOT EXISTS course_version ("
            " id UUID PRIMARY KEY,"
            " workspace_id UUID NOT NULL REFERENCES workspace (id) ON DELETE CASCADE,"
            " course_id UUID NOT NULL REFERENCES course (id) ON DELETE CASCADE,"
            " number INTEGER NOT NULL,"
            " package_key VARCHAR(100) NOT NULL,"
            " package_bytes BIGINT NOT NULL,"
            " file_name VARCHAR(255) NOT NULL,"
            " sha256 VARCHAR(64) NULL,"
            " standard VARCHAR(20) NOT NULL,"
            " edition VARCHAR(10) NULL,"
            " scos JSONB NOT NULL DEFAULT '[]',"
            " mastery_score DOUBLE PRECISION NULL,"
            " warnings JSONB NOT NULL DEFAULT '[]',"
            " status VARCHAR(20) NOT NULL,"
            " status_message TEXT NULL,"
            " policy VARCHAR(30) NOT NULL DEFAULT 'never',"
            " import_handle VARCHAR(200) NULL,"
            " import_attempts INTEGER NOT NULL DEFAULT 0,"
            " created_at TIMESTAMPTZ NOT NULL,"
            " activated_at TIMESTAMPTZ NULL,"
            " UNIQUE (course_id, number))"
        )
        # Every course so far is its own version 1. Its zip's hash is unknown (it was not kept), so the
        # first re-upload of an old course's zip is taken as a new version rather than recognised.
        await run(
            "INSERT INTO course_version (id, workspace_id, course_id, number, package_key, package_bytes, "
            "file_name, standard, edition, scos, mastery_score, warnings, status, status_message, "
            "import_handle, import_attempts, created_at, activated_at) "
            "SELECT gen_random_uuid(), workspace_id, id, 1, package_key, package_bytes, file_name, standard, "
            "edition, scos, mastery_score, warnings, status, status_message, import_handle, import_attempts, "
            "created_at, CASE WHEN status = 'ready' THEN updated_at END FROM course "
            "ON CONFLICT (course_id, number) DO NOTHING"
        )

    manager.add_raw(create)
    return manager
