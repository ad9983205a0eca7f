"""Email through HighLevel's conversations API (respx stand-in of its documented shape), and the router
that picks the CRM, SMTP or the log per workspace."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx
from test_highlevel_crm import BASE, World, make_crm

from scormhub.domain.mail import MailDeferred, MailRefused, compose
from scormhub.domain.model import Branding
from scormhub.integrations.highlevel.client import build_client
from scormhub.integrations.highlevel.crm import HighLevelCrm
from scormhub.integrations.mail import CrmMailer, CrmMailTransport, LogTransport, MailRouter

MESSAGE = compose(
    Branding(organization_name="Acme"),
    to="ada@example.com",
    subject="Reminder",
    lines=["Due soon."],
    action=("Open", "https://hub.test/play/x"),
    contact_id="contact-1",
)
WORKSPACE = uuid.uuid4()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with build_client() as shared:
        yield shared


@pytest.fixture
def hl() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def transport_for(crm: HighLevelCrm | None) -> CrmMailTransport:
    async def mailer_for(workspace_id: uuid.UUID) -> CrmMailer | None:
        return crm

    return CrmMailTransport(mailer_for)


async def test_an_email_goes_to_the_contact_through_conversations_messages(
    client: httpx.AsyncClient, hl: respx.MockRouter
) -> None:
    route = hl.post("/conversations/messages").respond(
        200, json={"conversationId": "conv-1", "messageId": "msg-1", "msg": "Message queued successfully."}
    )

    used = await transport_for(make_crm(client, World())).send(WORKSPACE, MESSAGE)

    assert used == "crm"
    body = json.loads(route.calls.last.request.content)
    assert body == {
        "type": "Email",
        "contactId": "contact-1",
        "subject": "Reminder",
        "message": MESSAGE.text,
        "html": MESSAGE.html,
    }
    assert route.calls.last.request.headers["Authorization"] == "Bearer tok-1"


@pytest.mark.parametrize("status", [400, 422])
async def test_a_refused_message_fails_for_good(
    client: httpx.AsyncClient, hl: respx.MockRouter, status: int
) -> None:
    hl.post("/conversations/messages").respond(
        status, json={"message": "contact has no email", "statusCode": status}
    )

    with pytest.raises(MailRefused, match="HighLevel refused the email"):
        await transport_for(make_crm(client, World())).send(WORKSPACE, MESSAGE)


async def test_highlevel_unavailable_defers_the_message(
    client: httpx.AsyncClient, hl: respx.MockRouter
) -> None:
    hl.post("/conversations/messages").mock(side_effect=httpx.ConnectError("connection refused"))

    with pytest.raises(MailDeferred):
        await transport_for(make_crm(client, World())).send(WORKSPACE, MESSAGE)


async def test_the_router_uses_the_crm_only_where_the_workspace_mails_through_it(
    client: httpx.AsyncClient, hl: respx.MockRouter
) -> None:
    route = hl.post("/conversations/messages").respond(200, json={"conversationId": "c", "messageId": "m"})
    through_crm: set[uuid.UUID] = {WORKSPACE}

    async def uses_crm(workspace_id: uuid.UUID) -> bool:
        return workspace_id in through_crm

    router = MailRouter(LogTransport(), transport_for(make_crm(client, World())), uses_crm)

    assert await router.send(WORKSPACE, MESSAGE) == "crm"
    assert await router.send(uuid.uuid4(), MESSAGE) == "log"
    assert route.call_count == 1
