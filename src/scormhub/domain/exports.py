"""Report exports: what a file is called and how it looks, and the lifecycle of one written by a job.

An export over the direct-download limit is queued (`start_export`); the job writes it with progress
(`build_export`) into a status the admin's page polls: queued → running (done of total) → ready or failed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from scormhub.domain.model import Branding
from scormhub.domain.reports import ReportExports, ReportFilter

if TYPE_CHECKING:
    from scormhub.domain.ports import BrandingStore, Clock, JobQueue, UnitOfWork

# No workspace time zone exists yet: every time is UTC, and headers and file names say so.
TIME_ZONE = "UTC"
KINDS = ("csv", "xlsx", "pdf")


def export_file_name(flt: ReportFilter, kind: str) -> str:
    return f"learners_{flt.slug()}_{TIME_ZONE}.{kind}"


def pdf_options(branding: Branding, flt: ReportFilter, now: datetime) -> dict[str, Any]:
    """How a PDF report is titled and branded (the keyword arguments of the PDF renderers)."""
    return {
        "branding": branding,
        "title": "Learner report",
        "filter_text": flt.describe(),
        "generated_at": now.astimezone(UTC),
        "time_zone": TIME_ZONE,
    }


async def start_export(
    workspace_id: UUID,
    flt: ReportFilter,
    kind: str,
    *,
    exports: ReportExports,
    jobs: JobQueue,
    new_id: Callable[[], UUID] = uuid.uuid4,
) -> UUID:
    """Queue an export too large to download directly; returns the id its progress page shows."""
    # Old exports go first, so a workspace's folder never grows without bound.
    await exports.sweep(workspace_id)
    export_id = new_id()
    exports.write_status(
        workspace_id,
        export_id,
        state="queued",
        done=0,
        total=0,
        kind=kind,
        file_name=export_file_name(flt, kind),
        filter=flt.describe(),
    )
    await jobs.enqueue(
        "export_report",
        key=f"export:{export_id}",
        timeout_s=3600,
        retries=1,
        workspace_id=str(workspace_id),
        export_id=str(export_id),
        kind=kind,
        params=flt.params(page=1),
    )
    return export_id


async def build_export(
    workspace_id: UUID,
    export_id: UUID,
    kind: str,
    flt: ReportFilter,
    *,
    exports: ReportExports,
    brandings: BrandingStore,
    uow: UnitOfWork,
    clock: Clock,
) -> dict[str, Any]:
    """Write one export, recording progress as it goes (the export job's body). Safe to run twice: the
    file is written again from the start."""
    total = await exports.count(workspace_id, flt)
    status = {
        "kind": kind,
        "file_name": export_file_name(flt, kind),
        "filter": flt.describe(),
        "total": total,
    }
    exports.write_status(workspace_id, export_id, state="running", done=0, **status)
    done = 0

    def progress(rows: int) -> None:
        nonlocal done
        done = rows
        exports.write_status(workspace_id, export_id, state="running", done=done, **status)

    try:
        options = None
        if kind == "pdf":
            async with uow:
                workspace = await uow.workspaces.get(workspace_id)
            branding = await brandings.load(workspace_id, workspace.name if workspace else "SCORM Hub")
            options = pdf_options(branding, flt, clock.now())
        done = await exports.write(
            kind, workspace_id, export_id, flt, status=status, pdf=options, progress=progress
        )
    except Exception:
        exports.write_status(workspace_id, export_id, state="failed", done=done, **status)
        raise
    exports.write_status(workspace_id, export_id, state="ready", done=done, **status)
    return {"rows": done, "kind": kind}
