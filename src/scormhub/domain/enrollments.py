"""Enrollments: a contact on a course, the plan's registration limit, tracking from the built-in player."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from scormhub.domain.automation import events as automation_events
from scormhub.domain.automation.model import Emitted
from scormhub.domain.billing.admission import admit_registration, launch_held
from scormhub.domain.billing.plans import registration_limit
from scormhub.domain.billing.usage import enqueue_charges
from scormhub.domain.contacts import clean_name, normalize_email
from scormhub.domain.errors import DomainError, EngineAccountLimit, NotFound, ServiceUnavailable
from scormhub.domain.model import Course, CourseStatus, EngineKind, Enrollment, Learner, Workspace
from scormhub.domain.model_billing import ChargeStatus
from scormhub.domain.overrides import engine_view, keep_override
from scormhub.domain.scorm.cmi import (
    SUSPEND_DATA_LIMIT_2004,
    SUSPEND_DATA_LIMIT_2004_4TH,
    CmiTree,
    Completion,
    Success,
)
from scormhub.domain.scorm.commits import CommitResult, validate_commit
from scormhub.domain.scorm.launch_data import LmsLearner, initial_cmi
from scormhub.domain.scorm.package import Sco, Standard
from scormhub.domain.scorm.rollup import rollup
from scormhub.domain.scorm.sequencing.course import with_root
from scormhub.domain.scorm.sessions import Applied, SessionEnded, apply_commit, start_session
from scormhub.domain.sequencing_commits import apply_sco_commit
from scormhub.domain.version_rules import course_for_enrollment

if TYPE_CHECKING:
    from scormhub.domain.ports import Clock, ContactBook, JobQueue, RegistrationEngine, UnitOfWork
    from scormhub.domain.ports.sequencing import ActivityTrees


class PlanLimitReached(DomainError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"This workspace is on the trial plan, which allows {limit} active registrations, and all are "
            "in use. Delete an enrollment you no longer need, or go live in Settings → Account mode."
        )
        self.limit = limit


class CourseNotAvailable(DomainError):
    """The course is missing or not Ready; learners see "Course not available"."""


class UnknownItem(NotFound):
    """The player was asked for a part of the course its outline doesn't have (a stale or edited link):
    answered as such rather than by silently opening another part."""

    def __init__(self, sco_id: str) -> None:
        super().__init__("This part of the course does not exist. Open the course from its link again.")
        self.sco_id = sco_id


class RegistrationOnHold(CourseNotAvailable):
    """The registration's usage charge has not gone through (domain.billing.usage): no launch yet."""

    def __init__(self) -> None:
        super().__init__(
            "Your registration is not active yet: it is waiting for its payment to be confirmed. Try again "
            "in a few minutes; if this keeps happening, ask your course administrator."
        )


@dataclass(frozen=True)
class EnrollResult:
    enrollment: Enrollment
    created: bool
    # What the new enrollment put in the trigger and webhook outboxes (callers with a queue wake them).
    emitted: Emitted = field(default_factory=Emitted)
    # Live plans: FREE within the month's allowance, PENDING while its charge is sent (no launch until
    # it goes through); None on a trial.
    charge: ChargeStatus | None = None


@dataclass(frozen=True)
class ReviewOnly:
    """The email is enrolled, but nothing shows this browser is that learner: the course plays, nothing is
    recorded, and the learner's enrollment is neither opened nor touched."""

    course: Course


@dataclass(frozen=True)
class PlanUsage:
    used: int
    limit: int | None

    @property
    def full(self) -> bool:
        return self.limit is not None and self.used >= self.limit


def new_launch_token() -> str:
    # 256 bits: a launch link is the learner's only credential, so it must not be guessable.
    return secrets.token_urlsafe(32)


async def plan_usage(workspace: Workspace, *, uow: UnitOfWork) -> PlanUsage:
    async with uow:
        used = await uow.enrollments.count_for_workspace(workspace.id)
        limit = await registration_limit(uow, workspace, enrolling=False)
    return PlanUsage(used=used, limit=limit)


