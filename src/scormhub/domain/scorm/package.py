"""What a package check reports: the SCORM standard, the upload limits, the SCOs and the problems found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Standard = Literal["scorm12", "scorm2004"]
Edition = Literal["2nd", "3rd", "4th"]

KB = 1024
MB = 1024 * KB
GB = 1024 * MB

MANIFEST = "imsmanifest.xml"


@dataclass(frozen=True)
class PackageLimits:
    """Upload limits (§1.3 Z2, P3). Sizes are in bytes; "MB" means MiB throughout."""

    max_compressed_bytes: int = 500 * MB
    max_entries: int = 10_000
    max_total_uncompressed: int = 2 * GB
    max_ratio: float = 100
    ratio_applies_above: int = 1 * MB
    max_manifest_bytes: int = 5 * MB
    legacy_codepage: str = "cp1252"


@dataclass(frozen=True)
class Sco:
    """One launchable item of the default organization; `launch` is relative to the package root."""

    identifier: str
    title: str
    launch: str


@dataclass(frozen=True)
class Problem:
    """A finding: `code` is a rule id plus a slug ("P8-launch-case-mismatch"); `message` is for an admin."""

    code: str
    message: str


@dataclass(frozen=True)
class PackageReport:
    """What the validator found.

    - `standard`/`edition`: edition is None for 1.2 and for a 2004 manifest whose schemaversion is unknown.
    - `scos`: the SCO items of the default organization in outline order, hidden ones included (sequencing
      can still deliver them). An asset-only package lists its asset items instead, with a P6 warning, so
      it can still be launched. `launch` is the URL as written in the manifest (xml:base chain + href +
      item parameters, not percent-decoded), relative to the package root.
    - `mastery_score`: one scale for both standards, 0 to 100. SCORM 1.2 `adlcp:masteryscore` as is; SCORM
      2004 `minNormalizedMeasure` of a primary objective with satisfiedByMeasure="true", multiplied by 100.
      Taken from the first SCO that declares one; None when none does.
    - `root_prefix`: "" normally; "Folder/" when the whole course sat in one top folder and was rebased (P1).

    `to_json_dict()` gives warnings and errors as lists of {"code", "message"} objects, so a UI can both
    show the sentence and key behaviour on the code. It omits `root_prefix`, which only the importer needs.
    """

    valid: bool
    standard: Standard | None
    edition: Edition | None
    title: str | None
    scos: tuple[Sco, ...]
    mastery_score: float | None
    warnings: tuple[Problem, ...]
    errors: tuple[Problem, ...]
    root_prefix: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "standard": self.standard,
            "edition": self.edition,
            "title": self.title,
            "scos": [{"identifier": s.identifier, "title": s.title, "launch": s.launch} for s in self.scos],
            "mastery_score": self.mastery_score,
            "warnings": [{"code": p.code, "message": p.message} for p in self.warnings],
            "errors": [{"code": p.code, "message": p.message} for p in self.errors],
        }
