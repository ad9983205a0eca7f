"""The built-in contact book: the Crm port for standalone workspaces, kept in our own tables."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from scormhub.domain.contacts import Contact
from scormhub.integrations.db.tables import ContactNoteRow, ContactRow


def _contact(row: dict[str, Any]) -> Contact:
    return Contact(
        id=str(row["id"]),
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=row["email"],
        tags=tuple(row["tags"] or ()),
        created_at=row["created_at"],
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class LocalContactBook:
    """One workspace's contacts. Every query is scoped by the workspace it was built for."""

    def __init__(self, workspace_id: UUID) -> None:
        self.workspace_id = workspace_id

    async def search_contacts(self, query: str, *, limit: int = 10) -> list[Contact]:
        select = ContactRow.select().where(ContactRow.workspace_id == self.workspace_id)
        for word in query.split()[:4]:
            pattern = f"%{_escape_like(word)}%"
            select = select.where(
                ContactRow.first_name.ilike(pattern)
                | ContactRow.last_name.ilike(pattern)
                | ContactRow.email.ilike(pattern)
            )
        rows = (
            await select.order_by(ContactRow.first_name)
            .order_by(ContactRow.last_name)
            .limit(limit)
            .output(load_json=True)
        )
        return [_contact(row) for row in rows]

    async def get_contact(self, contact_id: str) -> Contact | None:
        try:
            key = UUID(contact_id)
        except ValueError:
            return None
        row = (
            await ContactRow.select()
            .where((ContactRow.workspace_id == self.workspace_id) & (ContactRow.id == key))
            .output(load_json=True)
            .first()
        )
        return _contact(row) if row else None

    async def upsert_contact(self, *, first_name: str, last_name: str, email: str) -> Contact:
        # INSERT … ON CONFLICT: two self-enrollments with one email at once still make one contact. An
        # existing contact keeps its names: a public form must not rewrite someone's record.
        rows = await ContactRow.raw(
            "INSERT INTO contact (id, workspace_id, first_name, last_name, email, tags, created_at) "
            "VALUES ({}, {}, {}, {}, {}, '[]'::jsonb, {}) "
            "ON CONFLICT (workspace_id, email) DO UPDATE SET email = EXCLUDED.email RETURNING id",
            uuid.uuid4(),
            self.workspace_id,
            first_name,
            last_name,
            email.lower(),
            datetime.now(UTC),
        )
        contact = await self.get_contact(str(rows[0]["id"]))
        assert contact is not None  # just written in this workspace
        return contact

    async def list_contacts(self, *, offset: int = 0, limit: int = 50) -> list[Contact]:
        rows = (
            await ContactRow.select()
            .where(ContactRow.workspace_id == self.workspace_id)
            .order_by(ContactRow.created_at, ascending=False)
            .offset(offset)
            .limit(limit)
            .output(load_json=True)
        )
        return [_contact(row) for row in rows]

    async def notes(self, contact_id: str) -> list[tuple[datetime, str]]:
        try:
            key = UUID(contact_id)
        except ValueError:
            return []
        rows = (
            await ContactNoteRow.select(ContactNoteRow.created_at, ContactNoteRow.body)
            .where((ContactNoteRow.workspace_id == self.workspace_id) & (ContactNoteRow.contact_id == key))
            .order_by(ContactNoteRow.created_at, ascending=False)
        )
        return [(row["created_at"], row["body"]) for row in rows]
