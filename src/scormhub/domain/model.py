"""Entities and value objects of the domain: what the ports take and return and the use cases work on.

It imports only the standard library and the SCORM value types of `domain.scorm`, so every other domain
module (ports, use cases) can import it without a cycle.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from scormhub.domain.model_results import Answer as Answer
from scormhub.domain.model_results import EngineResult as EngineResult
from scormhub.domain.model_results import OverrideAuditEntry as OverrideAuditEntry
from scormhub.domain.model_results import ResultOverride as ResultOverride
from scormhub.domain.model_results import Verdict as Verdict
from scormhub.domain.model_versions import CourseVersion as CourseVersion
from scormhub.domain.model_versions import VersionPolicy as VersionPolicy
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.domain.scorm.organization import Organization
from scormhub.domain.scorm.package import Problem, Sco

TRIAL_REGISTRATION_LIMIT = 10


class WorkspaceKind(enum.StrEnum):
    STANDALONE = "standalone"
    HIGHLEVEL = "highlevel"


class PlanMode(enum.StrEnum):
    TRIAL = "trial"
    LIVE = "live"


class EngineKind(enum.StrEnum):
    BUILTIN = "builtin"
    SCORM_CLOUD = "scorm_cloud"


class CrmKind(enum.StrEnum):
    LOCAL = "local"
    HIGHLEVEL = "highlevel"


@dataclass(frozen=True)
class Workspace:
    """The tenant: one per CRM location, or the single standalone one. Every owned row carries its id."""

    id: UUID
    name: str
    kind: WorkspaceKind
    plan: PlanMode
    engine: EngineKind
    crm: CrmKind
    created_at: datetime
    crm_location_id: str | None = None
    sync_tags: bool = True
    sync_notes: bool = True
    sync_records: bool = True

    @property
    def registration_limit(self) -> int | None:
        """Live workspaces have no limit; trial ones allow a fixed number of active registrations."""
        return TRIAL_REGISTRATION_LIMIT if self.plan is PlanMode.TRIAL else None


@dataclass(frozen=True)
class LoginToken:
    """A one-time admin login link; only its hash is ever stored."""

    token_hash: str
    workspace_id: UUID
    expires_at: datetime
    used_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


class ConnectionStatus(enum.StrEnum):
    CONNECTED = "connected"
    RECONNECT = "reconnect"  # the CRM refused our tokens: an admin must reconnect; writes wait
    UNINSTALLED = "uninstalled"  # the app was removed from the location; its data is kept


@dataclass(frozen=True)
class CrmConnection:
    """A workspace's installation in HighLevel (its tokens stay in the adapter, encrypted)."""

    workspace_id: UUID
    location_id: str
    company_id: str | None
    status: ConnectionStatus
    status_message: str | None
    installer_user_id: str | None
    installed_at: datetime

    @property
    def usable(self) -> bool:
        return self.status is ConnectionStatus.CONNECTED


# --- Contacts ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    id: str  # the CRM's id (a UUID in the local contact book, HighLevel's id otherwise)
    first_name: str
    last_name: str
    email: str
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    company: str | None = None  # the CRM's company (a name in the contact book, an id in HighLevel)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email


# --- Learners and engine callbacks ---------------------------------------------------------------------


@dataclass(frozen=True)
class Learner:
    id: str
    first_name: str
    last_name: str
    email: str


@dataclass(frozen=True)
class PostbackTarget:
    """Where an engine posts registration progress, and the per-workspace credentials it sends."""

    url: str
    username: str
    password: str = field(repr=False)


# --- Courses -------------------------------------------------------------------------------------------


class CourseStatus(enum.StrEnum):
    PROCESSING = "processing"
    READY = "ready"
    ERROR = "error"


