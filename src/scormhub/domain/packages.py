"""Check an uploaded SCORM zip for safety and correctness without extracting it (rules Z1-Z7, P1-P11)."""

from __future__ import annotations

import codecs
import copy
import itertools
import os
import re
import unicodedata
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring as _defused_fromstring

Standard = Literal["scorm12", "scorm2004"]
Edition = Literal["2nd", "3rd", "4th"]

_KB = 1024
_MB = 1024 * _KB
_GB = 1024 * _MB

MANIFEST = "imsmanifest.xml"

NS_CP12 = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"
NS_CP2004 = "http://www.imsglobal.org/xsd/imscp_v1p1"
NS_ADLCP12 = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
NS_ADLCP2004 = "http://www.adlnet.org/xsd/adlcp_v1p3"
NS_ADLSEQ = "http://www.adlnet.org/xsd/adlseq_v1p3"
NS_ADLNAV = "http://www.adlnet.org/xsd/adlnav_v1p3"
NS_IMSSS = "http://www.imsglobal.org/xsd/imsss"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_CP_NAMESPACES = frozenset({NS_CP12, NS_CP2004})
_ADLCP_NAMESPACES = frozenset({NS_ADLCP12, NS_ADLCP2004})
_SCORM2004_ONLY_NAMESPACES = frozenset({NS_ADLCP2004, NS_ADLSEQ, NS_ADLNAV, NS_IMSSS})

# Keys are schemaversion values with whitespace collapsed and case folded (ADL's own set, §1.1).
_SCHEMAVERSIONS: dict[str, tuple[Standard, Edition | None]] = {
    "1.2": ("scorm12", None),
    "cam 1.3": ("scorm2004", "2nd"),
    "2004 3rd edition": ("scorm2004", "3rd"),
    "2004 4th edition": ("scorm2004", "4th"),
}

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
_CHUNK = 64 * _KB
_MAX_ITEM_DEPTH = 100
_MAX_LAUNCH_URL = 2000
_SHOWN_NAMES = 5
_THRESHOLD_ATTRIBUTES = ("minProgressMeasure", "progressWeight")  # 4th Ed

_DRIVE_PREFIX = re.compile(r"^[A-Za-z]:")
# Moodle's fix-up: an "&" that doesn't start an entity or character reference was meant literally.
_BARE_AMPERSAND = re.compile(r"&(?!(?:[A-Za-z_][\w.-]*|#[0-9]+|#x[0-9A-Fa-f]+);)")
_XML_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
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


@dataclass(frozen=True)
class PackageLimits:
    """Upload limits (§1.3 Z2, P3). Sizes are in bytes; "MB" means MiB throughout."""

    max_compressed_bytes: int = 500 * _MB
    max_entries: int = 10_000
    max_total_uncompressed: int = 2 * _GB
    max_ratio: float = 100
    ratio_applies_above: int = 1 * _MB
    max_manifest_bytes: int = 5 * _MB
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


def validate_package(
    source: BinaryIO | str | os.PathLike[str], limits: PackageLimits = PackageLimits()
) -> PackageReport:
    """Validate a SCORM zip (a path or a seekable binary stream). Bad input yields errors, never raises.

    Nothing is extracted; entries are inflated in bounded chunks only to count their real size and to read
    the manifest. A caller-supplied stream is left open, at the position it had.
    """
    findings = _Findings()
    try:
        if isinstance(source, str | os.PathLike):
            with open(source, "rb") as stream:
                return _validate_stream(stream, limits, findings)
        return _validate_callers_stream(source, limits, findings)
    except OSError as exc:
        findings.error("Z1-unreadable", f"The file could not be read ({_reason(exc)}). Upload it again.")
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
        if _unsafe_name_code(name) is not None:
            raise ValueError(f"Unsafe entry name {_show(name)}: this zip is not the one that was validated.")
        path, is_dir = _normalise_name(name)
        if is_dir or _is_junk(path):
            continue
        if not path.startswith(report.root_prefix):
            raise ValueError(
                f"{_show(path)} lies outside {_show(report.root_prefix)}: zip and report differ."
            )
        plan.append((info, path[len(report.root_prefix) :]))
    return plan


# --- findings ----------------------------------------------------------------------------------------


class _Findings:
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

    def report(self, outline: _Outline | None = None, root_prefix: str = "") -> PackageReport:
        outline = outline or _Outline()
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
        )


@dataclass
class _Outline:
    standard: Standard | None = None
    edition: Edition | None = None
    title: str | None = None
    scos: tuple[Sco, ...] = ()
    mastery_score: float | None = None


