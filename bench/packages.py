"""Courses issue figures: `scormhub package check` on the sample packages, and a 50 MB upload end to end.

a. The CLI (`scormhub package check --json`) on every zip in ../shared/packages/valid/, cross-checked
   field by field against what each manifest says (EXPECTED, read from the manifests by hand), plus the
   in-process `validate_package` time (median of 5).
b. The real server (`scormhub serve`, embedded PostgreSQL, temp data dir) as a separate process on
   127.0.0.1: upload + validate of a 49.5 MiB SCORM 1.2 package (Golf content + incompressible media),
   3 times, with the server's RSS sampled every 20 ms; then a 60 MiB package, which must get a 413, sent
   both with a Content-Length (refused before the body is read) and chunked (refused at the cap).
"""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.report import MiB, Section, Table, median, mib, seconds
from bench.server import RssSampler, admin_client, display, running_server, scormhub_command

PACKAGES = Path(__file__).resolve().parents[1].parent / "shared" / "packages"
VALID = PACKAGES / "valid"
GOLF_12 = VALID / "RuntimeBasicCalls_SCORM12.zip"

VALIDATE_REPEATS = 5
UPLOAD_REPEATS = 3
BIG_VALIDATE_REPEATS = 3
BIG_BYTES = int(49.5 * MiB)  # the whole zip; the 50 MiB cap (SCORMHUB_MAX_PACKAGE_MB=50) counts all of it
TOO_BIG_BYTES = 60 * MiB
TARGET_RSS_GROWTH = 64 * MiB
TARGET_VALIDATION_S = 2.0
READY_TIMEOUT_S = 300.0
MEDIA = "media/video.mp4"


@dataclass(frozen=True)
class Expected:
    standard: str
    edition: str | None
    scos: int
    first_launch: str
    valid: bool = True


# Read from each zip's imsmanifest.xml: <schemaversion> gives standard and edition ("1.2"; "CAM 1.3" is
# 2004 2nd; "2004 3rd/4th Edition"); the SCOs are the items of the default organization whose resource
# has adlcp:scormtype="sco", in outline order; the first launch is that resource's href plus the item's
# `parameters`. None of these manifests uses xml:base.
EXPECTED = {
    "ContentPackagingSingleSCO_SCORM20042ndEdition.zip": Expected(
        "scorm2004", "2nd", 1, "shared/launchpage.html"
    ),
    "RuntimeBasicCalls_SCORM12.zip": Expected("scorm12", None, 1, "shared/launchpage.html"),
    "RuntimeBasicCalls_SCORM20043rdEdition.zip": Expected("scorm2004", "3rd", 1, "shared/launchpage.html"),
    # 18 leaf items under 4 parent items; the quizzes add parameters="?questions=...", the first does not.
    "RuntimeMinimumCalls_SCORM12.zip": Expected("scorm12", None, 18, "Playing/Playing.html"),
    # 5 SCOs, all launching shared/launchpage.html with a query string in the href itself.
    "SequencingPostTestRollup4thEd_SCORM20044thEdition.zip": Expected(
        "scorm2004", "4th", 5, "shared/launchpage.html?content=playing"
    ),
}


def run() -> Section:
    section = Section(
        key="packages",
        title="Packages: check, upload and validate",
        command=".venv/bin/python -m bench --only packages",
    )
    check_samples(section)
    with tempfile.TemporaryDirectory(prefix="scormhub-bench-zips-") as temp:
        big = build_package(Path(temp) / "golf-49.5mb.zip", BIG_BYTES)
        too_big = build_package(Path(temp) / "golf-60mb.zip", TOO_BIG_BYTES)
        validation_s = validate_big(section, big)
        upload_through_server(section, big, too_big, validation_s)
    print(section.markdown())
    return section


# --- a. the sample packages ----------------------------------------------------------------------------


def _field(value: object, expected: object, failures: list[str], what: str) -> str:
    shown = "-" if value is None else str(value)
    if value == expected:
        return f"{shown} (correct)"
    failures.append(f"{what}: got {value!r}, expected {expected!r}")
    return f"{shown} (WRONG, expected {expected})"


