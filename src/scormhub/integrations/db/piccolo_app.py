"""The Piccolo app that owns SCORM Hub's tables and migrations."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from scormhub.integrations.db.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="scormhub",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=list(TABLES),
    migration_dependencies=[],
    commands=[],
)
