"""The log handler batches INFO lines (one write per interval, not per request) and never sits on a
warning; the formatter keeps logging's usual line format."""

from __future__ import annotations

import io
import logging
import re
import time

from scormhub.logs import BatchingStreamHandler, LineFormatter
from waits import wait_until


def logger_writing_to(stream: io.StringIO, interval_s: float) -> tuple[logging.Logger, BatchingStreamHandler]:
    handler = BatchingStreamHandler(stream, interval_s=interval_s)  # type: ignore[arg-type]
    handler.setFormatter(LineFormatter())
    log = logging.getLogger(f"test-logs-{id(stream)}")
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    return log, handler


def test_info_lines_are_written_together_within_the_interval() -> None:
    stream = io.StringIO()
    log, _ = logger_writing_to(stream, interval_s=0.2)

    for n in range(3):
        log.info("POST /hooks/scorm-cloud/x 200 %.1fms", n)
    written_at_once = stream.getvalue()
    wait_until(lambda: len(stream.getvalue().splitlines()) >= 3, "the batch to be written")

    assert written_at_once == ""
    lines = stream.getvalue().splitlines()
    assert [line.split(" INFO ")[1] for line in lines] == [
        f"test-logs-{id(stream)} POST /hooks/scorm-cloud/x 200 {n:.1f}ms" for n in range(3)
    ]


def test_a_warning_is_written_at_once_with_the_lines_before_it() -> None:
    stream = io.StringIO()
    log, _ = logger_writing_to(stream, interval_s=60)

    log.info("before")
    log.warning("database unavailable")

    assert [line.split(" ", 2)[2] for line in stream.getvalue().splitlines()] == [
        f"INFO test-logs-{id(stream)} before",
        f"WARNING test-logs-{id(stream)} database unavailable",
    ]


def test_flushing_writes_what_waits_as_logging_does_at_exit() -> None:
    stream = io.StringIO()
    log, handler = logger_writing_to(stream, interval_s=60)
    log.info("last words")

    handler.flush()  # logging.shutdown(), registered with atexit, flushes every handler

    assert stream.getvalue().endswith(" INFO " + f"test-logs-{id(stream)} last words\n")


def test_the_line_format_is_loggings_usual_one() -> None:
    stream = io.StringIO()
    log, handler = logger_writing_to(stream, interval_s=60)

    log.info("x")
    log.info("y")
    handler.flush()

    for line in stream.getvalue().splitlines():
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO test-logs-\d+ [xy]", line), line
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    assert stream.getvalue().startswith(stamp[:13])  # same hour (the minute may have turned)
