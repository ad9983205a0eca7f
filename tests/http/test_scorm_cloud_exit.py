"""Back from SCORM Cloud before its postback: the exit page says it is saving, then shows the result,
reading the registration itself when the postback is late. SCORM Cloud is faked by respx."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import httpx
import respx
from litestar import Litestar
from test_scorm_cloud_connect import CLOUD, cloud_admin, cloud_settings, connected  # noqa: F401 - fixtures
from test_scorm_cloud_journey import cloud_enrollment

from appserver import CONTENT, csrf_of
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.integrations.db.tables import OutboxRow
from scormhub.integrations.db.uow import PiccoloUnitOfWork

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scorm_cloud"
HX = {"HX-Request": "true"}


def fixture(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((FIXTURES / name).read_text())


def poll_url(page: httpx.Response) -> str:
    found = re.search(r'hx-get="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1).replace("&amp;", "&")


async def test_back_before_the_postback_the_exit_page_says_saving_then_shows_the_result_from_scorm_cloud(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],  # noqa: F811 - the fixture
) -> None:
    client, app = cloud_admin
    with respx.mock(assert_all_called=False) as router:
        enrollment = await cloud_enrollment(client, app, router)
        exit_url = f"/play/{enrollment.launch_token}/exit"
        registration = router.get(f"{CLOUD}/registrations/{enrollment.id}").mock(
            return_value=httpx.Response(
                200, json=fixture("registration_completed.json") | {"id": str(enrollment.id)}
            )
        )

        back = await client.get(exit_url)
        polled = await client.get(poll_url(back), headers=HX)
        without_js = await client.get(poll_url(back))

    assert back.status_code == 200
    assert "Saving your result" in back.text
    assert "Not Started" not in back.text
    assert re.search(r'<a [^>]*href="/play/[^"]+/exit/result\?since=', back.text), "a plain link without JS"
    assert registration.called
    assert polled.status_code == 200
    assert "<html" not in polled.text, "htmx gets just the partial"
    assert "Completed" in polled.text
    assert "Passed" in polled.text
    assert "85%" in polled.text
    assert f"/play/{enrollment.launch_token}/certificate" in polled.text
    assert "Saving your result" not in polled.text
    assert "hx-get" not in polled.text, "a known result stops polling"
    assert "<html" in without_js.text
    assert "Passed" in without_js.text
    kinds = sorted(row["kind"] for row in await OutboxRow.select(OutboxRow.kind))
    assert "add_tags" in kinds, "the result read here reaches the CRM through the outbox like a postback's"


async def test_while_scorm_cloud_does_not_answer_the_exit_page_keeps_saving_and_never_fails(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],  # noqa: F811 - the fixture
) -> None:
    client, app = cloud_admin
    with respx.mock(assert_all_called=False) as router:
        enrollment = await cloud_enrollment(client, app, router)
        back = await client.get(f"/play/{enrollment.launch_token}/exit")
        router.get(f"{CLOUD}/registrations/{enrollment.id}").mock(side_effect=httpx.ConnectError("down"))
        down = await client.get(poll_url(back), headers=HX)
        router.get(f"{CLOUD}/registrations/{enrollment.id}").mock(
            return_value=httpx.Response(503, json={"message": "Service Unavailable"})
        )
        unavailable = await client.get(poll_url(back), headers=HX)
        garbled = await client.get(f"/play/{enrollment.launch_token}/exit/result?since=yesterday", headers=HX)

    for response in (down, unavailable, garbled):
        assert response.status_code == 200
        assert "Saving your result" in response.text
        assert "hx-get" in response.text, "it keeps polling"


async def test_once_the_postback_has_landed_the_exit_page_does_not_ask_scorm_cloud(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],  # noqa: F811 - the fixture
) -> None:
    client, app = cloud_admin
    with respx.mock(assert_all_called=False) as router:
        enrollment = await cloud_enrollment(client, app, router)
        back = await client.get(f"/play/{enrollment.launch_token}/exit")
        registration = router.get(f"{CLOUD}/registrations/{enrollment.id}").mock(
            return_value=httpx.Response(503, json={"message": "Service Unavailable"})
        )
        async with PiccoloUnitOfWork() as uow:
            current = await uow.enrollments.get(enrollment.workspace_id, enrollment.id)
            assert current is not None
            landed = replace(
                current,
                completion=Completion.COMPLETED,
                success=Success.FAILED,
                score_percent=40.0,
                updated_at=app.state.deps.clock.now(),
            )
            await uow.enrollments.save(landed)
            await uow.commit()
        polled = await client.get(poll_url(back), headers=HX)

    assert not registration.called
    assert "Failed" in polled.text
    assert "40%" in polled.text


async def test_an_enrolled_email_typed_in_another_browser_gets_scorm_clouds_untracked_preview(
    cloud_admin: tuple[httpx.AsyncClient, Litestar],  # noqa: F811 - the fixture
) -> None:
    client, app = cloud_admin
    with respx.mock(assert_all_called=False) as router:
        enrollment = await cloud_enrollment(client, app, router)
        async with PiccoloUnitOfWork() as uow:
            course = await uow.courses.get(enrollment.workspace_id, enrollment.course_id)
        assert course is not None
        tracked = router.post(f"{CLOUD}/registrations/{enrollment.id}/launchLink").mock(
            return_value=httpx.Response(200, json=fixture("launch_link.json"))
        )
        preview = router.post(f"{CLOUD}/courses/{course.id}/preview").mock(
            return_value=httpx.Response(200, json=fixture("launch_link.json"))
        )
        transport = httpx.ASGITransport(app=app, client=("203.0.113.80", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as other:
            await other.get(f"/enroll/{course.self_enroll_token}")
            answer = await other.post(
                f"/enroll/{course.self_enroll_token}",
                data={
                    "_csrf_token": csrf_of(other),
                    "first_name": "Eve",
                    "last_name": "M",
                    "email": "ZOE@example.com",
                },
            )
            played = await other.get(CONTENT + answer.headers["location"])
            came_back = await other.get(f"{answer.headers['location']}/exit")
        router.post(f"{CLOUD}/courses/{course.id}/preview").mock(side_effect=httpx.ConnectError("down"))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as other:
            unreachable = await other.get(CONTENT + answer.headers["location"])

    assert answer.status_code == 303
    assert answer.headers["location"] != f"/play/{enrollment.launch_token}"
    assert played.status_code == 303
    assert played.headers["location"] == fixture("launch_link.json")["launchLink"]
    body = json.loads(preview.calls.last.request.content)
    assert body["redirectOnExitUrl"].endswith(f"{answer.headers['location']}/exit")
    assert not tracked.called, "the learner's registration is never launched"
    assert came_back.status_code == 200
    assert "not recorded" in came_back.text
    assert unreachable.status_code == 503
