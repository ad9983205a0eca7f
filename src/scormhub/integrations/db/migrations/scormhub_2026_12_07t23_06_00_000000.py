from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T23:06:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Certificates: a per-course rule (completed or passed) and the logos certificates were issued with"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="scormhub", description=DESCRIPTION)

    async def certificates_as_issued() -> None:
        # Existing courses keep today's behaviour: everyone who completes gets a certificate.
        await engine_finder().run_ddl(
            "ALTER TABLE course ADD COLUMN IF NOT EXISTS certificate_rule VARCHAR(20) NOT NULL DEFAULT 'completed'"
        )
        # A certificate shows the logo it was issued with, not today's: logos are kept by the hash of
        # their bytes (a snapshot names it), once however many certificates share one.
        await engine_finder().run_ddl(
            "CREATE TABLE IF NOT EXISTS certificate_logo ("
            "sha256 VARCHAR(64) PRIMARY KEY, content BYTEA NOT NULL, content_type VARCHAR(50) NOT NULL)"
        )

    manager.add_raw(certificates_as_issued)
    return manager
