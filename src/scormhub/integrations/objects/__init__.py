"""ObjectStore adapters: a folder (`file://`, the default) or an S3-compatible bucket (`s3://`)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from scormhub.domain.ports import ObjectStore
from scormhub.settings import Settings


def build_object_store(settings: Settings) -> ObjectStore:
    url = settings.storage_url
    if url is None:
        # The data dir itself: packages/ and content/ stay where they always were.
        from scormhub.integrations.objects.filesystem import FilesystemObjectStore

        return FilesystemObjectStore(settings.data_dir)
    parts = urlsplit(url)
    if parts.scheme == "file":
        from scormhub.integrations.objects.filesystem import FilesystemObjectStore

        return FilesystemObjectStore(Path(unquote(parts.path)))
    # Imported only when used: boto3 costs ~25 MB resident in a process that never talks to S3.
    from scormhub.integrations.objects.s3 import S3ObjectStore

    return S3ObjectStore(bucket=parts.netloc, prefix=parts.path.strip("/"))


def checked_key(key: str) -> str:
    """Our keys only: relative, no empty, '.' or '..' segment, no backslash or NUL."""
    segments = key.split("/")
    if (
        not key
        or "\\" in key
        or "\x00" in key
        or any(segment in ("", ".", "..") for segment in segments[:-1])
        or segments[-1] in (".", "..")
    ):
        raise ValueError(f"malformed storage key {key!r}")
    return key
