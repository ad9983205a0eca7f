"""Where the shared SCORM packages are: `../shared` beside this checkout or, for a clone made somewhere
else (`git clone . "$(mktemp -d)"`), beside the checkout it was cloned from. Also: one re-packed the way
admins often send them."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _shared() -> Path:
    beside = REPO.parent / "shared"
    if beside.is_dir():
        return beside
    origin = subprocess.run(
        ["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        cloned_from = Path(origin).resolve().parent / "shared"
        if cloned_from.is_dir():
            return cloned_from
    return beside  # missing: the tests that read it fail naming this path


SHARED = _shared()
PACKAGES = SHARED / "packages"


def zipped_as_a_folder(source: Path, folder: str) -> bytes:
    """The course zipped folder and all (macOS Finder's "Compress"), with the junk Finder adds."""
    out = io.BytesIO()
    with zipfile.ZipFile(source) as course, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as folded:
        folded.writestr(f"{folder}/", b"")
        for info in course.infolist():
            if not info.is_dir():
                folded.writestr(f"{folder}/{info.filename}", course.read(info))
        folded.writestr(f"{folder}/.DS_Store", b"finder state")
        folded.writestr(f"__MACOSX/{folder}/._imsmanifest.xml", b"resource fork")
    return out.getvalue()
