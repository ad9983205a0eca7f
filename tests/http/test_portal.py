"""The learner portal over HTTP: a sign-in link by email (read from a real SMTP server), my courses,
links used twice / expired / for another workspace, and a flood of requests for one address."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from litestar import Litestar
from movable_clock import MovableClock
from test_enrollment_pages import GOLF_2004, enroll_directly, ready_course, standalone

from appserver import csrf_of
from scormhub.app import create_app
from scormhub.bootstrap import build_deps
from scormhub.domain.model import CrmKind, EngineKind, PlanMode, Workspace, WorkspaceKind
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.jobs.learners import deliver_mail
from scormhub.settings import Settings
from smtp_server import Mailbox, smtp_server, text_part

LINK = re.compile(r"http://testserver\.local(/learn/[0-9a-f-]+/link/[A-Za-z0-9_-]+)")


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, str]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def app(db: str, settings: Settings, mailbox: tuple[Mailbox, str]) -> Litestar:
    configured = replace(settings, smtp_url=mailbox[1], mail_from="Training <training@acme.test>")
    return create_app(configured, build_deps(configured, clock=MovableClock()))


@pytest.fixture
async def learner(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A second client with no admin cookie: the learner's browser."""
    transport = client._transport  # the same in-process app
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as browser:
        yield browser


async def ask_for_link(browser: httpx.AsyncClient, workspace_id: uuid.UUID, email: str) -> httpx.Response:
    await browser.get(f"/learn/{workspace_id}")
    return await browser.post(
        f"/learn/{workspace_id}/link", data={"email": email, "_csrf_token": csrf_of(browser)}
    )


async def link_from_mail(app: Litestar, box: Mailbox, email: str) -> str:
    await deliver_mail({"deps": app.state.deps})  # type: ignore[typeddict-item]
    messages = box.messages_to(email)
    assert messages, f"no mail reached {email}"
    found = LINK.search(text_part(messages[-1]))
    assert found, text_part(messages[-1])
    return found.group(1)


async def sign_in(browser: httpx.AsyncClient, path: str) -> httpx.Response:
    confirm = await browser.get(path)
    assert confirm.status_code == 200
    return await browser.post(path, data={"_csrf_token": csrf_of(browser)})


def visible(response: httpx.Response) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", response.text))


async def test_a_learner_signs_in_by_email_and_sees_their_courses_with_launch_links(
    admin: httpx.AsyncClient, learner: httpx.AsyncClient, app: Litestar, mailbox: tuple[Mailbox, str]
) -> None:
    first = await ready_course(admin, app)
    second = await ready_course(admin, app, GOLF_2004)
    one = await enroll_directly(first, "Ada", "Lovelace", "ada@example.com")
    await enroll_directly(second, "Ada", "Lovelace", "ada@example.com")
    await enroll_directly(first, "Bob", "Other", "bob@example.com")
    workspace = await standalone()

    asked = await ask_for_link(learner, workspace.id, "ADA@example.com ")
    path = await link_from_mail(app, mailbox[0], "ada@example.com")
    signed_in = await sign_in(learner, path)

    assert asked.status_code == 200
    assert signed_in.status_code == 303
    page = await learner.get(f"/learn/{workspace.id}")
    assert page.status_code == 200
    text = visible(page)
    assert first.title in text
    assert second.title in text
    assert f"/play/{one.launch_token}" in page.text
    assert "Launch" in text
    assert "bob@example.com" not in page.text
    assert "admin" not in learner.cookies


async def test_the_answer_is_the_same_whether_or_not_the_address_is_known(
    admin: httpx.AsyncClient, learner: httpx.AsyncClient, app: Litestar, mailbox: tuple[Mailbox, str]
) -> None:
    course = await ready_course(admin, app)
    await enroll_directly(course, "Ada", "Lovelace", "ada@example.com")
    workspace = await standalone()

    known = await ask_for_link(learner, workspace.id, "ada@example.com")
    unknown = await ask_for_link(learner, workspace.id, "zed@example.com")

    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("ada@example.com", "X") == unknown.text.replace("zed@example.com", "X")
    await deliver_mail({"deps": app.state.deps})  # type: ignore[typeddict-item]
    assert len(mailbox[0].messages_to("ada@example.com")) == 1
    assert mailbox[0].messages_to("zed@example.com") == []


