"""Messages after a redirect come from the server, never from the link: a crafted `?notice=` shows nothing.

A redirect carries its message in a short-lived encrypted cookie meant for one page; that page shows it
once and clears it. Anyone can still put `?notice=…` in a link, but no admin page prints it any more.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from two_workspaces import World, client_for, serving_two_tenants

from appserver import csrf_of
from scormhub.web.flash import FLASH_COOKIE

PHISH = "Your session expired: sign in again at evil.example"


@pytest.fixture(scope="module")
async def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with serving_two_tenants(database_url, tmp_path_factory.mktemp("flash")) as built:
        yield built


def crafted_links(world: World) -> list[str]:
    alpha = world.alpha
    q = httpx.QueryParams
    return [
        f"/app/courses/{alpha.course.id}?" + str(q(notice=PHISH, error=PHISH)),
        "/app/courses?" + str(q(deleted=PHISH)),
        "/app/settings?" + str(q(scorm_cloud_error=PHISH, app_id=PHISH, notes=PHISH, crm_error=PHISH)),
        f"/app/settings?saved=scorm-cloud&notes={PHISH}",
        f"/app/enrollments/{alpha.enrollment.id}/certificate/details?" + str(q(notice=PHISH)),
    ]


async def test_text_in_a_link_never_shows_on_an_admin_page(world: World) -> None:
    async with client_for(world.app, cookie=world.alpha.session) as admin:
        for link in crafted_links(world):
            page = await admin.get(link)
            assert page.status_code == 200, (link, page.status_code)
            assert "evil.example" not in page.text, link


async def test_a_redirects_message_shows_once_on_its_page_and_not_in_the_address(world: World) -> None:
    alpha = world.alpha
    course_page = f"/app/courses/{alpha.course.id}"
    async with client_for(world.app, cookie=alpha.session) as admin:
        await admin.get(course_page)
        removed = await admin.post(
            f"{course_page}/enrollments/{alpha.enrollment.id}/delete", data={"_csrf_token": csrf_of(admin)}
        )
        other_page = await admin.get("/app/courses")  # a page the message is not for leaves it be
        shown = await admin.get(removed.headers["location"])
        reloaded = await admin.get(course_page)

    assert removed.status_code == 303
    assert removed.headers["location"] == course_page, "no message in the address"
    assert "was removed from this course" not in other_page.text
    assert "Alpha Learner was removed from this course." in shown.text
    assert f"{FLASH_COOKIE}=; Path=/; Max-Age=0" in shown.headers["set-cookie"], "cleared once shown"
    assert "was removed from this course" not in reloaded.text


async def test_a_forged_or_foreign_flash_cookie_shows_nothing(world: World) -> None:
    alpha, bravo = world.alpha, world.bravo
    course_page = f"/app/courses/{alpha.course.id}"
    async with client_for(world.app, cookie=bravo.session) as other:
        # A genuine message for Bravo's own course page, replayed on Alpha's.
        await other.get("/app/settings")
        redirected = await other.post(
            f"/app/courses/{bravo.course.id}/enrollments/{bravo.enrollment.id}/sync",
            data={"_csrf_token": csrf_of(other)},
        )
    genuine = redirected.cookies.get(FLASH_COOKIE)
    assert genuine, "the redirect carries its message in the cookie"

    async with client_for(world.app, cookie=alpha.session) as admin:
        for value in (genuine, "gAAAAA" + "x" * 100, PHISH.replace(" ", "_")):
            admin.cookies.set(FLASH_COOKIE, value)
            page = await admin.get(course_page)
            assert page.status_code == 200
            assert "evil" not in page.text
            assert "queued for" not in page.text
            assert "up to date" not in page.text
