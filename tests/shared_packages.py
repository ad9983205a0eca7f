"""Where the shared SCORM packages are: `../shared` beside this checkout or, for a clone made somewhere
else (`git clone . "$(mktemp -d)"`), beside the checkout it was cloned from."""

from __future__ import annotations

import subprocess
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
