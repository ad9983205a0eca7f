"""Piccolo's configuration module (PICCOLO_CONF points here); the URL comes from DATABASE_URL.

`scormhub.integrations.db.database.configure()` sets DATABASE_URL (embedded or given) before anything
imports this, so the CLI, the app and `piccolo migrations ...` all reach the same database. The app itself
binds its tables to the engine and does not import this module (see piccolo_engine).
"""

from piccolo.conf.apps import AppRegistry

from scormhub.integrations.db.piccolo_engine import DB

__all__ = ["APP_REGISTRY", "DB"]

APP_REGISTRY = AppRegistry(apps=["scormhub.integrations.db.piccolo_app"])
