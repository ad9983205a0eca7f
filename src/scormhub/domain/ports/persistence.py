"""Where the domain keeps its state: one repository per aggregate, and the unit of work that opens them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self
from uuid import UUID

from scormhub.domain.model import (
    Certificate,
    Course,
    CrmWrite,
    EngineAccount,
    Enrollment,
    InboxItem,
    LoginToken,
    Logo,
    OutboxItem,
    SyncedState,
    SyncRun,
    Workspace,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scormhub.domain.ports.billing import BillingRepository
    from scormhub.domain.ports.versions import CourseVersionRepository
    from scormhub.domain.scorm.sequencing.state import TreeState
    from scormhub.domain.scorm.state import ScoState


class WorkspaceRepository(Protocol):
    async def get(self, workspace_id: UUID) -> Workspace | None: ...

    async def lock(self, workspace_id: UUID) -> Workspace | None:
        """Read and lock the workspace row: the plan limit is counted under this lock."""
        ...

    async def save(self, workspace: Workspace) -> None: ...

    async def get_standalone(self) -> Workspace | None: ...

    async def add(self, workspace: Workspace) -> None: ...


class LoginTokenRepository(Protocol):
    async def add(self, token: LoginToken) -> None: ...

    async def get_for_update(self, token_hash: str) -> LoginToken | None:
        """Read and lock the row, so two tabs redeeming one link cannot both succeed."""
        ...

    async def mark_used(self, token_hash: str, used_at: datetime) -> None: ...


class CourseRepository(Protocol):
    """Every read is scoped by workspace: another workspace's course id is simply not found."""

    async def add(self, course: Course) -> None: ...

    async def get(self, workspace_id: UUID, course_id: UUID) -> Course | None: ...

    async def get_for_update(self, workspace_id: UUID, course_id: UUID) -> Course | None:
        """Read and lock the row until the transaction ends."""
        ...

    async def save(self, course: Course) -> None: ...

    async def delete(self, workspace_id: UUID, course_id: UUID) -> None: ...

    async def list_for_workspace(self, workspace_id: UUID) -> list[Course]: ...

    async def list_processing_since(self, updated_before: datetime) -> list[Course]:
        """Processing courses of every workspace not touched since then (for the recovery job), locked."""
        ...

    async def find_by_id(self, course_id: UUID) -> Course | None:
        """Any workspace's course: only for ids we signed ourselves (a review pass)."""
        ...

    async def package_keys_in_use(self, keys: list[str]) -> set[str]:
        """Which of these storage keys a course (of any workspace) still names: for storage clean-up."""
        ...

    async def get_by_enroll_token(self, token: str) -> Course | None:
        """The course a public self-enrollment link names (the token is the only key)."""
        ...


class EnrollmentRepository(Protocol):
    async def add(self, enrollment: Enrollment) -> None: ...

    async def get(self, workspace_id: UUID, enrollment_id: UUID) -> Enrollment | None: ...

    async def get_by_launch_token(self, token: str) -> Enrollment | None: ...

    async def find(self, workspace_id: UUID, course_id: UUID, contact_id: str) -> Enrollment | None: ...

    async def find_by_email(self, workspace_id: UUID, course_id: UUID, email: str) -> Enrollment | None:
        """The enrollment on this course whose learner has this address, in any case."""
        ...

    async def save(self, enrollment: Enrollment) -> None: ...

    async def delete(self, workspace_id: UUID, enrollment_id: UUID) -> None: ...

    async def count_for_workspace(self, workspace_id: UUID) -> int: ...

    async def list_for_course(
        self, workspace_id: UUID, course_id: UUID, *, offset: int = 0, limit: int = 50
    ) -> list[Enrollment]: ...

    async def count_for_course(self, workspace_id: UUID, course_id: UUID) -> int: ...

    async def count_by_course(self, workspace_id: UUID) -> dict[UUID, int]:
        """Learners per course of the workspace, in one query (the course list shows them)."""
        ...

    async def list_for_contact(self, workspace_id: UUID, contact_id: str) -> list[Enrollment]: ...

    async def ids_for_course(self, workspace_id: UUID, course_id: UUID) -> list[UUID]: ...

    async def company_summary(self, workspace_id: UUID, company_key: str) -> dict[str, Any]:
        """Counts, completion rate and average score of a company's enrollments (computed in SQL)."""
        ...

    async def changed_since(self, moment: datetime) -> list[tuple[UUID, UUID]]:
        """(workspace id, enrollment id) of every enrollment updated since then, across workspaces."""
        ...