def check_samples(section: Section) -> None:
    from scormhub.domain.scorm.archive import validate_package

    rows = []
    zips = sorted(VALID.glob("*.zip"))
    if not zips:
        section.failures.append(f"no sample packages in {VALID}")
    for path in zips:
        command = [*scormhub_command(), "package", "check", str(path), "--json"]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        cli_s = time.perf_counter() - started
        try:
            report = json.loads(done.stdout)
        except ValueError:
            section.failures.append(f"{path.name}: the CLI printed no JSON (exit {done.returncode})")
            continue
        validate_package(path)  # warm-up, not counted
        times = []
        for _ in range(VALIDATE_REPEATS):
            started = time.perf_counter()
            validate_package(path)
            times.append(time.perf_counter() - started)
        scos = report.get("scos") or []
        first = scos[0]["launch"] if scos else None
        expected = EXPECTED.get(path.name)
        failures = section.failures
        if expected is None:
            cells = [
                str(report.get("standard")),
                str(report.get("edition")),
                str(len(scos)),
                str(first),
                str(report.get("valid")),
            ]
            section.notes.append(f"{path.name} has no expected values in bench/packages.py: not checked.")
        else:
            cells = [
                _field(report.get("standard"), expected.standard, failures, f"{path.name} standard"),
                _field(report.get("edition"), expected.edition, failures, f"{path.name} edition"),
                _field(len(scos), expected.scos, failures, f"{path.name} SCO count"),
                _field(first, expected.first_launch, failures, f"{path.name} first launch"),
                _field(report.get("valid"), expected.valid, failures, f"{path.name} valid"),
            ]
        if done.returncode != (0 if report.get("valid") else 1):
            failures.append(
                f"{path.name}: exit code {done.returncode} does not match valid={report['valid']}"
            )
        problems = len(report.get("warnings", [])) + len(report.get("errors", []))
        rows.append(
            [path.name, *cells, str(problems), seconds(median(times)), seconds(max(times)), seconds(cli_s)]
        )
    section.tables.append(
        Table(
            headers=[
                "Package",
                "Standard",
                "Edition",
                "SCOs",
                "First launch",
                "Valid",
                "Warnings + errors",
                f"validate_package median of {VALIDATE_REPEATS}",
                "max",
                "CLI wall (incl. start-up)",
            ],
            rows=rows,
            caption=(
                "`scormhub package check FILE --json` on each zip in `../shared/packages/valid/`, each field "
                "checked against the manifest (`correct`/`WRONG`); the times are in-process "
                "`validate_package(path)` calls after one warm-up call."
            ),
        )
    )
    section.notes.append(
        f"CLI command: `{display(scormhub_command())} package check ../shared/packages/valid/<zip> --json`."
    )


# --- b. a 50 MB package --------------------------------------------------------------------------------


def build_package(target: Path, total_bytes: int) -> Path:
    """A valid SCORM 1.2 package of `total_bytes` on disk: the Golf 1.2 course plus random media.

    Everything is deflated, as zip tools do; random bytes don't shrink, so the media entry is sized to
    make the whole zip (headers and central directory included) land on `total_bytes` exactly.
    """
    media = total_bytes - 200 * 1024
    for _ in range(4):
        _write_package(target, media)
        actual = target.stat().st_size
        if actual == total_bytes:
            return target
        media += total_bytes - actual
    raise RuntimeError(f"could not size {target.name} to {total_bytes} bytes (got {actual})")


def _write_package(target: Path, media_bytes: int) -> None:
    rng = random.Random(20261122)  # the same bytes every run
    with zipfile.ZipFile(GOLF_12) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "imsmanifest.xml":
                data = data.replace(
                    b'href="shared/launchpage.html">',
                    b'href="shared/launchpage.html">\n\t\t\t<file href="' + MEDIA.encode() + b'"/>',
                    1,
                )
            out.writestr(info.filename, data, compress_type=zipfile.ZIP_DEFLATED)
        entry = zipfile.ZipInfo(MEDIA, date_time=(2026, 11, 22, 12, 0, 0))
        entry.compress_type = zipfile.ZIP_DEFLATED
        entry.external_attr = 0o100644 << 16
        with out.open(entry, "w") as stream:
            left = media_bytes
            while left > 0:
                chunk = min(left, MiB)
                stream.write(rng.randbytes(chunk))
                left -= chunk


def validate_big(section: Section, path: Path) -> float:
    from scormhub.domain.scorm.archive import validate_package

    times, report = [], None
    for _ in range(BIG_VALIDATE_REPEATS):
        started = time.perf_counter()
        report = validate_package(path)
        times.append(time.perf_counter() - started)
    assert report is not None
    if (
        not report.valid
        or report.standard != "scorm12"
        or [s.launch for s in report.scos] != ["shared/launchpage.html"]
    ):
        section.failures.append(
            f"{path.name} is not the valid 1-SCO SCORM 1.2 package it should be: {report}"
        )
    return median(times)