def _show(name: str) -> str:
    """Quote a name for a message, making control characters visible instead of letting them act."""
    visible = "".join(f"\\x{ord(c):02x}" if unicodedata.category(c) == "Cc" else c for c in name)
    return f"'{visible}'"


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_SHOWN_NAMES])
    rest = len(items) - _SHOWN_NAMES
    return f"{shown} and {rest} more" if rest > 0 else shown


def _size(n: float) -> str:
    for unit, scale in (("GB", _GB), ("MB", _MB), ("KB", _KB)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def _reason(exc: Exception) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__


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


def _validate_callers_stream(stream: BinaryIO, limits: PackageLimits, findings: _Findings) -> PackageReport:
    try:
        start = stream.tell()
    except (OSError, ValueError) as exc:  # ValueError: the stream is already closed
        findings.error("Z1-unreadable", f"The file could not be read ({_reason(exc)}). Upload it again.")
        return findings.report()
    try:
        return _validate_stream(stream, limits, findings)
    finally:
        stream.seek(start)


def _validate_stream(stream: BinaryIO, limits: PackageLimits, findings: _Findings) -> PackageReport:
    size = _stream_size(stream)
    if size is None:
        findings.error("Z1-unreadable", "The upload could not be read from start to end. Upload it again.")
    elif size == 0:
        findings.error("Z1-empty", "The file is empty (0 bytes). Upload the course's zip file again.")
    elif size > limits.max_compressed_bytes:
        findings.error(
            "Z2-zip-too-large",
            f"The zip is {_size(size)}; the limit is {_size(limits.max_compressed_bytes)}. "
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


def _validate_zip(zf: zipfile.ZipFile, limits: PackageLimits, findings: _Findings) -> PackageReport:
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
    if findings.errors:
        return findings.report()
    root_prefix = _locate_manifest(entries, findings)
    if root_prefix is None:
        return findings.report()
    content = {e.name[len(root_prefix) :]: e for e in entries if e.is_content}
    _verify_sizes(zf, content.values(), findings)
    if findings.errors:
        return findings.report(root_prefix=root_prefix)
    root = _load_manifest(zf, content[MANIFEST].info, limits, findings)
    if root is None:
        return findings.report(root_prefix=root_prefix)
    outline = _ManifestReader(root, frozenset(content), findings).read()
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


def _unsafe_name_code(name: str) -> str | None:
    """Z3 on a name whose backslashes are already slashes."""
    if any(unicodedata.category(c) == "Cc" for c in name):
        return "Z3-control-character"
    if name.startswith("//"):
        return "Z3-network-path"
    if name.startswith("/"):
        return "Z3-absolute-path"
    if _DRIVE_PREFIX.match(name):
        return "Z3-drive-letter"
    if ".." in name.split("/"):
        return "Z3-parent-folder"
    return None


def _normalise_name(name: str) -> tuple[str, bool]:
    segments = [s for s in name.split("/") if s not in ("", ".")]
    return "/".join(segments), name.endswith("/") or not segments


def _is_junk(name: str) -> bool:
    """Z7: macOS and Windows leave these behind; they never count as course content."""
    segments = name.split("/")
    return "__MACOSX" in segments or segments[-1] == ".DS_Store" or segments[-1].lower() == "thumbs.db"


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


def _emit_groups(groups: dict[str, list[str]], findings: _Findings) -> None:
    for code, names in groups.items():
        message = _GROUP_MESSAGES[code].format(names=_listing(names))
        if code in _GROUP_WARNINGS:
            findings.warn(code, message)
        else:
            findings.error(code, message)


def _scan_entries(
    infos: Sequence[zipfile.ZipInfo], limits: PackageLimits, findings: _Findings
) -> list[_Entry]:
    """Header-only checks (Z1, Z2 declared sizes, Z3, Z4, Z6); nothing is inflated here."""
    groups: dict[str, list[str]] = defaultdict(list)
    legacy: dict[str, list[str]] = defaultdict(list)
    entries: list[_Entry] = []
    declared_total = 0
    for info in infos:
        name, encoding = _decode_name(info, limits.legacy_codepage)
        if encoding is not None:
            legacy[encoding].append(_show(name))
        if "\\" in name:
            groups["Z3-backslash"].append(_show(name))
            name = name.replace("\\", "/")
        for code in _entry_problems(info, name, limits):
            groups[code].append(_describe_entry(code, info, name))
        path, is_dir = _normalise_name(name)
        entries.append(_Entry(info, path, is_dir, _is_junk(path)))
        declared_total += info.file_size
    _emit_groups(groups, findings)
    for encoding, names in legacy.items():
        findings.warn(
            "Z6-name-encoding",
            f"Some file names aren't marked as Unicode, so SCORM Hub read them as {encoding}: "
            f"{_listing(names)}. If they look wrong, re-create the zip with a tool that stores UTF-8 names.",
        )
    if declared_total > limits.max_total_uncompressed:
        findings.error(
            "Z2-too-large-unpacked",
            f"Unpacked, this zip would take {_size(declared_total)}, more than the "
            f"{_size(limits.max_total_uncompressed)} limit. Remove unused media or split the course.",
        )
    return entries


def _entry_problems(info: zipfile.ZipInfo, name: str, limits: PackageLimits) -> Iterator[str]:
    unsafe = _unsafe_name_code(name)
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
        return f"{_show(name)} uses {method}"
    if code == "Z2-compression-ratio":
        return f"{_show(name)}: {_size(info.file_size)} packed into {_size(info.compress_size)}"
    return _show(name)


def _check_name_collisions(entries: Sequence[_Entry], findings: _Findings) -> None:
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
            groups["Z5-duplicate-name"].append(_show(name))
        elif name.casefold() in folded:
            groups["Z5-case-collision"].append(f"{_show(folded[name.casefold()])} and {_show(name)}")
        exact.add(name)
        folded.setdefault(name.casefold(), name)
    groups["Z5-file-folder-clash"].extend(_show(name) for name in sorted(exact & folders))
    _emit_groups({code: names for code, names in groups.items() if names}, findings)


def _check_overlapping_entries(infos: Sequence[zipfile.ZipInfo], findings: _Findings) -> None:
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


def _verify_sizes(zf: zipfile.ZipFile, entries: Iterable[_Entry], findings: _Findings) -> None:
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
            groups["Z1-corrupt-entry"].append(_show(entry.name))
            continue
        if inflated > declared:
            groups["Z2-size-mismatch"].append(f"{_show(entry.name)} holds more than {_size(declared)}")
        elif inflated < declared:
            groups["Z2-size-mismatch"].append(f"{_show(entry.name)} holds less than {_size(declared)}")
        elif crc != entry.info.CRC:
            groups["Z1-corrupt-entry"].append(_show(entry.name))
    _emit_groups(groups, findings)


# --- package layout (P1, P2) -------------------------------------------------------------------------


def _locate_manifest(entries: Sequence[_Entry], findings: _Findings) -> str | None:
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
            f"The manifest is named {_show(wrong_case[0])}, but it must be exactly 'imsmanifest.xml', all "
            "lower case: web servers on Linux treat the two spellings as different files. Rename it and "
            "zip the course again.",
        )
        return None
    if nested:
        return _rebase_or_reject(files, nested, findings)
    _refuse_non_scorm(files, findings)
    return None


def _rebase_or_reject(files: Sequence[str], nested: Sequence[str], findings: _Findings) -> str | None:
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
                f"imsmanifest.xml is inside the folder {_show(prefix.rstrip('/'))} instead of at the top of "
                "the zip, so SCORM Hub treated that folder as the course. Next time, zip the folder's "
                "contents, not the folder itself.",
            )
            return prefix
    findings.error(
        "P1-manifest-not-at-root",
        f"This zip has no imsmanifest.xml at its root (there is one at {_show(nested[0])}). Zip the course "
        "folder's contents, not the folder itself.",
    )
    return None


