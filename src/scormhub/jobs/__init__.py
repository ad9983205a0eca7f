"""SAQ tasks: thin wrappers that call use cases with the adapters in the job context. Registered here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from saq import CronJob

from scormhub.jobs.courses import import_course, recover_stuck_imports
from scormhub.jobs.postbacks import process_inbox, process_postback, sweep_inbox
from scormhub.jobs.reports import export_report
from scormhub.jobs.sync import push_due_writes, push_to_crm, reconcile_enrollments, sync_all, sync_enrollment
from scormhub.jobs.system import probe_worker

# Every task the worker knows, by name. Jobs are enqueued by these names through the JobQueue port.
TASKS: tuple[Callable[..., Any], ...] = (
    probe_worker,
    import_course,
    recover_stuck_imports,
    sync_enrollment,
    push_to_crm,
    sync_all,
    push_due_writes,
    reconcile_enrollments,
    process_postback,
    process_inbox,
    sweep_inbox,
    export_report,
)

# Schedules live in SAQ (not in-process timers), so several workers never run one twice.
CRON_JOBS: tuple[CronJob[Any], ...] = (
    CronJob(recover_stuck_imports, cron="* * * * *", unique=True),
    CronJob(push_due_writes, cron="* * * * *", unique=True),
    CronJob(reconcile_enrollments, cron="*/5 * * * *", unique=True),
    CronJob(sweep_inbox, cron="* * * * *", unique=True),
)
