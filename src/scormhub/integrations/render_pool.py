"""Documents (report PDFs and XLSX, certificates) rendered in worker processes, not in the server's.

Rendering with borb (or writing a workbook with xlsxwriter) is pure-Python CPU work: in a thread it
holds the GIL for seconds and every other request waits behind it, and once imported borb and its font
tables stay in the server's memory for good (~80 MB). Worker processes keep both out of the server: the
event loop stays free and the server's RSS stays that of a web server.

Workers are started on first use (an idle server never pays for them), warmed with the font, and
replaced after a number of renders so a slow leak in a library cannot grow without bound.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

log = logging.getLogger("scormhub.render")

T = TypeVar("T")

# Each worker process renders this many documents, then is replaced by a fresh one.
RENDERS_PER_WORKER = 500


def default_workers() -> int:
    # One per core, at most two: rendering competes with the server and PostgreSQL for the same cores.
    return max(1, min(2, os.cpu_count() or 1))


def _init_worker() -> None:
    # Ctrl+C reaches the whole process group; the server decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Importing the PDF module and loading the font up front makes the first render as fast as the rest.
    from scormhub.integrations import pdf

    try:
        pdf.unicode_font()
    except pdf.FontMissing:
        log.warning("No Unicode TrueType font installed; PDFs will fail until fonts-dejavu-core is.")


class RenderPool:
    """Runs module-level functions (picklable, returning bytes or other picklable values) in workers."""

    def __init__(self, workers: int | None = None) -> None:
        self._workers = workers or default_workers()
        self._executor: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: the server has threads (asyncpg, anyio) that a fork would copy mid-state.
            self._executor = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                max_tasks_per_child=RENDERS_PER_WORKER,
            )
        return self._executor

    async def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        call = functools.partial(func, *args, **kwargs)
        try:
            return await loop.run_in_executor(self._start(), call)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): start a new pool and try this document once more.
            log.warning("A PDF worker process died; starting a new one.")
            self.shutdown()
            return await loop.run_in_executor(self._start(), call)

    @property
    def started(self) -> bool:
        return self._executor is not None

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
