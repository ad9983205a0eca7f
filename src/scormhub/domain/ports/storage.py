"""Object storage: where packages and extracted course content live (a folder, or an S3 bucket), shared
by every process of the deployment so any of them can import or serve any course."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime


class ObjectReader(Protocol):
    """One object being read: its size, and either a local file (served as it is) or its bytes."""

    @property
    def size(self) -> int: ...

    @property
    def local_path(self) -> Path | None: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class ObjectStore(Protocol):
    """Keys are ours: relative, '/'-separated, never the user's file name as given.

    Unreachable or failing storage raises `StorageUnavailable`; a missing key is `None` or
    FileNotFoundError as each method says, never an outage."""

    async def put_file(self, key: str, source: Path) -> None:
        """Store the local file under `key`, replacing any object there. `source` is consumed."""
        ...

    async def publish_tree(self, prefix: str, source: Path, *, marker: str) -> None:
        """Store every file under the local folder `source` below `prefix`; `marker` (a file in it) last,
        so a reader that finds the marker finds everything. `source` is consumed."""
        ...

    async def download(self, key: str, target: Path) -> None:
        """Write the object into the local file `target`; FileNotFoundError when there is none."""
        ...

    async def open(self, key: str) -> ObjectReader | None: ...

    async def read_bytes(self, key: str) -> bytes | None:
        """A small object (a record, a manifest) whole."""
        ...

    async def delete(self, key: str) -> None:
        """Remove one object; a missing one is fine."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object under `prefix` ('…/'); returns how many."""
        ...

    def list(self, prefix: str) -> AsyncIterator[StoredObject]:
        """Every object under `prefix`, in no particular order."""
        ...
