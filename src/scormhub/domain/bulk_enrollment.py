"""Bulk enrollment into one course: from a CSV (contacts upserted) or every contact with a CRM tag.

A preview is stored first (rows, each with its reason when it will not be enrolled); starting it queues a
job that walks the pending rows in batches. The job is resumable and idempotent: a row is marked only
while still pending, enroll_contact finds an existing enrollment instead of making a second, and a job
stopped half-way (or run twice) continues from the first pending row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.automation.actions import KnownContact
from scormhub.domain.automation.model import BulkRow, BulkRowStatus, BulkRun
from scormhub.domain.bulk_csv import MAX_ROWS, parse_csv
from scormhub.domain.enrollments import CourseNotAvailable, PlanLimitReached, enroll_contact
from scormhub.domain.errors import DomainError, NotFound, ServiceUnavailable
from scormhub.domain.model import Contact, CourseStatus

if TYPE_CHECKING:
    from scormhub.domain.ports import Clock, ContactBook, JobQueue, UnitOfWork
    from scormhub.domain.ports.automation import BulkRepository, TaggedContacts

ALREADY = "Already enrolled in this course."
BATCH = 100


def bulk_of(uow: UnitOfWork) -> BulkRepository:
    repo: BulkRepository | None = getattr(uow, "bulk", None)
    if repo is None:
        raise RuntimeError("this unit of work keeps no bulk enrollments")
    return repo


@dataclass(frozen=True)
class Preview:
    run: BulkRun
    plan_room: int | None  # how many more registrations the plan allows (None: no limit)

    @property
    def to_enroll(self) -> int:
        return self.run.count(BulkRowStatus.PENDING)

    @property
    def over_plan(self) -> int:
        return max(0, self.to_enroll - self.plan_room) if self.plan_room is not None else 0


async def preview(
    workspace_id: UUID,
    course_id: UUID,
    rows: list[BulkRow],
    *,
    source: str,
    label: str,
    uow: UnitOfWork,
    clock: Clock,
) -> Preview:
    """Store the rows as a preview: how many will be enrolled, are enrolled already, are skipped and why."""
    repo = bulk_of(uow)
    async with uow:
        course = await uow.courses.get(workspace_id, course_id)
        workspace = await uow.workspaces.get(workspace_id)
        if course is None or workspace is None:
            raise NotFound("course")
        if course.status is not CourseStatus.READY:
            raise CourseNotAvailable("Learners can be enrolled once the course is Ready.")
        pending = [r.email for r in rows if r.status is BulkRowStatus.PENDING]
        enrolled = await repo.enrolled_emails(workspace_id, course_id, pending)
        marked = [
            replace(r, status=BulkRowStatus.ALREADY, reason=ALREADY)
            if r.status is BulkRowStatus.PENDING and r.email in enrolled
            else r
            for r in rows
        ]
        run = BulkRun(uuid.uuid4(), workspace_id, course_id, source, label, "preview", clock.now())
        await repo.create_run(run, marked)
        used = await uow.enrollments.count_for_workspace(workspace_id)
        await uow.commit()
        stored = await repo.get_run(workspace_id, run.id)
    assert stored is not None
    limit = workspace.registration_limit
    return Preview(stored, None if limit is None else max(0, limit - used))


async def preview_csv(
    workspace_id: UUID, course_id: UUID, file_name: str, raw: bytes, *, uow: UnitOfWork, clock: Clock
) -> Preview:
    """Raises CsvRefused (the file as a whole is unusable) or CourseNotAvailable."""
    parsed = parse_csv(raw)
    return await preview(
        workspace_id,
        course_id,
        list(parsed.rows),
        source="csv",
        label=file_name or "upload.csv",
        uow=uow,
        clock=clock,
    )


class TagRefused(DomainError):
    """No usable tag was given, or nobody carries it."""


async def preview_tag(
    workspace_id: UUID,
    course_id: UUID,
    tag: str,
    *,
    tagged: TaggedContacts,
    uow: UnitOfWork,
    clock: Clock,
    page: int = 100,
) -> Preview:
    """Every contact with the tag (paged through the CRM's search), as a preview."""
    tag = " ".join(tag.split())[:100]
    if not tag:
        raise TagRefused("Enter the tag whose contacts should be enrolled.")
    rows: list[BulkRow] = []
    after: str | None = None
    while True:
        contacts, after = await tagged.page_with_tag(tag, after=after, limit=page)
        for contact in contacts:
            if len(rows) >= MAX_ROWS:
                raise TagRefused(f"More than {MAX_ROWS:,} contacts have this tag; enroll them in parts.")
            number = len(rows) + 1
            if not contact.email:
                rows.append(
                    BulkRow(
                        number,
                        contact.first_name,
                        contact.last_name,
                        "",
                        BulkRowStatus.SKIPPED,
                        "The contact has no email address.",
                        contact.id,
                    )
                )
            else:
                rows.append(
                    BulkRow(
                        number,
                        contact.first_name,
                        contact.last_name,
                        contact.email.lower(),
                        contact_id=contact.id,
                    )
                )
        if after is None:
            break
    if not rows:
        raise TagRefused(f"No contact has the tag {tag!r}. Check its spelling in the CRM.")
    return await preview(workspace_id, course_id, rows, source="tag", label=tag, uow=uow, clock=clock)


async def start(workspace_id: UUID, run_id: UUID, *, uow: UnitOfWork, jobs: JobQueue, clock: Clock) -> None:
    """Confirm a preview: the job enrolls its pending rows. Confirming twice queues one job."""
    async with uow:
        started = await bulk_of(uow).start(workspace_id, run_id, clock.now())
        run = await bulk_of(uow).get_run(workspace_id, run_id)
        await uow.commit()
    if run is None:
        raise NotFound("This bulk enrollment no longer exists.")
    if started or run.status == "running":
        await enqueue_run(workspace_id, run_id, jobs=jobs)


async def enqueue_run(workspace_id: UUID, run_id: UUID, *, jobs: JobQueue) -> None:
    await jobs.enqueue(
        "bulk_enroll",
        key=f"bulk_enroll:{run_id}",
        timeout_s=6 * 3600,
        retries=3,
        workspace_id=str(workspace_id),
        run_id=str(run_id),
    )


async def run(
    workspace_id: UUID,
    run_id: UUID,
    *,
    uow_factory: Callable[[], UnitOfWork],
    contacts: ContactBook,
    clock: Clock,
    batch: int = BATCH,
) -> BulkRun:
    """Enroll the run's pending rows. A CRM outage raises (the job is retried and resumes); everything
    a row itself causes is recorded on the row."""
    while True:
        async with (uow := uow_factory()):
            rows = await bulk_of(uow).pending_rows(run_id, limit=batch)
            current = await bulk_of(uow).get_run(workspace_id, run_id)
        if current is None:
            raise NotFound("bulk enrollment")
        if not rows:
            break
        outcomes: list[BulkRow] = []
        try:
            for row in rows:
                outcomes.append(
                    await _enroll_row(row, current, contacts=contacts, uow_factory=uow_factory, clock=clock)
                )
        finally:
            # What was done before an outage is kept: the retried job starts after it.
            async with (uow := uow_factory()):
                await bulk_of(uow).mark_rows(run_id, outcomes)
                await uow.commit()
    async with (uow := uow_factory()):
        await bulk_of(uow).finish(run_id, clock.now())
        await uow.commit()
        done = await bulk_of(uow).get_run(workspace_id, run_id)
    assert done is not None
    return done


async def _enroll_row(
    row: BulkRow,
    current: BulkRun,
    *,
    contacts: ContactBook,
    uow_factory: Callable[[], UnitOfWork],
    clock: Clock,
) -> BulkRow:
    try:
        if row.contact_id:
            contact = Contact(row.contact_id, row.first_name, row.last_name, row.email)
        else:
            contact = await contacts.upsert_contact(
                first_name=row.first_name, last_name=row.last_name, email=row.email
            )
        result = await enroll_contact(
            current.workspace_id,
            current.course_id,
            contact.id,
            uow=uow_factory(),
            contacts=KnownContact(contact, contacts),
            clock=clock,
        )
    except ServiceUnavailable:
        raise
    except PlanLimitReached as full:
        return replace(
            row, status=BulkRowStatus.SKIPPED, reason=f"Plan limit: {full.limit} registrations are in use."
        )
    except CourseNotAvailable:
        return replace(row, status=BulkRowStatus.SKIPPED, reason="The course is no longer Ready.")
    except DomainError as exc:  # InvalidInput, the engine account's limit, a contact the CRM refused
        return replace(row, status=BulkRowStatus.SKIPPED, reason=str(exc) or type(exc).__name__)
    status = BulkRowStatus.ENROLLED if result.created else BulkRowStatus.ALREADY
    return replace(row, status=status, reason=None if result.created else ALREADY, contact_id=contact.id)
