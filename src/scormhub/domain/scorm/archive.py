"""Check an uploaded SCORM zip for safety and correctness without extracting it (rules Z1-Z7, P1-P11),
and plan the extraction of one that passed."""

from __future__ import annotations

import copy
import itertools
import os
import unicodedata
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO
from xml.etree.ElementTree import Element

from scormhub.domain.scorm.findings import Findings, human_size, listing, reason_of, show, with_article
from scormhub.domain.scorm.manifest import decode_manifest, parse_manifest
from scormhub.domain.scorm.outline import ManifestReader
from scormhub.domain.scorm.package import KB, MANIFEST, PackageLimits, PackageReport
from scormhub.domain.scorm.paths import is_junk, normalise_name, unsafe_name_code

_UTF8_NAME_FLAG = 0x800
_ENCRYPTED_FLAGS = 0x1 | 0x40  # traditional and "strong" encryption
_PATCHED_DATA_FLAG = 0x20
# Only stored and deflate: CPython's bzip2/LZMA readers inflate a whole compressed chunk in one call, so
# their output can't be capped while streaming, and no SCORM authoring tool writes them anyway.
_ALLOWED_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_METHOD_NAMES = {
    1: "Shrink",
    6: "Implode",
    9: "Deflate64",
    12: "bzip2",
    14: "LZMA",
    93: "Zstandard",
    95: "XZ",
    98: "PPMd",
    99: "AES encryption",
}
_UNIX_FILE_TYPE = 0o170000
_UNIX_SYMLINK = 0o120000
_UNIX_ORDINARY_TYPES = frozenset({0, 0o100000, 0o040000})  # unset, regular file, directory
_LOCAL_HEADER_BYTES = 30
_CHUNK = 64 * KB

# What reading a hostile or broken zip can raise. zipfile raises NotImplementedError for compression
# methods and multi-disk archives it cannot read: that is bad input to report, not unfinished code.
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
    ValueError,
)


def validate_package(
    source: BinaryIO | str | os.PathLike[str], limits: PackageLimits = PackageLimits()
) -> PackageReport:
    """Validate a SCORM zip (a path or a seekable binary stream). Bad input yields errors, never raises.

    Nothing is extracted; entries are inflated in bounded chunks only to count their real size and to read
    the manifest. A caller-supplied stream is left open, at the position it had.
    """
    findings = Findings()
    try:
        if isinstance(source, str | os.PathLike):
            with open(source, "rb") as stream:
                return _validate_stream(stream, limits, findings)
        return _validate_callers_stream(source, limits, findings)
    except OSError as exc:
        findings.error("Z1-unreadable", f"The file could not be read ({reason_of(exc)}). Upload it again.")
        return findings.report()


def plan_extraction(
    zf: zipfile.ZipFile, report: PackageReport, *, limits: PackageLimits = PackageLimits()
) -> list[tuple[zipfile.ZipInfo, str]]:
    """Pair each file to extract with its normalised target path, relative to the course folder.

    Junk (Z7) and directory entries are left out: create parent folders from the file paths. Names are
    decoded, NFC-normalised, use "/" and have `report.root_prefix` removed, exactly as validation saw them,
    so pass the same `limits` you validated with. The caller must still check that
    `realpath(dest / target)` stays inside `dest` before writing, as the last line of defence (Z3).
    Raises ValueError for an invalid report or a zip that doesn't match it.
    """
    if not report.valid:
        raise ValueError("Refusing to plan the extraction of a package that failed validation.")
    plan: list[tuple[zipfile.ZipInfo, str]] = []
    for info in zf.infolist():
        name = _decode_name(info, limits.legacy_codepage)[0].replace("\\", "/")
        if unsafe_name_code(name) is not None:
            raise ValueError(f"Unsafe entry name {show(name)}: this zip is not the one that was validated.")
        path, is_dir = normalise_name(name)
        if is_dir or is_junk(path):
            continue
        if not path.startswith(report.root_prefix):
            raise ValueError(f"{show(path)} lies outside {show(report.root_prefix)}: zip and report differ.")
        plan.append((info, path[len(report.root_prefix) :]))
    return plan


# --- zip layer (Z1-Z7) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    info: zipfile.ZipInfo
    name: str  # decoded, "/"-separated, NFC, without "." or empty segments or a trailing slash
    is_dir: bool
    is_junk: bool

    @property
    def is_content(self) -> bool:
        return not self.is_dir and not self.is_junk


