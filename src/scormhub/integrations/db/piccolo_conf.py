"""Piccolo's configuration module (PICCOLO_CONF points here); the URL comes from DATABASE_URL.

`scormhub.integrations.db.database.configure()` sets DATABASE_URL (embedded or given) before anything
imports this, so the CLI, the app and `piccolo migrations ...` all reach the same database.
"""

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

DB = PostgresEngine(
    config={"dsn": os.environ.get("DATABASE_URL", "postgresql://localhost/scormhub")},
    # gen_random_uuid() is built in since PostgreSQL 13; we need no extension.
    extensions=(),
    log_queries=False,
)

APP_REGISTRY = AppRegistry(apps=["scormhub.integrations.db.piccolo_app"])
