"""The mail outbox in PostgreSQL: queued in the deciding transaction, claimed under a lease by senders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from scormhub.domain.model_learners import MailMessage, MailStatus, QueuedMail
from scormhub.integrations.db.tables import MailOutboxRow

QUEUE_CHUNK = 2000


def _queued(row: dict[str, Any]) -> QueuedMail:
    return QueuedMail(
        id=row["id"],
        workspace_id=row["workspace_id"],
        kind=row["kind"],
        idempotency_key=row["idempotency_key"],
        message=MailMessage(
            to=row["to_address"],
            subject=row["subject"],
            text=row["text_body"],
            html=row["html_body"],
            sender_name=row.get("sender_name") or "SCORM Hub",
            contact_id=row["contact_id"],
        ),
        status=MailStatus(row["status"]),
        attempts=row["attempts"],
        created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        transport=row["transport"],
        sent_at=row["sent_at"],
    )


class PiccoloMailOutbox:
    async def queue(
        self, workspace_id: UUID, kind: str, idempotency_key: str, message: MailMessage, now: datetime
    ) -> bool:
        # ON CONFLICT on the key: a pass run twice, or by two workers, queues the message once.
        rows = await MailOutboxRow.raw(
            "INSERT INTO mail_outbox (id, workspace_id, idempotency_key, kind, to_address, sender_name, "
            "contact_id, subject, text_body, html_body, status, attempts, next_attempt_at, created_at) "
            "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, 'pending', 0, {}, {}) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            uuid.uuid4(),
            workspace_id,
            idempotency_key[:200],
            kind,
            message.to[:254],
            message.sender_name[:200],
            message.contact_id,
            message.subject,
            message.text,
            message.html,
            now,
            now,
        )
        return bool(rows)

    async def queue_many(self, items: Sequence[tuple[UUID, str, str, MailMessage]], now: datetime) -> int:
        """`queue` for many messages at once (the daily pass): one INSERT per chunk, not per message."""
        added = 0
        for start in range(0, len(items), QUEUE_CHUNK):
            chunk = items[start : start + QUEUE_CHUNK]
            rows = await MailOutboxRow.raw(
                "INSERT INTO mail_outbox (id, workspace_id, kind, idempotency_key, to_address, sender_name, "
                "contact_id, subject, text_body, html_body, status, attempts, next_attempt_at, created_at) "
                "SELECT gen_random_uuid(), w, k, key, t, s, c, subj, txt, htm, 'pending', 0, {}, {} "
                "FROM unnest({}::uuid[], {}::text[], {}::text[], {}::text[], {}::text[], {}::text[], "
                "{}::text[], {}::text[], {}::text[]) AS m(w, k, key, t, s, c, subj, txt, htm) "
                "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                now,
                now,
                [workspace for workspace, _, _, _ in chunk],
                [kind for _, kind, _, _ in chunk],
                [key[:200] for _, _, key, _ in chunk],
                [message.to[:254] for _, _, _, message in chunk],
                [message.sender_name[:200] for _, _, _, message in chunk],
                [message.contact_id for _, _, _, message in chunk],
                [message.subject for _, _, _, message in chunk],
                [message.text for _, _, _, message in chunk],
                [message.html for _, _, _, message in chunk],
            )
            added += len(rows)
        return added

    async def claim_due(self, now: datetime, *, limit: int, lease_s: float) -> list[QueuedMail]:
        rows = await MailOutboxRow.raw(
            "UPDATE mail_outbox SET next_attempt_at = {}::timestamptz + make_interval(secs => {}::float8) "
            "WHERE id IN (SELECT id FROM mail_outbox WHERE status = 'pending' AND next_attempt_at <= {} "
            "ORDER BY next_attempt_at LIMIT {} FOR UPDATE SKIP LOCKED) RETURNING *",
            now,
            lease_s,
            now,
            limit,
        )
        return sorted((_queued(row) for row in rows), key=lambda mail: mail.created_at)

    async def mark_sent(self, mail_id: UUID, now: datetime, transport: str) -> None:
        await MailOutboxRow.raw(
            "UPDATE mail_outbox SET status = 'sent', sent_at = {}, transport = {}, attempts = attempts + 1, "
            "last_error = NULL WHERE id = {}",
            now,
            transport,
            mail_id,
        )

    async def mark_retry(self, mail_id: UUID, error: str, next_attempt_at: datetime) -> None:
        await MailOutboxRow.raw(
            "UPDATE mail_outbox SET attempts = attempts + 1, last_error = {}, next_attempt_at = {} "
            "WHERE id = {}",
            error,
            next_attempt_at,
            mail_id,
        )

    async def mark_failed(self, mail_id: UUID, error: str) -> None:
        await MailOutboxRow.raw(
            "UPDATE mail_outbox SET status = 'failed', attempts = attempts + 1, last_error = {} "
            "WHERE id = {}",
            error,
            mail_id,
        )

    async def exists(self, workspace_id: UUID, mail_id: UUID) -> bool:
        rows = await MailOutboxRow.raw(
            "SELECT 1 FROM mail_outbox WHERE id = {} AND workspace_id = {}", mail_id, workspace_id
        )
        return bool(rows)

    async def retry_now(self, workspace_id: UUID, mail_id: UUID, now: datetime) -> bool:
        rows = await MailOutboxRow.raw(
            "UPDATE mail_outbox SET status = 'pending', attempts = 0, next_attempt_at = {} "
            "WHERE id = {} AND workspace_id = {} AND status = 'failed' RETURNING id",
            now,
            mail_id,
            workspace_id,
        )
        return bool(rows)

    async def recent(self, workspace_id: UUID, *, limit: int) -> list[QueuedMail]:
        rows = await MailOutboxRow.raw(
            "SELECT * FROM mail_outbox WHERE workspace_id = {} ORDER BY created_at DESC LIMIT {}",
            workspace_id,
            limit,
        )
        return [_queued(row) for row in rows]
