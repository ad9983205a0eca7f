"""Settings → Branding: what a workspace's reports and certificates look like, and the rules a save obeys."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scormhub.domain.errors import DomainError, LogoRefused
from scormhub.domain.model import Branding, Workspace
from scormhub.domain.reports import FilterError

if TYPE_CHECKING:
    from scormhub.domain.ports import BrandingStore, Clock, LogoSource

HEX_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
MAX_LOGO_BYTES = 1024 * 1024
# Raster formats only: an SVG can carry script.
ALLOWED_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}
MAX_NAME_LENGTH = 200


def check_colour(raw: str) -> str:
    value = raw.strip()
    if not HEX_COLOUR.match(value):
        raise FilterError(f"\u201c{raw[:20]}\u201d is not a colour. Use the form #RRGGBB, e.g. #2563EB.")
    return value.upper()


@dataclass(frozen=True)
class BrandingForm:
    """What an admin submitted. `logo_upload` is the uploaded file (None when none was chosen)."""

    organization_name: str
    primary_color: str
    logo_url: str
    logo_upload: bytes | None = None
    remove_logo: bool = False


class BrandingRejected(DomainError):
    """The form cannot be saved: one message per field, and the branding still in force."""

    def __init__(self, errors: dict[str, str], current: Branding) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors
        self.current = current


async def save_branding(
    workspace: Workspace, form: BrandingForm, *, store: BrandingStore, logos: LogoSource, clock: Clock
) -> Branding:
    """Check every field, take the logo from the upload, the URL (fetched once) or remove it, then save.

    Nothing is saved unless every field is good (BrandingRejected names each one that is not). A logo URL
    that did not change is not fetched again: the stored bytes stay.
    """
    current = await store.load(workspace.id, workspace.name)
    errors: dict[str, str] = {}
    if not form.organization_name:
        errors["organization_name"] = "Enter the organization name shown on reports."
    try:
        colour = check_colour(form.primary_color)
    except FilterError as error:
        errors["primary_color"] = str(error)
        colour = current.primary_color
    logo_bytes, logo_type, stored_url = current.logo_bytes, current.logo_content_type, current.logo_url
    try:
        if form.logo_upload is not None:
            logo = logos.check(form.logo_upload)
            logo_bytes, logo_type, stored_url = logo.content, logo.content_type, None
        elif form.remove_logo:
            logo_bytes, logo_type, stored_url = None, None, None
        elif form.logo_url and form.logo_url != current.logo_url:
            logo = await logos.fetch(form.logo_url)
            logo_bytes, logo_type, stored_url = logo.content, logo.content_type, form.logo_url
    except LogoRefused as refused:
        errors["logo"] = str(refused)
    if errors:
        raise BrandingRejected(errors, current)
    submitted = Branding(
        organization_name=form.organization_name,
        primary_color=colour,
        logo_bytes=logo_bytes,
        logo_content_type=logo_type,
        logo_url=stored_url,
    )
    await store.save(workspace.id, submitted, clock.now())
    return submitted
