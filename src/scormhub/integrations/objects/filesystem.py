"""ObjectStore on a local (or shared, e.g. NFS) folder. Writes land under a temporary name and are
renamed into place, so a reader never sees half an object."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import anyio

from scormhub.domain.ports import ObjectReader, StoredObject
from scormhub.integrations.objects import checked_key

CHUNK = 256 * 1024


class _FileReader:
    def __init__(self, path: Path, size: int) -> None:
        self.local_path: Path | None = path
        self.size = size

    async def chunks(self) -> AsyncIterator[bytes]:
        async with await anyio.open_file(self._path, "rb") as handle:
            while chunk := await handle.read(CHUNK):
                yield chunk

    @property
    def _path(self) -> Path:
        assert self.local_path is not None
        return self.local_path

    async def aclose(self) -> None:
        return None


class FilesystemObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / checked_key(key)

    async def put_file(self, key: str, source: Path) -> None:
        await anyio.to_thread.run_sync(self._put_file, key, source)

    def _put_file(self, key: str, source: Path) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        try:
            # A rename when the file is on this filesystem already (the usual case): no copy.
            shutil.move(source, partial)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    async def publish_tree(self, prefix: str, source: Path, *, marker: str) -> None:
        await anyio.to_thread.run_sync(self._publish_tree, prefix, source)

    def _publish_tree(self, prefix: str, source: Path) -> None:
        target = self.path(prefix.rstrip("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
        old = target.with_name(f".{target.name}.{secrets.token_hex(4)}.old")
        try:
            shutil.move(source, staging)
            with contextlib.suppress(FileNotFoundError):
                os.replace(target, old)
            os.replace(staging, target)  # atomic: players never see a half-extracted course
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)

    async def download(self, key: str, target: Path) -> None:
        await anyio.to_thread.run_sync(shutil.copyfile, self.path(key), target)

    async def open(self, key: str) -> ObjectReader | None:
        try:
            path = self.path(key)
            stat = path.stat()
        except (OSError, ValueError):  # missing, or a name longer than the filesystem allows
            return None
        if not path.is_file():
            return None
        return _FileReader(path, stat.st_size)

    async def read_bytes(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except (OSError, ValueError):
            return None

    async def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    async def delete_prefix(self, prefix: str) -> int:
        target = self.path(prefix.rstrip("/"))
        if not target.exists():
            return 0
        count = sum(1 for p in target.rglob("*") if p.is_file())
        await anyio.to_thread.run_sync(shutil.rmtree, target, True)
        return count

    async def list(self, prefix: str) -> AsyncIterator[StoredObject]:
        base = self.path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if not base.is_dir():
            return
        for path in base.rglob("*"):
            with contextlib.suppress(FileNotFoundError):  # removed by another process meanwhile
                if path.is_file():
                    stat = path.stat()
                    yield StoredObject(
                        key=path.relative_to(self.root).as_posix(),
                        size=stat.st_size,
                        modified=datetime.fromtimestamp(stat.st_mtime, UTC),
                    )