@dataclass
class UploadRun:
    """One POST: its answer, how long it took, and the server's RSS before it and at its peak."""

    status: int
    seconds: float
    baseline: int
    sampled_peak: int  # the highest of the 20 ms samples
    kernel_peak: int | None  # VmHWM: the exact peak since just before the request, None off Linux
    samples: int
    location: str = ""
    ready_s: float | None = None
    peak_until_ready: int | None = None

    @property
    def growth(self) -> int:
        """Peak minus baseline, from whichever peak is higher (the kernel's misses nothing)."""
        return max(self.sampled_peak, self.kernel_peak or 0) - self.baseline

    @property
    def sampled_growth(self) -> int:
        return self.sampled_peak - self.baseline


def _post_file(client: httpx.Client, token: str, path: Path) -> httpx.Response:
    """The browser form's order: the CSRF field first, then the file, streamed from disk by httpx."""
    with path.open("rb") as stream:
        return client.post(
            "/app/courses",
            data={"_csrf_token": token},
            files={"package": (path.name, stream, "application/zip")},
        )


def _post_chunked(client: httpx.Client, token: str, path: Path) -> httpx.Response:
    """The same form without a Content-Length (chunked), so the server can only refuse it at the cap."""
    boundary = "scormhubbench" + "0" * 16

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="_csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="package"; filename="{path.name}"\r\n'
            "Content-Type: application/zip\r\n\r\n"
        ).encode()
        with path.open("rb") as stream:
            while chunk := stream.read(64 * 1024):
                yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    return client.post(
        "/app/courses",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )


def _measure(sampler: RssSampler, send: Callable[[], httpx.Response]) -> UploadRun:
    baseline = sampler.settled()
    can_peak = sampler.reset_peak()
    started = time.monotonic()
    response = send()
    finished = time.monotonic()
    kernel_peak = sampler.kernel_peak() if can_peak else None
    sampler.sample_now()
    samples = sampler.between(started, time.monotonic())
    return UploadRun(
        status=response.status_code,
        seconds=finished - started,
        baseline=baseline,
        sampled_peak=max(samples),
        kernel_peak=kernel_peak,
        samples=len(samples),
        location=response.headers.get("location", ""),
    )


def _wait_ready(client: httpx.Client, sampler: RssSampler, run: UploadRun) -> str:
    """Poll the status fragment (as the detail page does) until the import job is done."""
    started = time.monotonic() - run.seconds
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        fragment = client.get(f"{run.location}/status", headers={"HX-Request": "true"}).text
        for state in ("ready", "error"):
            if f"status-{state}" in fragment:
                run.ready_s = time.monotonic() - started
                sampler.sample_now()
                peaks = [max(sampler.between(started, time.monotonic())), sampler.kernel_peak() or 0]
                run.peak_until_ready = max(peaks)
                return state
        time.sleep(0.05)
    return "processing"


def upload_through_server(section: Section, big: Path, too_big: Path, validation_s: float) -> None:
    accepted: list[UploadRun] = []
    refused: dict[str, list[UploadRun]] = {"declared": [], "chunked": []}
    with running_server() as server:
        client, token = admin_client(server)
        with contextlib.closing(client), RssSampler(server.pid) as sampler:
            idle = sampler.settled(1.0)
            # Warm-up, not counted: a small upload, so lazy imports and pools aren't billed to the big one.
            warm = _measure(sampler, lambda: _post_file(client, token, GOLF_12))
            if warm.status != 303 or _wait_ready(client, sampler, warm) != "ready":
                section.failures.append(f"warm-up upload of {GOLF_12.name} answered {warm.status}")
            for _ in range(UPLOAD_REPEATS):
                run = _measure(sampler, lambda: _post_file(client, token, big))
                accepted.append(run)
                if run.status != 303 or not run.location.startswith("/app/courses/"):
                    section.failures.append(f"upload of {big.name} answered {run.status}, not 303")
                    continue
                state = _wait_ready(client, sampler, run)
                if state != "ready":
                    section.failures.append(f"{big.name} uploaded but its import ended {state!r}")
            for kind, send in (("declared", _post_file), ("chunked", _post_chunked)):
                for _ in range(UPLOAD_REPEATS):
                    run = _measure(sampler, lambda send=send: send(client, token, too_big))
                    refused[kind].append(run)
                    if run.status != 413:
                        section.failures.append(
                            f"{kind} upload of {too_big.name} answered {run.status}, not 413"
                        )
        stored = sorted(p.name for p in (server.data_dir / "packages").iterdir())
    expected_stored = 1 + sum(r.status == 303 for r in accepted)  # the warm-up's and each accepted one
    if len(stored) != expected_stored or any(name.startswith(".") for name in stored):
        section.failures.append(f"refused uploads left files behind in the package store: {stored}")
    if server.exit_code != 0:
        section.failures.append(f"the server exited with {server.exit_code} after SIGTERM")
    _report_uploads(section, big, too_big, validation_s, idle, accepted, refused)
    section.notes.append(
        f"Server: `{display(server.command)}` (a free port; env SCORMHUB_DATA_DIR=<temp dir>, "
        f"SCORMHUB_SECRET_KEY=<random>, no DATABASE_URL), stopped with SIGTERM: exit code {server.exit_code}."
    )


