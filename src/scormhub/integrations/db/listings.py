"""The long lists' read side: courses, a course's learners and the contact book, searched, sorted and paged
in SQL (`domain.listing.ListQuery`). Every query is scoped by the workspace.

Sort keys map to fixed SQL fragments (never to text from the request), and every order ends with the id,
so a page boundary is stable when many rows share a value (a common name, no score yet).
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from scormhub.domain.listing import ListPage, ListQuery, like_pattern
from scormhub.domain.model import Contact, Course, Enrollment
from scormhub.integrations.db.courses import _course
from scormhub.integrations.db.enrollments import _enrollment
from scormhub.integrations.db.tables import CourseRow

COURSE_SORTS = {
    "title": "lower(c.title)",
    "status": "c.status",
    "learners": "learners",
    "added": "c.created_at",
    "file": "lower(c.file_name)",
}
ENROLLMENT_SORTS = {
    "name": "lower(learner_name)",
    "status": "CASE completion WHEN 'completed' THEN 2 WHEN 'in_progress' THEN 1 ELSE 0 END",
    "score": "score_percent",
    "last": "last_access_at",
    "completed": "completed_at",
    "enrolled": "created_at",
}
CONTACT_SORTS = {
    "name": "lower(first_name || ' ' || last_name)",
    "email": "email",
    "added": "created_at",
}


def _order(sorts: dict[str, str], query: ListQuery, prefix: str = "") -> str:
    column = sorts.get(query.sort) or next(iter(sorts.values()))
    direction = "DESC NULLS LAST" if query.descending else "ASC NULLS LAST"
    return f"ORDER BY {column} {direction}, {prefix}id"


class PiccoloListings:
    async def courses(self, workspace_id: UUID, query: ListQuery) -> tuple[ListPage[Course], dict[UUID, int]]:
        """A page of the workspace's courses (title or file name matching), with each one's learner count."""
        where = "c.workspace_id = {}"
        args: list[Any] = [workspace_id]
        if query.q:
            where += " AND (c.title ILIKE {} OR c.file_name ILIKE {})"
            args += [like_pattern(query.q)] * 2
        rows = await CourseRow.raw(
            "SELECT c.*, (SELECT count(*) FROM enrollment e WHERE e.workspace_id = c.workspace_id "  # noqa: S608
            "AND e.course_id = c.id) AS learners, count(*) OVER () AS matched "
            f"FROM course c WHERE {where} {_order(COURSE_SORTS, query, 'c.')} LIMIT {{}} OFFSET {{}}",
            *args,
            query.page_size,
            query.offset,
        )
        total = int(rows[0]["matched"]) if rows else await self._count("course c", where, args)
        items = [_course(_json_loaded(row, "warnings", "scos")) for row in rows]
        learners = {row["id"]: int(row["learners"]) for row in rows}
        return ListPage(items=items, total=total, query=query), learners

    async def enrollments(
        self, workspace_id: UUID, course_id: UUID, query: ListQuery
    ) -> ListPage[Enrollment]:
        """A page of one course's learners (name or email matching)."""
        where = "workspace_id = {} AND course_id = {}"
        args: list[Any] = [workspace_id, course_id]
        if query.q:
            where += " AND (learner_name ILIKE {} OR learner_email ILIKE {})"
            args += [like_pattern(query.q)] * 2
        rows = await CourseRow.raw(
            "SELECT *, count(*) OVER () AS matched FROM enrollment "  # noqa: S608
            f"WHERE {where} {_order(ENROLLMENT_SORTS, query)} LIMIT {{}} OFFSET {{}}",
            *args,
            query.page_size,
            query.offset,
        )
        total = int(rows[0]["matched"]) if rows else await self._count("enrollment", where, args)
        return ListPage(items=[_enrollment(row) for row in rows], total=total, query=query)

    async def contacts(self, workspace_id: UUID, query: ListQuery) -> ListPage[Contact]:
        """A page of the contact book; each word of the search must appear in the name or email."""
        where = "workspace_id = {}"
        args: list[Any] = [workspace_id]
        for word in query.q.lower().split()[:4]:
            where += " AND search_text LIKE {}"
            args.append(like_pattern(word))
        rows = await CourseRow.raw(
            "SELECT id, first_name, last_name, email, tags, created_at, company, count(*) OVER () AS matched "  # noqa: S608
            f"FROM contact WHERE {where} {_order(CONTACT_SORTS, query)} LIMIT {{}} OFFSET {{}}",
            *args,
            query.page_size,
            query.offset,
        )
        total = int(rows[0]["matched"]) if rows else await self._count("contact", where, args)
        items = [
            Contact(
                id=str(row["id"]),
                first_name=row["first_name"],
                last_name=row["last_name"],
                email=row["email"],
                tags=tuple(_json_loaded(row, "tags")["tags"] or ()),
                created_at=row["created_at"],
                company=row.get("company"),
            )
            for row in rows
        ]
        return ListPage(items=items, total=total, query=query)

    async def learners_by_contact(
        self, workspace_id: UUID, contact_ids: list[str]
    ) -> dict[str, tuple[str, str]]:
        """The name and email each CRM contact id is enrolled under here (the sync log shows people)."""
        if not contact_ids:
            return {}
        rows = await CourseRow.raw(
            "SELECT DISTINCT ON (contact_id) contact_id, learner_name, learner_email FROM enrollment "
            "WHERE workspace_id = {} AND contact_id = ANY({}) ORDER BY contact_id, created_at DESC",
            workspace_id,
            list(set(contact_ids)),
        )
        return {row["contact_id"]: (row["learner_name"], row["learner_email"]) for row in rows}

    async def _count(self, table: str, where: str, args: list[Any]) -> int:
        # A page past the end has no rows to carry the window count: count the matches on their own.
        rows = await CourseRow.raw(f"SELECT count(*) AS n FROM {table} WHERE {where}", *args)  # noqa: S608
        return int(rows[0]["n"])


def _json_loaded(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    # A raw query hands JSONB over as text.
    return {**row, **{k: json.loads(row[k]) for k in keys if isinstance(row[k], str)}}
