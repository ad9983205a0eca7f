"""The app against a real S3-compatible server (SeaweedFS, started by the suite): packages and course
content live in the bucket, any process can serve them, and a storage outage is explained, not blank."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from movable_clock import MovableClock
from test_course_pages import GOLF_12, import_now, post_package

from appserver import CONTENT
from s3server import S3Server
from scormhub.domain.errors import StorageUnavailable
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.objects.s3 import S3ObjectStore
from scormhub.jobs.system import remove_orphan_objects
from scormhub.settings import Settings

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hkdf-0123456789"


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.new_bucket(f"hub-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def settings(tmp_path: Path, s3_server: S3Server, bucket: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return Settings(
        data_dir=tmp_path,
        secret_key=TEST_SECRET,
        public_url="http://testserver.local",
        content_url=CONTENT,
        storage_url=f"s3://{bucket}/scormhub",
        in_process_worker=False,
        db_pool_size=4,
    )


def keys_in(s3_server: S3Server, bucket: str) -> list[str]:
    listed = s3_server.client().list_objects_v2(Bucket=bucket)  # type: ignore[attr-defined]
    return sorted(item["Key"] for item in listed.get("Contents", []))


async def preview_launch(admin: httpx.AsyncClient, course_url: str) -> str:
    page = await admin.get(f"{course_url}/preview", follow_redirects=True)
    found = re.search(r'"launch": "([^"]+)"', page.text)
    assert found, page.text
    return CONTENT + found.group(1)


async def test_a_course_uploaded_and_imported_lives_in_the_bucket_and_plays_from_it(
    admin: httpx.AsyncClient, app: Litestar, settings: Settings, s3_server: S3Server, bucket: str
) -> None:
    course_url = (await post_package(admin, GOLF_12.read_bytes())).headers["location"]
    await import_now(app, course_url)
    course_id = course_url.rsplit("/", 1)[1]

    stored = keys_in(s3_server, bucket)
    launch = await preview_launch(admin, course_url)
    content = await admin.get(launch)

    assert sum(1 for key in stored if key.startswith("scormhub/packages/") and key.endswith(".zip")) == 1
    assert f"scormhub/content/{course_id}/shared/launchpage.html" in stored
    assert f"scormhub/content/{course_id}/.scormhub.json" in stored
    assert content.status_code == 200
    assert content.headers["content-type"].startswith("text/html")
    assert int(content.headers["content-length"]) == len(content.content) > 0
    assert not list((settings.data_dir / "packages").glob("*.zip")), "nothing kept on this machine's disk"
    assert not (settings.data_dir / "content" / course_id).exists()


async def test_deleting_a_course_removes_its_package_and_content_from_the_bucket(
    admin: httpx.AsyncClient, app: Litestar, s3_server: S3Server, bucket: str
) -> None:
    course_url = (await post_package(admin, GOLF_12.read_bytes())).headers["location"]
    await import_now(app, course_url)
    await admin.get(f"{course_url}/delete")

    deleted = await admin.post(f"{course_url}/delete", data={"_csrf_token": admin.cookies["csrftoken"]})

    assert deleted.status_code == 303
    assert keys_in(s3_server, bucket) == []


async def test_learners_see_content_temporarily_unavailable_while_storage_is_down_and_it_recovers(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course_url = (await post_package(admin, GOLF_12.read_bytes())).headers["location"]
    await import_now(app, course_url)
    launch = await preview_launch(admin, course_url)
    builtin = app.state.deps.builtin
    working = builtin.store
    closed = S3ObjectStore(bucket=working.bucket, prefix="scormhub", client=_client_for("http://127.0.0.1:9"))

    builtin.store = closed
    try:
        down = await admin.get(launch)
    finally:
        builtin.store = working
    back = await admin.get(launch)

    assert down.status_code == 503
    assert "temporarily unavailable" in down.text
    assert back.status_code == 200, "storage coming back needs no restart"


async def test_a_storage_server_that_cannot_be_reached_is_an_outage_not_a_missing_file(
    s3_server: S3Server, bucket: str
) -> None:
    store = S3ObjectStore(bucket=bucket, client=_client_for("http://127.0.0.1:9"))

    with pytest.raises(StorageUnavailable):
        await store.open("content/x/index.html")
    with pytest.raises(StorageUnavailable):
        await store.delete_prefix("content/x/")


async def test_the_store_round_trips_lists_and_deletes_by_prefix(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    store = S3ObjectStore(bucket=bucket, prefix="p", client=s3_server.client())
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    (tree / "a" / "one.html").write_bytes(b"<p>one</p>")
    (tree / "marker.json").write_bytes(b"{}")

    await store.publish_tree("content/c1", tree, marker="marker.json")
    reader = await store.open("content/c1/a/one.html")
    assert reader is not None
    body = b"".join([chunk async for chunk in reader.chunks()])
    listed = sorted([item.key async for item in store.list("content/")])
    missing = await store.open("content/c1/nothing.html")
    removed = await store.delete_prefix("content/c1/")

    assert body == b"<p>one</p>"
    assert listed == ["content/c1/a/one.html", "content/c1/marker.json"]
    assert missing is None
    assert removed == 2
    assert [item async for item in store.list("content/")] == []
    assert not tree.exists(), "the local folder was consumed"
    assert await store.open("content/../secrets") is None, "a key of ours never climbs out of its prefix"


def _client_for(endpoint: str) -> object:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="y",
        region_name="us-east-1",
        config=Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1}),
    )


async def test_the_clean_up_job_removes_only_objects_no_course_names_once_they_are_an_hour_old(
    admin: httpx.AsyncClient, app: Litestar, clock: MovableClock, s3_server: S3Server, bucket: str
) -> None:
    kept_url = (await post_package(admin, GOLF_12.read_bytes())).headers["location"]
    await import_now(app, kept_url)
    gone_url = (await post_package(admin, GOLF_12.read_bytes())).headers["location"]
    await import_now(app, gone_url)
    kept_id, gone_id = kept_url.rsplit("/", 1)[1], gone_url.rsplit("/", 1)[1]
    # A delete killed after the database commit, before storage; an upload killed before its course.
    async with PiccoloUnitOfWork() as uow:
        gone = await uow.courses.find_by_id(uuid.UUID(gone_id))
        assert gone is not None
        await uow.courses.delete(gone.workspace_id, gone.id)
        await uow.commit()
    abandoned = "scormhub/packages/" + "ab" * 16 + ".zip"
    s3_server.client().put_object(Bucket=bucket, Key=abandoned, Body=b"PK\x03\x04")  # type: ignore[attr-defined]
    before = keys_in(s3_server, bucket)

    young = await remove_orphan_objects({"deps": app.state.deps})  # type: ignore[typeddict-item]
    clock.offset = timedelta(hours=2)
    old = await remove_orphan_objects({"deps": app.state.deps})  # type: ignore[typeddict-item]
    again = await remove_orphan_objects({"deps": app.state.deps})  # type: ignore[typeddict-item]
    after = keys_in(s3_server, bucket)

    assert young == {"packages": 0, "courses": 0, "content_files": 0}, "an upload in progress is left alone"
    assert (old["packages"], old["courses"]) == (2, 1), "the deleted course's and the abandoned upload's"
    assert old["content_files"] > 0
    assert again == {"packages": 0, "courses": 0, "content_files": 0}
    assert abandoned in before
    assert abandoned not in after
    assert not any(key.startswith(f"scormhub/content/{gone_id}/") for key in after)
    assert f"scormhub/content/{kept_id}/shared/launchpage.html" in after
    assert sum(1 for key in after if key.startswith("scormhub/packages/")) == 1, "the kept course's package"


async def test_an_upload_while_storage_is_down_is_refused_with_a_clear_message_and_keeps_nothing(
    admin: httpx.AsyncClient, app: Litestar, settings: Settings, s3_server: S3Server, bucket: str
) -> None:
    storage = app.state.deps.storage
    working = storage.store
    storage.store = S3ObjectStore(bucket=bucket, prefix="scormhub", client=_client_for("http://127.0.0.1:9"))
    try:
        refused = await post_package(admin, GOLF_12.read_bytes())
    finally:
        storage.store = working
    listing = await admin.get("/app/courses")
    accepted = await post_package(admin, GOLF_12.read_bytes())

    assert refused.status_code == 503
    assert "Course storage is not answering, so the package was not kept." in refused.text
    assert "Golf Explained" not in listing.text, "no course was made"
    assert not list((settings.data_dir / "uploads").glob("*.zip")), "no working copy left behind"
    assert accepted.status_code == 303, "the next upload works without a restart"