class ImportState(enum.StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    ERROR = "error"


@dataclass(frozen=True)
class ImportStatus:
    """What an engine says about an import it was given."""

    state: ImportState
    message: str | None = None
    title: str | None = None
    warnings: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class Course:
    id: UUID
    workspace_id: UUID
    title: str
    standard: str
    edition: str | None
    status: CourseStatus
    engine: EngineKind
    package_key: str
    package_bytes: int
    file_name: str
    self_enroll_token: str
    created_at: datetime
    updated_at: datetime
    status_message: str | None = None
    warnings: tuple[Problem, ...] = ()
    scos: tuple[Sco, ...] = ()
    mastery_score: float | None = None
    import_handle: str | None = None
    import_attempts: int = 0
    # The default organization's whole tree (the manifest model); None for courses imported before it.
    organization: Organization | None = None
    # Who gets a certificate: "completed" (everyone who completes) or "passed" (only those who pass).
    certificate_rule: str = "completed"
    # The version this describes: the current one, or an older one an enrollment stays on (domain.versions).
    version: int = 1

    @property
    def is_final(self) -> bool:
        return self.status is not CourseStatus.PROCESSING

    @property
    def standard_label(self) -> str:
        if self.standard == "scorm12":
            return "SCORM 1.2"
        return f"SCORM 2004 {self.edition} Edition" if self.edition else "SCORM 2004"


# --- Enrollments ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enrollment:
    id: UUID
    workspace_id: UUID
    course_id: UUID
    contact_id: str
    learner_name: str
    learner_email: str
    launch_token: str
    created_at: datetime
    updated_at: datetime
    self_enrolled: bool = False
    company_key: str | None = None
    enrolled_by: str | None = None  # the CRM user who enrolled them (HighLevel SSO), for attribution
    completion: Completion = Completion.NOT_STARTED
    success: Success = Success.UNKNOWN
    score_raw: float | None = None
    score_percent: float | None = None
    total_seconds: float = 0.0
    attempts: int = 0
    first_access_at: datetime | None = None
    last_access_at: datetime | None = None
    completed_at: datetime | None = None
    # An admin's result override (domain.overrides): when set, completion, success and score above are
    # the override's, and the engine's own latest result is kept inside it.
    override: ResultOverride | None = None
    # The course version this learner plays; None until stored (the repository gives the current one).
    course_version: int | None = None

    @property
    def status_label(self) -> str:
        return {
            Completion.NOT_STARTED: "Not Started",
            Completion.IN_PROGRESS: "In Progress",
            Completion.COMPLETED: "Completed",
        }[self.completion]

    @property
    def result_label(self) -> str:
        return {Success.PASSED: "Passed", Success.FAILED: "Failed"}.get(self.success, "—")


# --- Certificates --------------------------------------------------------------------------------------


_CERTIFICATE_RESULTS = {Success.PASSED.value: "Passed", Success.FAILED.value: "Failed"}


@dataclass(frozen=True)
class CertificateSnapshot:
    """What a certificate certifies, as it was when issued."""

    learner_name: str
    learner_email: str
    course_title: str
    completed_at: datetime
    success: str  # a Success value
    score_percent: float | None
    organization_name: str
    # The look as issued (empty on certificates issued before it was recorded: today's branding stands in).
    primary_color: str = ""
    logo_sha256: str = ""
    # "completion" (the course's rule: completed) or "achievement" (the rule: passed); it sets the wording.
    kind: str = "completion"

    @property
    def result_label(self) -> str:
        return _CERTIFICATE_RESULTS.get(self.success, "")

    @property
    def title(self) -> str:
        return "Certificate of Achievement" if self.kind == "achievement" else "Certificate of Completion"

    @property
    def statement(self) -> str:
        """What the learner did, after their name ("… has passed the course")."""
        return "has passed the course" if self.kind == "achievement" else "has completed the course"

    @property
    def printed_result(self) -> str:
        """The result a certificate prints: a pass, never a fail (a completion certificate of a failed
        attempt certifies the completion, and says nothing against its holder)."""
        return "Passed" if self.success == Success.PASSED.value else ""

    @property
    def score_label(self) -> str:
        if self.score_percent is None:
            return ""
        return f"{self.score_percent:.1f}".removesuffix(".0") + "%"

    @property
    def completion_date(self) -> str:
        day = self.completed_at.date()
        return f"{day.day} {day:%B %Y}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "learner_name": self.learner_name,
            "learner_email": self.learner_email,
            "course_title": self.course_title,
            "completed_at": self.completed_at.isoformat(),
            "success": self.success,
            "score_percent": self.score_percent,
            "organization_name": self.organization_name,
            "primary_color": self.primary_color,
            "logo_sha256": self.logo_sha256,
            "kind": self.kind,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CertificateSnapshot:
        score = data.get("score_percent")
        return cls(
            learner_name=str(data["learner_name"]),
            learner_email=str(data.get("learner_email", "")),
            course_title=str(data["course_title"]),
            completed_at=datetime.fromisoformat(data["completed_at"]),
            success=str(data.get("success", Success.UNKNOWN.value)),
            score_percent=float(score) if score is not None else None,
            organization_name=str(data.get("organization_name", "")),
            primary_color=str(data.get("primary_color", "")),
            logo_sha256=str(data.get("logo_sha256", "")),
            kind=str(data.get("kind", "completion")),
        )


@dataclass(frozen=True)
class Certificate:
    id: str
    workspace_id: UUID
    enrollment_id: UUID
    snapshot: CertificateSnapshot
    issued_at: datetime
    revoked_at: datetime | None = None
    # Stamped at issue from the course's validity (issue 23); None: it never expires.
    expires_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def verification_path(self) -> str:
        return f"/certificates/{self.id}"


# --- Engine accounts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineAccount:
    """What is stored for a connected account; the secret and the postback password stay encrypted."""

    workspace_id: UUID
    app_id: str
    secret_key_enc: str
    postback_user: str
    postback_password_enc: str
    connected_at: datetime
    # When SCORM Cloud's test postback last reached us with these credentials; None: not since connecting.
    postback_checked_at: datetime | None = None


# --- Inbox ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxItem:
    id: UUID
    workspace_id: UUID | None
    source: str
    content_type: str
    body: str
    received_at: datetime
    processed_at: datetime | None = None
    outcome: str | None = None


# --- Progress from an engine ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistrationProgress:
    """An engine's view of one registration; `updated_at` orders two views of the same registration."""

    updated_at: datetime
    completion: Completion
    success: Success
    score_percent: float | None
    score_raw: float | None
    total_seconds: float
    attempts: int
    first_access_at: datetime | None
    last_access_at: datetime | None
    completed_at: datetime | None
    registration_id: str | None = None
    instance: int = 0


# --- CRM writes ----------------------------------------------------------------------------------------


class WriteKind(enum.StrEnum):
    ADD_TAGS = "add_tags"
    REMOVE_TAGS = "remove_tags"
    NOTE = "note"
    TRAINING_RECORD = "training_record"
    COMPANY_SUMMARY = "company_summary"
    TRIGGER = "trigger"  # a HighLevel workflow trigger fired (domain.automation.events)


@dataclass(frozen=True)
class SyncedState:
    """What the CRM was last told about an enrollment (kept on the enrollment, updated with the outbox)."""

    tags: frozenset[str] = frozenset()
    note_written: bool = False
    record_digest: str | None = None
    # How many times writes were planned: part of their keys, so a result that comes back (passed →
    # failed → passed) is queued again instead of colliding with the write sent for it the first time.
    generation: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "tags": sorted(self.tags),
            "note_written": self.note_written,
            "record_digest": self.record_digest,
            "generation": self.generation,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SyncedState:
        if not data:
            return cls()
        return cls(
            tags=frozenset(data.get("tags", ())),
            note_written=bool(data.get("note_written", False)),
            record_digest=data.get("record_digest"),
            generation=int(data.get("generation") or 0),
        )


@dataclass(frozen=True)
class CrmWrite:
    kind: WriteKind
    contact_id: str
    payload: dict[str, Any]
    idempotency_key: str


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class OutboxItem:
    id: UUID
    workspace_id: UUID
    enrollment_id: UUID | None
    write: CrmWrite
    status: OutboxStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True)
