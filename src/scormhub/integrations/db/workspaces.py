"""Workspaces in PostgreSQL: the tenant each course, enrollment and connection belongs to."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from scormhub.domain.model import (
    CrmKind,
    EngineKind,
    PlanMode,
    Workspace,
    WorkspaceKind,
)
from scormhub.integrations.db.tables import WorkspaceRow


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
