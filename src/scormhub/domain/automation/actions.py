"""HighLevel workflow actions (HighLevel calls us): enroll a contact, send the self-enrollment link, and the
dynamic course dropdown (reference §1 to §4).

Business outcomes (unknown course, course not Ready, invalid email, plan limit, already enrolled) are
answers, not errors: HighLevel's handling of non-2xx action responses is undocumented, so the route sends
them as 200 with `status`/`error` and the matching branch, and later workflow steps can branch on them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from scormhub.domain.contacts import InvalidInput, clean_name, normalize_email
from scormhub.domain.enrollments import CourseNotAvailable, PlanLimitReached, enroll_contact
from scormhub.domain.errors import DomainError, EngineAccountLimit, NotFound
from scormhub.domain.model import Contact, CourseStatus

if TYPE_CHECKING:
    from scormhub.domain.ports import Clock, ContactBook, UnitOfWork

ENROLL_KEY = "scorm_enroll_contact"
SEND_LINK_KEY = "scorm_send_enrollment_link"
# The action's declared inputs (§1); anything else is ignored and reported back, never an error.
KNOWN_FIELDS = frozenset({"courseId", "email", "firstName", "lastName", "sendInvite", "branches"})
_MERGE_FIELD = re.compile(r"\{\{.*\}\}")


class MalformedCall(DomainError):
    """The request is not an action call at all (answered as HTTP 400)."""


@dataclass(frozen=True)
class ActionCall:
    key: str | None
    version: str | None
    data: dict[str, Any]
    location_id: str | None
    contact_id: str | None
    workflow_id: str | None

    @property
    def ignored_fields(self) -> list[str]:
        return sorted(k for k in self.data if k not in KNOWN_FIELDS)


def parse_action(body: Any, query: Mapping[str, str]) -> ActionCall:
    """The default body `{data, extras, meta}`, or (community reports, UNCONFIRMED) the fields flat on the
    body with the ids as query parameters; read defensively either way (§2)."""
    if not isinstance(body, dict):
        raise MalformedCall("The request body must be a JSON object.")
    raw_data = body.get("data")
    data: dict[str, Any] = (
        raw_data
        if isinstance(raw_data, dict)
        else {k: v for k, v in body.items() if k not in ("extras", "meta", "isMarketplaceAction")}
    )
    extras: dict[str, Any] = body["extras"] if isinstance(body.get("extras"), dict) else {}
    meta: dict[str, Any] = body["meta"] if isinstance(body.get("meta"), dict) else {}

    def pick(name: str) -> str | None:
        for source in (extras, query, body, data):
            value = source.get(name)
            if isinstance(value, str) and value.strip():
                return value.strip()[:200]
        return None

    key = meta.get("key")
    version = meta.get("version")
    return ActionCall(
        key=key if isinstance(key, str) else None,
        version=version if isinstance(version, str) else None,
        data=data,
        location_id=pick("locationId"),
        contact_id=pick("contactId"),
        workflow_id=pick("workflowId"),
    )


def _given(value: Any) -> str:
    """A field's value, or "" when it is empty or a merge field HighLevel did not fill in."""
    if not isinstance(value, str) or _MERGE_FIELD.search(value):
        return ""
    return value.strip()


def _branch(call: ActionCall, name: str) -> dict[str, str]:
    """`branchId` for the branch of that name, when the action was configured with branches (§3)."""
    branches = call.data.get("branches")
    if isinstance(branches, list):
        for branch in branches:
            if isinstance(branch, dict) and str(branch.get("name", "")).strip().lower() == name.lower():
                return {"branchId": str(branch.get("id", ""))}
    return {}


def _failed(call: ActionCall, message: str) -> dict[str, Any]:
    return {
        "status": "failed",
        "error": message,
        "enrollmentId": None,
        "launchUrl": None,
        "alreadyEnrolled": False,
        **_branch(call, "Failed"),
    }


def _course_id(call: ActionCall) -> UUID:
    raw = call.data.get("courseId")
    try:
        return UUID(str(raw))
    except ValueError:
        raise InvalidInput(
            "courseId", "Choose a course in the action (courseId is missing or unknown)."
        ) from None


async def _contact_for(call: ActionCall, contacts: ContactBook) -> Contact:
    """The learner: the workflow's contact with the action's email and names, falling back on what
    HighLevel has for the contact when a field arrived empty (merge-field spelling is UNCONFIRMED, §1)."""
    email, first, last = (_given(call.data.get(k)) for k in ("email", "firstName", "lastName"))
    known = None
    if call.contact_id and not (email and (first or last)):
        known = await contacts.get_contact(call.contact_id)
    address = normalize_email(email or (known.email if known else ""))
    first = first or (known.first_name if known else "")
    last = last or (known.last_name if known else "")
    if call.contact_id:
        return Contact(
            id=call.contact_id,
            first_name=clean_name(first, "firstName", "first name") if first else "",
            last_name=clean_name(last, "lastName", "last name") if last else "",
            email=address,
        )
    # A contactless run (§7 allows them): the contact is found or created by email.
    return await contacts.upsert_contact(first_name=first, last_name=last, email=address)


