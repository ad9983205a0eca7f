"""Collecting a package check's problems into its report, and wording names and sizes for a person."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from scormhub.domain.scorm.organization import Organization
from scormhub.domain.scorm.package import GB, KB, MB, Edition, PackageReport, Problem, Sco, Standard

_SHOWN_NAMES = 5


class Findings:
    """Ordered and de-duplicated: several items may share a resource, and it should be reported once."""

    def __init__(self) -> None:
        self.warnings: list[Problem] = []
        self.errors: list[Problem] = []

    def warn(self, code: str, message: str) -> None:
        if (problem := Problem(code, message)) not in self.warnings:
            self.warnings.append(problem)

    def error(self, code: str, message: str) -> None:
        if (problem := Problem(code, message)) not in self.errors:
            self.errors.append(problem)

    def report(self, outline: Outline | None = None, root_prefix: str = "") -> PackageReport:
        outline = outline or Outline()
        return PackageReport(
            valid=not self.errors,
            standard=outline.standard,
            edition=outline.edition,
            title=outline.title,
            scos=tuple(outline.scos),
            mastery_score=outline.mastery_score,
            warnings=tuple(self.warnings),
            errors=tuple(self.errors),
            root_prefix=root_prefix,
            organization=outline.organization,
        )


@dataclass
class Outline:
    standard: Standard | None = None
    edition: Edition | None = None
    title: str | None = None
    scos: tuple[Sco, ...] = ()
    mastery_score: float | None = None
    organization: Organization | None = None


def with_article(phrase: str) -> str:
    """'an AICC', 'an xAPI', 'a cmi5': the article goes by the sound, which for these names starts with
    a vowel letter or with an initialism letter spoken with a vowel (x, 'ex')."""
    first = phrase[:1]
    vowel_sound = first.casefold() in set("aeiou") or first == "x" or phrase[:2] in {"X ", "XM", "XA"}
    return f"{'an' if vowel_sound else 'a'} {phrase}"


def show(name: str) -> str:
    """Quote a name for a message, making control characters visible instead of letting them act."""
    visible = "".join(f"\\x{ord(c):02x}" if unicodedata.category(c) == "Cc" else c for c in name)
    return f"'{visible}'"


def listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_SHOWN_NAMES])
    rest = len(items) - _SHOWN_NAMES
    return f"{shown} and {rest} more" if rest > 0 else shown


def human_size(n: float) -> str:
    for unit, scale in (("GB", GB), ("MB", MB), ("KB", KB)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def reason_of(exc: Exception) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__