def _report_uploads(
    section: Section,
    big: Path,
    too_big: Path,
    validation_s: float,
    idle: int,
    accepted: list[UploadRun],
    refused: dict[str, list[UploadRun]],
) -> None:
    ok = [r for r in accepted if r.status == 303]
    rows: list[list[str]] = []

    def row(
        label: str,
        values: list[float],
        fmt: Callable[[float], str],
        target: str = "",
        met: bool | None = None,
    ) -> None:
        if not values:
            rows.append([label, "-", "-", target, "-"])
            return
        verdict = "" if met is None else ("met" if met else "MISSED")
        rows.append([label, fmt(median(values)), fmt(max(values)), target, verdict])

    big_size, too_big_size = mib(big.stat().st_size), mib(too_big.stat().st_size)
    growth = [float(r.growth) for r in ok]
    row(f"Upload + validate of {big_size}: wall time until the 303", [r.seconds for r in ok], seconds)
    row(
        "Server peak RSS growth during that upload (peak - baseline)",
        growth,
        mib,
        f"< {mib(TARGET_RSS_GROWTH)}",
        bool(growth) and max(growth) < TARGET_RSS_GROWTH,
    )
    row("  of which seen by the 20 ms samples", [float(r.sampled_growth) for r in ok], mib)
    rows.append(
        [
            f"Validation alone of the same file (in-process, median of {BIG_VALIDATE_REPEATS})",
            seconds(validation_s),
            "",
            f"< {TARGET_VALIDATION_S:.0f} s",
            "met" if validation_s < TARGET_VALIDATION_S else "MISSED",
        ]
    )
    row("Upload until the course is Ready (import job done)", [r.ready_s for r in ok if r.ready_s], seconds)
    row(
        "Server peak RSS growth until Ready (upload + import job)",
        [float(r.peak_until_ready - r.baseline) for r in ok if r.peak_until_ready is not None],
        mib,
    )
    for kind, label in (("declared", "with Content-Length"), ("chunked", "chunked, no Content-Length")):
        runs = refused[kind]
        statuses = "/".join(str(s) for s in sorted({r.status for r in runs}))
        row(f"{too_big_size} {label}: time to the {statuses} answer", [r.seconds for r in runs], seconds)
        row(f"{too_big_size} {label}: server peak RSS growth", [float(r.growth) for r in runs], mib)
    kernel = all(r.kernel_peak is not None for r in accepted)
    section.tables.append(
        Table(
            headers=["Measure", f"median of {UPLOAD_REPEATS}", "max", "target", "verdict"],
            rows=rows,
            caption=(
                "The real server as a separate process (embedded PostgreSQL, temp data dir, "
                "SCORMHUB_MAX_PACKAGE_MB=50); the bench posts the upload form to 127.0.0.1 with httpx, "
                "streaming the zip from disk. RSS is the server process's (it has no child processes; "
                "any would be added). Baseline = median RSS over the 0.5 s before each request; peak = the "
                "higher of the 20 ms samples and "
                + ("the kernel's VmHWM, reset just before the request" if kernel else "(VmHWM unavailable)")
                + ". The RSS target is judged on the max, not the median."
            ),
        )
    )
    section.notes += [
        f"Server RSS idle after sign-in: {mib(idle)}; before each {big_size} upload: "
        + ", ".join(mib(r.baseline) for r in accepted)
        + "; 20 ms samples taken during each: "
        + ", ".join(str(r.samples) for r in accepted)
        + ".",
        f"The {big_size} package: `RuntimeBasicCalls_SCORM12.zip`'s files, its manifest listing "
        f"`{MEDIA}`, plus that file ({mib(big.stat().st_size - 470 * 1024)} approx.) of seeded random bytes, "
        "all deflated (random bytes don't shrink); it validates as SCORM 1.2 with 1 SCO. The "
        f"{too_big_size} one is built the same way.",
        f"A warm-up upload of RuntimeBasicCalls_SCORM12.zip (not counted) precedes the runs; each {big_size} "
        "run waits for the course to be Ready (status polled every 50 ms) before the next request.",
        "Database: the embedded PostgreSQL, the default a new user runs. It runs as a separate daemon (not a "
        "child of the server), so its memory is not in these figures; the upload path makes only a few small "
        "queries, so a throwaway database on the machine's PostgreSQL would not change them.",
    ]
