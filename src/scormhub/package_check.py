"""`scormhub package check FILE.zip [--json]`: what SCORM Hub thinks of a package, without importing it."""

from __future__ import annotations

import json
from typing import TextIO

from scormhub.domain.scorm.archive import validate_package
from scormhub.domain.scorm.organization import Item
from scormhub.domain.scorm.package import PackageReport, Problem

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2

_EDITIONS = {"2nd": "2nd Edition", "3rd": "3rd Edition", "4th": "4th Edition"}


def run_package_check(path: str, *, as_json: bool, out: TextIO) -> int:
    """Print a report to `out`: 0 when the package is valid, 1 when it isn't, 2 when it can't be opened."""
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below; opening first tells exit 2 apart
    except OSError as exc:
        message = f"Can't open {path}: {exc.strerror or exc}."
        _print(_unreadable(message), path, as_json=as_json, out=out)
        return EXIT_UNREADABLE
    with stream:
        report = validate_package(stream)
    _print(report, path, as_json=as_json, out=out)
    return EXIT_VALID if report.valid else EXIT_INVALID


def _unreadable(message: str) -> PackageReport:
    # Same shape as any other report, so a --json consumer parses one format whatever happened.
    problem = Problem("file-unreadable", message)
    return PackageReport(False, None, None, None, (), None, (), (problem,))


def _print(report: PackageReport, path: str, *, as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(report.to_json_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(format_report(report, path))


def format_report(report: PackageReport, path: str) -> str:
    """The human-readable report: verdict first, then what the admin needs to act on."""
    verdict = "valid" if report.valid else "NOT valid - fix the errors below and try again"
    lines = [f"Package:  {path}", f"Result:   {verdict}"]
    if report.title is not None:
        lines.append(f"Title:    {report.title}")
    if report.standard is not None:
        lines.append(f"Standard: {_standard_name(report)}")
    if report.mastery_score is not None:
        lines.append(f"Mastery:  {report.mastery_score:g}%")
    if report.organization is not None and report.scos:
        lines.append(f"Outline ({_launchable_count(report)}):")
        numbers = {sco.identifier: n for n, sco in enumerate(report.scos, start=1)}
        for item in report.organization.items:
            lines += _outline(item, numbers, depth=1)
    elif report.scos:
        lines.append(f"SCOs ({len(report.scos)}):")
        for number, sco in enumerate(report.scos, start=1):
            lines.append(f"  {number}. {sco.title}  [{sco.identifier}]")
            lines.append(f"     launches {sco.launch}")
    lines += _problems("Warnings", report.warnings)
    lines += _problems("Errors", report.errors)
    return "\n".join(lines) + "\n"


def _launchable_count(report: PackageReport) -> str:
    scos = sum(1 for s in report.scos if s.scorm_type == "sco")
    assets = len(report.scos) - scos
    parts = [f"{scos} SCO{'s' if scos != 1 else ''}"] if scos else []
    parts += [f"{assets} asset{'s' if assets != 1 else ''}"] if assets else []
    return " and ".join(parts) + " to launch"


def _outline(item: Item, numbers: dict[str, int], *, depth: int) -> list[str]:
    """One item and its children, indented by depth; launchable items numbered in outline order."""
    indent = "  " * depth
    notes = [
        note
        for note, applies in (("asset", item.scorm_type == "asset"), ("hidden", not item.visible))
        if applies
    ]
    shown = f"{item.title}  [{item.identifier}]" + (f"  ({', '.join(notes)})" if notes else "")
    if item.launch is not None and item.identifier in numbers:
        lines = [f"{indent}{numbers[item.identifier]}. {shown}", f"{indent}   launches {item.launch}"]
    else:
        lines = [f"{indent}- {shown}"]
    for child in item.children:
        lines += _outline(child, numbers, depth=depth + 1)
    return lines


def _standard_name(report: PackageReport) -> str:
    if report.standard == "scorm12":
        return "SCORM 1.2"
    edition = _EDITIONS.get(report.edition or "", "(edition unknown)")
    return f"SCORM 2004 {edition}"


def _problems(heading: str, problems: tuple[Problem, ...]) -> list[str]:
    if not problems:
        return []
    return [f"{heading} ({len(problems)}):"] + [f"  - {p.message} [{p.code}]" for p in problems]
