from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-23T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "SCORM Cloud account: when its test postback last arrived"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="scormhub", description=DESCRIPTION)

    manager.add_column(
        table_class_name="EngineAccountRow",
        tablename="engine_account",
        column_name="postback_checked_at",
        db_column_name="postback_checked_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
