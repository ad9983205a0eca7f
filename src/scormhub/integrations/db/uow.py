"""The Piccolo unit of work and repositories: the only place where rows become domain objects."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from scormhub.domain.courses import Course, CourseStatus
from scormhub.domain.model import (
    CrmKind,
    EngineKind,
    LoginToken,
    PlanMode,
    Workspace,
    WorkspaceKind,
)
from scormhub.domain.packages import Problem, Sco
from scormhub.integrations.db.database import engine
from scormhub.integrations.db.tables import CourseRow, LoginTokenRow, WorkspaceRow


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


class PiccoloUnitOfWork:
    """A Piccolo transaction: queries inside the block share it through Piccolo's contextvar."""

    def __init__(self) -> None:
        self.workspaces = PiccoloWorkspaceRepository()
        self.login_tokens = PiccoloLoginTokenRepository()
        self.courses = PiccoloCourseRepository()
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
