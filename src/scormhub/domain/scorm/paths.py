"""Names inside a package: unsafe zip entry names (Z3), junk files (Z7) and launch references (P7, P8)."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

DRIVE_PREFIX = re.compile(r"^[A-Za-z]:")


def unsafe_name_code(name: str) -> str | None:
    """Z3 on a name whose backslashes are already slashes."""
    if any(unicodedata.category(c) == "Cc" for c in name):
        return "Z3-control-character"
    if name.startswith("//"):
        return "Z3-network-path"
    if name.startswith("/"):
        return "Z3-absolute-path"
    if DRIVE_PREFIX.match(name):
        return "Z3-drive-letter"
    if ".." in name.split("/"):
        return "Z3-parent-folder"
    return None


def normalise_name(name: str) -> tuple[str, bool]:
    segments = [s for s in name.split("/") if s not in ("", ".")]
    return "/".join(segments), name.endswith("/") or not segments


def is_junk(name: str) -> bool:
    """Z7: macOS and Windows leave these behind; they never count as course content."""
    segments = name.split("/")
    return "__MACOSX" in segments or segments[-1] == ".DS_Store" or segments[-1].lower() == "thumbs.db"


def href_problem(reference: str) -> tuple[str, str] | None:
    """P7 for a full launch reference (xml:base chain + href)."""
    if DRIVE_PREFIX.match(reference) or reference.casefold().startswith("file:"):
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


def package_path(reference: str) -> str | None:
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


def append_parameters(reference: str, parameters: str | None) -> str:
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