async def enroll_contact(
    workspace_id: UUID,
    course_id: UUID,
    contact_id: str,
    *,
    uow: UnitOfWork,
    contacts: ContactBook,
    clock: Clock,
    self_enrolled: bool = False,
    registrations: RegistrationEngine | None = None,
    enrolled_by: str | None = None,
    jobs: JobQueue | None = None,
) -> EnrollResult:
    """Enroll a contact once per course; the trial limit holds however many requests race for the last seat.

    A course held by SCORM Cloud also gets its registration there (our enrollment id is the registration
    id, so this is idempotent). If the admin's SCORM Cloud plan is full, the enrollment is taken back and
    EngineAccountLimit says so; if SCORM Cloud is only unreachable, the launch creates it later.

    The workspace row is locked for the count-and-insert, so concurrent enrollments queue up behind it.
    """
    contact = await contacts.get_contact(contact_id)
    if contact is None:
        raise NotFound("contact")
    async with uow:
        workspace = await uow.workspaces.lock(workspace_id)
        if workspace is None:
            raise NotFound("workspace")
        course = await uow.courses.get(workspace_id, course_id)
        if course is None or course.status is not CourseStatus.READY:
            raise CourseNotAvailable("This course is not available right now.")
        existing = await uow.enrollments.find(workspace_id, course_id, contact.id)
        if existing is not None:
            return EnrollResult(existing, created=False)
        limit = await registration_limit(uow, workspace)
        if limit is not None and await uow.enrollments.count_for_workspace(workspace_id) >= limit:
            raise PlanLimitReached(limit)
        now = clock.now()
        enrollment = Enrollment(
            id=uuid.uuid4(),
            workspace_id=workspace_id,
            course_id=course_id,
            contact_id=contact.id,
            learner_name=contact.full_name,
            learner_email=contact.email,
            company_key=contact.company,
            launch_token=new_launch_token(),
            created_at=now,
            updated_at=now,
            self_enrolled=self_enrolled,
            enrolled_by=enrolled_by,
        )
        await uow.enrollments.add(enrollment)
        # In the same transaction, under the same lock: the registration and its charge, or neither.
        charge = await admit_registration(uow, workspace, enrollment, course_title=course.title, now=now)
        emitted = await automation_events.record_enrolled(uow, enrollment, course.title)
        await uow.commit()
    if charge is ChargeStatus.PENDING and jobs is not None:
        await enqueue_charges(workspace_id, jobs=jobs)  # else the charge cron sends it
    if course.engine is EngineKind.SCORM_CLOUD and registrations is not None:
        try:
            await register(
                enrollment,
                registrations=registrations,
                first_name=contact.first_name,
                last_name=contact.last_name,
            )
        except EngineAccountLimit:
            async with uow:
                await uow.enrollments.delete(workspace_id, enrollment.id)
                # Its "learner enrolled" trigger must not fire for an enrollment that was taken back.
                pending = await uow.outbox.pending_for(workspace_id, enrollment.id)
                await uow.outbox.discard([item.id for item in pending])
                await uow.commit()
            raise
        except ServiceUnavailable:
            pass  # the launch creates the registration once SCORM Cloud answers again
    return EnrollResult(enrollment, created=True, emitted=emitted, charge=charge)


async def register(
    enrollment: Enrollment,
    *,
    registrations: RegistrationEngine,
    first_name: str | None = None,
    last_name: str | None = None,
) -> None:
    first, _, last = enrollment.learner_name.partition(" ")
    await registrations.create_registration(
        registration_id=str(enrollment.id),
        course_id=str(enrollment.course_id),
        learner=Learner(
            id=enrollment.contact_id,
            first_name=first_name or first or enrollment.learner_email,
            last_name=last_name if last_name is not None else last,
            email=enrollment.learner_email,
        ),
        postback=None,  # configured for the whole account when SCORM Cloud was connected
    )


async def engine_launch_link(
    enrollment: Enrollment, *, registrations: RegistrationEngine, exit_url: str
) -> str:
    """A fresh SCORM Cloud launch link (they expire within minutes, so never stored)."""
    try:
        return await registrations.launch_link(str(enrollment.id), redirect_on_exit_url=exit_url)
    except NotFound:
        # Created while SCORM Cloud was down, or deleted there: create it now, then launch.
        await register(enrollment, registrations=registrations)
        return await registrations.launch_link(str(enrollment.id), redirect_on_exit_url=exit_url)


