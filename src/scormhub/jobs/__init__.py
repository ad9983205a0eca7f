"""SAQ tasks: thin wrappers that call use cases with the adapters in the job context. Registered here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from saq import CronJob

from scormhub.jobs.billing import charge_due_usage, charge_usage, reconcile_charges
from scormhub.jobs.bulk import bulk_enroll
from scormhub.jobs.courses import import_course, recover_stuck_imports
from scormhub.jobs.highlevel import install_agency_location, process_crm_webhook, provision_crm
from scormhub.jobs.learners import deliver_mail, learner_pass
from scormhub.jobs.postbacks import process_inbox, sweep_inbox
from scormhub.jobs.reports import export_report
from scormhub.jobs.sync import push_due_writes, push_to_crm, reconcile_enrollments, sync_all, sync_enrollment
from scormhub.jobs.system import probe_worker, remove_orphan_objects, remove_stale_uploads
from scormhub.jobs.versions import import_course_version, recover_stalled_versions
from scormhub.jobs.webhooks import deliver_due_webhooks, deliver_webhooks

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
    process_inbox,
    sweep_inbox,
    export_report,
    process_crm_webhook,
    install_agency_location,
    provision_crm,
    remove_stale_uploads,
    deliver_webhooks,
    deliver_due_webhooks,
    bulk_enroll,
    charge_usage,
    charge_due_usage,
    reconcile_charges,
    import_course_version,
    recover_stalled_versions,
    deliver_mail,
    learner_pass,
)


def cron_jobs(recovery_interval_s: int = 60) -> tuple[CronJob[Any], ...]:
    """The schedules. They live in SAQ (not in-process timers), so several workers never run one twice.

    The recovery crons (stalled imports, due CRM writes, unprocessed postbacks, abandoned uploads) run every
    `recovery_interval_s` (Settings.recovery_interval_s, a minute by default).
    """
    every = _every(recovery_interval_s)
    return (
        CronJob(recover_stuck_imports, cron=every, unique=True),
        CronJob(push_due_writes, cron=every, unique=True),
        CronJob(reconcile_enrollments, cron="*/5 * * * *", unique=True),
        CronJob(sweep_inbox, cron=every, unique=True),
        CronJob(remove_stale_uploads, cron=every, unique=True),
        CronJob(deliver_due_webhooks, cron=every, unique=True),
        CronJob(charge_due_usage, cron=every, unique=True),
        CronJob(reconcile_charges, cron="17 3 * * *", unique=True),  # daily, off the hour
        CronJob(recover_stalled_versions, cron=every, unique=True),
        CronJob(remove_orphan_objects, cron="17 * * * *", unique=True),  # hourly: it lists the storage
        # Issue 23: mail that is due (retries come back this way), and the learner pass every 10 minutes
        # (reminders are due at day offsets; each is raised once however often or widely this runs).
        CronJob(deliver_mail, cron=every, unique=True),
        CronJob(learner_pass, cron="*/10 * * * *", unique=True),
    )


def _every(seconds: int) -> str:
    """A cron expression for "every `seconds`": croniter's sixth (seconds) field below a minute, whole
    minutes above."""
    if seconds < 60:
        return f"* * * * * */{seconds}"
    minutes = seconds // 60
    return "* * * * *" if minutes == 1 else ("0 * * * *" if minutes >= 60 else f"*/{minutes} * * * *")
