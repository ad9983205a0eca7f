"""The certificate table as domain Certificates."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from scormhub.domain.model import Certificate, CertificateSnapshot, Logo
from scormhub.integrations.db.tables import CertificateRow


def _certificate(row: dict[str, Any]) -> Certificate:
    snapshot = row["snapshot"]
    if isinstance(snapshot, str):  # raw queries return JSONB as text
        snapshot = json.loads(snapshot)
    return Certificate(
        id=row["id"],
        workspace_id=row["workspace_id"],
        enrollment_id=row["enrollment_id"],
        snapshot=CertificateSnapshot.from_dict(snapshot),
        issued_at=row["issued_at"],
        revoked_at=row["revoked_at"],
        expires_at=row.get("expires_at"),
    )


class PiccoloCertificateRepository:
    async def add_once(self, certificate: Certificate) -> Certificate:
        # A concurrent insert for the same enrollment waits on the unique index, then does nothing; the
        # read after it sees the winner's committed row (READ COMMITTED takes a new snapshot per statement).
        rows = await CertificateRow.raw(
            "INSERT INTO certificate (id, workspace_id, enrollment_id, snapshot, issued_at, revoked_at, "
            "expires_at) VALUES ({}, {}, {}, {}::jsonb, {}, NULL, "
            # The expiry is stamped from the course's validity at issue and never moves after (issue 23).
            "(SELECT {}::timestamptz + make_interval(days => c.validity_days) FROM enrollment e "
            "JOIN course c ON c.id = e.course_id WHERE e.id = {})) "
            "ON CONFLICT (enrollment_id) DO NOTHING RETURNING *",
            certificate.id,
            certificate.workspace_id,
            certificate.enrollment_id,
            json.dumps(certificate.snapshot.to_dict()),
            certificate.issued_at,
            certificate.issued_at,
            certificate.enrollment_id,
        )
        if rows:
            return _certificate(rows[0])
        stored = await self.for_enrollment(certificate.workspace_id, certificate.enrollment_id)
        if stored is None:  # the enrollment's certificate belongs to another workspace: cannot happen
            raise RuntimeError("certificate conflict without a stored certificate")
        return stored

    async def get(self, certificate_id: str) -> Certificate | None:
        row = (
            await CertificateRow.select()
            .where(CertificateRow.id == certificate_id)
            .output(load_json=True)
            .first()
        )
        return _certificate(row) if row else None

    async def for_enrollment(self, workspace_id: UUID, enrollment_id: UUID) -> Certificate | None:
        row = (
            await CertificateRow.select()
            .where(
                (CertificateRow.workspace_id == workspace_id)
                & (CertificateRow.enrollment_id == enrollment_id)
            )
            .output(load_json=True)
            .first()
        )
        return _certificate(row) if row else None

    async def revoke(self, workspace_id: UUID, certificate_id: str, at: datetime) -> Certificate | None:
        rows = await CertificateRow.raw(
            "UPDATE certificate SET revoked_at = COALESCE(revoked_at, {}) "
            "WHERE id = {} AND workspace_id = {} RETURNING *",
            at,
            certificate_id,
            workspace_id,
        )
        return _certificate(rows[0]) if rows else None

    async def keep_logo(self, sha256: str, content: bytes, content_type: str) -> None:
        await CertificateRow.raw(
            "INSERT INTO certificate_logo (sha256, content, content_type) VALUES ({}, {}, {}) "
            "ON CONFLICT (sha256) DO NOTHING",
            sha256,
            content,
            content_type,
        )

    async def logo(self, sha256: str) -> Logo | None:
        rows = await CertificateRow.raw(
            "SELECT content, content_type FROM certificate_logo WHERE sha256 = {}", sha256
        )
        if not rows:
            return None
        return Logo(content=bytes(rows[0]["content"]), content_type=rows[0]["content_type"])