def _refuse_non_scorm(files: Sequence[str], findings: _Findings) -> None:
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
        f"This looks like a {standard} package. SCORM Hub supports SCORM 1.2 and 2004 only; ask for a "
        "SCORM export of the course.",
    )


# --- manifest parsing (P3) ---------------------------------------------------------------------------


def _load_manifest(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: PackageLimits, findings: _Findings
) -> Element | None:
    too_large = (
        "P3-manifest-too-large",
        f"imsmanifest.xml is larger than {_size(limits.max_manifest_bytes)}, far beyond any real course "
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
    return _parse_manifest(_decode_manifest(data, limits.legacy_codepage, findings), findings)


def _decode_manifest(data: bytes, legacy_codepage: str, findings: _Findings) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    else:
        declared = _XML_DECLARED_ENCODING.match(data)
        encoding = declared.group(1).decode("ascii") if declared else "utf-8"
        if encoding.casefold().startswith("utf-16"):
            encoding = (
                "utf-8"  # the declaration was readable as ASCII, so the file isn't UTF-16 whatever it says
            )
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        findings.warn(
            "P3-manifest-encoding",
            f"imsmanifest.xml isn't valid {encoding} text, so SCORM Hub read it as {legacy_codepage}. "
            "Check that the course and lesson titles look right.",
        )
        return data.decode(legacy_codepage, errors="replace")


def _parse_manifest(text: str, findings: _Findings) -> Element | None:
    """P3: defusedxml refuses entity declarations (billion laughs, XXE) and never fetches anything."""
    repaired = _BARE_AMPERSAND.sub("&amp;", text)
    if repaired != text:
        findings.warn(
            "P3-bare-ampersand",
            "imsmanifest.xml contains '&' characters that should be written '&amp;'. SCORM Hub read them as "
            "plain '&'; other systems may reject the file.",
        )
    try:
        root: Element = _defused_fromstring(repaired)
    except EntitiesForbidden as exc:
        findings.error("P3-xml-entities", _entities_message(exc.sysid))
    except (DTDForbidden, ExternalReferenceForbidden) as exc:
        findings.error("P3-xml-entities", _entities_message(exc.sysid))
    except ParseError as exc:
        line, column = exc.position
        findings.error(
            "P3-not-xml",
            f"imsmanifest.xml is not well-formed XML (problem at line {line}, column {column + 1}). "
            "Export the course again, or ask its author to fix the manifest.",
        )
    except (DefusedXmlException, ValueError):
        findings.error("P3-not-xml", "imsmanifest.xml could not be read as XML. Export the course again.")
    else:
        return root
    return None


def _entities_message(system_id: str | None) -> str:
    if system_id:
        return (
            f"imsmanifest.xml refers to an outside file ({_show(system_id)}). SCORM Hub never loads outside "
            "files from a manifest, because that can leak server files; remove the DOCTYPE/ENTITY lines."
        )
    return (
        "imsmanifest.xml declares XML entities (<!ENTITY …>). SCORM Hub refuses them because they can blow "
        "a small file up to gigabytes; remove the DOCTYPE/ENTITY lines and export again."
    )


# --- manifest rules (P4-P11) -------------------------------------------------------------------------
# P11 (XSD validation) is deliberately not done: it is a warning-only rule, real packages often fail it
# (cvc-elt.1), and validating would need an XSD engine (lxml/xmlschema) this framework-free domain
# doesn't carry. The structural rules below check what the player actually relies on.


def _split_tag(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class _Launchable:
    item: Element
    identifier: str
    title: str
    resource: Element
    visible: bool


class _ManifestReader:
    """P4-P10 for one parsed manifest, reading the default organization's outline into an `_Outline`."""

    def __init__(self, root: Element, files: frozenset[str], findings: _Findings) -> None:
        self.root = root
        self.files = files
        self.findings = findings
        self.cp = _split_tag(root.tag)[0]
        self.outline = _Outline()
        self.resources: dict[str, Element] = {}

    def q(self, local: str) -> str:
        return f"{{{self.cp}}}{local}"

    def read(self) -> _Outline:
        if not self._is_manifest():
            return self.outline
        self._detect_version()
        if not self._check_structure():
            return self.outline
        organization = self._default_organization()
        if organization is None:
            return self.outline
        self.outline.title = _text(organization.find(self.q("title"))) or None
        if self.outline.title is None:
            self.findings.warn(
                "P4-missing-title",
                "The default organization has no <title>, so the course has no name. Give it a title in "
                "your authoring tool, or set one by hand after import.",
            )
        launchables = self._launchables(organization)
        self._choose_scos(launchables)
        self._check_launch_files(launchables)
        self._check_listed_files()
        self._read_mastery(launchables)
        self._check_completion_thresholds(organization)
        return self.outline

    # P4: the root element and version (§1.1).

    def _is_manifest(self) -> bool:
        if self.root.tag in {f"{{{ns}}}manifest" for ns in _CP_NAMESPACES}:
            return True
        namespace, local = _split_tag(self.root.tag)
        where = f" in namespace '{namespace}'" if namespace else " with no namespace"
        self.findings.error(
            "P4-not-a-manifest",
            f"imsmanifest.xml doesn't describe a SCORM package: its top element is <{local}>{where}, not an "
            "IMS content-packaging <manifest>. Export the course again as SCORM 1.2 or 2004.",
        )
        return False

    def _detect_version(self) -> None:
        stated = _text(self.root.find(f"{self.q('metadata')}/{self.q('schemaversion')}"))
        known = _SCHEMAVERSIONS.get(" ".join(stated.split()).casefold())
        if known is not None:
            self.outline.standard, self.outline.edition = known
            return
        namespaces = {_split_tag(el.tag)[0] for el in self.root.iter()}
        namespaces.update(_split_tag(attr)[0] for el in self.root.iter() for attr in el.attrib)
        is_12 = NS_ADLCP12 in namespaces or (
            self.cp == NS_CP12 and not namespaces & _SCORM2004_ONLY_NAMESPACES
        )
        self.outline.standard = "scorm12" if is_12 else "scorm2004"
        guessed = "SCORM 1.2" if is_12 else "SCORM 2004 (edition unknown)"
        said = f"says schemaversion {_show(stated)}" if stated else "doesn't state its <schemaversion>"
        self.findings.warn(
            "P10-unknown-schemaversion",
            f"The manifest {said}, which isn't a SCORM version SCORM Hub knows; judging by its XML "
            f"namespaces it is {guessed}. If the course misbehaves, export it again choosing a specific "
            "SCORM version.",
        )

    def _check_structure(self) -> bool:
        counts = {name: len(self.root.findall(self.q(name))) for name in ("organizations", "resources")}
        for name, count in counts.items():
            if count != 1:
                self.findings.error(
                    "P4-manifest-structure",
                    f"imsmanifest.xml must have exactly one <{name}> section, but has {count}. "
                    "Export the course again from your authoring tool.",
                )
        self._check_metadata()
        self._check_identifiers()
        if any(count != 1 for count in counts.values()):
            return False
        resources = self.root.find(self.q("resources"))
        assert resources is not None  # counted above
        for resource in resources.findall(self.q("resource")):
            self.resources.setdefault(resource.get("identifier", ""), resource)
        return self._check_references()

    def _check_metadata(self) -> None:
        if self.root.find(self.q("metadata")) is not None:
            return
        if self.outline.standard == "scorm2004":
            self.findings.error(
                "P4-missing-metadata",
                "imsmanifest.xml has no <metadata> section, which SCORM 2004 requires (it names the SCORM "
                "version). Export the course again from your authoring tool.",
            )
        else:
            self.findings.warn(
                "P4-missing-metadata",
                "imsmanifest.xml has no <metadata> section naming its SCORM version; SCORM Hub treated it "
                "as SCORM 1.2.",
            )

    def _check_identifiers(self) -> None:
        seen: set[str] = set()
        duplicates: list[str] = []
        missing: list[str] = []
        for element in self.root.iter():
            namespace, local = _split_tag(element.tag)
            if namespace != self.cp or local not in {"manifest", "organization", "item", "resource"}:
                continue
            identifier = element.get("identifier")
            if not identifier:
                missing.append(f"<{local}>")
            elif identifier in seen:
                duplicates.append(_show(identifier))
            seen.add(identifier or "")
        if duplicates:
            self.findings.error(
                "P4-duplicate-identifier",
                f"Several parts of the manifest share the identifier {_listing(duplicates)}; each must be "
                "unique. Fix the manifest or export the course again.",
            )
        if missing:
            self.findings.error(
                "P4-missing-identifier",
                f"Some manifest elements have no identifier ({_listing(sorted(set(missing)))}). Every "
                "organization, item and resource needs one; export the course again.",
            )

    def _check_references(self) -> bool:
        broken: list[str] = []
        for element in self.root.iter():
            if element.tag not in {self.q("item"), self.q("dependency")}:
                continue
            reference = element.get("identifierref")
            if reference is not None and reference not in self.resources:
                owner = element.get("identifier") or "a dependency"
                broken.append(f"{_show(owner)} → {_show(reference)}")
        if broken:
            self.findings.error(
                "P4-unresolved-reference",
                f"Some items refer to resources the manifest doesn't define ({_listing(broken)}). Fix the "
                "references in your authoring tool and export again.",
            )
        return not broken

    # P5: the default organization.

    def _default_organization(self) -> Element | None:
        organizations_el = self.root.find(self.q("organizations"))
        assert organizations_el is not None  # _check_structure ensured exactly one
        organizations = organizations_el.findall(self.q("organization"))
        default = organizations_el.get("default")
        for organization in organizations:
            if default and organization.get("identifier") == default:
                return organization
        if not organizations:
            self.findings.error(
                "P5-no-organization",
                "The manifest has no <organization>, so the course has no outline to show learners. "
                "Export the course again from your authoring tool.",
            )
            return None
        said = f"names {_show(default)}, which doesn't exist" if default else "is missing"
        if self.outline.standard == "scorm2004":
            self.findings.error(
                "P5-default-organization",
                f"The manifest's default organization {said}; SCORM 2004 requires it to name one of its "
                "organizations. Fix the 'default' attribute of <organizations> or export again.",
            )
            return None
        self.findings.warn(
            "P5-default-organization",
            f"The manifest's default organization {said}, so SCORM Hub used the first one "
            f"({_show(organizations[0].get('identifier', ''))}).",
        )
        return organizations[0]

    # P4/P6: the outline's items.

    def _launchables(self, organization: Element) -> list[_Launchable]:
        found: list[_Launchable] = []
        stack = [(item, True, 1) for item in reversed(organization.findall(self.q("item")))]
        while stack:
            item, parent_visible, depth = stack.pop()
            if depth > _MAX_ITEM_DEPTH:
                self.findings.error(
                    "P4-outline-too-deep",
                    f"The course outline nests items more than {_MAX_ITEM_DEPTH} levels deep. "
                    "Check the manifest; no real course needs that.",
                )
                return found
            visible = parent_visible and item.get("isvisible", "true").strip().lower() not in {"false", "0"}
            children = item.findall(self.q("item"))
            if children:
                self._check_parent_item(item)
                stack.extend((child, visible, depth + 1) for child in reversed(children))
                continue
            launchable = self._leaf(item, visible)
            if launchable is not None:
                found.append(launchable)
        return found

    def _check_parent_item(self, item: Element) -> None:
        if item.get("identifierref") is None:
            return
        message = (
            f"Item {_show(item.get('identifier', ''))} has sub-items and also launches a resource; only "
            "items without sub-items may launch content."
        )
        if self.outline.standard == "scorm2004":
            self.findings.error("P4-parent-item-launches", message + " Fix the outline and export again.")
        else:
            self.findings.warn("P4-parent-item-launches", message + " SCORM Hub ignores its resource.")

    def _leaf(self, item: Element, visible: bool) -> _Launchable | None:
        identifier = item.get("identifier", "")
        title = _text(item.find(self.q("title")))
        if not title:
            self.findings.warn(
                "P4-missing-item-title",
                f"Item {_show(identifier)} has no <title>; learners will see its identifier instead.",
            )
        reference = item.get("identifierref")
        if reference is None:
            self.findings.warn(
                "P4-item-without-resource",
                f"Item {_show(title or identifier)} has no sub-items and launches nothing; learners will "
                "see an empty entry in the outline.",
            )
            return None
        return _Launchable(item, identifier, title or identifier, self.resources[reference], visible)

    def _scorm_type(self, resource: Element) -> str:
        """P6: 'sco' or 'asset'. Case variants are accepted with a warning; a missing type means asset."""
        canonical = "scormtype" if self.outline.standard == "scorm12" else "scormType"
        for attribute, value in resource.attrib.items():
            namespace, local = _split_tag(attribute)
            if local.casefold() != "scormtype" or namespace not in _ADLCP_NAMESPACES | {""}:
                continue
            kind = value.strip().casefold()
            if local != canonical or value != kind or namespace == "":
                self.findings.warn(
                    "P6-scormtype-spelling",
                    f"Resource {_show(resource.get('identifier', ''))} writes its type as "
                    f'{local}="{value}" instead of adlcp:{canonical}="{kind}". SCORM Hub accepted it; '
                    "stricter systems may not.",
                )
            return "sco" if kind == "sco" else "asset"
        return "asset"

    def _choose_scos(self, launchables: Sequence[_Launchable]) -> None:
        scos = [entry for entry in launchables if self._scorm_type(entry.resource) == "sco"]
        if scos and not any(entry.visible for entry in scos):
            self.findings.error(
                "P6-no-visible-sco",
                'Every lesson (SCO) in the course outline is hidden (isvisible="false"), so learners '
                "would have nothing to start. Make at least one visible and export again.",
            )
        elif not scos and launchables:
            self.findings.warn(
                "P6-asset-only",
                "This package has no SCOs, only plain web pages (assets). It can be launched, but it never "
                "reports progress or scores, so completion can't be tracked.",
            )
            scos = list(launchables)
        elif not scos:
            self.findings.error(
                "P6-nothing-to-launch",
                "The course outline has no item that launches anything. Export the course again; each "
                "lesson must point at a resource.",
            )
        self.outline.scos = tuple(
            Sco(entry.identifier, entry.title, self._launch_url(entry)) for entry in scos
        )

    # P7/P8: launch URLs.

    def _base(self, resource: Element) -> str:
        resources = self.root.find(self.q("resources"))
        parts = [el.get(_XML_BASE) for el in (self.root, resources, resource) if el is not None]
        base = ""
        for part in parts:
            if not part:
                continue
            if not part.endswith("/"):
                self.findings.warn(
                    "P7-xml-base-slash",
                    f"xml:base {_show(part)} doesn't end with '/'; SCORM Hub treated it as a folder.",
                )
                part += "/"
            base += part.replace("\\", "/")
        return base

    def _launch_ref(self, resource: Element) -> str | None:
        href = resource.get("href")
        if not href or not href.strip():
            return None
        if "\\" in href:
            self.findings.warn(
                "P7-backslash-href",
                f"The launch address {_show(href)} uses '\\'; SCORM Hub read it as '/'.",
            )
        return self._base(resource) + href.strip().replace("\\", "/")

    def _launch_url(self, entry: _Launchable) -> str:
        reference = self._launch_ref(entry.resource) or ""
        return _append_parameters(reference, entry.item.get("parameters"))

    def _check_launch_files(self, launchables: Sequence[_Launchable]) -> None:
        checked: set[str] = set()
        for entry in launchables:
            reference = self._launch_ref(entry.resource)
            if reference is None:
                self.findings.error(
                    "P8-no-launch-file",
                    f"The resource behind {_show(entry.title)} doesn't name a file to launch (no href). "
                    "Fix the resource in your authoring tool and export again.",
                )
                continue
            if reference in checked:
                continue
            checked.add(reference)
            if self._launch_address_ok(reference, entry.title):
                self._check_launch_file_exists(reference, entry.title)

    def _launch_address_ok(self, reference: str, title: str) -> bool:
        problem = _href_problem(reference)
        if problem is not None:
            code, why = problem
            self.findings.error(code, f"{_show(title)} launches {_show(reference)}: {why}")
            return False
        if len(reference) > _MAX_LAUNCH_URL:
            self.findings.warn(
                "P7-long-launch-url",
                f"The launch address of {_show(title)} is {len(reference)} characters long; some browsers "
                f"and servers cut addresses beyond {_MAX_LAUNCH_URL}.",
            )
        return True

    def _check_launch_file_exists(self, reference: str, title: str) -> None:
        path = _package_path(reference)
        if path is None:
            self.findings.error(
                "P8-launch-outside-package",
                f"The launch file of {_show(title)} ({_show(reference)}) points outside the package. "
                "Launch files must be inside the zip; fix the href in the manifest.",
            )
        elif path not in self.files:
            twin = next((f for f in sorted(self.files) if f.casefold() == path.casefold()), None)
            if twin is not None:
                self.findings.error(
                    "P8-launch-case-mismatch",
                    f"The manifest launches {_show(path)} for {_show(title)}, but the zip only has "
                    f"{_show(twin)}. The names differ in upper/lower case: that works on Windows and macOS "
                    "but fails on SCORM Hub's servers. Rename the file or fix the manifest so they match "
                    "exactly.",
                )
            else:
                self.findings.error(
                    "P8-launch-file-missing",
                    f"The launch file {_show(path)} for {_show(title)} isn't in the zip. Add it, or correct "
                    "the href in the manifest.",
                )

    # P9: files listed by resources.

    def _check_listed_files(self) -> None:
        missing: list[str] = []
        for resource in self.resources.values():
            base = self._base(resource)
            for listed in resource.findall(self.q("file")):
                href = (listed.get("href") or "").strip().replace("\\", "/")
                if not href or _href_problem(base + href) is not None:
                    continue
                path = _package_path(base + href)
                if path is None or path not in self.files:
                    missing.append(_show(path or href))
        if missing:
            self.findings.warn(
                "P9-listed-file-missing",
                f"The manifest lists files that aren't in the zip: {_listing(sorted(set(missing)))}. The "
                "course may still work, but pages or images that use them will be broken.",
            )

    # P10: mastery and completion values.

    def _read_mastery(self, launchables: Sequence[_Launchable]) -> None:
        """Every SCO's value is range-checked (P10); the first valid one becomes the package's score."""
        for entry in launchables:
            if self._scorm_type(entry.resource) != "sco":
                continue
            if self.outline.standard == "scorm12":
                score = self._mastery_12(entry)
            else:
                score = self._mastery_2004(entry)
            if self.outline.mastery_score is None:
                self.outline.mastery_score = score

    def _mastery_12(self, entry: _Launchable) -> float | None:
        for child in entry.item:
            namespace, local = _split_tag(child.tag)
            if namespace in _ADLCP_NAMESPACES and local.casefold() == "masteryscore":
                return self._in_range(_text(child), (0, 100), f"adlcp:masteryscore of {_show(entry.title)}")
        return None

    def _mastery_2004(self, entry: _Launchable) -> float | None:
        objective = self._primary_objective(entry.item)
        if objective is None or objective.get("satisfiedByMeasure", "").strip() not in {"true", "1"}:
            return None
        measure_el = objective.find(f"{{{NS_IMSSS}}}minNormalizedMeasure")
        measure = _text(measure_el) if measure_el is not None else "1.0"  # the SN default
        what = f"imsss:minNormalizedMeasure of {_show(entry.title)}"
        value = self._in_range(measure, (-1, 1), what)
        return None if value is None else round(value * 100, 6)

    def _primary_objective(self, item: Element) -> Element | None:
        """The item's own sequencing first, then the shared one its IDRef names (4th Ed collections)."""
        sequencing = item.find(f"{{{NS_IMSSS}}}sequencing")
        if sequencing is None:
            return None
        path = f"{{{NS_IMSSS}}}objectives/{{{NS_IMSSS}}}primaryObjective"
        objective = sequencing.find(path)
        shared_id = sequencing.get("IDRef")
        if objective is None and shared_id:
            for shared in self.root.iterfind(f"{{{NS_IMSSS}}}sequencingCollection/{{{NS_IMSSS}}}sequencing"):
                if shared.get("ID") == shared_id:
                    return shared.find(path)
        return objective

    def _in_range(
        self,
        text: str,
        bounds: tuple[float, float],
        what: str,
        consequence: str = "SCORM Hub ignores it, so the lesson decides pass/fail on its own.",
    ) -> float | None:
        value = _number(text)
        low, high = bounds
        if value is not None and low <= value <= high:
            return value
        self.findings.warn(
            "P10-out-of-range",
            f"{what} is {_show(text)}, but must be a number from {low:g} to {high:g}. {consequence}",
        )
        return None

    def _check_completion_thresholds(self, organization: Element) -> None:
        consequence = "Completion may not be reported as the author intended."
        for item in organization.iter(self.q("item")):
            title = _show(_text(item.find(self.q("title"))) or item.get("identifier", ""))
            for threshold in item.findall(f"{{{NS_ADLCP2004}}}completionThreshold"):
                values = {"completionThreshold": _text(threshold)}  # 3rd Ed: the element's value
                values.update((name, threshold.get(name, "").strip()) for name in _THRESHOLD_ATTRIBUTES)
                for name, text in values.items():
                    if text:
                        self._in_range(text, (0, 1), f"adlcp:{name} of {title}", consequence)


def _href_problem(reference: str) -> tuple[str, str] | None:
    """P7 for a full launch reference (xml:base chain + href)."""
    if _DRIVE_PREFIX.match(reference) or reference.casefold().startswith("file:"):
        return "P7-local-disk-path", (
            "that is a path on the author's own computer, not a file in the package. Fix the href in the "
            "manifest so it names the file inside the zip."
        )
    try:
        scheme = urlsplit(reference).scheme.casefold()
    except ValueError:  # e.g. "http://[::1" - not an address any browser could open either
        return "P7-unsupported-address", "SCORM Hub can only launch files stored in the package."
    if scheme in {"http", "https"} or reference.startswith("//"):
        return "P7-external-launch", (
            "the lesson lives on another website. SCORM Hub's player can only run content stored in the "
            "package, because the browser won't let a page on another site talk to the player. Ask your "
            "vendor for a package that contains the course files."
        )
    if scheme:
        return "P7-unsupported-address", "SCORM Hub can only launch files stored in the package."
    if reference.startswith("/"):
        return "P7-absolute-href", (
            "addresses starting with '/' point at the top of the web server, not into the package. Remove "
            "the leading '/' from the href."
        )
    return None


def _package_path(reference: str) -> str | None:
    """P8: the file a relative launch reference names, or None when it climbs out of the package."""
    path = re.split(r"[?#]", reference, maxsplit=1)[0]
    segments: list[str] = []
    for segment in unquote(path, errors="replace").split("/"):
        if segment in {"", "."}:
            continue
        if segment == "..":
            if not segments:
                return None
            segments.pop()
        else:
            segments.append(segment)
    return unicodedata.normalize("NFC", "/".join(segments))


def _append_parameters(reference: str, parameters: str | None) -> str:
    """§1.2: item parameters join the href's query with '?' or '&'; a '#…' value sets the fragment."""
    parameters = (parameters or "").strip()
    address, hash_mark, fragment = reference.partition("#")
    if parameters.startswith("#"):
        return address + parameters
    parameters = parameters.lstrip("?&")
    if not parameters:
        return reference
    separator = "&" if "?" in address else "?"
    return f"{address}{separator}{parameters}{hash_mark}{fragment}"
