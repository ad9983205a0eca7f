"""The built-in contact book of standalone workspaces (ContactBook and CrmWriter), kept in our own tables."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from scormhub.domain.errors import NotFound
from scormhub.domain.model import Contact, RateLimit
from scormhub.integrations.db.tables import CompanySummaryRow, ContactNoteRow, ContactRow, TrainingRecordRow


def _contact(row: dict[str, Any]) -> Contact:
    return Contact(
        id=str(row["id"]),
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=row["email"],
        tags=tuple(row["tags"] or ()),
        created_at=row["created_at"],
        company=row.get("company"),
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# The type-ahead matches each word against contact.search_text: "first last email", lower-cased when the
# row is written (a generated column of migration 2026-11-22T17:30:00, trigram-indexed as contact_search).
# A word has no whitespace, so it never matches across the spaces between the parts.
# pg_trgm indexes three-character pieces: a shorter word has none to look up.
TRIGRAM = 3
# A trigram lookup that finds fewer matches than this sorts them and is done.
SEARCH_CAP = 1000
# Contacts, in name order, that a search walks through looking for its first page of matches.
WALK_HEAD = 2000
# A word anywhere in search_text, without the trigram index.
_CONTAINS = " AND strpos(search_text, lower({})) > 0"
# The rows of `source` (narrow: id, names, search_text) that match, the contacts of the first page of
# them by name, and how many rows `source` held: one row even when none match (its contact columns
# then NULL), so the count always comes back.
_PAGE = (
    "SELECT (SELECT count(*) FROM source) AS walked, contact.id, contact.first_name, contact.last_name, "
    "contact.email, contact.tags, contact.created_at, contact.company FROM (SELECT) AS one LEFT JOIN "
    "((SELECT id, first_name, last_name FROM source WHERE true{where} ORDER BY first_name, last_name "
    "LIMIT {{}}) AS page JOIN contact ON contact.id = page.id) ON true "
    "ORDER BY contact.first_name, contact.last_name"
)


def _loaded(row: dict[str, Any]) -> dict[str, Any]:
    # A raw query hands JSONB over as text.
    if isinstance(row["tags"], str):
        row = {**row, "tags": json.loads(row["tags"])}
    return row


class LocalContactBook:
    """One workspace's contacts. Every query is scoped by the workspace it was built for.

    Also the CrmWriter of standalone workspaces: tags, notes and training records land in our tables.
    """

    # Our own database: the limit only keeps one workspace's Sync All from hogging the worker.
    rate_limit = RateLimit(requests=1000, per_seconds=1)
    self_throttling = False

    def __init__(self, workspace_id: UUID) -> None:
        self.workspace_id = workspace_id

    async def _require(self, contact_id: str) -> UUID:
        contact = await self.get_contact(contact_id)
        if contact is None:
            raise NotFound("The contact no longer exists in the contact book.")
        return UUID(contact.id)

    async def add_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        key = await self._require(contact_id)
        # Set union in SQL: other tags on the contact are never touched.
        await ContactRow.raw(
            "UPDATE contact SET tags = (SELECT coalesce(jsonb_agg(DISTINCT t ORDER BY t), '[]'::jsonb) FROM "
            "jsonb_array_elements_text(tags || {}::jsonb) AS t) WHERE workspace_id = {} AND id = {}",
            json.dumps(list(tags)),
            self.workspace_id,
            key,
        )

    async def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        key = await self._require(contact_id)
        await ContactRow.raw(
            "UPDATE contact SET tags = (SELECT coalesce(jsonb_agg(t ORDER BY t), '[]'::jsonb) FROM "
            "jsonb_array_elements_text(tags) AS t WHERE NOT (t = ANY({}))) "
            "WHERE workspace_id = {} AND id = {}",
            list(tags),
            self.workspace_id,
            key,
        )

    async def add_note(
        self, contact_id: str, body: str, *, idempotency_key: str, author_id: str | None = None
    ) -> None:
        key = await self._require(contact_id)
        await ContactNoteRow.raw(
            "INSERT INTO contact_note (id, idempotency_key, workspace_id, contact_id, body, created_at) "
            "VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT (idempotency_key) DO NOTHING",
            uuid.uuid4(),
            idempotency_key,
            self.workspace_id,
            key,
            body,
            datetime.now(UTC),
        )

    async def upsert_training_record(
        self, contact_id: str, record_key: str, properties: Mapping[str, Any]
    ) -> None:
        key = await self._require(contact_id)
        await TrainingRecordRow.raw(
            "INSERT INTO training_record (id, workspace_id, contact_id, record_key, properties, updated_at) "
            "VALUES ({}, {}, {}, {}, {}::jsonb, {}) ON CONFLICT (record_key) DO UPDATE SET "
            "properties = EXCLUDED.properties, updated_at = EXCLUDED.updated_at",
            uuid.uuid4(),
            self.workspace_id,
            key,
            record_key,
            json.dumps(dict(properties)),
            datetime.now(UTC),
        )

    async def upsert_company_summary(self, company_key: str, properties: Mapping[str, Any]) -> None:
        await CompanySummaryRow.raw(
            "INSERT INTO company_summary (id, workspace_id, company_key, properties, updated_at) "
            "VALUES ({}, {}, {}, {}::jsonb, {}) ON CONFLICT (workspace_id, company_key) DO UPDATE SET "
            "properties = EXCLUDED.properties, updated_at = EXCLUDED.updated_at",
            uuid.uuid4(),
            self.workspace_id,
            company_key,
            json.dumps(dict(properties)),
            datetime.now(UTC),
        )

    async def custom_objects_provisioned(self) -> bool:
        # The contact book's own tables are the schemas: created by our migrations, always present.
        return True

    async def provision_custom_objects(self) -> None:
        return None

    async def company_summaries(self) -> list[dict[str, Any]]:
        rows = (
            await CompanySummaryRow.select(CompanySummaryRow.properties)
            .where(CompanySummaryRow.workspace_id == self.workspace_id)
            .order_by(CompanySummaryRow.company_key)
            .output(load_json=True)
        )
        return [dict(row["properties"]) for row in rows]

    async def set_company(self, contact_id: str, company: str | None) -> None:
        key = await self._require(contact_id)
        await ContactRow.update({ContactRow.company: company}).where(
            (ContactRow.workspace_id == self.workspace_id) & (ContactRow.id == key)
        )

    async def training_records(self, contact_id: str) -> list[dict[str, Any]]:
        try:
            key = UUID(contact_id)
        except ValueError:
            return []
        rows = (
            await TrainingRecordRow.select(TrainingRecordRow.properties, TrainingRecordRow.updated_at)
            .where(
                (TrainingRecordRow.workspace_id == self.workspace_id) & (TrainingRecordRow.contact_id == key)
            )
            .order_by(TrainingRecordRow.updated_at, ascending=False)
            .output(load_json=True)
        )
        return [dict(row["properties"], updated_at=row["updated_at"]) for row in rows]

    async def search_contacts(self, query: str, *, limit: int = 10) -> list[Contact]:
        """Contacts with every word of the query somewhere in their first name, last name or e-mail, by name.

        At most three queries, each cheap where the one before was not: (1) the first WALK_HEAD contacts
        in name order (read from an index alone) are searched: a page found there is the first page, as
        for any word common enough; (2) words of three letters or more are looked up in the trigram
        index, and up to SEARCH_CAP matches are sorted; (3) words with more matches, none near the start
        of the alphabet (a common first name), or rare words all shorter than three letters (nothing to
        look up) sort all their matches.
        """
        words = query.split()[:4]
        walked, contacts = await self._first_matches_in_name_order(words, limit)
        if len(contacts) == limit or walked < WALK_HEAD:
            return contacts
        if any(len(word) >= TRIGRAM for word in words):
            found, contacts = await self._sorted_matches(words, limit, cap=SEARCH_CAP)
            if found < SEARCH_CAP:
                return contacts
        return (await self._sorted_matches(words, limit, cap=None))[1]

    async def _sorted_matches(
        self, words: list[str], limit: int, *, cap: int | None
    ) -> tuple[int, list[Contact]]:
        """(matches found, up to `cap`; the first `limit` of them by name).

        Only words of three letters or more are given to the trigram index (LIKE); shorter ones are
        tested with strpos(), which it cannot take: a pattern without a trigram would make PostgreSQL read
        the whole index, and a prepared statement's generic plan cannot tell such a pattern apart.
        """
        indexed = [f"%{_escape_like(word)}%" for word in words if len(word) >= TRIGRAM]
        others = [word for word in words if len(word) < TRIGRAM]
        # Only constant fragments and placeholders are joined; every value is a bound parameter.
        rows = await ContactRow.raw(
            "WITH source AS MATERIALIZED (SELECT id, first_name, last_name, search_text FROM contact "  # noqa: S608
            "WHERE workspace_id = {}"
            + " AND search_text LIKE lower({})" * len(indexed)
            + _CONTAINS * len(others)
            + ("" if cap is None else " LIMIT {}")
            + ") "
            + _PAGE.format(where=""),
            self.workspace_id,
            *indexed,
            *others,
            *([] if cap is None else [cap]),
            limit,
        )
        return rows[0]["walked"], [_contact(_loaded(row)) for row in rows if row["id"] is not None]

    async def _first_matches_in_name_order(self, words: list[str], limit: int) -> tuple[int, list[Contact]]:
        """(contacts walked, up to WALK_HEAD; the first `limit` of them that match)."""
        rows = await ContactRow.raw(
            # contact_by_name holds all four columns: the walk reads the index alone.
            "WITH source AS MATERIALIZED (SELECT id, first_name, last_name, search_text FROM contact "  # noqa: S608
            "WHERE workspace_id = {} ORDER BY first_name, last_name LIMIT {}) "
            + _PAGE.format(where=_CONTAINS * len(words)),
            self.workspace_id,
            WALK_HEAD,
            *words,
            limit,
        )
        return rows[0]["walked"], [_contact(_loaded(row)) for row in rows if row["id"] is not None]

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
