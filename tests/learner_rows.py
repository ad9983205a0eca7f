"""Rows for the learner-side tests and bench: courses, enrollments and certificates written straight
into PostgreSQL (set-based, so a bench can make 100,000 of them in seconds)."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from uuid import UUID

import asyncpg

from scormhub.domain.certificates import new_certificate_id
from scormhub.domain.model import Certificate, CertificateSnapshot
from scormhub.integrations.db.uow import PiccoloUnitOfWork


async def add_course(conn: asyncpg.Connection, workspace_id: UUID, title: str, now: datetime) -> UUID:
    course_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO course (id, workspace_id, title, standard, status, engine, package_key, package_bytes, "
        "file_name, self_enroll_token, warnings, scos, import_attempts, created_at, updated_at) "
        "VALUES ($1, $2, $3, 'scorm12', 'ready', 'builtin', 'k', 1, 'c.zip', $4, '[]', '[]', 0, $5, $5)",
        course_id,
        workspace_id,
        title,
        secrets.token_urlsafe(16),
        now,
    )
    return course_id


async def add_enrollments(
    conn: asyncpg.Connection,
    workspace_id: UUID,
    course_id: UUID,
    count: int,
    now: datetime,
    *,
    due_at: datetime | None = None,
    prefix: str = "learner",
) -> list[UUID]:
    """`count` enrollments (learner{n}@example.com), due at `due_at` (set `now`)."""
    rows = await conn.fetch(
        "INSERT INTO enrollment (id, workspace_id, course_id, contact_id, learner_name, learner_email, "
        "launch_token, self_enrolled, completion, success, total_seconds, attempts, created_at, updated_at, "
        "synced, due_at, due_set_at) "
        "SELECT gen_random_uuid(), $1, $2, 'contact-' || $5::text || n, 'Learner ' || n, "
        "$5::text || n || '@example.com', md5(random()::text) || md5(random()::text), false, "
        "'not_started', 'unknown', 0, 0, $3::timestamptz, $3::timestamptz, '{}', "
        "$4::timestamptz, CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE $3::timestamptz END "
        "FROM generate_series(1, $6) AS n RETURNING id",
        workspace_id,
        course_id,
        now,
        due_at,
        prefix,
        count,
    )
    return [row["id"] for row in rows]


async def complete(conn: asyncpg.Connection, enrollment_id: UUID, at: datetime) -> None:
    await conn.execute(
        "UPDATE enrollment SET completion = 'completed', success = 'passed', completed_at = $2 WHERE id = $1",
        enrollment_id,
        at,
    )


async def issue_certificate(workspace_id: UUID, enrollment_id: UUID, at: datetime) -> Certificate:
    """Through the real repository, which stamps the expiry from the course's validity."""
    certificate = Certificate(
        id=new_certificate_id(),
        workspace_id=workspace_id,
        enrollment_id=enrollment_id,
        snapshot=CertificateSnapshot(
            learner_name="Learner",
            learner_email="learner@example.com",
            course_title="Fire safety",
            completed_at=at,
            success="passed",
            score_percent=90.0,
            organization_name="Acme",
        ),
        issued_at=at,
    )
    async with PiccoloUnitOfWork() as uow:
        stored = await uow.certificates.add_once(certificate)
        await uow.commit()
    return stored
