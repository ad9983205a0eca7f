"""The Courses tab over HTTP: upload, validation messages, live status, preview, delete, isolation."""

from __future__ import annotations

import dataclasses
import io
import re
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from appserver import CONTENT, csrf_of, serving
from scormhub.app import create_app
from scormhub.domain.model import CourseStatus, CrmKind, EngineKind, PlanMode, Workspace, WorkspaceKind
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.jobs.courses import import_course
from scormhub.settings import Settings
from shared_packages import PACKAGES, zipped_as_a_folder

GOLF_12 = PACKAGES / "valid" / "RuntimeBasicCalls_SCORM12.zip"


async def post_package(
    client: httpx.AsyncClient, content: bytes, name: str = "course.zip", *, csrf: bool = True
) -> httpx.Response:
    await client.get("/app/courses")
    data = {"_csrf_token": csrf_of(client)} if csrf else {}
    return await client.post("/app/courses", data=data, files={"package": (name, content, "application/zip")})


async def import_now(app: Litestar, course_url: str) -> None:
    deps = app.state.deps
    course_id = course_url.rsplit("/", 1)[1]
    async with deps.uow() as uow:
        workspace = await uow.workspaces.get_standalone()
    await import_course({"deps": deps}, workspace_id=str(workspace.id), course_id=course_id)


def stored_packages(settings: Settings) -> list[Path]:
    root = settings.data_dir / "packages"
    return sorted(root.iterdir()) if root.exists() else []


async def test_uploading_a_golf_package_creates_a_processing_course_that_becomes_ready(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    response = await post_package(admin, GOLF_12.read_bytes(), GOLF_12.name)

    assert response.status_code == 303
    course_url = response.headers["location"]
    page = await admin.get(course_url)
    assert "Importing…" in page.text
    assert 'hx-trigger="every 1500ms"' in page.text

    await import_now(app, course_url)
    status = await admin.get(f"{course_url}/status", headers={"HX-Request": "true"})

    assert status.status_code == 200
    assert "<h2>Ready</h2>" in status.text
    assert "hx-trigger" not in status.text, "a final status stops polling"
    assert status.headers["vary"] == "HX-Request"
    listing = await admin.get("/app/courses")
    assert "Golf Explained - Run-time Basic Calls" in listing.text
    assert "SCORM 1.2" in listing.text


async def test_the_status_url_without_htmx_leads_to_the_course_page(admin: httpx.AsyncClient) -> None:
    course_url = (await post_package(admin, GOLF_12.read_bytes())).headers["location"]

    response = await admin.get(f"{course_url}/status")

    assert response.status_code == 303
    assert response.headers["location"] == course_url


@pytest.mark.parametrize(
    ("package", "expected"),
    [
        ("missing_manifest.zip", "imsmanifest.xml"),
        ("missing_launch_file.zip", "LaunchPage.html"),
        ("zip_slip.zip", "evil"),
        ("high_ratio_bomb.zip", "zip bomb"),
    ],
)
async def test_an_invalid_package_is_refused_with_a_specific_message_and_nothing_is_kept(
    admin: httpx.AsyncClient, settings: Settings, package: str, expected: str
) -> None:
    response = await post_package(admin, (PACKAGES / "invalid" / package).read_bytes(), package)

    assert response.status_code == 422
    assert f"{package} can&#39;t be used yet" in response.text
    assert expected.lower() in response.text.lower()
    assert stored_packages(settings) == []
    async with PiccoloUnitOfWork() as uow:
        workspace = await uow.workspaces.get_standalone()
        assert workspace is not None
        assert await uow.courses.list_for_workspace(workspace.id) == []


async def test_a_nested_manifest_is_accepted_with_a_warning_about_the_folder(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    response = await post_package(admin, (PACKAGES / "invalid" / "nested_manifest.zip").read_bytes())
    course_url = response.headers["location"]
    await import_now(app, course_url)

    page = await admin.get(course_url)

    assert "<h2>Ready</h2>" in page.text
    assert "warning" in page.text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"this is not a zip file at all", "zip"),
    ],
)
async def test_a_file_that_is_not_a_package_gets_a_clear_message(
    admin: httpx.AsyncClient, settings: Settings, content: bytes, expected: str
) -> None:
    response = await post_package(admin, content, "notes.zip")

    assert response.status_code == 422
    assert expected in response.text.lower()
    assert stored_packages(settings) == []