class RateLimit:
    """A CRM adapter's stated budget: at most `requests` per `per_seconds` (per workspace)."""

    requests: int
    per_seconds: float


@dataclass(frozen=True)
class SyncRun:
    id: UUID
    course_id: UUID
    total: int
    done: int
    failed: int
    started_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else int((self.done + self.failed) * 100 / self.total)


# --- CRM installs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenGrant:
    """What a CRM's OAuth token exchange returned (HighLevel); `expires_at` is absolute (now + expires_in
    when it arrived)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    scope: str
    user_type: str  # "Location" | "Company"
    location_id: str | None
    company_id: str | None
    user_id: str | None
    approved_locations: tuple[str, ...] = ()
    plan_id: str | None = None  # the marketplace plan the location is on (billing)


# --- branding ------------------------------------------------------------------------------------------

DEFAULT_COLOUR = "#2563EB"


@dataclass(frozen=True)
class Branding:
    """How PDF reports and certificates look for a workspace."""

    organization_name: str
    primary_color: str = DEFAULT_COLOUR
    logo_bytes: bytes | None = None
    logo_content_type: str | None = None
    logo_url: str | None = None


def default_branding(workspace_name: str) -> Branding:
    return Branding(organization_name=workspace_name or "SCORM Hub")


@dataclass(frozen=True)
class Logo:
    """A logo image we accept: its bytes and the type read from those bytes."""

    content: bytes
    content_type: str
