"""The Piccolo unit of work and repositories: the only place where rows become domain objects."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from scormhub.domain.courses import Course, CourseStatus
from scormhub.domain.enrollments import Enrollment
from scormhub.domain.model import (
    CrmKind,
    EngineKind,
    LoginToken,
    PlanMode,
    Workspace,
    WorkspaceKind,
)
from scormhub.domain.packages import Problem, Sco
from scormhub.domain.runtime import Completion, ScoState, Success
from scormhub.integrations.db.database import engine
from scormhub.integrations.db.tables import CourseRow, EnrollmentRow, LoginTokenRow, ScoStateRow, WorkspaceRow


def _workspace(row: dict[str, Any]) -> Workspace:
    return Workspace(
        id=row["id"],
        name=row["name"],
        kind=WorkspaceKind(row["kind"]),
        plan=PlanMode(row["plan"]),
        engine=EngineKind(row["engine"]),
        crm=CrmKind(row["crm"]),
        created_at=row["created_at"],
        crm_location_id=row["crm_location_id"],
    )


class PiccoloWorkspaceRepository:
    async def get(self, workspace_id: UUID) -> Workspace | None:
        row = await WorkspaceRow.select().where(WorkspaceRow.id == workspace_id).first()
        return _workspace(row) if row else None

    async def get_standalone(self) -> Workspace | None:
        # Two processes starting at once must not both create "the" standalone workspace:
        # a transaction-scoped advisory lock serialises the check-then-create.
        await WorkspaceRow.raw("SELECT pg_advisory_xact_lock(hashtext('scormhub:standalone-workspace'))")
        row = (
            await WorkspaceRow.select()
            .where(WorkspaceRow.kind == WorkspaceKind.STANDALONE.value)
            .order_by(WorkspaceRow.created_at)
            .first()
        )
        return _workspace(row) if row else None

    async def lock(self, workspace_id: UUID) -> Workspace | None:
        row = await WorkspaceRow.select().where(WorkspaceRow.id == workspace_id).lock_rows("UPDATE").first()
        return _workspace(row) if row else None

    async def save(self, workspace: Workspace) -> None:
        await WorkspaceRow.update(
            {
                WorkspaceRow.name: workspace.name,
                WorkspaceRow.plan: workspace.plan.value,
                WorkspaceRow.engine: workspace.engine.value,
                WorkspaceRow.crm: workspace.crm.value,
            }
        ).where(WorkspaceRow.id == workspace.id)

    async def add(self, workspace: Workspace) -> None:
        await WorkspaceRow.insert(
            WorkspaceRow(
                id=workspace.id,
                name=workspace.name,
                kind=workspace.kind.value,
                plan=workspace.plan.value,
                engine=workspace.engine.value,
                crm=workspace.crm.value,
                crm_location_id=workspace.crm_location_id,
                created_at=workspace.created_at,
            )
        )


class PiccoloLoginTokenRepository:
    async def add(self, token: LoginToken) -> None:
        await LoginTokenRow.insert(
            LoginTokenRow(
                token_hash=token.token_hash,
                workspace_id=token.workspace_id,
                expires_at=token.expires_at,
                used_at=token.used_at,
            )
        )

    async def get_for_update(self, token_hash: str) -> LoginToken | None:
        row = (
            await LoginTokenRow.select()
            .where(LoginTokenRow.token_hash == token_hash)
            .lock_rows("UPDATE")
            .first()
        )
        if row is None:
            return None
        return LoginToken(
            token_hash=row["token_hash"],
            workspace_id=row["workspace_id"],
            expires_at=row["expires_at"],
            used_at=row["used_at"],
        )

    async def mark_used(self, token_hash: str, used_at: datetime) -> None:
        await LoginTokenRow.update({LoginTokenRow.used_at: used_at}).where(
            LoginTokenRow.token_hash == token_hash
        )


def _course(row: dict[str, Any]) -> Course:
    warnings, scos = row["warnings"], row["scos"]
    return Course(
        id=row["id"],
        workspace_id=row["workspace_id"],
        title=row["title"],
        standard=row["standard"],
        edition=row["edition"],
        status=CourseStatus(row["status"]),
        engine=EngineKind(row["engine"]),
        package_key=row["package_key"],
        package_bytes=row["package_bytes"],
        file_name=row["file_name"],
        self_enroll_token=row["self_enroll_token"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        status_message=row["status_message"],
        warnings=tuple(Problem(code=w["code"], message=w["message"]) for w in warnings),
        scos=tuple(Sco(identifier=s["identifier"], title=s["title"], launch=s["launch"]) for s in scos),
        mastery_score=row["mastery_score"],
        import_handle=row["import_handle"],
        import_attempts=row["import_attempts"],
    )


def _course_values(course: Course) -> dict[str, Any]:
    return {
        "title": course.title,
        "standard": course.standard,
        "edition": course.edition,
        "status": course.status.value,
        "status_message": course.status_message,
        "engine": course.engine.value,
        "package_key": course.package_key,
        "package_bytes": course.package_bytes,
        "file_name": course.file_name,
        "self_enroll_token": course.self_enroll_token,
        "warnings": [{"code": w.code, "message": w.message} for w in course.warnings],
        "scos": [{"identifier": s.identifier, "title": s.title, "launch": s.launch} for s in course.scos],
        "mastery_score": course.mastery_score,
        "import_handle": course.import_handle,
        "import_attempts": course.import_attempts,
        "created_at": course.created_at,
        "updated_at": course.updated_at,
    }


class PiccoloCourseRepository:
    async def add(self, course: Course) -> None:
        values = _course_values(course)
        await CourseRow.insert(CourseRow(id=course.id, workspace_id=course.workspace_id, **values))

    async def get(self, workspace_id: UUID, course_id: UUID) -> Course | None:
        row = (
            await CourseRow.select()
            .where((CourseRow.workspace_id == workspace_id) & (CourseRow.id == course_id))
            .output(load_json=True)
            .first()
        )
        return _course(row) if row else None

    async def get_for_update(self, workspace_id: UUID, course_id: UUID) -> Course | None:
        row = (
            await CourseRow.select()
            .where((CourseRow.workspace_id == workspace_id) & (CourseRow.id == course_id))
            .lock_rows("UPDATE")
            .output(load_json=True)
            .first()
        )
        return _course(row) if row else None

    async def save(self, course: Course) -> None:
        values = _course_values(course)
        await CourseRow.update({getattr(CourseRow, k): v for k, v in values.items()}).where(
            (CourseRow.workspace_id == course.workspace_id) & (CourseRow.id == course.id)
        )

    async def delete(self, workspace_id: UUID, course_id: UUID) -> None:
        await CourseRow.delete().where((CourseRow.workspace_id == workspace_id) & (CourseRow.id == course_id))

    async def list_for_workspace(self, workspace_id: UUID) -> list[Course]:
        rows = (
            await CourseRow.select()
            .where(CourseRow.workspace_id == workspace_id)
            .order_by(CourseRow.created_at, ascending=False)
            .output(load_json=True)
        )
        return [_course(row) for row in rows]

    async def get_by_enroll_token(self, token: str) -> Course | None:
        row = (
            await CourseRow.select()
            .where(CourseRow.self_enroll_token == token)
            .output(load_json=True)
            .first()
        )
        return _course(row) if row else None

    async def list_processing_since(self, updated_before: datetime) -> list[Course]:
        # SKIP LOCKED: a course being imported right now is not stuck, and two recoverers never collide.
        rows = (
            await CourseRow.select()
            .where((CourseRow.status == "processing") & (CourseRow.updated_at < updated_before))
            .order_by(CourseRow.updated_at)
            .limit(100)
            .lock_rows("UPDATE", skip_locked=True)
            .output(load_json=True)
        )
        return [_course(row) for row in rows]


def _enrollment(row: dict[str, Any]) -> Enrollment:
    return Enrollment(
        id=row["id"],
        workspace_id=row["workspace_id"],
        course_id=row["course_id"],
        contact_id=row["contact_id"],
        learner_name=row["learner_name"],
        learner_email=row["learner_email"],
        launch_token=row["launch_token"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        self_enrolled=row["self_enrolled"],
        completion=Completion(row["completion"]),
        success=Success(row["success"]),
        score_raw=row["score_raw"],
        score_percent=row["score_percent"],
        total_seconds=row["total_seconds"],
        attempts=row["attempts"],
        first_access_at=row["first_access_at"],
        last_access_at=row["last_access_at"],
        completed_at=row["completed_at"],
    )


def _enrollment_values(e: Enrollment) -> dict[Any, Any]:
    return {
        EnrollmentRow.learner_name: e.learner_name,
        EnrollmentRow.learner_email: e.learner_email,
        EnrollmentRow.completion: e.completion.value,
        EnrollmentRow.success: e.success.value,
        EnrollmentRow.score_raw: e.score_raw,
        EnrollmentRow.score_percent: e.score_percent,
        EnrollmentRow.total_seconds: e.total_seconds,
        EnrollmentRow.attempts: e.attempts,
        EnrollmentRow.first_access_at: e.first_access_at,
        EnrollmentRow.last_access_at: e.last_access_at,
        EnrollmentRow.completed_at: e.completed_at,
        EnrollmentRow.updated_at: e.updated_at,
    }


class PiccoloEnrollmentRepository:
    async def add(self, e: Enrollment) -> None:
        await EnrollmentRow.insert(
            EnrollmentRow(
                id=e.id,
                workspace_id=e.workspace_id,
                course_id=e.course_id,
                contact_id=e.contact_id,
                launch_token=e.launch_token,
                self_enrolled=e.self_enrolled,
                created_at=e.created_at,
                **{column._meta.name: value for column, value in _enrollment_values(e).items()},
            )
        )

    async def get(self, workspace_id: UUID, enrollment_id: UUID) -> Enrollment | None:
        row = (
            await EnrollmentRow.select()
            .where((EnrollmentRow.workspace_id == workspace_id) & (EnrollmentRow.id == enrollment_id))
            .first()
        )
        return _enrollment(row) if row else None

    async def get_by_launch_token(self, token: str) -> Enrollment | None:
        row = await EnrollmentRow.select().where(EnrollmentRow.launch_token == token).first()
        return _enrollment(row) if row else None

    async def find(self, workspace_id: UUID, course_id: UUID, contact_id: str) -> Enrollment | None:
        row = (
            await EnrollmentRow.select()
            .where(
                (EnrollmentRow.workspace_id == workspace_id)
                & (EnrollmentRow.course_id == course_id)
                & (EnrollmentRow.contact_id == contact_id)
            )
            .first()
        )
        return _enrollment(row) if row else None

    async def save(self, e: Enrollment) -> None:
        await EnrollmentRow.update(_enrollment_values(e)).where(
            (EnrollmentRow.workspace_id == e.workspace_id) & (EnrollmentRow.id == e.id)
        )

    async def delete(self, workspace_id: UUID, enrollment_id: UUID) -> None:
        await EnrollmentRow.delete().where(
            (EnrollmentRow.workspace_id == workspace_id) & (EnrollmentRow.id == enrollment_id)
        )

    async def count_for_workspace(self, workspace_id: UUID) -> int:
        return int(await EnrollmentRow.count().where(EnrollmentRow.workspace_id == workspace_id))

    async def list_for_course(
        self, workspace_id: UUID, course_id: UUID, *, offset: int = 0, limit: int = 50
    ) -> list[Enrollment]:
        rows = (
            await EnrollmentRow.select()
            .where((EnrollmentRow.workspace_id == workspace_id) & (EnrollmentRow.course_id == course_id))
            .order_by(EnrollmentRow.created_at, ascending=False)
            .offset(offset)
            .limit(limit)
        )
        return [_enrollment(row) for row in rows]

    async def count_for_course(self, workspace_id: UUID, course_id: UUID) -> int:
        return int(
            await EnrollmentRow.count().where(
                (EnrollmentRow.workspace_id == workspace_id) & (EnrollmentRow.course_id == course_id)
            )
        )

    async def list_for_contact(self, workspace_id: UUID, contact_id: str) -> list[Enrollment]:
        rows = (
            await EnrollmentRow.select()
            .where((EnrollmentRow.workspace_id == workspace_id) & (EnrollmentRow.contact_id == contact_id))
            .order_by(EnrollmentRow.created_at, ascending=False)
        )
        return [_enrollment(row) for row in rows]


class PiccoloScoStateRepository:
    async def get_for_update(self, enrollment_id: UUID, sco_id: str) -> ScoState | None:
        row = (
            await ScoStateRow.select(ScoStateRow.state)
            .where((ScoStateRow.enrollment_id == enrollment_id) & (ScoStateRow.sco_id == sco_id))
            .lock_rows("UPDATE")
            .output(load_json=True)
            .first()
        )
        return ScoState.from_dict(row["state"]) if row else None

    async def put(self, enrollment_id: UUID, sco_id: str, state: ScoState) -> None:
        import json
        import uuid

        # One statement, so two tabs creating the first state of a SCO cannot both insert.
        await ScoStateRow.raw(
            "INSERT INTO sco_state (id, enrollment_id, sco_id, state, updated_at) "
            "VALUES ({}, {}, {}, {}::jsonb, now()) "
            "ON CONFLICT (enrollment_id, sco_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
            uuid.uuid4(),
            enrollment_id,
            sco_id,
            json.dumps(state.to_dict()),
        )

    async def for_enrollment(self, enrollment_id: UUID) -> dict[str, ScoState]:
        rows = (
            await ScoStateRow.select(ScoStateRow.sco_id, ScoStateRow.state)
            .where(ScoStateRow.enrollment_id == enrollment_id)
            .output(load_json=True)
        )
        return {row["sco_id"]: ScoState.from_dict(row["state"]) for row in rows}


class PiccoloUnitOfWork:
    """A Piccolo transaction: queries inside the block share it through Piccolo's contextvar."""

    def __init__(self) -> None:
        self.workspaces = PiccoloWorkspaceRepository()
        self.login_tokens = PiccoloLoginTokenRepository()
        self.courses = PiccoloCourseRepository()
        self.enrollments = PiccoloEnrollmentRepository()
        self.sco_states = PiccoloScoStateRepository()
        self._transaction: Any = None
        self._committed = False

    async def __aenter__(self) -> Self:
        # allow_nested=False: a use case owns its transaction; nesting would hide a commit.
        self._transaction = engine().transaction(allow_nested=False)
        await self._transaction.__aenter__()
        self._committed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        transaction, self._transaction = self._transaction, None
        if not self._committed and exc is None and not transaction._rolled_back:
            # Nothing is kept unless the use case said commit.
            await transaction.rollback()
        await transaction.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        await self._transaction.commit()
        self._committed = True

    async def rollback(self) -> None:
        await self._transaction.rollback()
