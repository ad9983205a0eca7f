"""A workspace's colour as the learner pages' accent: the colour itself where it reads well, and text
colours that keep WCAG AA contrast whatever colour an admin picks (a pale yellow brand still gets
readable buttons and links)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from scormhub.domain.model import DEFAULT_COLOUR, Branding

_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
AA_CONTRAST = 4.5
WHITE, INK = "#FFFFFF", "#111827"


def _channels(colour: str) -> tuple[float, float, float]:
    return tuple(int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]


def luminance(colour: str) -> float:
    """WCAG relative luminance of #RRGGBB."""

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in _channels(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def darken(colour: str, factor: float) -> str:
    r, g, b = (round(c * 255 * factor) for c in _channels(colour))
    return f"#{r:02X}{g:02X}{b:02X}"


def readable_on_white(colour: str) -> str:
    """The colour, darkened just enough to read as text (links) on a white page."""
    shade = colour
    for _ in range(40):
        if contrast(shade, WHITE) >= AA_CONTRAST:
            return shade
        shade = darken(shade, 0.92)
    return INK


@dataclass(frozen=True)
class Theme:
    """The colours a learner page uses: accent fill, text on it, and an accent for text on white."""

    accent: str
    on_accent: str
    accent_text: str

    def css(self) -> str:
        return (
            f":root{{--brand:{self.accent};--brand-ink:{self.on_accent};--accent:{self.accent_text};"
            f"--accent-dark:{darken(self.accent_text, 0.85)};}}\n"
        )


def theme_of(colour: str | None) -> Theme:
    accent = colour.upper() if colour and _HEX.match(colour) else DEFAULT_COLOUR.upper()
    on_accent = WHITE if contrast(accent, WHITE) >= contrast(accent, INK) else INK
    return Theme(accent=accent, on_accent=on_accent, accent_text=readable_on_white(accent))


@dataclass(frozen=True)
class LearnerBrand:
    """What a learner page shows of the organization: its name, its logo (a URL), its colours (a URL)."""

    name: str
    theme_url: str
    logo_url: str | None


def learner_brand(branding: Branding, *, base: str) -> LearnerBrand:
    """`base` is where this brand's assets are served (`/brand/<workspace>` or `/certificates/<id>`); a
    version from the content makes a changed brand a new URL, so browsers may cache each one."""
    version = hashlib.sha256(
        f"{branding.organization_name}|{branding.primary_color}".encode() + (branding.logo_bytes or b"")
    ).hexdigest()[:12]
    return LearnerBrand(
        name=branding.organization_name,
        theme_url=f"{base}/theme.css?v={version}",
        logo_url=f"{base}/logo?v={version}" if branding.logo_bytes else None,
    )
