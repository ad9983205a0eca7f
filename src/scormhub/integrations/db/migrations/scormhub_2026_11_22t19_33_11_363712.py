from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import UUID
from piccolo.columns.column_types import Varchar

ID = "2026-11-22T19:33:11:363712"
VERSION = "1.38.0"
DESCRIPTION = "Inbox: drop the full indexes that partial ones replace"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="scormhub", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="InboxRow",
        tablename="inbox",
        column_name="workspace_id",
        db_column_name="workspace_id",
        params={"index": False},
        old_params={"index": True},
        column_class=UUID,
        old_column_class=UUID,
        schema=None,
    )

    manager.alter_column(
        table_class_name="InboxRow",
        tablename="inbox",
        column_name="processed_at",
        db_column_name="processed_at",
        params={"index": False},
        old_params={"index": True},
        column_class=Timestamptz,
        old_column_class=Timestamptz,
        schema=None,
    )

    manager.alter_column(
        table_class_name="InboxRow",
        tablename="inbox",
        column_name="external_id",
        db_column_name="external_id",
        params={"unique": False},
        old_params={"unique": True},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
