"""The Piccolo unit of work and repositories: the only place where rows become domain objects."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from scormhub.domain.model import (
    Course,
    CourseStatus,
    CrmKind,
    EngineAccount,
    EngineKind,
    Enrollment,
    InboxItem,
    LoginToken,
    PlanMode,
    Workspace,
    WorkspaceKind,
)
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.domain.scorm.package import Problem, Sco
from scormhub.domain.scorm.state import ScoState
from scormhub.integrations.db.certificates import PiccoloCertificateRepository
from scormhub.integrations.db.crm_sync import (
    PiccoloOutboxRepository,
    PiccoloSyncRunRepository,
    PiccoloSyncStateRepository,
)
from scormhub.integrations.db.database import engine
from scormhub.integrations.db.tables import (
    CourseRow,
    EngineAccountRow,
    EnrollmentRow,
    InboxRow,
    LoginTokenRow,
    ScoStateRow,
    WorkspaceRow,
)


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
        sync_tags=row["sync_tags"],
        sync_notes=row["sync_notes"],
        sync_records=row["sync_records"],
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
                WorkspaceRow.sync_tags: workspace.sync_tags,
                WorkspaceRow.sync_notes: workspace.sync_notes,
                WorkspaceRow.sync_records: workspace.sync_records,
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

    async def find_by_id(self, course_id: UUID) -> Course | None:
        row = await CourseRow.select().where(CourseRow.id == course_id).output(load_json=True).first()
        return _course(row) if row else None

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
        company_key=row["company_key"],
        enrolled_by=row.get("enrolled_by"),
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
                company_key=e.company_key,
                enrolled_by=e.enrolled_by,
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

    async def find_by_email(self, workspace_id: UUID, course_id: UUID, email: str) -> Enrollment | None:
        rows = await EnrollmentRow.raw(
            "SELECT * FROM enrollment WHERE workspace_id = {} AND course_id = {} "
            "AND lower(learner_email) = {} ORDER BY created_at LIMIT 1",
            workspace_id,
            course_id,
            email.lower(),
        )
        return _enrollment(rows[0]) if rows else None

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

    async def count_by_course(self, workspace_id: UUID) -> dict[UUID, int]:
        rows = await EnrollmentRow.raw(
            "SELECT course_id, count(*) AS learners FROM enrollment WHERE workspace_id = {} "
            "GROUP BY course_id",
            workspace_id,
        )
        return {row["course_id"]: int(row["learners"]) for row in rows}

    async def changed_since(self, moment: datetime) -> list[tuple[UUID, UUID]]:
        rows = await EnrollmentRow.select(EnrollmentRow.workspace_id, EnrollmentRow.id).where(
            EnrollmentRow.updated_at >= moment
        )
        return [(row["workspace_id"], row["id"]) for row in rows]

    async def company_summary(self, workspace_id: UUID, company_key: str) -> dict[str, Any]:
        rows = await EnrollmentRow.raw(
            "SELECT count(*) AS enrollments, count(DISTINCT contact_id) AS learners, "
            "count(*) FILTER (WHERE completion = 'completed') AS completions, "
            "count(*) FILTER (WHERE success = 'passed') AS passed, "
            "avg(score_percent) FILTER (WHERE completion = 'completed') AS average_score "
            "FROM enrollment WHERE workspace_id = {} AND company_key = {}",
            workspace_id,
            company_key,
        )
        row = rows[0]
        enrollments = int(row["enrollments"])
        completions = int(row["completions"])
        average = row["average_score"]
        return {
            "company": company_key,
            "learners": int(row["learners"]),
            "enrollments": enrollments,
            "completions": completions,
            "passed": int(row["passed"]),
            "completion_rate": round(100 * completions / enrollments, 1) if enrollments else 0.0,
            "average_score": round(float(average), 1) if average is not None else None,
        }

    async def ids_for_course(self, workspace_id: UUID, course_id: UUID) -> list[UUID]:
        rows = await EnrollmentRow.select(EnrollmentRow.id).where(
            (EnrollmentRow.workspace_id == workspace_id) & (EnrollmentRow.course_id == course_id)
        )
        return [row["id"] for row in rows]

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


class PiccoloEngineAccountRepository:
    async def get(self, workspace_id: UUID) -> EngineAccount | None:
        row = await EngineAccountRow.select().where(EngineAccountRow.workspace_id == workspace_id).first()
        if row is None:
            return None
        return EngineAccount(
            workspace_id=row["workspace_id"],
            app_id=row["app_id"],
            secret_key_enc=row["secret_key_enc"],
            postback_user=row["postback_user"],
            postback_password_enc=row["postback_password_enc"],
            connected_at=row["connected_at"],
            postback_checked_at=row["postback_checked_at"],
        )

    async def save(self, account: EngineAccount) -> None:
        await EngineAccountRow.raw(
            "INSERT INTO engine_account (workspace_id, app_id, secret_key_enc, postback_user, "
            "postback_password_enc, connected_at, postback_checked_at) VALUES ({}, {}, {}, {}, {}, {}, {}) "
            "ON CONFLICT (workspace_id) DO UPDATE SET app_id = EXCLUDED.app_id, "
            "secret_key_enc = EXCLUDED.secret_key_enc, postback_user = EXCLUDED.postback_user, "
            "postback_password_enc = EXCLUDED.postback_password_enc, connected_at = EXCLUDED.connected_at, "
            "postback_checked_at = EXCLUDED.postback_checked_at",
            account.workspace_id,
            account.app_id,
            account.secret_key_enc,
            account.postback_user,
            account.postback_password_enc,
            account.connected_at,
            account.postback_checked_at,
        )

    async def mark_postback_checked(self, workspace_id: UUID, at: datetime) -> None:
        await EngineAccountRow.update({EngineAccountRow.postback_checked_at: at}).where(
            EngineAccountRow.workspace_id == workspace_id
        )

    async def delete(self, workspace_id: UUID) -> None:
        await EngineAccountRow.delete().where(EngineAccountRow.workspace_id == workspace_id)

    async def workspaces(self) -> list[UUID]:
        rows = await EngineAccountRow.select(EngineAccountRow.workspace_id)
        return [row["workspace_id"] for row in rows]


class PiccoloInboxRepository:
    async def add(
        self, *, workspace_id: UUID | None, source: str, content_type: str, body: str, received_at: datetime
    ) -> UUID:
        item_id = uuid.uuid4()
        await InboxRow.insert(
            InboxRow(
                id=item_id,
                workspace_id=workspace_id,
                source=source,
                content_type=content_type[:200],
                body=body,
                received_at=received_at,
            )
        )
        return item_id

    async def get(self, item_id: UUID) -> InboxItem | None:
        row = await InboxRow.select().where(InboxRow.id == item_id).first()
        if row is None:
            return None
        return InboxItem(
            id=row["id"],
            workspace_id=row["workspace_id"],
            source=row["source"],
            content_type=row["content_type"],
            body=row["body"],
            received_at=row["received_at"],
            processed_at=row["processed_at"],
            outcome=row["outcome"],
        )

    async def mark_processed(self, item_id: UUID, outcome: str, at: datetime) -> None:
        await InboxRow.update({InboxRow.processed_at: at, InboxRow.outcome: outcome[:2000]}).where(
            InboxRow.id == item_id
        )

    async def unprocessed_items(
        self,
        received_before: datetime,
        *,
        limit: int,
        workspace_id: UUID,
        received_from: datetime | None = None,
    ) -> list[InboxItem]:
        query = InboxRow.select(
            InboxRow.id, InboxRow.content_type, InboxRow.body, InboxRow.received_at
        ).where(
            InboxRow.processed_at.is_null()
            & (InboxRow.received_at <= received_before)
            & (InboxRow.workspace_id == workspace_id)
        )
        if received_from is not None:
            # Where the index scan starts: past the entries of rows processed since the last VACUUM
            # (a processed row leaves the partial index only when PostgreSQL vacuums the table).
            query = query.where(InboxRow.received_at >= received_from)
        rows = await query.order_by(InboxRow.received_at).limit(limit)
        return [
            InboxItem(
                id=row["id"],
                workspace_id=workspace_id,
                source="scorm_cloud",
                content_type=row["content_type"],
                body=row["body"],
                received_at=row["received_at"],
            )
            for row in rows
        ]

    async def mark_processed_many(self, outcomes: Mapping[UUID, str], at: datetime) -> None:
        if not outcomes:
            return
        # One statement for the batch: unnest two parallel arrays into (id, outcome) pairs.
        await InboxRow.raw(
            "UPDATE inbox SET processed_at = {}, outcome = batch.outcome FROM "
            "(SELECT unnest({}::uuid[]) AS id, unnest({}::text[]) AS outcome) AS batch "
            "WHERE inbox.id = batch.id",
            at,
            list(outcomes),
            [text[:2000] for text in outcomes.values()],
        )

    async def unprocessed(
        self, received_before: datetime, *, limit: int = 500, workspace_id: UUID | None = None
    ) -> list[UUID]:
        query = InboxRow.select(InboxRow.id).where(
            InboxRow.processed_at.is_null() & (InboxRow.received_at <= received_before)
        )
        if workspace_id is not None:
            query = query.where(InboxRow.workspace_id == workspace_id)
        rows = await query.order_by(InboxRow.received_at).limit(limit)
        return [row["id"] for row in rows]


class PiccoloUnitOfWork:
    """A Piccolo transaction: queries inside the block share it through Piccolo's contextvar."""

    def __init__(self) -> None:
        self.workspaces = PiccoloWorkspaceRepository()
        self.login_tokens = PiccoloLoginTokenRepository()
        self.courses = PiccoloCourseRepository()
        self.enrollments = PiccoloEnrollmentRepository()
        self.sco_states = PiccoloScoStateRepository()
        self.outbox = PiccoloOutboxRepository()
        self.sync_states = PiccoloSyncStateRepository()
        self.sync_runs = PiccoloSyncRunRepository()
        self.engine_accounts = PiccoloEngineAccountRepository()
        self.inbox = PiccoloInboxRepository()
        self.certificates = PiccoloCertificateRepository()
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
