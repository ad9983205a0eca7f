"""Ports: what the domain needs from the outside world, declared as Protocols, all in this one module.

They speak in the entities of `domain.model` and the SCORM value types of `domain.scorm` only, so the
use cases import them without a cycle. Adapters live in `scormhub.integrations`; in-memory fakes for unit
tests live in `tests/unit/fakes/`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self
from uuid import UUID

from scormhub.domain.model import (
    Branding,
    Certificate,
    Contact,
    Course,
    CrmConnection,
    CrmWrite,
    EngineAccount,
    EngineKind,
    Enrollment,
    ImportStatus,
    InboxItem,
    Learner,
    LoginToken,
    Logo,
    OutboxItem,
    PostbackTarget,
    RateLimit,
    RegistrationProgress,
    SyncedState,
    SyncRun,
    TokenGrant,
    Workspace,
)
from scormhub.domain.scorm.package import PackageLimits, PackageReport

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scormhub.domain.scorm.state import ScoState


class Clock(Protocol):
    """Time, injected so tests can move it."""

    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...


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
    def sync_states(self) -> SyncStateRepository: ...

    @property
    def sync_runs(self) -> SyncRunRepository: ...

    @property
    def engine_accounts(self) -> EngineAccountRepository: ...

    @property
    def inbox(self) -> InboxRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class JobQueue(Protocol):
    """Background work. A `key` collapses duplicates: enqueueing the same key twice runs the job once."""

    async def enqueue(
        self,
        job: str,
        *,
        key: str | None = None,
        timeout_s: int = 600,
        retries: int = 3,
        delay_s: float = 0,
        **kwargs: Any,
    ) -> str | None:
        """Return the job id, or None when a job with that key is already queued or running."""
        ...


class IncomingPackage(Protocol):
    """An upload being received: its bytes, and the file name once the upload has said it."""

    @property
    def file_name(self) -> str | None: ...

    def chunks(self) -> AsyncIterator[bytes]: ...


class PackageStorage(Protocol):
    """Uploaded packages, addressed by keys we generate (never the user's file name)."""

    async def write(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> tuple[str, int]:
        """Store a stream; past `max_bytes` stop reading, discard it and raise PackageTooLarge.

        Returns (key, size in bytes).
        """
        ...

    async def inspect(self, key: str, limits: PackageLimits) -> PackageReport:
        """Validate a stored package (off the event loop: it reads the whole zip)."""
        ...

    async def settle(
        self, key: str, report: PackageReport, limits: PackageLimits
    ) -> tuple[PackageReport, int]:
        """Make a valid stored package hold exactly what `report` accepted, under the names it saw.

        A course zipped inside its folder is rewritten with that folder's contents at the root (junk
        left out), so every engine receives the layout validation approved. Returns the report for the
        stored bytes (`root_prefix` "") and their size.
        """
        ...

    async def delete(self, key: str) -> None:
        """Remove a package; a missing key is fine (deletes are retried)."""
        ...


class DeliveryEngine(Protocol):
    """Where courses are imported and played: SCORM Cloud, or the built-in player."""

    async def start_import(self, course: Course) -> str:
        """Start importing the course's package; return a handle for poll_import. Idempotent per course."""
        ...

    async def poll_import(self, handle: str) -> ImportStatus: ...

    async def delete_course(self, course: Course) -> None:
        """Remove the course and its content; raise NotFound when the engine has no such course."""
        ...


class RegistrationEngine(Protocol):
    """The registration side of a delivery engine (SCORM Cloud; the built-in player keeps its own)."""

    async def create_registration(
        self, *, registration_id: str, course_id: str, learner: Learner, postback: PostbackTarget | None
    ) -> None:
        """Create it, or do nothing if it exists already (our ids make this idempotent)."""
        ...

    async def delete_registration(self, registration_id: str) -> None: ...

    async def launch_link(
        self, registration_id: str, *, redirect_on_exit_url: str, expiry_s: int = 120
    ) -> str:
        """A fresh launch URL (never stored: they expire)."""
        ...

    async def preview_link(self, course_id: str, *, redirect_on_exit_url: str, expiry_s: int = 120) -> str:
        """A fresh URL that plays the course with nothing tracked."""
        ...

    async def get_progress(self, registration_id: str) -> RegistrationProgress: ...

    def registrations_changed_since(self, since: datetime) -> AsyncIterator[RegistrationProgress]:
        """Every registration updated since then, following the engine's paging to the end."""
        ...


class RegistrationEngines(Protocol):
    """Each workspace's registration engine: SCORM Cloud once the workspace has connected it."""

    async def for_workspace(self, workspace_id: UUID) -> RegistrationEngine | None: ...


class PostbackReader(Protocol):
    """Which registration a stored postback names; the wire formats are the adapter's to read."""

    def registration_id(self, content_type: str, body: str) -> str | None:
        """None when the body names no registration (unreadable, or not a registration at all)."""
        ...


class EngineConnection(Protocol):
    """An engine account as a whole: checking credentials and the account-wide postback configuration."""

    async def ping(self) -> None:
        """Raise InvalidCredentials or EngineUnavailable; return when the credentials work."""
        ...

    async def configure_postback(self, target: PostbackTarget) -> None: ...

    async def remove_postback(self) -> None: ...

    async def send_test_postback(self, target: PostbackTarget) -> None: ...


class EngineRegistry(Protocol):
    """The engine holding a course: a workspace may move to SCORM Cloud; old courses stay where they are."""

    def for_kind(self, kind: EngineKind) -> DeliveryEngine: ...


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


class CrmWriter(Protocol):
    """The write side of a CRM, for one workspace. Transient failures raise CrmUnavailable/CrmRateLimited."""

    @property
    def rate_limit(self) -> RateLimit: ...

    async def add_tags(self, contact_id: str, tags: Sequence[str]) -> None: ...

    async def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None: ...

    async def add_note(
        self, contact_id: str, body: str, *, idempotency_key: str, author_id: str | None = None
    ) -> None:
        """Add a note to the contact's timeline, credited to the CRM user `author_id` where supported."""
        ...

    # A writer that throttles each of its own HTTP requests (one write may take several) sets this,
    # so push_to_crm does not take a turn of the same budget for it again.
    self_throttling: bool

    async def upsert_training_record(
        self, contact_id: str, record_key: str, properties: Mapping[str, Any]
    ) -> None: ...

    async def upsert_company_summary(self, company_key: str, properties: Mapping[str, Any]) -> None: ...

    async def custom_objects_provisioned(self) -> bool:
        """Whether the Training Record and Company Training Summary schemas exist in the CRM."""
        ...

    async def provision_custom_objects(self) -> None:
        """Create the schemas (and their fields and associations) if missing. Idempotent."""
        ...


class Throttle(Protocol):
    async def wait_turn(self, workspace_id: UUID, limit: RateLimit) -> None:
        """Return when one more request fits the workspace's budget (shared by every process)."""
        ...

    async def hold(self, workspace_id: UUID, limit: RateLimit, seconds: float) -> None:
        """The CRM asked us to stop for a while: every sender of the workspace waits it out."""
        ...


class SecretCipher(Protocol):
    """Encryption at rest for credentials; the adapter holds the key, the domain never sees it."""

    def encrypt(self, plaintext: str) -> str: ...

    def decrypt(self, ciphertext: str) -> str: ...


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


class CrmInstallations(Protocol):
    """Installations of the app in CRM locations and agencies (HighLevel), each call its own transaction."""

    async def by_location(self, location_id: str) -> CrmConnection | None: ...

    async def install_location(
        self,
        *,
        location_id: str,
        company_id: str | None,
        grant: TokenGrant | None,
        name: str | None = None,
        user_id: str | None = None,
    ) -> Workspace:
        """Create the location's workspace, or reconnect the one it had (its data is kept); without a
        grant the tokens held are kept."""
        ...

    async def save_agency(self, grant: TokenGrant) -> None: ...

    async def has_agency(self, company_id: str) -> bool:
        """Whether the agency's own install is connected (its locations' tokens are minted from it)."""
        ...

    async def uninstall_location(self, location_id: str) -> UUID | None:
        """Revoke the location's tokens; the workspace and its data stay. None: no such location."""
        ...

    async def uninstall_company(self, company_id: str) -> list[UUID]: ...


class CrmAgencyAuth(Protocol):
    """The agency side of a CRM's OAuth: the locations an agency install covers, and their tokens."""

    async def agency_token(self, company_id: str) -> str:
        """The agency's access token, renewed when due."""
        ...

    async def location_token(self, company_token: str, *, company_id: str, location_id: str) -> TokenGrant:
        """A location's tokens, minted with the agency's."""
        ...

    async def installed_locations(self, company_token: str, *, company_id: str, app_id: str) -> list[str]: ...


class ContactBook(Protocol):
    """The contact side of a CRM, for one workspace: find, read and upsert learners."""

    async def search_contacts(self, query: str, *, limit: int = 10) -> list[Contact]: ...

    async def get_contact(self, contact_id: str) -> Contact | None: ...

    async def upsert_contact(self, *, first_name: str, last_name: str, email: str) -> Contact:
        """Create the contact, or return the one with that email (its names are left as they are)."""
        ...


class ContactDirectory(ContactBook, Protocol):
    """A standalone workspace's own contact book, with what its pages show beside the lookups."""

    async def list_contacts(self, *, offset: int = 0, limit: int = 50) -> list[Contact]: ...

    async def set_company(self, contact_id: str, company: str | None) -> None: ...

    async def company_summaries(self) -> list[dict[str, Any]]: ...

    async def notes(self, contact_id: str) -> list[tuple[datetime, str]]: ...

    async def training_records(self, contact_id: str) -> list[dict[str, Any]]: ...


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


class CertificateUnitOfWork(UnitOfWork, Protocol):
    """A unit of work that also holds certificates."""

    @property
    def certificates(self) -> CertificateRepository: ...


class CertificateRenderer(Protocol):
    """A certificate as a PDF document, branded, with the verification link its QR code carries."""

    async def render(self, certificate: Certificate, branding: Branding, verify_url: str) -> bytes: ...


class RequestLimits(Protocol):
    """Budgets on public requests, shared by every process: one hit counted per call."""

    async def allow(self, key: str, *, limit: int, window_s: int, now: datetime) -> bool:
        """False once `key` has spent its budget for the current window."""
        ...


class ReviewPasses(Protocol):
    """Links that play a course without recording anything (a course's review from self-enrollment)."""

    def issue(self, course_id: UUID) -> str: ...

    def course_of(self, token: str) -> UUID | None:
        """The course a genuine pass was issued for; None for anything else."""
        ...


class BrandingStore(Protocol):
    """Each workspace's branding (the defaults until it saves its own)."""

    async def load(self, workspace_id: UUID, workspace_name: str) -> Branding: ...

    async def save(self, workspace_id: UUID, branding: Branding, now: datetime) -> None: ...


class LogoSource(Protocol):
    """Turns an uploaded file or a URL into a logo we store, or raises LogoRefused saying why not."""

    def check(self, content: bytes) -> Logo: ...

    async def fetch(self, url: str) -> Logo:
        """Fetched once, guarded against reaching inside the network."""
        ...
