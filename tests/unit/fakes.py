"""In-memory fakes of the ports: they keep state so tests assert outcomes, not calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self
from uuid import UUID, uuid4

from scormhub.domain.courses import ImportFailed, PackageTooLarge
from scormhub.domain.errors import EngineUnavailable, NotFound
from scormhub.domain.model import (
    Contact,
    Course,
    CourseStatus,
    EngineKind,
    Enrollment,
    ImportState,
    ImportStatus,
    LoginToken,
    Workspace,
    WorkspaceKind,
)
from scormhub.domain.scorm.package import PackageLimits, PackageReport, Problem, Sco
from scormhub.domain.scorm.state import ScoState


class FakeClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


class FakeStore:
    """The 'database' shared by every FakeUnitOfWork made from it."""

    def __init__(self) -> None:
        self.workspaces: dict[UUID, Workspace] = {}
        self.login_tokens: dict[str, LoginToken] = {}
        self.courses: dict[UUID, Course] = {}


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

    async def get_by_enroll_token(self, token: str) -> Course | None:
        return next((c for c in self.staged.values() if c.self_enroll_token == token), None)

    async def list_processing_since(self, updated_before: datetime) -> list[Course]:
        return [
            c
            for c in self.staged.values()
            if c.status is CourseStatus.PROCESSING and c.updated_at < updated_before
        ]


class FakeUnitOfWork:
    """Stages changes in copies and publishes them to the store only on commit."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.committed = False

    async def __aenter__(self) -> Self:
        self.workspaces = FakeWorkspaceRepository(dict(self.store.workspaces))
        self.login_tokens = FakeLoginTokenRepository(dict(self.store.login_tokens))
        self.courses = FakeCourseRepository(dict(self.store.courses))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def commit(self) -> None:
        self.store.workspaces = dict(self.workspaces.staged)
        self.store.login_tokens = dict(self.login_tokens.staged)
        self.store.courses = dict(self.courses.staged)
        self.committed = True

    async def rollback(self) -> None:
        self.committed = False


class FakeJobs:
    """Records what was enqueued; a key that is already queued is ignored, as in SAQ."""

    def __init__(self) -> None:
        self.enqueued: list[tuple[str, str | None, dict[str, Any]]] = []

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
        if key is not None and any(k == key for _, k, _ in self.enqueued):
            return None
        self.enqueued.append((job, key, kwargs))
        return f"job-{len(self.enqueued)}"


VALID_REPORT = PackageReport(
    valid=True,
    standard="scorm12",
    edition=None,
    title="Golf Explained",
    scos=(Sco(identifier="sco-1", title="Lesson 1", launch="index.html"),),
    mastery_score=80.0,
    warnings=(Problem(code="P9-missing-file", message="A listed file is missing."),),
    errors=(),
)


class FakeStorage:
    """Keeps packages in memory; `report` is what inspecting any package returns."""

    def __init__(self, report: PackageReport = VALID_REPORT) -> None:
        self.blobs: dict[str, bytes] = {}
        self.report = report
        self.settled: list[str] = []

    async def write(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> tuple[str, int]:
        data = bytearray()
        async for chunk in chunks:
            data += chunk
            if len(data) > max_bytes:
                raise PackageTooLarge(max_bytes)
        key = f"key{len(self.blobs) + 1}"
        self.blobs[key] = bytes(data)
        return key, len(data)

    async def inspect(self, key: str, limits: PackageLimits) -> PackageReport:
        return self.report

    async def settle(
        self, key: str, report: PackageReport, limits: PackageLimits
    ) -> tuple[PackageReport, int]:
        self.settled.append(key)
        return replace(report, root_prefix=""), len(self.blobs[key])

    async def delete(self, key: str) -> None:
        self.blobs.pop(key, None)


class FakeEngine:
    """An engine whose imports finish after `polls_until_done` polls, or fail as told."""

    def __init__(
        self, *, polls_until_done: int = 0, fail_with: str | None = None, down: bool = False
    ) -> None:
        self.started: list[UUID] = []
        self.deleted: list[UUID] = []
        self.polls_until_done = polls_until_done
        self.fail_with = fail_with
        self.down = down

    async def start_import(self, course: Course) -> str:
        if self.down:
            raise EngineUnavailable("connection refused")
        if self.fail_with:
            raise ImportFailed(self.fail_with)
        self.started.append(course.id)
        return f"handle-{course.id}"

    async def poll_import(self, handle: str) -> ImportStatus:
        if self.polls_until_done > 0:
            self.polls_until_done -= 1
            return ImportStatus(state=ImportState.RUNNING)
        return ImportStatus(state=ImportState.COMPLETE, title="Golf Explained (engine)")

    async def delete_course(self, course: Course) -> None:
        if course.id in self.deleted:
            raise NotFound("course")
        self.deleted.append(course.id)


class FakeEngines:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine

    def for_kind(self, kind: EngineKind) -> FakeEngine:
        return self.engine


# --- enroll and learn: enrollments, SCO states and a contact book ----------------------------------------


class FakeContactBook:
    """One workspace's contacts in memory; emails are unique whatever their case."""

    def __init__(self) -> None:
        self.contacts: dict[str, Contact] = {}

    async def search_contacts(self, query: str, *, limit: int = 10) -> list[Contact]:
        words = query.lower().split()
        found = [
            c
            for c in self.contacts.values()
            if all(w in f"{c.first_name} {c.last_name} {c.email}".lower() for w in words)
        ]
        return found[:limit]

    async def get_contact(self, contact_id: str) -> Contact | None:
        return self.contacts.get(contact_id)

    async def upsert_contact(self, *, first_name: str, last_name: str, email: str) -> Contact:
        existing = next((c for c in self.contacts.values() if c.email == email.lower()), None)
        if existing is not None:
            return existing
        contact = Contact(id=str(uuid4()), first_name=first_name, last_name=last_name, email=email.lower())
        self.contacts[contact.id] = contact
        return contact


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


class FakeScoStateRepository:
    def __init__(self, staged: dict[tuple[UUID, str], ScoState]) -> None:
        self.staged = staged

    async def get_for_update(self, enrollment_id: UUID, sco_id: str) -> ScoState | None:
        return self.staged.get((enrollment_id, sco_id))

    async def put(self, enrollment_id: UUID, sco_id: str, state: ScoState) -> None:
        self.staged[(enrollment_id, sco_id)] = state

    async def for_enrollment(self, enrollment_id: UUID) -> dict[str, ScoState]:
        return {sco: s for (e, sco), s in self.staged.items() if e == enrollment_id}


class FakeLearningStore(FakeStore):
    """The fake database with enrollments and per-SCO run-time state as well."""

    def __init__(self) -> None:
        super().__init__()
        self.enrollments: dict[UUID, Enrollment] = {}
        self.sco_states: dict[tuple[UUID, str], ScoState] = {}


class FakeLearningUnitOfWork(FakeUnitOfWork):
    def __init__(self, store: FakeLearningStore) -> None:
        super().__init__(store)
        self.learning = store

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.enrollments = FakeEnrollmentRepository(dict(self.learning.enrollments))
        self.sco_states = FakeScoStateRepository(dict(self.learning.sco_states))
        return self

    async def commit(self) -> None:
        await super().commit()
        self.learning.enrollments = dict(self.enrollments.staged)
        self.learning.sco_states = dict(self.sco_states.staged)