async def test_a_package_over_the_cap_is_refused_and_nothing_is_kept(db: str, settings: Settings) -> None:
    small_cap = dataclasses.replace(settings, max_package_mb=1)
    big = io.BytesIO()
    with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("imsmanifest.xml", "<manifest/>")
        zf.writestr("video.mp4", b"\0" * (2 * 1024 * 1024))
    async with serving(create_app(small_cap)) as client:
        from appserver import login_link_token

        await client.get(f"/login/{await login_link_token()}")
        response = await post_package(client, big.getvalue(), "big.zip")

    assert response.status_code == 413
    assert "larger than the 1 MB limit" in response.text
    assert stored_packages(small_cap) == []


async def test_an_upload_without_the_csrf_token_stores_nothing(
    admin: httpx.AsyncClient, settings: Settings
) -> None:
    response = await post_package(admin, GOLF_12.read_bytes(), csrf=False)

    assert response.status_code == 403
    assert "Reload the page" in response.text
    assert stored_packages(settings) == []


async def test_an_upload_that_is_not_a_form_is_refused(admin: httpx.AsyncClient) -> None:
    await admin.get("/app/courses")
    response = await admin.post(
        "/app/courses",
        content=GOLF_12.read_bytes(),
        headers={"content-type": "application/zip", "x-csrftoken": csrf_of(admin)},
    )

    assert response.status_code == 415


async def preview_launch(admin: httpx.AsyncClient, course_url: str) -> tuple[httpx.Response, str]:
    """The admin's preview as the browser follows it: the player page on the content origin, and the
    absolute URL of the file its frame loads."""
    page = await admin.get(f"{course_url}/preview", follow_redirects=True)
    launch = re.search(r'"launch": "([^"]+)"', page.text)
    assert launch, page.text
    return page, CONTENT + launch.group(1)


