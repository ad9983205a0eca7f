"""Fakes of the branding ports: a store of each workspace's branding, and logos from a fixed list."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.errors import LogoRefused
from scormhub.domain.model import Branding, Logo, default_branding

if TYPE_CHECKING:
    from scormhub.domain.ports import BrandingStore, LogoSource

PNG_MAGIC = b"\x89PNG"


class FakeBrandingStore:
    def __init__(self) -> None:
        self.saved: dict[UUID, tuple[Branding, datetime]] = {}

    async def load(self, workspace_id: UUID, workspace_name: str) -> Branding:
        held = self.saved.get(workspace_id)
        return held[0] if held else default_branding(workspace_name)

    async def save(self, workspace_id: UUID, branding: Branding, now: datetime) -> None:
        self.saved[workspace_id] = (branding, now)


class FakeLogoSource:
    """Accepts content that starts like a PNG; serves the URLs it was given and refuses every other."""

    def __init__(self, urls: dict[str, bytes] | None = None) -> None:
        self.urls = dict(urls or {})
        self.fetched: list[str] = []

    def check(self, content: bytes) -> Logo:
        if not content.startswith(PNG_MAGIC):
            raise LogoRefused("Use a PNG, JPEG, GIF or WebP image (SVG is not accepted).")
        return Logo(content=content, content_type="image/png")

    async def fetch(self, url: str) -> Logo:
        self.fetched.append(url)
        if url not in self.urls:
            raise LogoRefused("The logo URL answered 404; check the address.")
        return self.check(self.urls[url])


if TYPE_CHECKING:
    _store: BrandingStore = FakeBrandingStore()
    _logos: LogoSource = FakeLogoSource()
