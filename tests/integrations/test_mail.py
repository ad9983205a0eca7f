"""Mail delivery against a real SMTP server: sent once, greylisting and dropped connections retried with
backoff, refusals failed and shown, an operator's retry; two workers delivering at once send each once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from uuid import UUID

import pytest

from scormhub.domain import mail
from scormhub.domain.mail import compose
from scormhub.domain.model import Branding
from scormhub.domain.model_learners import MailStatus
from scormhub.domain.workspaces import ensure_standalone_workspace
from scormhub.integrations.db.database import engine
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.mail import SmtpConfig, SmtpTransport
from smtp_server import Mailbox, MovableClock, html_part, smtp_server, text_part

BRAND = Branding(organization_name="Acme Safety", primary_color="#FF5500")


@pytest.fixture
async def workspace(db: str) -> AsyncIterator[UUID]:
    await engine().start_connection_pool(min_size=1, max_size=4)
    created, _ = await ensure_standalone_workspace(uow=PiccoloUnitOfWork(), clock=MovableClock())
    yield created.id
    await engine().close_connection_pool()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, SmtpTransport]]:
    with smtp_server() as (box, url):
        yield box, SmtpTransport(SmtpConfig.parse(url), "Acme <training@acme.test>")


async def queue(workspace: UUID, key: str, to: str, clock: MovableClock) -> None:
    message = compose(
        BRAND,
        to=to,
        subject=f"Hello {key}",
        lines=["Line one.", "<b>not bold</b>"],
        action=("Open", "https://hub.test/x?a=1&b=2"),
    )
    async with PiccoloUnitOfWork() as uow:
        await uow.mail.queue(workspace, "test", key, message, clock.now())
        await uow.commit()


async def log_of(workspace: UUID) -> dict[str, tuple[MailStatus, int, str | None]]:
    async with PiccoloUnitOfWork() as uow:
        rows = await uow.mail.recent(workspace, limit=100)
    return {row.message.to: (row.status, row.attempts, row.last_error) for row in rows}


async def test_a_message_arrives_once_with_a_plain_text_part_and_the_workspace_branding(
    workspace: UUID, smtp: tuple[Mailbox, SmtpTransport]
) -> None:
    box, transport = smtp
    clock = MovableClock()
    await queue(workspace, "k1", "ada@example.com", clock)
    await queue(workspace, "k1", "ada@example.com", clock)  # the same key again: queued once

    first = await mail.deliver_due(uow=PiccoloUnitOfWork, transport=transport, clock=clock)
    again = await mail.deliver_due(uow=PiccoloUnitOfWork, transport=transport, clock=clock)

    assert (first.sent, again.sent) == (1, 0)
    [received] = box.messages_to("ada@example.com")
    assert received["Subject"] == "Hello k1"
    assert "Acme" in received["From"]
    assert "https://hub.test/x?a=1&b=2" in text_part(received)
    assert "<b>not bold</b>" in text_part(received)  # plain text is shown as typed
    assert "#FF5500" in html_part(received)
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html_part(received)
    assert (await log_of(workspace))["ada@example.com"][:2] == (MailStatus.SENT, 1)


async def test_greylisting_is_retried_later_with_a_growing_delay_and_then_delivered(
    workspace: UUID, smtp: tuple[Mailbox, SmtpTransport]
) -> None:
    box, transport = smtp
    clock = MovableClock()
    box.greylist = 2
    await queue(workspace, "grey", "grey@example.com", clock)

    await mail.deliver_due(uow=PiccoloUnitOfWork, transport=transport, clock=clock)
    status, attempts, error = (await log_of(workspace))["grey@example.com"]
    assert (status, attempts) == (MailStatus.PENDING, 1)
    assert error is not None
    assert "451" in error
    # Not due again straight away.
    assert (await mail.deliver_due(uow=PiccoloUnitOfWork, transport=transport, clock=clock)).sent == 0

    clock.offset += mail.retry_delay(1) + timedelta(seconds=1)
    await mail.deliver_due(uow=PiccoloUnitOfWork, transport=transport, clock=clock)  # greylisted again
    clock.offset += mail.retry_delay(1) + timedelta(seconds=1)
    assert (await mail.deliver_due(uow=PiccoloUnitOfWork, transport=transport, clock=clock)).sent == 0
    clock.offset += mail.retry_delay(2)
    assert (await mail.deliver_due(uow=PiccoloUnitOfWork, transport=transport, clock=clock)).sent == 1

    assert len(box.messages_to("grey@example.com")) == 1
    assert (await log_of(workspace))["grey@example.com"][:2] == (MailStatus.SENT, 3)


async def test_a_connection_dropped_mid_message_is_retried(
    workspace: UUID, smtp: tuple[Mailbox, SmtpTransport]
) -> None:
    box, transport = smtp
    clock = MovableClock()
    box.drop = 1
    await queue(workspace, "drop", "drop@example.com", clock)

    outcome = await mail.deliver_due(uow=PiccoloUnitOfWork, transport=transport, clock=clock)
    assert outcome.retrying == 1
    clock.offset += mail.retry_delay(1) + timedelta(seconds=1)
    assert (await mail.deliver_due(uow=PiccoloUnitOfWork, transport=transport, clock=clock)).sent == 1
    assert len(box.messages_to("drop@example.com")) == 1


async def test_a_refusal_fails_the_message_visibly_and_an_operator_retry_sends_it(
    workspace: UUID, smtp: tuple[Mailbox, SmtpTransport]
) -> None:
    box, transport = smtp
    clock = MovableClock()
    box.refuse = True
    await queue(workspace, "no", "nobody@example.com", clock)

    outcome = await mail.deliver_due(uow=PiccoloUnitOfWork, transport=transport, clock=clock)

    assert outcome.failed == 1
    status, _, error = (await log_of(workspace))["nobody@example.com"]
    assert status is MailStatus.FAILED
    assert error is not None
    assert "550" in error
    async with PiccoloUnitOfWork() as uow:
        [row] = await uow.mail.recent(workspace, limit=1)
        assert await uow.mail.retry_now(workspace, row.id, clock.now())
        await uow.commit()
    box.refuse = False
    assert (await mail.deliver_due(uow=PiccoloUnitOfWork, transport=transport, clock=clock)).sent == 1
    assert len(box.messages_to("nobody@example.com")) == 1


async def test_an_unreachable_server_defers_the_message(workspace: UUID) -> None:
    clock = MovableClock()
    transport = SmtpTransport(SmtpConfig.parse("smtp://127.0.0.1:9"), "x@acme.test")
    await queue(workspace, "down", "down@example.com", clock)

    outcome = await mail.deliver_due(uow=PiccoloUnitOfWork, transport=transport, clock=clock)

    assert outcome.retrying == 1
    assert (await log_of(workspace))["down@example.com"][0] is MailStatus.PENDING


async def test_two_workers_delivering_at_once_send_each_message_once(
    workspace: UUID, smtp: tuple[Mailbox, SmtpTransport]
) -> None:
    box, transport = smtp
    clock = MovableClock()
    for n in range(30):
        await queue(workspace, f"race{n}", f"race{n}@example.com", clock)

    results = await asyncio.gather(
        mail.deliver_due(uow=PiccoloUnitOfWork, transport=transport, clock=clock),
        mail.deliver_due(uow=PiccoloUnitOfWork, transport=transport, clock=clock),
    )

    assert sum(r.sent for r in results) == 30
    assert sorted(str(m["To"]) for m in box.received) == sorted(f"race{n}@example.com" for n in range(30))


def test_the_smtp_url_names_tls_and_never_shows_its_password() -> None:
    plain = SmtpConfig.parse("smtp://user%40acme:s3cr%2Ft@mail.acme.test")
    implicit = SmtpConfig.parse("smtps://u:p@mail.acme.test")

    assert (plain.host, plain.port, plain.username, plain.password) == (
        "mail.acme.test",
        587,
        "user@acme",
        "s3cr/t",
    )
    assert (implicit.port, implicit.implicit_tls) == (465, True)
    assert "s3cr" not in repr(plain)
    with pytest.raises(ValueError, match="smtp://"):
        SmtpConfig.parse("http://mail.acme.test")
