"""The built-in delivery engine: packages are extracted into a content store and played by scorm-again."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio

from scormhub.domain.courses import ImportFailed
from scormhub.domain.errors import NotFound
from scormhub.domain.model import Course, ImportState, ImportStatus
from scormhub.domain.scorm.archive import plan_extraction, validate_package
from scormhub.domain.scorm.package import PackageLimits, Problem
from scormhub.integrations.storage import FilesystemPackageStorage

_COPY_CHUNK = 256 * 1024
_RECORD = ".scormhub.json"


class ExtractionError(Exception):
    """The zip no longer matches what was validated, or a file escaped its folder."""


class BuiltinEngine:
    """Imports are synchronous: start_import extracts, so poll_import finds the result at once."""

    def __init__(self, content_root: Path, storage: FilesystemPackageStorage, limits: PackageLimits) -> None:
        self.content_root = content_root
        self.storage = storage
        self.limits = limits
        self.content_root.mkdir(parents=True, exist_ok=True)

    def course_dir(self, course_id: UUID, version: int = 1) -> Path:
        # Version 1 keeps the folder courses always had; later versions get one each beside it.
        name = str(course_id) if version == 1 else f"{course_id}@v{version}"
        return self.content_root / name

    @staticmethod
    def _handle_dir(handle: str) -> tuple[UUID, int]:
        course_id, _, version = handle.partition("@v")
        return UUID(course_id), int(version) if version.isdigit() else 1

    async def start_import(self, course: Course) -> str:
        try:
            await anyio.to_thread.run_sync(self._extract, course)
        except (ExtractionError, zipfile.BadZipFile, ValueError) as exc:
            raise ImportFailed(f"The package could not be unpacked: {exc}. Upload it again.") from None
        except FileNotFoundError:
            raise ImportFailed("The uploaded package is missing from storage. Upload it again.") from None
        return str(course.id) if course.version == 1 else f"{course.id}@v{course.version}"

    async def poll_import(self, handle: str) -> ImportStatus:
        record = self.course_dir(*self._handle_dir(handle)) / _RECORD
        if not record.exists():
            return ImportStatus(
                state=ImportState.ERROR, message="The extracted course is missing. Upload it again."
            )
        data: dict[str, Any] = json.loads(record.read_text())
        if data.get("error"):
            return ImportStatus(state=ImportState.ERROR, message=data["error"])
        return ImportStatus(
            state=ImportState.COMPLETE,
            title=data.get("title"),
            warnings=tuple(Problem(code=w["code"], message=w["message"]) for w in data.get("warnings", [])),
        )

    async def delete_course(self, course: Course) -> None:
        target = self.course_dir(course.id)
        versions = list(self.content_root.glob(f"{course.id}@v*"))
        if not target.exists() and not versions:
            raise NotFound("course content")
        for folder in [target, *versions]:
            await anyio.to_thread.run_sync(_remove_tree, folder)

    def content_file(self, course_id: UUID, relative: str, version: int = 1) -> Path | None:
        """The file a content URL names, or None: never a path outside the version's own folder."""
        root = self.course_dir(course_id, version).resolve()
        if not relative or "\x00" in relative:
            return None
        try:
            candidate = (root / relative).resolve()
            if not candidate.is_relative_to(root) or not candidate.is_file() or candidate.name == _RECORD:
                return None
        except OSError:  # a name or path longer than the filesystem allows names nothing
            return None
        return candidate

    # --- extraction (runs in a worker thread) --------------------------------------------------------

    def _extract(self, course: Course) -> None:
        final = self.course_dir(course.id, course.version)
        if (final / _RECORD).exists():
            return  # imported already: a retried job must not extract twice
        source = self.storage.path(course.package_key)
        if not source.exists():
            raise FileNotFoundError(source)
        report = validate_package(source, self.limits)
        staging = self.content_root / f".{final.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            if not report.valid:
                raise ExtractionError("; ".join(p.message for p in report.errors))
            with zipfile.ZipFile(source) as zf:
                for info, target in plan_extraction(zf, report, limits=self.limits):
                    self._write_member(zf, info, staging, target)
            record = {
                "title": report.title,
                "standard": report.standard,
                "edition": report.edition,
                "warnings": [{"code": w.code, "message": w.message} for w in report.warnings],
            }
            (staging / _RECORD).write_text(json.dumps(record))
            shutil.rmtree(final, ignore_errors=True)
            os.replace(staging, final)  # atomic: players never see a half-extracted course
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _write_member(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, root: Path, target: str) -> None:
        destination = (root / target).resolve()
        # Last line of defence (Z3): whatever the validator said, nothing lands outside the course.
        if not destination.is_relative_to(root.resolve()):
            raise ExtractionError(f"{target!r} would be written outside the course folder")
        destination.parent.mkdir(parents=True, exist_ok=True)
        remaining = info.file_size
        with zf.open(info) as member, open(destination, "xb") as out:
            while chunk := member.read(min(_COPY_CHUNK, remaining + 1)):
                remaining -= len(chunk)
                if remaining < 0:
                    raise ExtractionError(f"{target!r} is larger than its header says")
                out.write(chunk)


def _remove_tree(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