def _validate_callers_stream(stream: BinaryIO, limits: PackageLimits, findings: Findings) -> PackageReport:
    try:
        start = stream.tell()
    except (OSError, ValueError) as exc:  # ValueError: the stream is already closed
        findings.error("Z1-unreadable", f"The file could not be read ({reason_of(exc)}). Upload it again.")
        return findings.report()
    try:
        return _validate_stream(stream, limits, findings)
    finally:
        stream.seek(start)


def _validate_stream(stream: BinaryIO, limits: PackageLimits, findings: Findings) -> PackageReport:
    size = _stream_size(stream)
    if size is None:
        findings.error("Z1-unreadable", "The upload could not be read from start to end. Upload it again.")
    elif size == 0:
        findings.error("Z1-empty", "The file is empty (0 bytes). Upload the course's zip file again.")
    elif size > limits.max_compressed_bytes:
        findings.error(
            "Z2-zip-too-large",
            f"The zip is {human_size(size)}; the limit is {human_size(limits.max_compressed_bytes)}. "
            "Remove unused media from the course or split it into smaller courses.",
        )
    if findings.errors:
        return findings.report()
    try:
        zf = zipfile.ZipFile(stream)
    # NotImplementedError: zipfile's answer to a multi-disk archive (see _READ_ERRORS).
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as exc:
        findings.error("Z1-not-a-zip", _not_a_zip_message(exc))
        return findings.report()
    with zf:
        return _validate_zip(zf, limits, findings)


def _stream_size(stream: BinaryIO) -> int | None:
    try:
        position = stream.tell()
        stream.seek(0, os.SEEK_END)
        end = stream.tell()
        stream.seek(position)
    except (OSError, ValueError):
        return None
    return end


