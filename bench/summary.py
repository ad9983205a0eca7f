"""The summary table at the top of RESULTS.md: each performance target, read from the sections below it.

Built from the sections' own tables (the fresh ones and those kept from earlier runs alike), so it never
says anything its section does not; a section not measured yet shows as such. Each row names the section
and the time it was measured, since `--only` runs refresh one section at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bench.report import Table

Row = dict[str, str]
_MEASURED = re.compile(r"^Measured (\S+ \S+ UTC)", re.M)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def tables(block: str) -> Iterator[list[Row]]:
    """The Markdown tables of a section, each as rows keyed by header (plus "_label": the first cell)."""
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            headers = _cells(lines[i])
            rows: list[Row] = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = _cells(lines[i])
                row = dict(zip(headers, cells, strict=False))
                row["_label"] = cells[0] if cells else ""
                rows.append(row)
                i += 1
            yield rows
        else:
            i += 1


def _cells(line: str) -> list[str]:
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(line.strip().strip("|"))]


def find(block: str | None, label: str) -> Row | None:
    """The first row of the section whose label starts with `label`."""
    for rows in tables(block or ""):
        for row in rows:
            if row["_label"].startswith(label):
                return row
    return None


def find_all(block: str | None, predicate: Callable[[str], bool]) -> list[Row]:
    return [row for rows in tables(block or "") for row in rows if predicate(row["_label"])]


def cell(row: Row | None, *headers: str) -> str:
    """The first of `headers` the row has (headers differ between sections), else the second column."""
    if row is None:
        return ""
    for header in headers:
        for key, value in row.items():
            if key.startswith(header):
                return value
    values = [value for key, value in row.items() if key != "_label"]
    return values[1] if len(values) > 1 else ""


def verdict(*rows: Row | None) -> str:
    """pass when every row says met, miss when one says otherwise, "not measured" without rows."""
    found = [row for row in rows if row is not None]
    if not found or len(found) < len(rows):
        return "not measured"
    said = [row.get("verdict", "").strip().lower() for row in found]
    return "pass" if all(word == "met" for word in said) else "**miss**"


@dataclass(frozen=True)
class Line:
    target: str
    goal: str
    section: str
    measured: str
    ratio: str
    verdict: str


def lines(blocks: dict[str, str]) -> list[Line]:
    out: list[Line] = []

    postbacks = blocks.get("postbacks")
    ratio = find(postbacks, "Postback / bare")
    real = find(postbacks, "Postback endpoint")
    bare = find(postbacks, "Bare Litestar endpoint")
    cpu = find(postbacks, "Server CPU per request")
    pg_cpu = find(postbacks, "PostgreSQL CPU per postback")
    processed = find(postbacks, "Rows processed")
    stored = find(postbacks, "Rows stored")
    out.append(
        Line(
            "Postback endpoint throughput (auth + store + enqueue), zero lost",
            "≥ 30% of a bare Litestar endpoint; every stored postback processed",
            "postbacks",
            f"{cell(real, 'median')} vs {cell(bare, 'median')} requests/s (median of rounds; best round "
            f"{cell(ratio, 'max')}); server CPU per request {cell(cpu, 'max')} vs "
            f"{cell(cpu, 'median')} bare, PostgreSQL's {cell(pg_cpu, 'median')}; "
            f"{cell(stored, 'value')} stored, "
            f"{cell(processed, 'value')} processed",
            cell(ratio, "median"),
            verdict(ratio, processed, stored),
        )
    )

    latency = blocks.get("crm_latency")
    spaced = find(latency, "One postback every")
    burst = find(latency, "A burst of")
    out.append(
        Line(
            "Postback → CRM tags written (local CRM, in-process worker)",
            "p95 < 1 s",
            "crm_latency",
            f"p95 {cell(spaced, 'p95')} (p50 {cell(spaced, 'p50')}); a burst of 60 at once: "
            f"p95 {cell(burst, 'p95')}",
            "",
            verdict(spaced),
        )
    )

    pages = blocks.get("pages")
    search = find(pages, "Type-ahead partial")
    floor = find(pages, "Baseline: GET /healthz")
    worst = find(pages, "Type-ahead worst case")
    out.append(
        Line(
            "Type-ahead partial, 100,000 contacts (server time)",
            "p95 < 30 ms",
            "pages",
            f"p95 {cell(search, 'p95, median')} (max of rounds {cell(search, 'p95, max')}); "
            f"1-character no-match worst case p95 {cell(worst, 'p95, median')}",
            f"/healthz p95 {cell(floor, 'p95, median')}",
            verdict(search),
        )
    )
    detail = find_all(pages, lambda label: label.startswith(("Course page", "Enrolled table")))
    slowest = max(detail, key=lambda row: _ms(cell(row, "p95, median")), default=None)
    out.append(
        Line(
            "Course detail with 10,000 enrollments (server time)",
            "p95 < 60 ms",
            "pages",
            f"slowest of {len(detail)} (pages 1, middle, last; full page and partial): "
            f"p95 {cell(slowest, 'p95, median')}"
            + (f" ({slowest['_label'].split(' (')[0]})" if slowest else ""),
            f"/healthz p95 {cell(floor, 'p95, median')}",
            verdict(*detail) if detail else "not measured",
        )
    )

    reports = blocks.get("reports")
    dashboard = find(reports, "Dashboard")
    out.append(
        Line(
            "Dashboard over 100,000 enrollments",
            "p95 < 150 ms",
            "reports",
            f"{cell(dashboard, 'median')} (max {cell(dashboard, 'max')}) — as the reports section reports it",
            "",
            verdict(dashboard),
        )
    )

    sync = blocks.get("sync")
    share = find(sync, "Throughput / the limit")
    push = find(sync, "Push: ")
    rejected = find(sync, "Rate-limit rejections")
    throughput = next(iter(find_all(sync, lambda label: label == "Throughput")), None)
    out.append(
        Line(
            "Sync All, 1,000 enrollments, CRM limit 100 requests / 10 s",
            "≥ 90% of the limit's throughput, zero 429s",
            "sync",
            f"{cell(push, 'count')} in {cell(push, 'time')} ({cell(throughput, 'count')}); "
            f"429s: {cell(rejected, 'count')}",
            f"{cell(share, 'time')} of the limit's",
            verdict(share, rejected),
        )
    )

    rss = find_all(reports, lambda label: label.startswith(("CSV", "XLSX")) and "RSS" in label)
    out.append(
        Line(
            "CSV / XLSX of 100,000 records: peak RSS (the reports section's rows)",
            "< 100 MB",
            "reports",
            "; ".join(f"{row['_label']}: {cell(row, 'median')} (max {cell(row, 'max')})" for row in rss)
            or "",
            "",
            verdict(*rss) if rss else "not measured",
        )
    )

    memory = blocks.get("memory")
    idle = find(memory, "… after sign-in")
    out.append(
        Line(
            "Memory of the idle server (embedded PostgreSQL aside)",
            "< 150 MB RSS",
            "memory",
            cell(idle, "value"),
            f"{cell(idle, '/ baseline')} the bare app",
            verdict(idle),
        )
    )
    return out


def markdown(blocks: dict[str, str]) -> str:
    rows = []
    for line in lines(blocks):
        found = _MEASURED.search(blocks.get(line.section, ""))
        where = f"[{line.section}](#{_anchor(blocks.get(line.section, ''))})" if found else line.section
        rows.append(
            [
                line.target,
                line.goal,
                line.measured if found else "-",
                line.ratio if found else "-",
                line.verdict if found else "not measured",
                f"{where}, {found.group(1)}" if found else where,
            ]
        )
    table = Table(
        headers=["Target", "Goal", "Measured", "Ratio / baseline", "Pass / miss", "Section, measured"],
        rows=rows,
    )
    return (
        "## Summary\n\n"
        "Each row is read from the section named beside it (the figures there are medians of repeated "
        "runs; see each section for the method, the baseline and the noise).\n\n" + table.markdown() + "\n"
    )


def _anchor(block: str) -> str:
    title = next((line[3:] for line in block.splitlines() if line.startswith("## ")), "")
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def _ms(text: str) -> float:
    found = re.match(r"([\d.]+) ms", text)
    return float(found.group(1)) if found else float("inf")