async def self_enroll(
    enroll_token: str,
    *,
    first_name: str,
    last_name: str,
    email: str,
    uow: UnitOfWork,
    contacts_for: Callable[[UUID], Awaitable[ContactBook]],
    clock: Clock,
    registrations_for: Callable[[UUID], Awaitable[RegistrationEngine | None]] | None = None,
    proof: str | None = None,
    jobs: JobQueue | None = None,
) -> EnrollResult | ReviewOnly:
    """The public link: validate, upsert the contact, enroll; or resume the existing enrollment, but only for
    `proof` of being its learner (the launch token this browser was given when it enrolled).

    Knowing an email proves nothing: without proof an enrolled email gets ReviewOnly, and at the plan's
    limit the same refusal as any newcomer, so no answer tells whether an email is enrolled.
    """
    first = clean_name(first_name, "first_name", "first name")
    last = clean_name(last_name, "last_name", "last name")
    address = normalize_email(email)
    async with uow:
        course = await uow.courses.get_by_enroll_token(enroll_token)
        if course is None or course.status is not CourseStatus.READY:
            raise CourseNotAvailable("This course is not available right now.")
        existing = await uow.enrollments.find_by_email(course.workspace_id, course.id, address)
        workspace = await uow.workspaces.get(course.workspace_id)
        used = await uow.enrollments.count_for_workspace(course.workspace_id)
        limit = await registration_limit(uow, workspace) if workspace is not None else None
    if workspace is None:
        raise CourseNotAvailable("This course is not available right now.")
    if existing is not None and proves(proof, existing):
        return EnrollResult(existing, created=False)
    if limit is not None and used >= limit:
        # Before any CRM write: a refused learner must not be left behind as a contact. enroll_contact
        # checks again under the workspace lock for the requests that race for the last seat.
        raise PlanLimitReached(limit)
    if existing is not None:
        return ReviewOnly(course)
    contacts = await contacts_for(course.workspace_id)
    contact = await contacts.upsert_contact(first_name=first, last_name=last, email=address)
    result = await enroll_contact(
        course.workspace_id,
        course.id,
        contact.id,
        uow=uow,
        contacts=contacts,
        clock=clock,
        self_enrolled=True,
        registrations=await registrations_for(course.workspace_id) if registrations_for else None,
        jobs=jobs,
    )
    if not result.created and not proves(proof, result.enrollment):
        # Enrolled meanwhile (a concurrent request), or under this contact with another address.
        return ReviewOnly(course)
    return result


def proves(proof: str | None, enrollment: Enrollment) -> bool:
    return proof is not None and secrets.compare_digest(proof.encode(), enrollment.launch_token.encode())


async def delete_enrollment(workspace_id: UUID, enrollment_id: UUID, *, uow: UnitOfWork) -> Enrollment:
    """Removing an enrollment frees its seat on the trial plan."""
    async with uow:
        enrollment = await uow.enrollments.get(workspace_id, enrollment_id)
        if enrollment is None:
            raise NotFound("enrollment")
        await uow.enrollments.delete(workspace_id, enrollment_id)
        await uow.commit()
        return enrollment


# --- the built-in player's tracking -------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    """What the player page needs: the enrollment, the course, which SCO, and the state to resume."""

    enrollment: Enrollment | None  # None in a review: nothing is recorded
    course: Course
    sco_id: str
    session_id: str
    resume: CmiTree


@dataclass(frozen=True)
class CommitReply:
    accepted: bool
    errors: tuple[str, ...] = ()
    finished_attempt: bool = False
    # Set when what the CRM shows may have changed (status, result or score): the caller queues a sync.
    sync_needed: Enrollment | None = None


async def find_launch(
    launch_token: str, *, uow: UnitOfWork, opening: bool = False
) -> tuple[Enrollment, Course]:
    """`opening`: the learner opens the course (the player page), which a registration whose charge has
    not gone through may not (RegistrationOnHold). Commits and content need no second look: nothing plays
    without the page."""
    async with uow:
        enrollment = await uow.enrollments.get_by_launch_token(launch_token)
        if enrollment is None:
            raise NotFound("launch")
        if opening and await launch_held(uow, enrollment.id):
            raise RegistrationOnHold()
        course = await uow.courses.get(enrollment.workspace_id, enrollment.course_id)
        if course is not None:  # the learner plays their own version, maybe an older one
            course = await course_for_enrollment(uow, enrollment, course)
    if course is None or course.status is not CourseStatus.READY or not course.scos:
        raise CourseNotAvailable("This course is not available right now.")
    return enrollment, course


