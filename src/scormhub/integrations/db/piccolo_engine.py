"""The one Piccolo engine; its DSN is set by `scormhub.integrations.db.database.configure()`.

Apart from piccolo_conf so that the web process need not import `piccolo.conf.apps`: that module (Piccolo's
app registry, needed only by migrations) imports the black formatter, ~7 MB resident for nothing.
"""

import os

from piccolo.engine.postgres import PostgresEngine

DB = PostgresEngine(
    config={"dsn": os.environ.get("DATABASE_URL", "postgresql://localhost/scormhub")},
    # gen_random_uuid() is built in since PostgreSQL 13; we need no extension.
    extensions=(),
    log_queries=False,
)
