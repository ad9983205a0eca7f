"""The built-in delivery engine: packages are extracted into object storage (`content/{course id}/…`) and
played by scorm-again. Extraction happens in a local staging folder, then the folder is published with
its record file last: a course whose record is stored is complete, wherever it is read from."""

from __future__ import annotations

import json
import secrets
import shutil
import zipfile
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio

from scormhub.domain.courses import ImportFailed
from scormhub.domain.errors import NotFound
from scormhub.domain.model import Course, ImportState, ImportStatus
from scormhub.domain.ports import ObjectReader, ObjectStore
from scormhub.domain.scorm.archive import plan_extraction, validate_package
from scormhub.domain.scorm.package import PackageLimits, Problem
from scormhub.integrations.storage import PackageStore

_COPY_CHUNK = 256 * 1024
_RECORD = ".scormhub.json"


class ExtractionError(Exception):
    """The zip no longer matches what was validated, or a file escaped its folder."""


class BuiltinEngine:
    """Imports are synchronous: start_import extracts, so poll_import finds the result at once."""

    def __init__(
        self,
        content_root: Path,
        storage: PackageStore,
        limits: PackageLimits,
        store: ObjectStore | None = None,
    ) -> None:
        self.content_root = content_root  # local staging for extraction
        self.storage = storage
        self.store = store or storage.store
        self.limits = limits
        self.content_root.mkdir(parents=True, exist_ok=True)

    def course_dir(self, course_id: UUID) -> Path:
        """Where the filesystem default keeps a course's files (and where staging happens)."""
        return self.content_root / str(course_id)

    @staticmethod
    def prefix(course_id: UUID, version: int = 1) -> str:
        # Version 1 keeps the prefix courses always had; later versions get one each beside it.
        return f"content/{course_id}" if version == 1 else f"content/{course_id}@v{version}"

    @staticmethod
    def _handle(course: Course) -> str:
        return str(course.id) if course.version == 1 else f"{course.id}@v{course.version}"

    @staticmethod
    def _handle_version(handle: str) -> tuple[UUID, int]:
        course_id, _, version = handle.partition("@v")
        return UUID(course_id), int(version) if version.isdigit() else 1

    async def start_import(self, course: Course) -> str:
        prefix = self.prefix(course.id, course.version)
        if await self.store.read_bytes(f"{prefix}/{_RECORD}") is not None:
            return self._handle(course)  # imported already: a retried job must not extract twice
        staging = self.content_root / f".{course.id}.{secrets.token_hex(4)}.partial"
        try:
            async with self.storage.local_copy(course.package_key) as source:
                await anyio.to_thread.run_sync(self._extract, source, staging)
            await self.store.publish_tree(prefix, staging, marker=_RECORD)
        except (ExtractionError, zipfile.BadZipFile, ValueError) as exc:
            raise ImportFailed(f"The package could not be unpacked: {exc}. Upload it again.") from None
        except FileNotFoundError:
            raise ImportFailed("The uploaded package is missing from storage. Upload it again.") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self._handle(course)

    async def poll_import(self, handle: str) -> ImportStatus:
        raw = await self.store.read_bytes(f"{self.prefix(*self._handle_version(handle))}/{_RECORD}")
        if raw is None:
            return ImportStatus(
                state=ImportState.ERROR, message="The extracted course is missing. Upload it again."
            )
        data: dict[str, Any] = json.loads(raw)
        if data.get("error"):
            return ImportStatus(state=ImportState.ERROR, message=data["error"])
        return ImportStatus(
            state=ImportState.COMPLETE,
            title=data.get("title"),
            warnings=tuple(Problem(code=w["code"], message=w["message"]) for w in data.get("warnings", [])),
        )

    async def delete_course(self, course: Course) -> None:
        first = await self.store.delete_prefix(self.prefix(course.id) + "/")
        later = await self.store.delete_prefix(f"{self.prefix(course.id)}@v")  # every later version
        if not (first or later):
            raise NotFound("course content")

    async def open_content(self, course_id: UUID, relative: str, version: int = 1) -> ObjectReader | None:
        """The file a content URL names, or None: never anything outside that version's own files."""
        segments = relative.split("/")
        if (
            not relative
            or "\x00" in relative
            or "\\" in relative
            or any(segment in ("", ".", "..") for segment in segments)
            or relative == _RECORD
        ):
            return None
        return await self.store.open(f"{self.prefix(course_id, version)}/{relative}")

    # --- extraction (runs in a worker thread) --------------------------------------------------------

    def _extract(self, source: Path, staging: Path) -> None:
        report = validate_package(source, self.limits)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
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
