"""More than one machine: processes with their own data dirs share only DATABASE_URL and the storage (a
real S3-compatible server). A package uploaded to one web process is imported by a separate worker and
played through a third process; none of them has the others' files."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from processes import free_port, scormhub_env, start_scormhub, stop, wait_for_text

from s3server import S3Server
from shared_packages import PACKAGES
from waits import wait_until

GOLF_12 = PACKAGES / "valid" / "RuntimeBasicCalls_SCORM12.zip"
COURSE_URL = re.compile(r"/app/courses/([0-9a-f-]{36})$")


class Machine:
    def __init__(self, name: str, root: Path, env: dict[str, str], args: list[str]) -> None:
        self.data_dir = root / name
        self.log = root / f"{name}.log"
        self.env = scormhub_env(self.data_dir, **env)
        self.port = free_port() if args == ["serve"] else 0
        if self.port:
            self.env.update(PORT=str(self.port), SCORMHUB_PUBLIC_URL=f"http://127.0.0.1:{self.port}")
        self.process = start_scormhub(
            args + (["--port", str(self.port)] if self.port else []), self.env, self.log
        )

    @property
    def app(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def content(self) -> str:
        return f"http://localhost:{self.port}"

    def signed_in(self) -> httpx.Client:
        link = subprocess.run(
            [*self.process.args[:3], "login-link"],  # type: ignore[index]
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        client = httpx.Client(timeout=30)
        assert client.get(link).status_code == 303
        return client


@pytest.fixture
def machines(db: str, s3_server: S3Server, tmp_path: Path) -> Iterator[tuple[Machine, Machine, Machine]]:
    bucket = s3_server.new_bucket("several-machines")
    shared = {
        "DATABASE_URL": db,
        "SCORMHUB_STORAGE_URL": f"s3://{bucket}/hub",
        "SCORMHUB_IN_PROCESS_WORKER": "false",
        **s3_server.env(),
    }
    web = Machine("web", tmp_path, shared, ["serve"])
    worker = Machine("worker", tmp_path, shared, ["worker"])
    player = Machine("player", tmp_path, shared, ["serve"])
    try:
        for machine, text in (
            (web, "Uvicorn running"),
            (worker, "worker started"),
            (player, "Uvicorn running"),
        ):
            wait_for_text(machine.log, text, timeout_s=90, process=machine.process)
        yield web, worker, player
    finally:
        for machine in (web, worker, player):
            stop(machine.process)


def test_upload_on_one_process_import_on_a_worker_and_play_through_a_third(
    machines: tuple[Machine, Machine, Machine],
) -> None:
    web, worker, player = machines
    admin = web.signed_in()
    admin.get(f"{web.app}/app/courses")
    uploaded = admin.post(
        f"{web.app}/app/courses",
        data={"_csrf_token": admin.cookies["csrftoken"]},
        files={"package": ("golf.zip", GOLF_12.read_bytes(), "application/zip")},
    )
    course_id = COURSE_URL.search(uploaded.headers["location"]).group(1)  # type: ignore[union-attr]

    def ready() -> bool:
        return "Learners can take this course." in admin.get(f"{web.app}/app/courses/{course_id}").text

    wait_until(ready, "the worker to import the course", timeout_s=90)
    other_admin = player.signed_in()
    preview = other_admin.get(f"{player.app}/app/courses/{course_id}/preview")
    player_page = httpx.get(preview.headers["location"], timeout=30)
    launch = re.search(r'"launch": "([^"]+)"', player_page.text)
    assert launch, player_page.text
    served = httpx.get(player.content + launch.group(1), timeout=30)

    with zipfile.ZipFile(io.BytesIO(GOLF_12.read_bytes())) as original:
        expected = original.read("shared/launchpage.html")
    assert uploaded.status_code == 303
    assert preview.headers["location"].startswith(f"{player.content}/play/")
    assert served.status_code == 200
    assert served.content == expected
    for machine in (web, worker, player):
        assert not list(machine.data_dir.rglob("*.zip")), (
            f"{machine.data_dir.name} kept a package on its disk"
        )
        assert not (machine.data_dir / "content" / course_id).exists()