class KnownContact:
    """The ContactBook enroll_contact reads: the contact the action already resolved (no second call)."""

    def __init__(self, contact: Contact, book: ContactBook) -> None:
        self._contact = contact
        self._book = book

    async def search_contacts(self, query: str, *, limit: int = 10) -> list[Contact]:
        return await self._book.search_contacts(query, limit=limit)

    async def get_contact(self, contact_id: str) -> Contact | None:
        return self._contact if contact_id == self._contact.id else await self._book.get_contact(contact_id)

    async def upsert_contact(self, *, first_name: str, last_name: str, email: str) -> Contact:
        return await self._book.upsert_contact(first_name=first_name, last_name=last_name, email=email)


@dataclass(frozen=True)
class ActionOutcome:
    response: dict[str, Any]
    workspace_woken: bool = False  # the enrollment queued triggers or webhooks: wake their deliverers
    webhooks: bool = False


async def enroll_action(
    call: ActionCall,
    workspace_id: UUID,
    *,
    uow: UnitOfWork,
    contacts: ContactBook,
    clock: Clock,
    public_url: str,
) -> ActionOutcome:
    """Enroll the workflow's contact; idempotent on (location, contact, course): a retried or concurrent
    execution finds the enrollment the first one made (enroll_contact locks the workspace row)."""
    try:
        course_id = _course_id(call)
        contact = await _contact_for(call, contacts)
        result = await enroll_contact(
            workspace_id,
            course_id,
            contact.id,
            uow=uow,
            contacts=KnownContact(contact, contacts),
            clock=clock,
            # No SCORM Cloud call while HighLevel waits: the launch creates the registration (§3).
            registrations=None,
        )
    except InvalidInput as bad:
        return ActionOutcome(_failed(call, str(bad)))
    except CourseNotAvailable:
        return ActionOutcome(
            _failed(call, "This course is not Ready in SCORM Hub (or not in this location); choose another.")
        )
    except (PlanLimitReached, EngineAccountLimit) as full:
        return ActionOutcome(_failed(call, str(full)))
    except NotFound:
        return ActionOutcome(_failed(call, "The contact or course no longer exists."))
    enrollment = result.enrollment
    response: dict[str, Any] = {
        "status": "enrolled" if result.created else "already_enrolled",
        "enrollmentId": str(enrollment.id),
        "launchUrl": f"{public_url}/play/{enrollment.launch_token}",
        "alreadyEnrolled": not result.created,
        **_branch(call, "Enrolled" if result.created else "Already enrolled"),
    }
    if call.ignored_fields:
        response["ignoredFields"] = call.ignored_fields
    return ActionOutcome(response, result.emitted.triggers > 0, result.emitted.webhooks > 0)


async def send_link_action(
    call: ActionCall, workspace_id: UUID, *, uow: UnitOfWork, public_url: str
) -> dict[str, Any]:
    """The course's self-enrollment link, for the workflow's next step (e.g. an email) to send."""
    try:
        course_id = _course_id(call)
        if _given(call.data.get("email")):
            normalize_email(_given(call.data.get("email")))
    except InvalidInput as bad:
        return {"status": "failed", "error": str(bad), "enrollmentLink": None, **_branch(call, "Failed")}
    async with uow:
        course = await uow.courses.get(workspace_id, course_id)
    if course is None or course.status is not CourseStatus.READY:
        message = "This course is not Ready in SCORM Hub (or not in this location); choose another."
        return {"status": "failed", "error": message, "enrollmentLink": None, **_branch(call, "Failed")}
    return {
        "status": "ok",
        "enrollmentLink": f"{public_url}/enroll/{course.self_enroll_token}",
        **_branch(call, "Sent"),
    }


async def course_options(workspace_id: UUID, *, uow: UnitOfWork) -> list[dict[str, str]]:
    """This location's Ready courses as dropdown options (§4), by title."""
    async with uow:
        courses = await uow.courses.list_for_workspace(workspace_id)
    ready = sorted((c for c in courses if c.status is CourseStatus.READY), key=lambda c: c.title.lower())
    return [{"label": c.title, "value": str(c.id)} for c in ready]


def dynamic_fields(options: list[dict[str, str]]) -> dict[str, Any]:
    """The DYNAMIC input's answer: one section with the course select (§4)."""
    return {
        "inputs": [
            {
                "section": "Course",
                "fields": [
                    {
                        "field": "courseId",
                        "title": "Course",
                        "fieldType": "select",
                        "required": True,
                        "options": options,
                    }
                ],
            }
        ]
    }


def dynamic_filters(options: list[dict[str, str]]) -> dict[str, Any]:
    """The trigger's DYNAMIC course filter (§5): `course.id` is a dot path into the event payload."""
    return {
        "filters": [
            {
                "field": "course.id",
                "title": "Course",
                "fieldType": "select",
                "required": False,
                "options": options,
            }
        ]
    }