def launch_item(course: Course, sco_id: str | None) -> Sco:
    """The item a launch opens: the one asked for, or the first when none is; UnknownItem for an id the
    course's outline doesn't have."""
    if not sco_id:
        return course.scos[0]
    found = next((s for s in course.scos if s.identifier == sco_id), None)
    if found is None:
        raise UnknownItem(sco_id)
    return found


async def start_launch(launch_token: str, sco_id: str | None, *, uow: UnitOfWork, clock: Clock) -> Launch:
    """Begin a session on one SCO: decide entry (resume or ab-initio) and hand back the data model to start
    from. Opening the course (no item named) is a launch of the course and may begin a new course attempt;
    moving to another item inside the player (an item named) never does."""
    enrollment, course = await find_launch(launch_token, uow=uow)
    sco = launch_item(course, sco_id)
    session_id = secrets.token_urlsafe(16)
    standard: Standard = "scorm12" if course.standard == "scorm12" else "scorm2004"
    now = clock.now()
    async with uow:
        previous = await uow.sco_states.get_for_update(enrollment.id, sco.identifier)
        started = start_session(previous, standard=standard, session_id=session_id, now=now)
        state = started.state
        if sco.scorm_type == "asset":
            # An asset cannot report: opening it is all there is to do, as SCORM 2004 also rules for assets.
            state = replace(state, completion=Completion.COMPLETED, completed_at=state.completed_at or now)
        await uow.sco_states.put(enrollment.id, sco.identifier, state)
        course_launch = not sco_id
        attempts = enrollment.attempts
        if attempts == 0 or (course_launch and started.new_attempt):
            attempts += 1
        updated = await _roll_up(uow, enrollment, course, now, attempts=attempts)
        await uow.commit()
    learner = LmsLearner(enrollment.contact_id, enrollment.learner_name)
    return Launch(updated, course, sco.identifier, session_id, initial_cmi(standard, sco, learner, state))


async def record_commit(
    launch_token: str,
    sco_id: str,
    session_id: str,
    payload: Mapping[str, Any],
    *,
    is_final: bool,
    uow: UnitOfWork,
    clock: Clock,
    trees: ActivityTrees | None = None,
) -> CommitReply:
    """Validate a commit from the player and apply it. Bad values are dropped and named; the rest is kept."""
    enrollment, course = await find_launch(launch_token, uow=uow)
    checked = check_commit(course, sco_id, payload)
    tree = await trees.for_course(course) if trees is not None else None
    standard: Standard = "scorm12" if course.standard == "scorm12" else "scorm2004"
    async with uow:
        previous = await uow.sco_states.get_for_update(enrollment.id, sco_id)
        outcome = apply_commit(
            previous,
            checked,
            standard=standard,
            session_id=session_id,
            is_final=is_final,
            mastery_score=_mastery_of(course, sco_id),
            now=clock.now(),
        )
        if isinstance(outcome, SessionEnded):
            # A late copy of a session that already ended (the tab's beacon arriving after the SCO's own
            # final commit): dropping it is the right answer, not an error.
            return CommitReply(accepted=False)
        if not isinstance(outcome, Applied):
            return CommitReply(accepted=False, finished_attempt=True)
        await uow.sco_states.put(enrollment.id, sco_id, outcome.state)
        attempts = max(enrollment.attempts, 1)  # a commit means the course was launched at least once
        if tree is not None:
            await apply_sco_commit(uow, enrollment.id, tree, sco_id, outcome.state, is_final=is_final)
        updated = await _roll_up(uow, enrollment, course, clock.now(), attempts=attempts)
        await uow.commit()
    visible = (updated.completion, updated.success, updated.score_percent)
    changed = visible != (enrollment.completion, enrollment.success, enrollment.score_percent)
    return CommitReply(
        accepted=True,
        errors=tuple(f"{p.element}: {p.reason}" for p in checked.problems),
        sync_needed=updated if changed or is_final else None,
    )


