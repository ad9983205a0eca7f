"""Learner-side queries: portal links and sessions, due dates, the daily pass's events, recertification.

The pass is set-based (one INSERT … SELECT … ON CONFLICT DO NOTHING per kind of event), so a day over
100,000 enrollments is a few statements, and two workers running it at once each get only the events their
own insert won: the loser's insert waits on the unique key, then skips the row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from scormhub.domain.model import CrmWrite
from scormhub.domain.model_learners import (
    DueRow,
    LearnerEvent,
    LearnerEventKind,
    LearnerLink,
    LearnerSettings,
    PortalCourse,
)
from scormhub.integrations.db.tables import LearnerEventRow, LearnerLinkRow

DEFAULT_OFFSETS = "ARRAY[-7, 1]"  # no braces: Piccolo reads {} as a parameter
DEFAULT_NOTICE_DAYS = 30


def _event(row: dict[str, Any]) -> LearnerEvent:
    payload = row["payload"]
    if isinstance(payload, str):
        payload = json.loads(payload)
    return LearnerEvent(
        kind=LearnerEventKind(row["kind"]),
        workspace_id=row["workspace_id"],
        enrollment_id=row["enrollment_id"],
        dedupe_key=row["dedupe_key"],
        occurred_at=row["occurred_at"],
        learner_email=payload["learner_email"],
        learner_name=payload["learner_name"],
        contact_id=payload["contact_id"],
        course_title=payload["course_title"],
        payload=payload,
    )


_EVENT_PAYLOAD = (
    "jsonb_build_object('learner_email', e.learner_email, 'learner_name', e.learner_name, "
    "'contact_id', e.contact_id, 'course_title', c.title, 'course_id', c.id, 'launch_token', e.launch_token, "
    "'workspace_name', w.name"
)

# What the Training Record says (domain.crm_writes.training_record), for the expiry write that replaces it.
_RECORD = (
    "jsonb_build_object('course_name', c.title, 'course_id', c.id::text, 'enrollment_id', e.id::text, "
    "'learner_email', e.learner_email, 'status', e.completion, 'result', e.success, "
    "'score_percent', round(e.score_percent::numeric, 2), 'time_spent_seconds', round(e.total_seconds), "
    "'attempts', e.attempts, 'enrolled_on', e.created_at::date::text, "
    "'first_access_on', e.first_access_at::date::text, 'last_access_on', e.last_access_at::date::text, "
    "'completed_on', e.completed_at::date::text)"
)


class PiccoloLearnerStore:
    # --- portal links and sessions ---

    async def add_link(self, link: LearnerLink, now: datetime) -> None:
        await LearnerLinkRow.raw(
            "INSERT INTO learner_link (token_hash, workspace_id, email, next_path, created_at, expires_at) "
            "VALUES ({}, {}, {}, {}, {}, {})",
            link.token_hash,
            link.workspace_id,
            link.email,
            link.next_path,
            now,
            link.expires_at,
        )

    async def link_for_update(self, token_hash: str) -> LearnerLink | None:
        rows = await LearnerLinkRow.raw(
            "SELECT * FROM learner_link WHERE token_hash = {} FOR UPDATE", token_hash
        )
        if not rows:
            return None
        row = rows[0]
        return LearnerLink(
            token_hash=row["token_hash"],
            workspace_id=row["workspace_id"],
            email=row["email"],
            expires_at=row["expires_at"],
            used_at=row["used_at"],
            next_path=row["next_path"],
        )

    async def mark_link_used(self, token_hash: str, now: datetime) -> None:
        await LearnerLinkRow.raw(
            "UPDATE learner_link SET used_at = {} WHERE token_hash = {}", now, token_hash
        )

    async def add_session(
        self, token_hash: str, workspace_id: UUID, email: str, expires_at: datetime
    ) -> None:
        await LearnerLinkRow.raw(
            "INSERT INTO learner_session (token_hash, workspace_id, email, expires_at) "
            "VALUES ({}, {}, {}, {})",
            token_hash,
            workspace_id,
            email,
            expires_at,
        )

    async def session(self, token_hash: str, now: datetime) -> tuple[UUID, str] | None:
        rows = await LearnerLinkRow.raw(
            "SELECT workspace_id, email FROM learner_session WHERE token_hash = {} AND expires_at > {}",
            token_hash,
            now,
        )
        return (rows[0]["workspace_id"], rows[0]["email"]) if rows else None

    async def has_enrollments(self, workspace_id: UUID, email: str) -> bool:
        rows = await LearnerLinkRow.raw(
            "SELECT 1 FROM enrollment WHERE workspace_id = {} AND lower(learner_email) = {} LIMIT 1",
            workspace_id,
            email,
        )
        return bool(rows)

    async def portal_courses(self, workspace_id: UUID, email: str) -> list[PortalCourse]:
        rows = await LearnerLinkRow.raw(
            "SELECT e.id, c.title, e.launch_token, e.completion, e.success, e.score_percent, "
            "e.last_access_at, e.due_at, cert.id AS certificate_id, cert.expires_at, cert.revoked_at "
            "FROM enrollment e JOIN course c ON c.id = e.course_id AND c.workspace_id = e.workspace_id "
            "LEFT JOIN certificate cert ON cert.enrollment_id = e.id AND cert.workspace_id = e.workspace_id "
            "WHERE e.workspace_id = {} AND lower(e.learner_email) = {} ORDER BY c.title, e.created_at",
            workspace_id,
            email,
        )
        return [
            PortalCourse(
                enrollment_id=row["id"],
                course_title=row["title"],
                launch_token=row["launch_token"],
                completion=row["completion"],
                success=row["success"],
                score_percent=row["score_percent"],
                last_access_at=row["last_access_at"],
                due_at=row["due_at"],
                certificate_id=row["certificate_id"],
                certificate_expires_at=row["expires_at"],
                certificate_revoked=row["revoked_at"] is not None,
            )
            for row in rows
        ]

    # --- settings, due dates, validity ---

    async def settings(self, workspace_id: UUID) -> LearnerSettings:
        rows = await LearnerLinkRow.raw(
            "SELECT reminder_offsets, recert_notice_days FROM learner_settings WHERE workspace_id = {}",
            workspace_id,
        )
        if not rows:
            return LearnerSettings()
        return LearnerSettings(tuple(rows[0]["reminder_offsets"]), rows[0]["recert_notice_days"])

    async def save_settings(self, workspace_id: UUID, settings: LearnerSettings) -> None:
        await LearnerLinkRow.raw(
            "INSERT INTO learner_settings (workspace_id, reminder_offsets, recert_notice_days) "
            "VALUES ({}, {}::int[], {}) ON CONFLICT (workspace_id) DO UPDATE SET "
            "reminder_offsets = EXCLUDED.reminder_offsets, recert_notice_days = EXCLUDED.recert_notice_days",
            workspace_id,
            list(settings.reminder_offsets),
            settings.recert_notice_days,
        )

    async def set_due(
        self, workspace_id: UUID, enrollment_id: UUID, due_at: datetime | None, now: datetime
    ) -> bool:
        rows = await LearnerLinkRow.raw(
            "UPDATE enrollment SET due_at = {}, due_set_at = {} "
            "WHERE id = {} AND workspace_id = {} RETURNING id",
            due_at,
            now if due_at is not None else None,
            enrollment_id,
            workspace_id,
        )
        return bool(rows)

    async def due_dates(self, workspace_id: UUID, enrollment_ids: list[UUID]) -> dict[UUID, datetime]:
        if not enrollment_ids:
            return {}
        rows = await LearnerLinkRow.raw(
            "SELECT id, due_at FROM enrollment WHERE workspace_id = {} AND id = ANY({}::uuid[]) "
            "AND due_at IS NOT NULL",
            workspace_id,
            enrollment_ids,
        )
        return {row["id"]: row["due_at"] for row in rows}

    async def due_report(self, workspace_id: UUID, state: str, now: datetime, *, limit: int) -> list[DueRow]:
        """Enrollments with a due date, not completed: "overdue", "due_soon" (within DUE_SOON_DAYS) or all."""
        condition = {
            "overdue": "AND e.due_at < {} ",
            "due_soon": "AND e.due_at >= {} AND e.due_at <= {}::timestamptz + interval '7 days' ",
        }.get(state, "AND {}::timestamptz IS NOT NULL ")
        params: list[Any] = [workspace_id, now] + ([now] if state == "due_soon" else [])
        rows = await LearnerLinkRow.raw(
            "SELECT e.id, e.learner_name, e.learner_email, e.completion, e.due_at, c.title "
            "FROM enrollment e JOIN course c ON c.id = e.course_id AND c.workspace_id = e.workspace_id "
            "WHERE e.workspace_id = {} AND e.due_at IS NOT NULL AND e.completion <> 'completed' "
            + condition
            + f"ORDER BY e.due_at LIMIT {int(limit)}",
            *params,
        )
        return [
            DueRow(
                row["id"],
                row["learner_name"],
                row["learner_email"],
                row["title"],
                row["due_at"],
                row["completion"],
            )
            for row in rows
        ]

    async def certificate_expiry(self, certificate_id: str) -> datetime | None:
        rows = await LearnerLinkRow.raw("SELECT expires_at FROM certificate WHERE id = {}", certificate_id)
        return rows[0]["expires_at"] if rows else None

    async def validity_days(self, workspace_id: UUID, course_id: UUID) -> int | None:
        rows = await LearnerLinkRow.raw(
            "SELECT validity_days FROM course WHERE id = {} AND workspace_id = {}", course_id, workspace_id
        )
        return rows[0]["validity_days"] if rows else None

    async def set_validity(self, workspace_id: UUID, course_id: UUID, days: int | None) -> bool:
        rows = await LearnerLinkRow.raw(
            "UPDATE course SET validity_days = {} WHERE id = {} AND workspace_id = {} RETURNING id",
            days,
            course_id,
            workspace_id,
        )
        return bool(rows)

    async def stamp_expiry(self, workspace_id: UUID, certificate_id: str) -> datetime | None:
        rows = await LearnerLinkRow.raw(
            "UPDATE certificate cert "
            "SET expires_at = cert.issued_at + make_interval(days => c.validity_days) "
            "FROM enrollment e JOIN course c ON c.id = e.course_id "
            "WHERE cert.id = {} AND cert.workspace_id = {} AND e.id = cert.enrollment_id "
            "AND cert.expires_at IS NULL AND c.validity_days IS NOT NULL RETURNING cert.expires_at",
            certificate_id,
            workspace_id,
        )
        return rows[0]["expires_at"] if rows else None

    # --- the daily pass ---

    async def raise_due_events(self, now: datetime) -> list[LearnerEvent]:
        # A reminder's moment is due_at + offset days; it is raised once that moment has come, unless it
        # had already passed when the due date was set. Negative or zero offsets are "due soon".
        rows = await LearnerEventRow.raw(
            "INSERT INTO learner_event "  # noqa: S608 - only constants are joined in; values are parameters
            "(id, workspace_id, kind, dedupe_key, enrollment_id, payload, occurred_at) "
            "SELECT gen_random_uuid(), e.workspace_id, "
            "CASE WHEN o.off <= 0 THEN 'course_due_soon' ELSE 'course_overdue' END, "
            "'due:' || e.id || ':' || floor(extract(epoch FROM e.due_at))::bigint || ':' || o.off, e.id, "
            f"{_EVENT_PAYLOAD}, 'due_at', e.due_at, 'offset_days', o.off), {{}} "
            "FROM enrollment e JOIN course c ON c.id = e.course_id JOIN workspace w ON w.id = e.workspace_id "
            "LEFT JOIN learner_settings ls ON ls.workspace_id = e.workspace_id "
            f"CROSS JOIN LATERAL unnest(coalesce(ls.reminder_offsets, {DEFAULT_OFFSETS})) AS o(off) "
            "WHERE e.due_at IS NOT NULL AND e.completion <> 'completed' "
            "AND e.due_at + make_interval(days => o.off) <= {} "
            "AND e.due_at + make_interval(days => o.off) >= coalesce(e.due_set_at, e.created_at) "
            "ON CONFLICT (dedupe_key) DO NOTHING RETURNING *",
            now,
            now,
        )
        return [_event(row) for row in rows]

    async def raise_expiry_events(self, now: datetime) -> list[LearnerEvent]:
        # Expiring: the notice period has begun (the learner is re-enrolled, once per certificate).
        expiring = await LearnerEventRow.raw(
            "INSERT INTO learner_event "  # noqa: S608 - only constants are joined in
            "(id, workspace_id, kind, dedupe_key, enrollment_id, payload, occurred_at) "
            "SELECT gen_random_uuid(), cert.workspace_id, 'certificate_expiring', 'expiring:' || cert.id, "
            "e.id, "
            f"{_EVENT_PAYLOAD}, 'certificate_id', cert.id, 'expires_at', cert.expires_at), {{}} "
            "FROM certificate cert JOIN enrollment e ON e.id = cert.enrollment_id "
            "JOIN course c ON c.id = e.course_id JOIN workspace w ON w.id = e.workspace_id "
            "LEFT JOIN learner_settings ls ON ls.workspace_id = cert.workspace_id "
            "WHERE cert.expires_at IS NOT NULL AND cert.revoked_at IS NULL "
            "AND cert.expires_at - make_interval(days => "
            f"coalesce(ls.recert_notice_days, {DEFAULT_NOTICE_DAYS})) "
            "<= {} AND cert.expires_at > {} "
            "ON CONFLICT (dedupe_key) DO NOTHING RETURNING *",
            now,
            now,
            now,
        )
        # Expired: past its expiry, unless the learner has since completed the course again (re-enrolled
        # and recertified), in which case they hold a newer certificate and nothing expired for them.
        expired = await LearnerEventRow.raw(
            "INSERT INTO learner_event "  # noqa: S608 - only constants are joined in
            "(id, workspace_id, kind, dedupe_key, enrollment_id, payload, occurred_at) "
            "SELECT gen_random_uuid(), cert.workspace_id, 'certificate_expired', 'expired:' || cert.id, "
            "e.id, "
            f"{_EVENT_PAYLOAD}, 'certificate_id', cert.id, 'expires_at', cert.expires_at, "
            f"'record', {_RECORD}), "
            "{} FROM certificate cert LEFT JOIN enrollment_attempt a ON a.certificate_id = cert.id "
            "JOIN enrollment e ON e.id = coalesce(a.enrollment_id, cert.enrollment_id) "
            "JOIN course c ON c.id = e.course_id JOIN workspace w ON w.id = e.workspace_id "
            "WHERE cert.expires_at IS NOT NULL AND cert.revoked_at IS NULL AND cert.expires_at <= {} "
            "AND (a.id IS NULL OR e.completion <> 'completed') "
            "ON CONFLICT (dedupe_key) DO NOTHING RETURNING *",
            now,
            now,
        )
        return [_event(row) for row in (*expiring, *expired)]

    async def queue_crm_writes(self, writes: Sequence[tuple[UUID, UUID, CrmWrite]], now: datetime) -> int:
        """(workspace, enrollment, write) rows into the CRM outbox in one statement: what
        OutboxRepository.add_new does per write, for the thousands an expiry day can bring. push_to_crm
        delivers them like any other (same table, same idempotency keys)."""
        if not writes:
            return 0
        rows = await LearnerEventRow.raw(
            "INSERT INTO outbox (id, workspace_id, enrollment_id, kind, contact_id, payload, "
            "idempotency_key, status, attempts, next_attempt_at, created_at) "
            "SELECT gen_random_uuid(), w, e, k, c, p::jsonb, key, 'pending', 0, {}, {} "
            "FROM unnest({}::uuid[], {}::uuid[], {}::text[], {}::text[], {}::text[], {}::text[]) "
            "AS t(w, e, k, c, p, key) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            now,
            now,
            [workspace for workspace, _, _ in writes],
            [enrollment for _, enrollment, _ in writes],
            [write.kind.value for _, _, write in writes],
            [write.contact_id for _, _, write in writes],
            [json.dumps(write.payload) for _, _, write in writes],
            [write.idempotency_key for _, _, write in writes],
        )
        return len(rows)

    async def re_enroll_many(self, targets: Sequence[tuple[UUID, UUID]], now: datetime) -> int:
        """Each (workspace, enrollment)'s current attempt goes to enrollment_attempt with its certificate
        (which moves off the enrollment, so the next completion gets a certificate of its own, while the old
        one stays verifiable); progress starts again, due by the old certificate's expiry. Set-based."""
        if not targets:
            return 0
        workspaces = [workspace for workspace, _ in targets]
        enrollments = [enrollment for _, enrollment in targets]
        rows = await LearnerEventRow.raw(
            "WITH target AS (SELECT * FROM unnest({}::uuid[], {}::uuid[]) AS t(ws, id)), "
            "archived AS (INSERT INTO enrollment_attempt "
            "(id, workspace_id, enrollment_id, snapshot, certificate_id, archived_at) "
            "SELECT gen_random_uuid(), e.workspace_id, e.id, jsonb_build_object('completion', e.completion, "
            "'success', e.success, 'score_percent', e.score_percent, 'total_seconds', e.total_seconds, "
            "'completed_at', e.completed_at, 'first_access_at', e.first_access_at, "
            "'last_access_at', e.last_access_at), cert.id, {} "
            "FROM enrollment e JOIN target t ON t.id = e.id AND t.ws = e.workspace_id "
            "LEFT JOIN certificate cert ON cert.enrollment_id = e.id "
            "RETURNING id, enrollment_id, certificate_id), "
            "moved AS (UPDATE certificate cert SET enrollment_id = a.id FROM archived a "
            "WHERE cert.id = a.certificate_id RETURNING a.enrollment_id, cert.expires_at) "
            "UPDATE enrollment e SET completion = 'not_started', success = 'unknown', score_raw = NULL, "
            "score_percent = NULL, total_seconds = 0, completed_at = NULL, updated_at = {}, "
            "due_at = coalesce(m.expires_at, {}::timestamptz + make_interval(days => {})), due_set_at = {} "
            "FROM archived a LEFT JOIN moved m ON m.enrollment_id = a.enrollment_id "
            "WHERE e.id = a.enrollment_id RETURNING e.id",
            workspaces,
            enrollments,
            now,
            now,
            now,
            DEFAULT_NOTICE_DAYS,
            now,
        )
        # The built-in player starts each new attempt from the beginning.
        await LearnerEventRow.raw(
            "DELETE FROM sco_state WHERE enrollment_id = ANY({}::uuid[])", [row["id"] for row in rows]
        )
        return len(rows)


async def mails_through_crm(workspace_id: UUID) -> bool:
    """Whether a workspace's learner mail goes through its CRM: a connected HighLevel location that granted
    the conversations scope."""
    rows = await LearnerLinkRow.raw(
        "SELECT 1 FROM crm_connection WHERE workspace_id = {} AND status = 'connected' "
        "AND ' ' || scope || ' ' LIKE '% conversations/message.write %'",
        workspace_id,
    )
    return bool(rows)
