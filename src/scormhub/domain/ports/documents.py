"""Branding and certificate documents."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from scormhub.domain.model import (
    Branding,
    Certificate,
    Logo,
)

if TYPE_CHECKING:
    pass


class CertificateRenderer(Protocol):
    """A certificate as a PDF document, branded, with the verification link its QR code carries."""

    async def render(self, certificate: Certificate, branding: Branding, verify_url: str) -> bytes: ...


class BrandingStore(Protocol):
    """Each workspace's branding (the defaults until it saves its own)."""

    async def load(self, workspace_id: UUID, workspace_name: str) -> Branding: ...

    async def save(self, workspace_id: UUID, branding: Branding, now: datetime) -> None: ...


class LogoSource(Protocol):
    """Turns an uploaded file or a URL into a logo we store, or raises LogoRefused saying why not."""

    def check(self, content: bytes) -> Logo: ...

    async def fetch(self, url: str) -> Logo:
        """Fetched once, guarded against reaching inside the network."""
        ...