def _not_a_zip_message(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return (
            "The zip says its file names are Unicode, but some are not, so the zip is damaged. "
            "Create it again with a standard zip tool."
        )
    return (
        "This file is not a zip archive, or the zip is incomplete (for example the upload was cut short). "
        "Export the course from your authoring tool as a SCORM zip and upload that file."
    )


def _validate_zip(zf: zipfile.ZipFile, limits: PackageLimits, findings: Findings) -> PackageReport:
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        findings.error(
            "Z2-too-many-files",
            f"The zip holds {len(infos):,} files and folders; the limit is {limits.max_entries:,}. "
            "Remove files the course doesn't use, or split it into smaller courses.",
        )
        return findings.report()
    entries = _scan_entries(infos, limits, findings)
    _check_name_collisions(entries, findings)
    _check_overlapping_entries(infos, findings)
    # Located even when names are already refused, so "the manifest is in folder X" is not hidden behind
    # them: both need fixing before the next upload.
    root_prefix = _locate_manifest(entries, findings)
    if findings.errors or root_prefix is None:
        return findings.report()
    content = {e.name[len(root_prefix) :]: e for e in entries if e.is_content}
    _verify_sizes(zf, content.values(), findings)
    if findings.errors:
        return findings.report(root_prefix=root_prefix)
    root = _load_manifest(zf, content[MANIFEST].info, limits, findings)
    if root is None:
        return findings.report(root_prefix=root_prefix)
    outline = ManifestReader(root, frozenset(content), findings).read()
    return findings.report(outline, root_prefix)


def _decode_name(info: zipfile.ZipInfo, codepage: str) -> tuple[str, str | None]:
    """Z6: return the NFC name and, for names not flagged as UTF-8, the encoding we settled on.

    `orig_filename` rather than `filename`, because CPython silently cuts `filename` at a NUL byte.
    """
    name = info.orig_filename
    if info.flag_bits & _UTF8_NAME_FLAG or name.isascii():
        return unicodedata.normalize("NFC", name), None
    raw = name.encode("cp437")  # CPython decoded the raw bytes as cp437, which round-trips exactly
    for encoding in ("utf-8", codepage):
        try:
            return unicodedata.normalize("NFC", raw.decode(encoding)), encoding
        except (UnicodeDecodeError, LookupError):
            continue
    return unicodedata.normalize("NFC", name), "cp437"


_UNSAFE_NAME_HINT = (
    "SCORM Hub refuses such zips because they could overwrite files on the server. "
    "Re-create the zip from the course folder with a standard zip tool."
)
_GROUP_MESSAGES = {
    "Z1-encrypted": "Some files are password-protected ({names}). SCORM Hub can't open protected zips; "
    "create the zip again without a password.",
    "Z1-unsupported-compression": "Some files use a compression method SCORM Hub can't read ({names}). "
    "Re-create the zip with ordinary 'Deflate' compression, e.g. your computer's built-in zip tool.",
    "Z2-compression-ratio": "Some files shrink far more than real course files do ({names}). That is the "
    "signature of a 'zip bomb', so SCORM Hub refuses the zip without unpacking it.",
    "Z3-backslash": "Some file names use '\\' as the folder separator ({names}); SCORM Hub read it as '/'. "
    "Zip tools should write '/', so consider re-creating the zip with another tool.",
    "Z3-control-character": "Some file names contain invisible control characters ({names}), which can hide "
    "a file's real name. Rename those files and zip the course again.",
    "Z3-network-path": "Some file names point at a network share ({names}). " + _UNSAFE_NAME_HINT,
    "Z3-absolute-path": "Some file names start with '/' ({names}), which would place them outside the "
    "course folder. " + _UNSAFE_NAME_HINT,
    "Z3-drive-letter": "Some file names start with a drive letter ({names}), which would place them "
    "outside the course folder. " + _UNSAFE_NAME_HINT,
    "Z3-parent-folder": "Some file names contain '..' ({names}), which would place them outside the course "
    "folder. " + _UNSAFE_NAME_HINT,
    "Z4-symlink": "The zip contains symbolic links ({names}). A link can point at any file on the server, "
    "so SCORM Hub refuses it; replace each link with the file it points to and zip the course again.",
    "Z4-special-file": "The zip contains special system files such as devices or pipes ({names}). Only "
    "ordinary files and folders are allowed; remove them and zip the course again.",
    "Z5-duplicate-name": "The zip contains the same file more than once ({names}), so there is no telling "
    "which copy is the real one. Re-create the zip so that each file appears once.",
    "Z5-case-collision": "Some files differ only in upper/lower case ({names}). They overwrite each other "
    "on Windows, macOS and some storage services, so which one learners get would be random. Rename or "
    "remove one file of each pair.",
    "Z5-file-folder-clash": "Some names are used both for a file and for a folder ({names}); no disk can "
    "store that. Rename the file or the folder.",
    "Z1-corrupt-entry": "Some files in the zip are damaged and can't be read ({names}). The zip may be "
    "incomplete; create it again and re-upload it.",
    "Z2-size-mismatch": "Some files hold a different amount of data than the zip's own index says "
    "({names}). The zip is damaged or was built to slip past size checks; re-create it with a standard "
    "zip tool.",
}
_GROUP_WARNINGS = frozenset({"Z3-backslash"})


def _emit_groups(groups: dict[str, list[str]], findings: Findings) -> None:
    for code, names in groups.items():
        message = _GROUP_MESSAGES[code].format(names=listing(names))
        if code in _GROUP_WARNINGS:
            findings.warn(code, message)
        else:
            findings.error(code, message)


def _scan_entries(
    infos: Sequence[zipfile.ZipInfo], limits: PackageLimits, findings: Findings
) -> list[_Entry]:
    """Header-only checks (Z1, Z2 declared sizes, Z3, Z4, Z6); nothing is inflated here."""
    groups: dict[str, list[str]] = defaultdict(list)
    legacy: dict[str, list[str]] = defaultdict(list)
    entries: list[_Entry] = []
    declared_total = 0
    for info in infos:
        name, encoding = _decode_name(info, limits.legacy_codepage)
        if encoding is not None:
            legacy[encoding].append(show(name))
        if "\\" in name:
            groups["Z3-backslash"].append(show(name))
            name = name.replace("\\", "/")
        for code in _entry_problems(info, name, limits):
            groups[code].append(_describe_entry(code, info, name))
        path, is_dir = normalise_name(name)
        entries.append(_Entry(info, path, is_dir, is_junk(path)))
        declared_total += info.file_size
    _emit_groups(groups, findings)
    for encoding, names in legacy.items():
        findings.warn(
            "Z6-name-encoding",
            f"Some file names aren't marked as Unicode, so SCORM Hub read them as {encoding}: "
            f"{listing(names)}. If they look wrong, re-create the zip with a tool that stores UTF-8 names.",
        )
    if declared_total > limits.max_total_uncompressed:
        findings.error(
            "Z2-too-large-unpacked",
            f"Unpacked, this zip would take {human_size(declared_total)}, more than the "
            f"{human_size(limits.max_total_uncompressed)} limit. Remove unused media or split the course.",
        )
    return entries


def _entry_problems(info: zipfile.ZipInfo, name: str, limits: PackageLimits) -> Iterator[str]:
    unsafe = unsafe_name_code(name)
    if unsafe is not None:
        yield unsafe
    kind = (info.external_attr >> 16) & _UNIX_FILE_TYPE
    if kind == _UNIX_SYMLINK:
        yield "Z4-symlink"
    elif kind not in _UNIX_ORDINARY_TYPES:
        yield "Z4-special-file"
    if info.flag_bits & _ENCRYPTED_FLAGS:
        yield "Z1-encrypted"
    elif info.compress_type not in _ALLOWED_METHODS or info.flag_bits & _PATCHED_DATA_FLAG:
        yield "Z1-unsupported-compression"
    too_big_to_ignore = info.file_size > limits.ratio_applies_above
    if too_big_to_ignore and info.file_size > limits.max_ratio * max(info.compress_size, 1):
        yield "Z2-compression-ratio"


def _describe_entry(code: str, info: zipfile.ZipInfo, name: str) -> str:
    if code == "Z1-unsupported-compression":
        method = _METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
        return f"{show(name)} uses {method}"
    if code == "Z2-compression-ratio":
        return f"{show(name)}: {human_size(info.file_size)} packed into {human_size(info.compress_size)}"
    return show(name)


def _check_name_collisions(entries: Sequence[_Entry], findings: Findings) -> None:
    """Z5. Case-only twins are rejected, not warned about: on case-insensitive storage one silently
    replaces the other, and P8's case-sensitive launch check assumes every name is unambiguous."""
    groups: dict[str, list[str]] = defaultdict(list)
    exact: set[str] = set()
    folded: dict[str, str] = {}
    folders: set[str] = set()
    for entry in entries:
        if entry.is_junk or entry.is_dir:
            continue
        name = entry.name
        parts = name.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        if name in exact:
            groups["Z5-duplicate-name"].append(show(name))
        elif name.casefold() in folded:
            groups["Z5-case-collision"].append(f"{show(folded[name.casefold()])} and {show(name)}")
        exact.add(name)
        folded.setdefault(name.casefold(), name)
    groups["Z5-file-folder-clash"].extend(show(name) for name in sorted(exact & folders))
    _emit_groups({code: names for code, names in groups.items() if names}, findings)


def _check_overlapping_entries(infos: Sequence[zipfile.ZipInfo], findings: Findings) -> None:
    """Z2: entries sharing bytes are a bomb technique CPython 3.11.7 doesn't detect (fixed in 3.11.8)."""
    spans = sorted((info.header_offset, _data_end(info)) for info in infos)
    for (_, end), (next_start, _) in itertools.pairwise(spans):
        if next_start < end:
            findings.error(
                "Z2-overlapping-entries",
                "Files inside this zip overlap each other, a trick used by 'zip bombs'. "
                "Re-create the zip with a standard zip tool.",
            )
            return


def _data_end(info: zipfile.ZipInfo) -> int:
    # A lower bound: the local header's extra field may add bytes, never remove them.
    name_bytes = info.orig_filename.encode("utf-8" if info.flag_bits & _UTF8_NAME_FLAG else "cp437")
    return info.header_offset + _LOCAL_HEADER_BYTES + len(name_bytes) + info.compress_size


def _stream_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> Iterator[bytes]:
    """Yield an entry's inflated bytes in bounded chunks, at most `budget` in total.

    Headers lie: CPython stops reading at the declared `file_size`, which would hide a file that inflates
    to more. So we read through a copy whose `file_size` is our own budget. The copy has no CRC, which
    turns off CPython's check (it would fire at our budget, not the real end); callers check the CRC.
    """
    probe = copy.copy(info)
    probe.file_size = budget
    del probe.CRC
    with zf.open(probe) as stream:
        while budget > 0:
            chunk = stream.read(min(_CHUNK, budget))
            if not chunk:
                return
            budget -= len(chunk)
            yield chunk


def _verify_sizes(zf: zipfile.ZipFile, entries: Iterable[_Entry], findings: Findings) -> None:
    """Z2 counted while streaming: every file must inflate to exactly its declared size and CRC.

    Each entry gets a budget of its declared size plus one byte, so a lying header is caught after one
    extra chunk, and the total inflated never exceeds the declared total already checked against limits.
    A zip inside the package is just another file here: it is counted, never opened.
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        declared = entry.info.file_size
        inflated, crc = 0, 0
        try:
            for chunk in _stream_entry(zf, entry.info, declared + 1):
                inflated += len(chunk)
                crc = zlib.crc32(chunk, crc)
        except _READ_ERRORS:
            groups["Z1-corrupt-entry"].append(show(entry.name))
            continue
        if inflated > declared:
            groups["Z2-size-mismatch"].append(f"{show(entry.name)} holds more than {human_size(declared)}")
        elif inflated < declared:
            groups["Z2-size-mismatch"].append(f"{show(entry.name)} holds less than {human_size(declared)}")
        elif crc != entry.info.CRC:
            groups["Z1-corrupt-entry"].append(show(entry.name))
    _emit_groups(groups, findings)


# --- package layout (P1, P2) -------------------------------------------------------------------------


def _locate_manifest(entries: Sequence[_Entry], findings: Findings) -> str | None:
    """Return the root prefix ("" or "Folder/") that holds imsmanifest.xml, or None after an error."""
    files = [e.name for e in entries if e.is_content]
    if MANIFEST in files:
        return ""
    wrong_case = [
        n for n in files if n.rsplit("/", 1)[-1].casefold() == MANIFEST and not n.endswith(MANIFEST)
    ]
    nested = [n for n in files if n.endswith("/" + MANIFEST)]
    if wrong_case and not nested:
        findings.error(
            "P1-manifest-name-case",
            f"The manifest is named {show(wrong_case[0])}, but it must be exactly 'imsmanifest.xml', all "
            "lower case: web servers on Linux treat the two spellings as different files. Rename it and "
            "zip the course again.",
        )
        return None
    if nested:
        return _rebase_or_reject(files, nested, findings)
    _refuse_non_scorm(files, findings)
    return None


def _rebase_or_reject(files: Sequence[str], nested: Sequence[str], findings: Findings) -> str | None:
    # §1.3 P1 allows rejecting or rebasing; we rebase because it is friendlier. Zipping the folder instead
    # of its contents is the most common packaging mistake (macOS Finder's "Compress" does exactly that),
    # an admin often can't repackage a vendor's course, and nothing is guessed: every file keeps its place
    # relative to the manifest. Anything less clear-cut (several top folders, a deeper manifest) is
    # ambiguous and rejected with the hint instead.
    tops = {name.split("/", 1)[0] for name in files}
    if len(tops) == 1:
        prefix = f"{next(iter(tops))}/"
        if prefix + MANIFEST in nested:
            findings.warn(
                "P1-manifest-in-folder",
                f"imsmanifest.xml is inside the folder {show(prefix.rstrip('/'))} instead of at the top of "
                "the zip, so SCORM Hub treated that folder as the course. Next time, zip the folder's "
                "contents, not the folder itself.",
            )
            return prefix
    findings.error(
        "P1-manifest-not-at-root",
        f"This zip has no imsmanifest.xml at its root (there is one at {show(nested[0])}). Zip the course "
        "folder's contents, not the folder itself.",
    )
    return None


def _refuse_non_scorm(files: Sequence[str], findings: Findings) -> None:
    """P2: name the format when we recognise it, so the admin knows what to ask the vendor for."""
    basenames = {name.rsplit("/", 1)[-1].casefold() for name in files}
    extensions = {name.rsplit(".", 1)[-1] for name in basenames if "." in name}
    # ".au" alone is also an audio format, so AICC needs its course file or a .au/.des pair.
    if "cmi5.xml" in basenames:
        code, standard = "P2-cmi5-package", "cmi5"
    elif "tincan.xml" in basenames:
        code, standard = "P2-xapi-package", "xAPI (Tin Can)"
    elif extensions & {"crs", "cst"} or {"au", "des"} <= extensions:
        code, standard = "P2-aicc-package", "AICC"
    else:
        findings.error(
            "P2-no-manifest",
            "This is not a SCORM package: the zip has no imsmanifest.xml. Export the course from your "
            "authoring tool as SCORM 1.2 or SCORM 2004 and upload that zip.",
        )
        return
    findings.error(
        code,
        f"This looks like {with_article(standard)} package. SCORM Hub supports SCORM 1.2 and 2004 only; "
        "ask for a SCORM export of the course.",
    )


# --- manifest parsing (P3) ---------------------------------------------------------------------------


def _load_manifest(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: PackageLimits, findings: Findings
) -> Element | None:
    too_large = (
        "P3-manifest-too-large",
        f"imsmanifest.xml is larger than {human_size(limits.max_manifest_bytes)}, far beyond any real course "
        "outline. Check that the right file was exported as the manifest.",
    )
    if info.file_size > limits.max_manifest_bytes:
        findings.error(*too_large)
        return None
    data = b"".join(_stream_entry(zf, info, limits.max_manifest_bytes + 1))
    if len(data) > limits.max_manifest_bytes:
        findings.error(*too_large)
        return None
    if not data.strip():
        findings.error(
            "P3-empty-manifest",
            "imsmanifest.xml is empty. Export the course again from your authoring tool.",
        )
        return None
    return parse_manifest(decode_manifest(data, limits.legacy_codepage, findings), findings)
