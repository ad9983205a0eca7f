"""A fake unit of work over an in-memory 'database': every repository the UnitOfWork port names.

A FakeUnitOfWork stages changes in copies of the store's tables and publishes them only on commit, so a
use case that fails half-way leaves the store as it was, as a rolled-back transaction would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from uuid import UUID, uuid4

from fakes.billing import FakeBillingRepository
from fakes.crm_sync import FakeOutboxRepository, FakeSyncRunRepository, FakeSyncStateRepository
from fakes.versions import FakeCourseVersionRepository
from scormhub.domain.model import (
    Certificate,
    Course,
    CourseStatus,
    CourseVersion,
    EngineAccount,
    Enrollment,
    InboxItem,
    LoginToken,
    Logo,
    OutboxItem,
    SyncedState,
    SyncRun,
    Workspace,
    WorkspaceKind,
)
from scormhub.domain.model_billing import BillingAccount, UsageCharge
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.domain.scorm.sequencing.state import TreeState
from scormhub.domain.scorm.state import ScoState

if TYPE_CHECKING:
    from scormhub.domain.ports import (
        CertificateRepository,
        CertificateUnitOfWork,
        EngineAccountRepository,
        InboxRepository,
        UnitOfWork,
    )


class FakeStore:
    """The 'database' shared by every FakeUnitOfWork made from it: one dict per table."""

    def __init__(self) -> None:
        self.workspaces: dict[UUID, Workspace] = {}
        self.login_tokens: dict[str, LoginToken] = {}
        self.courses: dict[UUID, Course] = {}
        self.enrollments: dict[UUID, Enrollment] = {}
        self.sco_states: dict[tuple[UUID, str], ScoState] = {}
        self.outbox: dict[UUID, OutboxItem] = {}
        self.sync_states: dict[UUID, tuple[SyncedState, datetime | None]] = {}
        self.sync_runs: dict[UUID, tuple[UUID, SyncRun]] = {}
        self.engine_accounts: dict[UUID, EngineAccount] = {}
        self.inbox: dict[UUID, InboxItem] = {}
        self.certificates: dict[str, Certificate] = {}
        self.sequencing_states: dict[UUID, tuple[dict[str, Any], int]] = {}
        self.billing_accounts: dict[UUID, BillingAccount] = {}
        self.usage_charges: dict[UUID, UsageCharge] = {}
        # Content-addressed and written once: shared rather than staged per unit of work.
        self.certificate_logos: dict[str, Logo] = {}
        self.course_versions: dict[UUID, CourseVersion] = {}


class FakeWorkspaceRepository:
    def __init__(self, staged: dict[UUID, Workspace]) -> None:
        self.staged = staged

    async def get(self, workspace_id: UUID) -> Workspace | None:
        return self.staged.get(workspace_id)

    async def get_standalone(self) -> Workspace | None:
        return next((w for w in self.staged.values() if w.kind is WorkspaceKind.STANDALONE), None)

    async def add(self, workspace: Workspace) -> None:
        self.staged[workspace.id] = workspace

    async def lock(self, workspace_id: UUID) -> Workspace | None:
        return self.staged.get(workspace_id)

    async def save(self, workspace: Workspace) -> None:
        self.staged[workspace.id] = workspace


class FakeLoginTokenRepository:
    def __init__(self, staged: dict[str, LoginToken]) -> None:
        self.staged = staged

    async def add(self, token: LoginToken) -> None:
        self.staged[token.token_hash] = token

    async def get_for_update(self, token_hash: str) -> LoginToken | None:
        return self.staged.get(token_hash)

    async def mark_used(self, token_hash: str, used_at: datetime) -> None:
        self.staged[token_hash] = replace(self.staged[token_hash], used_at=used_at)


class FakeCourseRepository:
    def __init__(self, staged: dict[UUID, Course]) -> None:
        self.staged = staged

    async def add(self, course: Course) -> None:
        self.staged[course.id] = course

    async def get(self, workspace_id: UUID, course_id: UUID) -> Course | None:
        course = self.staged.get(course_id)
        return course if course is not None and course.workspace_id == workspace_id else None

    get_for_update = get

    async def save(self, course: Course) -> None:
        self.staged[course.id] = course

    async def delete(self, workspace_id: UUID, course_id: UUID) -> None:
        if await self.get(workspace_id, course_id) is not None:
            del self.staged[course_id]

    async def list_for_workspace(self, workspace_id: UUID) -> list[Course]:
        return [c for c in self.staged.values() if c.workspace_id == workspace_id]

    async def find_by_id(self, course_id: UUID) -> Course | None:
        return self.staged.get(course_id)

    async def package_keys_in_use(self, keys: list[str]) -> set[str]:
        return {c.package_key for c in self.staged.values() if c.package_key in keys}

    async def get_by_enroll_token(self, token: str) -> Course | None:
        return next((c for c in self.staged.values() if c.self_enroll_token == token), None)

    async def list_processing_since(self, updated_before: datetime) -> list[Course]:
        return [
            c
            for c in self.staged.values()
            if c.status is CourseStatus.PROCESSING and c.updated_at < updated_before
        ]


class FakeEnrollmentRepository:
    def __init__(self, staged: dict[UUID, Enrollment]) -> None:
        self.staged = staged

    async def add(self, enrollment: Enrollment) -> None:
        self.staged[enrollment.id] = enrollment

    async def get(self, workspace_id: UUID, enrollment_id: UUID) -> Enrollment | None:
        found = self.staged.get(enrollment_id)
        return found if found is not None and found.workspace_id == workspace_id else None

    async def get_by_launch_token(self, token: str) -> Enrollment | None:
        return next((e for e in self.staged.values() if e.launch_token == token), None)

    async def find(self, workspace_id: UUID, course_id: UUID, contact_id: str) -> Enrollment | None:
        return next(
            (
                e
                for e in self.staged.values()
                if (e.workspace_id, e.course_id, e.contact_id) == (workspace_id, course_id, contact_id)
            ),
            None,
        )

    async def save(self, enrollment: Enrollment) -> None:
        self.staged[enrollment.id] = enrollment

    async def delete(self, workspace_id: UUID, enrollment_id: UUID) -> None:
        if await self.get(workspace_id, enrollment_id) is not None:
            del self.staged[enrollment_id]

    async def find_by_email(self, workspace_id: UUID, course_id: UUID, email: str) -> Enrollment | None:
        return next(
            (
                e
                for e in self.staged.values()
                if (e.workspace_id, e.course_id, e.learner_email.lower())
                == (workspace_id, course_id, email.lower())
            ),
            None,
        )

    async def count_for_workspace(self, workspace_id: UUID) -> int:
        return sum(1 for e in self.staged.values() if e.workspace_id == workspace_id)

    async def list_for_course(
        self, workspace_id: UUID, course_id: UUID, *, offset: int = 0, limit: int = 50
    ) -> list[Enrollment]:
        rows = [e for e in self.staged.values() if (e.workspace_id, e.course_id) == (workspace_id, course_id)]
        return rows[offset : offset + limit]

    async def count_for_course(self, workspace_id: UUID, course_id: UUID) -> int:
        return len(await self.list_for_course(workspace_id, course_id, limit=10**9))

    async def count_by_course(self, workspace_id: UUID) -> dict[UUID, int]:
        counts: dict[UUID, int] = {}
        for e in self.staged.values():
            if e.workspace_id == workspace_id:
                counts[e.course_id] = counts.get(e.course_id, 0) + 1
        return counts

    async def list_for_contact(self, workspace_id: UUID, contact_id: str) -> list[Enrollment]:
        return [
            e for e in self.staged.values() if (e.workspace_id, e.contact_id) == (workspace_id, contact_id)
        ]

    async def ids_for_course(self, workspace_id: UUID, course_id: UUID) -> list[UUID]:
        return [
            e.id for e in self.staged.values() if (e.workspace_id, e.course_id) == (workspace_id, course_id)
        ]

    async def changed_since(self, moment: datetime) -> list[tuple[UUID, UUID]]:
        return [(e.workspace_id, e.id) for e in self.staged.values() if e.updated_at >= moment]

    async def company_summary(self, workspace_id: UUID, company_key: str) -> dict[str, Any]:
        # The numbers PiccoloEnrollmentRepository.company_summary computes in SQL.
        rows = [
            e for e in self.staged.values() if (e.workspace_id, e.company_key) == (workspace_id, company_key)
        ]
        completed = [e for e in rows if e.completion is Completion.COMPLETED]
        scores = [e.score_percent for e in completed if e.score_percent is not None]
        return {
            "company": company_key,
            "learners": len({e.contact_id for e in rows}),
            "enrollments": len(rows),
            "completions": len(completed),
            "passed": sum(1 for e in rows if e.success is Success.PASSED),
            "completion_rate": round(100 * len(completed) / len(rows), 1) if rows else 0.0,
            "average_score": round(sum(scores) / len(scores), 1) if scores else None,
        }


class FakeScoStateRepository:
    def __init__(self, staged: dict[tuple[UUID, str], ScoState]) -> None:
        self.staged = staged

    async def get_for_update(self, enrollment_id: UUID, sco_id: str) -> ScoState | None:
        return self.staged.get((enrollment_id, sco_id))

    async def put(self, enrollment_id: UUID, sco_id: str, state: ScoState) -> None:
        self.staged[(enrollment_id, sco_id)] = state

    async def for_enrollment(self, enrollment_id: UUID) -> dict[str, ScoState]:
        return {sco: s for (e, sco), s in self.staged.items() if e == enrollment_id}


class FakeSequencingStateRepository:
    """Stored as JSON-ready dicts, as the database does, so no caller shares a live TreeState."""

    def __init__(self, staged: dict[UUID, tuple[dict[str, Any], int]]) -> None:
        self.staged = staged

    async def get_for_update(self, enrollment_id: UUID) -> tuple[TreeState, int] | None:
        found = self.staged.get(enrollment_id)
        return (TreeState.from_dict(found[0]), found[1]) if found else None

    async def save(self, enrollment_id: UUID, state: TreeState, expected_version: int) -> bool:
        stored = self.staged.get(enrollment_id)
        if (stored[1] if stored else 0) != expected_version:
            return False
        self.staged[enrollment_id] = (state.to_dict(), expected_version + 1)
        return True


class FakeEngineAccountRepository:
    def __init__(self, staged: dict[UUID, EngineAccount]) -> None:
        self.staged = staged

    async def get(self, workspace_id: UUID) -> EngineAccount | None:
        return self.staged.get(workspace_id)

    async def workspaces(self) -> list[UUID]:
        return list(self.staged)

    async def save(self, account: EngineAccount) -> None:
        self.staged[account.workspace_id] = account

    async def mark_postback_checked(self, workspace_id: UUID, at: datetime) -> None:
        if workspace_id in self.staged:
            self.staged[workspace_id] = replace(self.staged[workspace_id], postback_checked_at=at)

    async def delete(self, workspace_id: UUID) -> None:
        self.staged.pop(workspace_id, None)


class FakeInboxRepository:
    def __init__(self, staged: dict[UUID, InboxItem]) -> None:
        self.staged = staged

    async def add(
        self, *, workspace_id: UUID | None, source: str, content_type: str, body: str, received_at: datetime
    ) -> UUID:
        item = InboxItem(
            id=uuid4(),
            workspace_id=workspace_id,
            source=source,
            content_type=content_type[:200],
            body=body,
            received_at=received_at,
        )
        self.staged[item.id] = item
        return item.id

    async def get(self, item_id: UUID) -> InboxItem | None:
        return self.staged.get(item_id)

    async def mark_processed(self, item_id: UUID, outcome: str, at: datetime) -> None:
        if item_id in self.staged:
            self.staged[item_id] = replace(self.staged[item_id], processed_at=at, outcome=outcome[:2000])

    def _unprocessed(self, received_before: datetime, workspace_id: UUID | None) -> list[InboxItem]:
        return sorted(
            (
                i
                for i in self.staged.values()
                if i.processed_at is None
                and i.received_at <= received_before
                and workspace_id in (None, i.workspace_id)
            ),
            key=lambda i: i.received_at,
        )

    async def unprocessed(
        self, received_before: datetime, *, limit: int = 500, workspace_id: UUID | None = None
    ) -> list[UUID]:
        return [i.id for i in self._unprocessed(received_before, workspace_id)[:limit]]

    async def unprocessed_items(
        self,
        received_before: datetime,
        *,
        limit: int,
        workspace_id: UUID,
        received_from: datetime | None = None,
    ) -> list[InboxItem]:
        items = self._unprocessed(received_before, workspace_id)
        if received_from is not None:
            items = [i for i in items if i.received_at >= received_from]
        return items[:limit]

    async def mark_processed_many(self, outcomes: Mapping[UUID, str], at: datetime) -> None:
        for item_id, outcome in outcomes.items():
            await self.mark_processed(item_id, outcome, at)


class FakeCertificateRepository:
    def __init__(self, staged: dict[str, Certificate], logos: dict[str, Logo] | None = None) -> None:
        self.staged = staged
        self.logos = logos if logos is not None else {}

    async def keep_logo(self, sha256: str, content: bytes, content_type: str) -> None:
        self.logos.setdefault(sha256, Logo(content=content, content_type=content_type))

    async def logo(self, sha256: str) -> Logo | None:
        return self.logos.get(sha256)

    async def add_once(self, certificate: Certificate) -> Certificate:
        existing = next(
            (c for c in self.staged.values() if c.enrollment_id == certificate.enrollment_id), None
        )
        if existing is not None:
            return existing
        self.staged[certificate.id] = certificate
        return certificate

    async def get(self, certificate_id: str) -> Certificate | None:
        return self.staged.get(certificate_id)

    async def for_enrollment(self, workspace_id: UUID, enrollment_id: UUID) -> Certificate | None:
        return next(
            (
                c
                for c in self.staged.values()
                if (c.workspace_id, c.enrollment_id) == (workspace_id, enrollment_id)
            ),
            None,
        )

    async def revoke(self, workspace_id: UUID, certificate_id: str, at: datetime) -> Certificate | None:
        found = self.staged.get(certificate_id)
        if found is None or found.workspace_id != workspace_id:
            return None
        if found.revoked_at is None:
            found = self.staged[certificate_id] = replace(found, revoked_at=at)
        return found


class FakeUnitOfWork:
    """Stages changes in copies and publishes them to the store only on commit."""

    workspaces: FakeWorkspaceRepository
    login_tokens: FakeLoginTokenRepository
    courses: FakeCourseRepository
    enrollments: FakeEnrollmentRepository
    sco_states: FakeScoStateRepository
    outbox: FakeOutboxRepository
    sync_states: FakeSyncStateRepository
    sync_runs: FakeSyncRunRepository
    engine_accounts: FakeEngineAccountRepository
    inbox: FakeInboxRepository
    certificates: FakeCertificateRepository
    sequencing_states: FakeSequencingStateRepository
    billing: FakeBillingRepository
    course_versions: FakeCourseVersionRepository

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.committed = False

    async def __aenter__(self) -> Self:
        s = self.store
        self.workspaces = FakeWorkspaceRepository(dict(s.workspaces))
        self.login_tokens = FakeLoginTokenRepository(dict(s.login_tokens))
        self.courses = FakeCourseRepository(dict(s.courses))
        self.enrollments = FakeEnrollmentRepository(dict(s.enrollments))
        self.sco_states = FakeScoStateRepository(dict(s.sco_states))
        self.outbox = FakeOutboxRepository(dict(s.outbox))
        # Sync state is a column of the enrollment row: it sees the enrollments this transaction sees.
        self.sync_states = FakeSyncStateRepository(dict(s.sync_states), self.enrollments.staged)
        self.sync_runs = FakeSyncRunRepository(dict(s.sync_runs))
        self.engine_accounts = FakeEngineAccountRepository(dict(s.engine_accounts))
        self.inbox = FakeInboxRepository(dict(s.inbox))
        self.certificates = FakeCertificateRepository(dict(s.certificates))
        self.sequencing_states = FakeSequencingStateRepository(dict(s.sequencing_states))
        self.billing = FakeBillingRepository(dict(s.billing_accounts), dict(s.usage_charges))
        self.certificates = FakeCertificateRepository(dict(s.certificates), s.certificate_logos)
        self.course_versions = FakeCourseVersionRepository(dict(s.course_versions), self.enrollments.staged)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def commit(self) -> None:
        s = self.store
        s.workspaces = dict(self.workspaces.staged)
        s.login_tokens = dict(self.login_tokens.staged)
        s.courses = dict(self.courses.staged)
        s.enrollments = dict(self.enrollments.staged)
        s.sco_states = dict(self.sco_states.staged)
        s.outbox = dict(self.outbox.staged)
        s.sync_states = dict(self.sync_states.staged)
        s.sync_runs = dict(self.sync_runs.staged)
        s.engine_accounts = dict(self.engine_accounts.staged)
        s.inbox = dict(self.inbox.staged)
        s.certificates = dict(self.certificates.staged)
        s.sequencing_states = dict(self.sequencing_states.staged)
        s.billing_accounts = dict(self.billing.accounts)
        s.usage_charges = dict(self.billing.charges)
        s.course_versions = dict(self.course_versions.staged)
        self.committed = True

    async def rollback(self) -> None:
        self.committed = False


if TYPE_CHECKING:
    _uow: UnitOfWork = FakeUnitOfWork(FakeStore())
    _certificate_uow: CertificateUnitOfWork = FakeUnitOfWork(FakeStore())
    _engine_accounts: EngineAccountRepository = FakeEngineAccountRepository({})
    _inbox: InboxRepository = FakeInboxRepository({})
    _certificates: CertificateRepository = FakeCertificateRepository({})
