"""ObjectStore on S3 or an S3-compatible service (SeaweedFS, MinIO, R2…), through boto3.

boto3 rather than aioboto3/aiobotocore: it is AWS's own client, the one every S3-compatible service tests
against, it reads the standard AWS_* variables and already does retries with backoff, multipart
transfers and presigned POST policies; aiobotocore would bring aiohttp beside our httpx and pins
botocore tightly. Its calls block, so each runs in a worker thread (a client is thread-safe). Reading a
body in 256 KiB chunks costs one thread hop per chunk, which the benchmark measures.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import boto3
from boto3.exceptions import S3TransferFailedError, S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from scormhub.domain.errors import StorageUnavailable
from scormhub.domain.ports import ObjectReader, StoredObject
from scormhub.integrations.objects import checked_key

CHUNK = 256 * 1024
_MISSING = {"NoSuchKey", "404", "NotFound"}
# Multipart above 16 MB, 8 MB parts: a 50 MB package is 7 parts sent 4 at a time, ~32 MB in flight.
_TRANSFER = TransferConfig(
    multipart_threshold=16 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024, max_concurrency=4
)
T = TypeVar("T")


def _client() -> Any:
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    config = Config(
        # Short: a learner waits on these; botocore's standard mode retries throttling and 5xx with backoff.
        connect_timeout=3,
        read_timeout=15,
        retries={"mode": "standard", "max_attempts": 3},
        # S3-compatible services rarely have wildcard DNS for virtual-hosted buckets.
        s3={"addressing_style": "path" if endpoint else "auto"},
        signature_version="s3v4",
    )
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint or None, region_name=region or None, config=config
    )


class _S3Reader:
    local_path: Path | None = None

    def __init__(self, store: S3ObjectStore, body: Any, size: int) -> None:
        self._store = store
        self._body = body
        self.size = size

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            while chunk := await self._store._call(self._body.read, CHUNK):
                yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        self._body.close()


class S3ObjectStore:
    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.client = client or _client()

    def full_key(self, key: str) -> str:
        return self.prefix + checked_key(key)

    async def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        def run() -> T:
            return function(*args, **kwargs)

        try:
            return await anyio.to_thread.run_sync(run)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise FileNotFoundError(str(exc)) from None
            raise StorageUnavailable(f"storage answered {_code(exc)}") from exc
        except (
            S3TransferFailedError,
            S3UploadFailedError,
        ) as exc:  # a managed (multipart) transfer's own wrapper of the above
            raise StorageUnavailable(f"storage refused the transfer ({exc})") from exc
        except BotoCoreError as exc:  # unreachable, timed out, credentials missing
            raise StorageUnavailable(f"storage is not answering ({type(exc).__name__})") from exc

    async def put_file(self, key: str, source: Path) -> None:
        try:
            await self._call(
                self.client.upload_file, str(source), self.bucket, self.full_key(key), Config=_TRANSFER
            )
        finally:
            _remove(source)

    async def publish_tree(self, prefix: str, source: Path, *, marker: str) -> None:
        base = prefix.rstrip("/") + "/"
        files = _files_except(source, marker)
        try:
            for path in files:
                await self.put_file(base + path.relative_to(source).as_posix(), path)
            await self.put_file(base + marker, source / marker)  # last: it says the rest is there
        finally:
            shutil.rmtree(source, ignore_errors=True)

    async def download(self, key: str, target: Path) -> None:
        await self._call(
            self.client.download_file, self.bucket, self.full_key(key), str(target), Config=_TRANSFER
        )

    async def open(self, key: str) -> ObjectReader | None:
        try:
            answer = await self._call(self.client.get_object, Bucket=self.bucket, Key=self.full_key(key))
        except (FileNotFoundError, ValueError):
            return None
        return _S3Reader(self, answer["Body"], int(answer["ContentLength"]))

    async def read_bytes(self, key: str) -> bytes | None:
        reader = await self.open(key)
        if reader is None:
            return None
        return b"".join([chunk async for chunk in reader.chunks()])

    async def delete(self, key: str) -> None:
        await self._call(self.client.delete_object, Bucket=self.bucket, Key=self.full_key(key))

    async def delete_prefix(self, prefix: str) -> int:
        keys = [self.prefix + item.key async for item in self.list(prefix)]
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            await self._call(
                self.client.delete_objects, Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
            )
        return len(keys)

    async def list(self, prefix: str) -> AsyncIterator[StoredObject]:
        token: str | None = None
        while True:
            args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix + prefix}
            if token:
                args["ContinuationToken"] = token
            page = await self._call(self.client.list_objects_v2, **args)
            for item in page.get("Contents", []):
                yield StoredObject(
                    key=item["Key"][len(self.prefix) :], size=int(item["Size"]), modified=item["LastModified"]
                )
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "unknown"))


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _files_except(root: Path, marker: str) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.relative_to(root).as_posix() != marker)
