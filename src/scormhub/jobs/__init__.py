"""SAQ tasks: thin wrappers that call use cases with the adapters in the job context. Registered here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from saq import CronJob

from scormhub.jobs.courses import import_course, recover_stuck_imports
from scormhub.jobs.system import probe_worker

# Every task the worker knows, by name. Jobs are enqueued by these names through the JobQueue port.
TASKS: tuple[Callable[..., Any], ...] = (probe_worker, import_course, recover_stuck_imports)

# Schedules live in SAQ (not in-process timers), so several workers never run one twice.
CRON_JOBS: tuple[CronJob[Any], ...] = (CronJob(recover_stuck_imports, cron="* * * * *", unique=True),)
