"""What a package check reports: the SCORM standard, the upload limits, the SCOs and the problems found."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from scormhub.domain.scorm.organization import Organization

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
    """One launchable item of the default organization (a SCO or an asset) and what the player seeds its
    run-time data model with; `launch` is relative to the package root. The name stays "Sco" because
    courses store these as their `scos`; records stored before the manifest model carry only the first
    three fields, and the defaults say "nothing declared"."""

    identifier: str
    title: str
    launch: str
    scorm_type: str = "sco"  # "sco" | "asset"
    visible: bool = True
    data_from_lms: str = ""
    mastery_score: float | None = None  # 1.2 adlcp:masteryscore, 0..100
    max_time_allowed: str = ""
    time_limit_action: str = ""
    completion_threshold: float | None = None  # 2004, 0..1
    scaled_passing_score: float | None = None  # 2004, -1..1
    objective_ids: tuple[str, ...] = ()

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "title": self.title,
            "launch": self.launch,
            "type": self.scorm_type,
            "visible": self.visible,
            "data_from_lms": self.data_from_lms,
            "mastery_score": self.mastery_score,
            "max_time_allowed": self.max_time_allowed,
            "time_limit_action": self.time_limit_action,
            "completion_threshold": self.completion_threshold,
            "scaled_passing_score": self.scaled_passing_score,
            "objective_ids": list(self.objective_ids),
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> Sco:
        def number(key: str) -> float | None:
            value = data.get(key)
            return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

        return cls(
            identifier=str(data["identifier"]),
            title=str(data["title"]),
            launch=str(data["launch"]),
            scorm_type="asset" if data.get("type") == "asset" else "sco",
            visible=bool(data.get("visible", True)),
            data_from_lms=str(data.get("data_from_lms", "")),
            mastery_score=number("mastery_score"),
            max_time_allowed=str(data.get("max_time_allowed", "")),
            time_limit_action=str(data.get("time_limit_action", "")),
            completion_threshold=number("completion_threshold"),
            scaled_passing_score=number("scaled_passing_score"),
            objective_ids=tuple(str(i) for i in data.get("objective_ids", ())),
        )


@dataclass(frozen=True)
class Problem:
    """A finding: `code` is a rule id plus a slug ("P8-launch-case-mismatch"); `message` is for an admin."""

    code: str
    message: str


@dataclass(frozen=True)
class PackageReport:
    """What the validator found.

    - `standard`/`edition`: edition is None for 1.2 and for a 2004 manifest whose schemaversion is unknown.
    - `scos`: every launchable item of the default organization in outline order (SCOs and assets, hidden
      ones included: sequencing can still deliver them; SCORM 1.2 parent items that launch a resource
      too). An asset-only package gets a P6 warning: it launches but never reports. `launch` is the URL
      as written in the manifest (xml:base chain + href + item parameters, not percent-decoded),
      relative to the package root.
    - `mastery_score`: one scale for both standards, 0 to 100. SCORM 1.2 `adlcp:masteryscore` as is; SCORM
      2004 `minNormalizedMeasure` of a primary objective with satisfiedByMeasure="true", multiplied by 100.
      Taken from the first SCO that declares one; None when none does.
    - `organization`: the default organization's whole tree (organization.py), None when unreadable.
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
    organization: Organization | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "standard": self.standard,
            "edition": self.edition,
            "title": self.title,
            "scos": [s.to_json_dict() for s in self.scos],
            "mastery_score": self.mastery_score,
            "organization": None if self.organization is None else self.organization.to_json_dict(),
            "warnings": [{"code": p.code, "message": p.message} for p in self.warnings],
            "errors": [{"code": p.code, "message": p.message} for p in self.errors],
        }
