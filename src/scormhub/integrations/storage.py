"""PackageStorage over an ObjectStore: an upload is received into a local working copy, validated and
settled there, then stored as `packages/{key}.zip` where every process finds it. Keys are ours; the
user's file name never is.

With the filesystem default the working copy *is* the stored object (no copy is made)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import anyio

from scormhub.domain.courses import PackageTooLarge
from scormhub.domain.ports import ObjectStore
from scormhub.domain.scorm.archive import plan_extraction, validate_package
from scormhub.domain.scorm.package import PackageLimits, PackageReport
from scormhub.integrations.objects.filesystem import FilesystemObjectStore

# Writes are batched so the thread hop costs little; a batch is the most a request holds in memory.
WRITE_BATCH = 1024 * 1024
# A partial upload not written to for this long was left by a process that died mid-upload.
STALE_PARTIAL_S = 60 * 60
# Copy buffer when a package is rewritten; also the most one entry holds in memory at a time.
COPY_CHUNK = 1024 * 1024


class PackageStore:
    def __init__(self, store: ObjectStore, scratch: Path) -> None:
        self.store = store
        self.root = scratch  # the local working copies (and partial uploads)
        self.root.mkdir(parents=True, exist_ok=True)
        self.remove_stale_partials(time.time())

    def remove_stale_partials(self, now: float) -> int:
        """A process killed mid-upload leaves its `.part` file; this removes those that are clearly dead
        (a fresher one may be another process's upload in progress). They are never read as packages.
        Run at start and by a cron job, so a crash does not leave one until the next restart."""
        cutoff = now - STALE_PARTIAL_S
        removed = 0
        for partial in self.root.glob(".*.part"):
            # Another process may remove or finish the same file between the listing and the unlink.
            with contextlib.suppress(FileNotFoundError):
                if partial.stat().st_mtime < cutoff:
                    partial.unlink()
                    removed += 1
        return removed

    def path(self, key: str) -> Path:
        """The local working copy of a package (with the filesystem default, the stored package)."""
        if not key.isalnum():  # our keys are token_hex; anything else did not come from us
            raise ValueError("malformed package key")
        return self.root / f"{key}.zip"

    @staticmethod
    def object_key(key: str) -> str:
        if not key.isalnum():
            raise ValueError("malformed package key")
        return f"packages/{key}.zip"

    def _stored_locally(self, key: str) -> bool:
        return isinstance(self.store, FilesystemObjectStore) and self.store.path(
            self.object_key(key)
        ) == self.path(key)

    @contextlib.asynccontextmanager
    async def local_copy(self, key: str) -> AsyncIterator[Path]:
        """The stored package as a local file for as long as the block runs (a download unless the
        storage is this machine's disk). FileNotFoundError when it is not stored."""
        if isinstance(self.store, FilesystemObjectStore):
            path = self.store.path(self.object_key(key))
            if not path.exists():
                raise FileNotFoundError(path)
            yield path
            return
        target = self.root / f".{key}.{secrets.token_hex(4)}.download.part"
        try:
            await self.store.download(self.object_key(key), target)
            yield target
        finally:
            target.unlink(missing_ok=True)

    async def write(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> tuple[str, int]:
        key = secrets.token_hex(16)
        partial = self.root / f".{key}.part"
        size = 0
        pending = bytearray()
        try:
            async with await anyio.open_file(partial, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        # Stop reading here: the rest of an oversized upload is never received.
                        raise PackageTooLarge(max_bytes)
                    pending += chunk
                    if len(pending) >= WRITE_BATCH:
                        await out.write(bytes(pending))
                        pending.clear()
                if pending:
                    await out.write(bytes(pending))
            os.replace(partial, self.path(key))
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return key, size

    async def inspect(self, key: str, limits: PackageLimits) -> PackageReport:
        path = self.path(key)
        if not path.exists():  # received by another process: validate the stored one
            await self.store.download(self.object_key(key), path)
        return await anyio.to_thread.run_sync(validate_package, path, limits)

    async def settle(
        self, key: str, report: PackageReport, limits: PackageLimits
    ) -> tuple[PackageReport, int]:
        path = self.path(key)
        await anyio.to_thread.run_sync(_rewrite_as_validated, path, report, limits)
        size = path.stat().st_size
        if not self._stored_locally(key):
            await self.store.put_file(self.object_key(key), path)  # consumes the working copy
        return dataclasses.replace(report, root_prefix=""), size

    async def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)
        await self.store.delete(self.object_key(key))

    async def unpacked_bytes(self, key: str, report: PackageReport, limits: PackageLimits) -> int:
        return await anyio.to_thread.run_sync(_unpacked_bytes, self.path(key), report, limits)

    async def stored_course_bytes(self, course_ids: list[UUID]) -> int:
        total = 0
        for course_id in course_ids:
            async for item in self.store.list(f"content/{course_id}/"):
                total += item.size
        return total


def _unpacked_bytes(path: Path, report: PackageReport, limits: PackageLimits) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info, _ in plan_extraction(archive, report, limits=limits))


class FilesystemPackageStorage(PackageStore):
    """The default: packages in `root` (the data dir's packages/), stored where they are received."""

    def __init__(self, root: Path) -> None:
        super().__init__(FilesystemObjectStore(root.parent), root)


def _rewrite_as_validated(path: Path, report: PackageReport, limits: PackageLimits) -> None:
    """Rewrite the zip at `path` as the entries validation accepted, under the names it read; leave it
    untouched when it already is that (the usual case). SCORM Cloud imports the zip as it is, so a course
    zipped inside its folder (or names it would read differently) must not reach it unchanged."""
    partial = path.with_name(f".{path.stem}.part")
    try:
        with zipfile.ZipFile(path) as source:
            plan = plan_extraction(source, report, limits=limits)
            if all(info.filename == target for info, target in plan):
                return
            with zipfile.ZipFile(partial, "w") as rebuilt:
                for info, target in plan:
                    _copy_member(source, info, rebuilt, target)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _copy_member(
    source: zipfile.ZipFile, info: zipfile.ZipInfo, rebuilt: zipfile.ZipFile, target: str
) -> None:
    entry = zipfile.ZipInfo(target, date_time=info.date_time)
    # Media is usually stored already compressed: keep it so; everything else is deflated.
    stored = info.compress_type == zipfile.ZIP_STORED
    entry.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    entry.file_size = info.file_size  # lets zipfile choose ZIP64 for a large member before writing it
    # Reading checks each member's size and CRC again, as validation did.
    with source.open(info) as member, rebuilt.open(entry, "w") as copy:
        shutil.copyfileobj(member, copy, COPY_CHUNK)