class ScoStateRepository(Protocol):
    async def get_for_update(self, enrollment_id: UUID, sco_id: str) -> ScoState | None: ...

    async def put(self, enrollment_id: UUID, sco_id: str, state: ScoState) -> None: ...

    async def for_enrollment(self, enrollment_id: UUID) -> dict[str, ScoState]: ...


class SequencingStateRepository(Protocol):
    """One enrollment's SCORM 2004 activity tree state, with a version for optimistic saves."""

    async def get_for_update(self, enrollment_id: UUID) -> tuple[TreeState, int] | None: ...

    async def save(self, enrollment_id: UUID, state: TreeState, expected_version: int) -> bool:
        """Store the state if the stored version is still `expected_version` (0: none yet); False if not."""
        ...


class UnitOfWork(Protocol):
    """One database transaction; nothing is kept unless `commit()` is called inside the block."""

    # Read-only properties, so an adapter's more specific repository types still satisfy the port.
    @property
    def workspaces(self) -> WorkspaceRepository: ...

    @property
    def login_tokens(self) -> LoginTokenRepository: ...

    @property
    def courses(self) -> CourseRepository: ...

    @property
    def enrollments(self) -> EnrollmentRepository: ...

    @property
    def sco_states(self) -> ScoStateRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def sequencing_states(self) -> SequencingStateRepository: ...

    @property
    def sync_states(self) -> SyncStateRepository: ...

    @property
    def sync_runs(self) -> SyncRunRepository: ...

    @property
    def engine_accounts(self) -> EngineAccountRepository: ...

    @property
    def inbox(self) -> InboxRepository: ...

    @property
    def billing(self) -> BillingRepository: ...

    @property
    def course_versions(self) -> CourseVersionRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class OutboxRepository(Protocol):
    async def add_new(
        self, workspace_id: UUID, enrollment_id: UUID | None, writes: Sequence[CrmWrite], now: datetime
    ) -> int:
        """Queue writes whose idempotency key is new; return how many were new."""
        ...

    async def claim_due(
        self, workspace_id: UUID, now: datetime, *, limit: int, lease_s: float
    ) -> list[OutboxItem]:
        """Pending writes that are due, leased to the caller: nobody else takes them until the lease ends."""
        ...

    async def mark_sent(self, item_id: UUID, now: datetime, *, delivered: Mapping[str, Any]) -> bool:
        """Mark sent if its payload is still `delivered`; else (changed in flight by coalescing) make it
        due now, to deliver what it says now, and return False."""
        ...

    async def pending_for(self, workspace_id: UUID, enrollment_id: UUID) -> list[OutboxItem]:
        """The enrollment's pending writes (some may be in flight), oldest first."""
        ...

    async def replace_payload(self, item_id: UUID, payload: Mapping[str, Any]) -> None: ...

    async def discard(self, item_ids: Sequence[UUID]) -> None:
        """Delete pending writes that coalescing left nothing to do for."""
        ...

    async def supersede_summaries(self, workspace_id: UUID, company: str, *, but: UUID, now: datetime) -> int:
        """Mark the company's other pending summary writes sent: a summary computed after this call
        answers them."""
        ...

    async def mark_retry(self, item_id: UUID, error: str, next_attempt_at: datetime) -> None: ...

    async def mark_failed(self, item_id: UUID, error: str) -> None: ...

    async def pause(self, workspace_id: UUID, error: str, until: datetime) -> int:
        """Hold every pending write of the workspace until `until`, without counting an attempt."""
        ...

    async def resume(self, workspace_id: UUID, now: datetime) -> int:
        """Make the workspace's held writes due now."""
        ...

    async def retry(self, workspace_id: UUID, item_id: UUID, now: datetime) -> bool:
        """Put a failed write back in the queue (the Retry button)."""
        ...

    async def recent(
        self, workspace_id: UUID, *, enrollment_id: UUID | None = None, limit: int = 100
    ) -> list[OutboxItem]: ...

    async def counts(self, workspace_id: UUID, *, enrollment_id: UUID | None = None) -> dict[str, int]: ...

    async def workspaces_with_due_writes(self, now: datetime) -> list[UUID]: ...

    async def next_due_at(self, workspace_id: UUID) -> datetime | None:
        """When the workspace's earliest pending write comes due (None: nothing pending)."""
        ...