async def test_a_link_works_once_and_for_fifteen_minutes(
    admin: httpx.AsyncClient, learner: httpx.AsyncClient, app: Litestar, mailbox: tuple[Mailbox, str]
) -> None:
    course = await ready_course(admin, app)
    await enroll_directly(course, "Ada", "Lovelace", "ada@example.com")
    workspace = await standalone()
    await ask_for_link(learner, workspace.id, "ada@example.com")
    used = await link_from_mail(app, mailbox[0], "ada@example.com")
    assert (await sign_in(learner, used)).status_code == 303

    again = await sign_in(learner, used)
    await ask_for_link(learner, workspace.id, "ada@example.com")
    late = await link_from_mail(app, mailbox[0], "ada@example.com")
    clock: MovableClock = app.state.deps.clock
    clock.offset += timedelta(minutes=16)
    expired = await sign_in(learner, late)
    forged = await sign_in(learner, f"/learn/{workspace.id}/link/{'x' * 43}")

    assert again.status_code == 410
    assert "already used" in visible(again)
    assert expired.status_code == 410
    assert "expired" in visible(expired)
    assert forged.status_code == 404
    assert "not valid" in visible(forged)
    # Each answer offers the form to ask for a new link.
    assert "Email me a sign-in link" in again.text


async def test_a_link_for_another_workspace_is_refused_with_a_clear_page(
    admin: httpx.AsyncClient, learner: httpx.AsyncClient, app: Litestar, mailbox: tuple[Mailbox, str]
) -> None:
    course = await ready_course(admin, app)
    await enroll_directly(course, "Ada", "Lovelace", "ada@example.com")
    workspace = await standalone()
    other = Workspace(
        id=uuid.uuid4(),
        name="Other org",
        kind=WorkspaceKind.HIGHLEVEL,
        plan=PlanMode.TRIAL,
        engine=EngineKind.BUILTIN,
        crm=CrmKind.LOCAL,
        created_at=app.state.deps.clock.now(),
    )
    async with PiccoloUnitOfWork() as uow:
        await uow.workspaces.add(other)
        await uow.commit()
    await ask_for_link(learner, workspace.id, "ada@example.com")
    path = await link_from_mail(app, mailbox[0], "ada@example.com")

    crossed = await sign_in(learner, path.replace(str(workspace.id), str(other.id)))
    peek = await learner.get(f"/learn/{other.id}")

    assert crossed.status_code == 410
    assert "another organisation" in visible(crossed)
    assert "Email me a sign-in link" in peek.text  # not signed in there
    # The link itself still works where it belongs.
    assert (await sign_in(learner, path)).status_code == 303


async def test_a_thousand_requests_for_one_address_send_a_handful_of_emails_and_no_errors(
    admin: httpx.AsyncClient, learner: httpx.AsyncClient, app: Litestar, mailbox: tuple[Mailbox, str]
) -> None:
    course = await ready_course(admin, app)
    await enroll_directly(course, "Ada", "Lovelace", "ada@example.com")
    workspace = await standalone()
    await learner.get(f"/learn/{workspace.id}")
    token = csrf_of(learner)

    statuses = [
        (
            await learner.post(
                f"/learn/{workspace.id}/link", data={"email": "ada@example.com", "_csrf_token": token}
            )
        ).status_code
        for _ in range(1000)
    ]
    await deliver_mail({"deps": app.state.deps})  # type: ignore[typeddict-item]

    assert set(statuses) <= {200, 429}
    assert statuses[:5] == [200] * 5
    assert 1 <= len(mailbox[0].messages_to("ada@example.com")) <= 5


async def test_bad_input_gets_a_clear_answer_never_a_server_error(
    admin: httpx.AsyncClient, learner: httpx.AsyncClient
) -> None:
    workspace = await standalone()
    await learner.get(f"/learn/{workspace.id}")
    token = csrf_of(learner)

    not_email = await learner.post(
        f"/learn/{workspace.id}/link", data={"email": "nope", "_csrf_token": token}
    )
    nowhere = await learner.get(f"/learn/{uuid.uuid4()}")
    odd_token = await learner.post(f"/learn/{workspace.id}/link/%00%ff", data={"_csrf_token": token})

    assert not_email.status_code == 422
    assert "name@example.com" in visible(not_email)
    assert nowhere.status_code == 404
    assert odd_token.status_code in (400, 404)


async def test_self_enrollment_with_an_enrolled_address_emails_a_link_instead_of_trusting_it(
    admin: httpx.AsyncClient, learner: httpx.AsyncClient, app: Litestar, mailbox: tuple[Mailbox, str]
) -> None:
    course = await ready_course(admin, app)
    enrollment = await enroll_directly(course, "Ada", "Lovelace", "ada@example.com")
    workspace = await standalone()
    form = f"/enroll/{course.self_enroll_token}"
    await learner.get(form)

    answer = await learner.post(
        form,
        data={
            "first_name": "Ada",
            "last_name": "L",
            "email": "ada@example.com",
            "_csrf_token": csrf_of(learner),
        },
    )

    # The typed address gets no access to Ada's progress: a review pass, as before.
    assert answer.status_code == 303
    assert enrollment.launch_token not in answer.headers["location"]
    # Ada's own mailbox gets the proof, which leads to her course.
    path = await link_from_mail(app, mailbox[0], "ada@example.com")
    assert (await sign_in(learner, path)).status_code == 303
    portal_page = await learner.get(f"/learn/{workspace.id}")
    assert f"/play/{enrollment.launch_token}" in portal_page.text