async def test_preview_plays_the_first_sco_on_the_content_origin_without_the_admins_session(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course_url = (await post_package(admin, GOLF_12.read_bytes())).headers["location"]
    await import_now(app, course_url)

    redirect = await admin.get(f"{course_url}/preview")
    page, launch = await preview_launch(admin, course_url)
    content = await admin.get(launch)
    with_cookie = await admin.get(
        launch, headers={"cookie": f"scormhub_session={admin.cookies['scormhub_session']}"}
    )

    assert redirect.status_code == 303
    assert redirect.headers["location"].startswith(f"{CONTENT}/play/")
    assert page.status_code == 200
    assert str(page.url).startswith(CONTENT)
    assert "scorm12-3.4.3.min.js" in page.text
    assert "set-cookie" not in page.headers
    assert content.status_code == 200
    assert content.headers["content-type"].startswith("text/html")
    assert "frame-ancestors" in content.headers["content-security-policy"]
    assert "http://testserver.local" in content.headers["content-security-policy"], "the app may frame it"
    assert with_cookie.status_code == 404, "the content origin never serves a request carrying a session"


async def test_a_preview_of_a_part_the_course_does_not_have_says_so_instead_of_playing_another(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course_url = (await post_package(admin, GOLF_12.read_bytes())).headers["location"]
    await import_now(app, course_url)

    # The preview plays on the content origin (through a preview pass), where the missing part is named.
    page = await admin.get(f"{course_url}/preview", params={"sco": "unknown"}, follow_redirects=True)

    assert page.status_code == 404
    assert "This part of the course does not exist" in page.text
    assert "player-config" not in page.text


async def test_a_course_zipped_inside_its_folder_is_stored_and_played_with_that_folder_as_the_root(
    admin: httpx.AsyncClient, app: Litestar, settings: Settings
) -> None:
    response = await post_package(admin, zipped_as_a_folder(GOLF_12, "Golf Course"), "Golf.zip")
    course_url = response.headers["location"]
    await import_now(app, course_url)

    (stored,) = stored_packages(settings)
    with zipfile.ZipFile(stored) as kept, zipfile.ZipFile(GOLF_12) as original:
        assert sorted(kept.namelist()) == sorted(n for n in original.namelist() if not n.endswith("/"))
    _, launch = await preview_launch(admin, course_url)
    assert (await admin.get(launch)).status_code == 200
    assert "treated that folder as the course" in (await admin.get(course_url)).text


@pytest.mark.parametrize(
    "path",
    ["../../../../etc/passwd", "%2e%2e/%2e%2e/secret_key", "shared/../../x", ".scormhub.json", ""],
)
async def test_content_urls_cannot_leave_the_course_folder(
    admin: httpx.AsyncClient, app: Litestar, path: str
) -> None:
    course_url = (await post_package(admin, GOLF_12.read_bytes())).headers["location"]
    await import_now(app, course_url)

    _, launch = await preview_launch(admin, course_url)
    content_root = launch[: launch.index("/content/") + len("/content/")]

    response = await admin.get(content_root + path)

    assert response.status_code == 404


async def test_deleting_a_course_asks_first_then_removes_content_and_package(
    admin: httpx.AsyncClient, app: Litestar, settings: Settings
) -> None:
    course_url = (await post_package(admin, GOLF_12.read_bytes())).headers["location"]
    await import_now(app, course_url)
    course_id = course_url.rsplit("/", 1)[1]

    confirm = await admin.get(f"{course_url}/delete")
    assert "Delete “Golf Explained - Run-time Basic Calls”?" in confirm.text
    response = await admin.post(f"{course_url}/delete", data={"_csrf_token": csrf_of(admin)})

    assert response.status_code == 303
    listing = await admin.get(response.headers["location"])
    assert "was deleted" in listing.text
    assert (await admin.get(course_url)).status_code == 404
    assert not (settings.data_dir / "content" / course_id).exists()
    assert stored_packages(settings) == []


async def test_another_workspaces_course_is_a_404_on_every_course_route(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    course_url = (await post_package(admin, GOLF_12.read_bytes())).headers["location"]
    await import_now(app, course_url)
    other = Workspace(
        id=uuid.uuid4(),
        name="Other agency",
        kind=WorkspaceKind.HIGHLEVEL,
        plan=PlanMode.TRIAL,
        engine=EngineKind.BUILTIN,
        crm=CrmKind.LOCAL,
        created_at=app.state.deps.clock.now(),
        crm_location_id="loc-other",
    )
    async with PiccoloUnitOfWork() as uow:
        await uow.workspaces.add(other)
        await uow.commit()
    admin.cookies.set("scormhub_session", app.state.deps.sessions.issue(other.id))

    for suffix in ("", "/status", "/delete", "/preview"):
        response = await admin.get(
            f"{course_url}{suffix}", headers={"HX-Request": "true"} if suffix == "/status" else {}
        )
        assert response.status_code == 404, suffix
    refused = await admin.post(f"{course_url}/delete", data={"_csrf_token": csrf_of(admin)})
    assert refused.status_code == 404
    async with PiccoloUnitOfWork() as uow:
        standalone = await uow.workspaces.get_standalone()
        assert standalone is not None
        remaining = await uow.courses.list_for_workspace(standalone.id)
    assert [c.status for c in remaining] == [CourseStatus.READY]


async def test_a_workspace_at_its_storage_quota_is_told_so_and_keeps_nothing_more(
    db: str, settings: Settings
) -> None:
    one_mb = dataclasses.replace(settings, storage_quota_mb=1)  # Golf 1.2 unpacks to ~0.45 MB
    app = create_app(one_mb)
    async with serving(app) as client:
        from appserver import login_link_token

        await client.get(f"/login/{await login_link_token()}")
        for _ in range(2):
            await import_now(app, (await post_package(client, GOLF_12.read_bytes())).headers["location"])
        refused = await post_package(client, GOLF_12.read_bytes())
        settings_page = await client.get("/app/settings")

    assert refused.status_code == 413
    assert "This course takes 0.4 MB once unpacked, and this workspace already uses 0.9 MB" in refused.text
    assert "SCORMHUB_STORAGE_QUOTA_MB" in refused.text
    assert len(stored_packages(settings)) == 2, "the refused package was not kept"
    assert "0.9 MB of 1 MB" in settings_page.text