def check_commit(course: Course, sco_id: str, payload: Mapping[str, Any]) -> CommitResult:
    """What a commit from the player would store, and what it may not; raises NotFound for another SCO."""
    if not any(s.identifier == sco_id for s in course.scos):
        raise NotFound("sco")
    standard: Standard = "scorm12" if course.standard == "scorm12" else "scorm2004"
    limit = SUSPEND_DATA_LIMIT_2004_4TH if course.edition in (None, "4th") else SUSPEND_DATA_LIMIT_2004
    return validate_commit(standard, payload, suspend_data_limit=None if standard == "scorm12" else limit)


def review_launch(course: Course, sco_id: str | None, *, clock: Clock) -> Launch:
    """A player session of a review: the state a first launch would have, bound to no enrollment, and
    launched for no credit (nothing is recorded, so no result is earned)."""
    sco = launch_item(course, sco_id)
    standard: Standard = "scorm12" if course.standard == "scorm12" else "scorm2004"
    session_id = secrets.token_urlsafe(16)
    started = start_session(None, standard=standard, session_id=session_id, now=clock.now())
    cmi = initial_cmi(standard, sco, REVIEWER, started.state, credit=False)
    return Launch(None, course, sco.identifier, session_id, cmi)


REVIEWER = LmsLearner("review", "Review")


def _mastery_of(course: Course, sco_id: str) -> float | None:
    """Each item's own mastery score; courses stored before items kept theirs use the course's."""
    if not any(s.mastery_score is not None for s in course.scos):
        return course.mastery_score
    return next((s.mastery_score for s in course.scos if s.identifier == sco_id), None)


async def roll_up_enrollment(
    uow: UnitOfWork, enrollment: Enrollment, course: Course, now: datetime
) -> Enrollment:
    """The enrollment's progress from its SCOs (and, when sequenced, its activity tree), saved in `uow`."""
    return await _roll_up(uow, enrollment, course, now, attempts=enrollment.attempts)


async def _roll_up(
    uow: UnitOfWork, enrollment: Enrollment, course: Course, now: datetime, *, attempts: int
) -> Enrollment:
    held, enrollment = enrollment, engine_view(enrollment)  # an override rolls up the engine's result
    states = await uow.sco_states.for_enrollment(enrollment.id)
    standard: Standard = "scorm12" if course.standard == "scorm12" else "scorm2004"
    progress = rollup(standard, [states.get(s.identifier) for s in course.scos], course.mastery_score)
    if standard == "scorm2004":
        # A sequenced course's status, result and score are its root activity's rollup.
        sequenced = await uow.sequencing_states.get_for_update(enrollment.id)
        if sequenced is not None and sequenced[0].result is not None:
            progress = with_root(progress, sequenced[0].result)
    # A recorded completion never goes backwards (a new 2004 attempt resets the SCO, not the record).
    completed_before = enrollment.completion is Completion.COMPLETED
    updated = replace(
        enrollment,
        completion=Completion.COMPLETED if completed_before else progress.completion,
        success=progress.success if progress.success is not Success.UNKNOWN else enrollment.success,
        score_raw=progress.score_raw if progress.score_raw is not None else enrollment.score_raw,
        score_percent=progress.score_percent
        if progress.score_percent is not None
        else enrollment.score_percent,
        total_seconds=max(progress.total_seconds, enrollment.total_seconds),
        # Per launch of the course (start_launch), not per SCO load: a multi-SCO course's SCOs each
        # count their own attempts, which say nothing about how often the learner took the course.
        attempts=max(attempts, enrollment.attempts),
        first_access_at=enrollment.first_access_at or progress.first_access_at,
        last_access_at=progress.last_access_at or enrollment.last_access_at,
        completed_at=enrollment.completed_at or progress.completed_at,
        updated_at=now,
    )
    updated = keep_override(held, updated)
    await uow.enrollments.save(updated)
    # Completed / passed / failed reach triggers and webhooks from the transaction that records them.
    await automation_events.record_progress(uow, enrollment, updated, course.title, now)
    return updated