class SyncStateRepository(Protocol):
    async def lock(
        self, workspace_id: UUID, enrollment_id: UUID
    ) -> tuple[SyncedState, datetime | None] | None:
        """Lock the enrollment for a sync; return what the CRM was last told and the engine stamp held."""
        ...

    async def store(
        self, enrollment_id: UUID, synced: SyncedState, engine_updated_at: datetime | None
    ) -> None: ...


class SyncRunRepository(Protocol):
    async def start(self, workspace_id: UUID, course_id: UUID, total: int, now: datetime) -> UUID: ...

    async def count(self, run_id: UUID, *, failed: bool, now: datetime) -> None:
        """One enrollment done (or failed); the run finishes when all are counted."""
        ...

    async def latest(self, workspace_id: UUID, course_id: UUID) -> SyncRun | None: ...

    async def abandon(self, run_id: UUID, now: datetime) -> None:
        """Close a run whose jobs were lost, so a new one can start."""
        ...

    async def running(self, workspace_id: UUID, course_id: UUID) -> SyncRun | None: ...


class EngineAccountRepository(Protocol):
    async def get(self, workspace_id: UUID) -> EngineAccount | None: ...

    async def workspaces(self) -> list[UUID]:
        """Every workspace with a connected account (for the reconciler)."""
        ...

    async def save(self, account: EngineAccount) -> None:
        """Insert or replace; replacing clears `postback_checked_at` (new credentials, not yet tested)."""
        ...

    async def mark_postback_checked(self, workspace_id: UUID, at: datetime) -> None: ...

    async def delete(self, workspace_id: UUID) -> None: ...


class InboxRepository(Protocol):
    async def get(self, item_id: UUID) -> InboxItem | None: ...

    async def mark_processed(self, item_id: UUID, outcome: str, at: datetime) -> None: ...

    async def unprocessed(
        self, received_before: datetime, *, limit: int = 500, workspace_id: UUID | None = None
    ) -> list[UUID]: ...

    async def unprocessed_items(
        self,
        received_before: datetime,
        *,
        limit: int,
        workspace_id: UUID,
        received_from: datetime | None = None,
    ) -> list[InboxItem]: ...

    async def mark_processed_many(self, outcomes: Mapping[UUID, str], at: datetime) -> None: ...


class CertificateRepository(Protocol):
    """Certificates by their public id (any workspace: the verification page) or by enrollment (scoped)."""

    async def add_once(self, certificate: Certificate) -> Certificate:
        """Store it unless the enrollment has a certificate already; return the one that is stored."""
        ...

    async def get(self, certificate_id: str) -> Certificate | None: ...

    async def for_enrollment(self, workspace_id: UUID, enrollment_id: UUID) -> Certificate | None: ...

    async def revoke(self, workspace_id: UUID, certificate_id: str, at: datetime) -> Certificate | None:
        """Set the revocation date unless one is set; None when the workspace has no such certificate."""
        ...

    async def keep_logo(self, sha256: str, content: bytes, content_type: str) -> None:
        """Store a logo certificates were issued with, by the hash of its bytes (once)."""
        ...

    async def logo(self, sha256: str) -> Logo | None:
        """A logo kept by `keep_logo`."""
        ...


class CertificateUnitOfWork(UnitOfWork, Protocol):
    """A unit of work that also holds certificates."""

    @property
    def certificates(self) -> CertificateRepository: ...
