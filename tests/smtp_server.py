"""A real SMTP server for the tests (aiosmtpd in its own thread), with switches for the faults a mail
server can throw at us: greylisting (4xx), refusal (5xx), and dropping the connection mid-message."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from scormhub.integrations.clock import SystemClock


class MovableClock(SystemClock):
    """The real time plus an offset the test moves (as tests/http/movable_clock.py, for other folders)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return super().now() + self.offset


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mailbox:
    """What the server received, and how it answers the next messages."""

    received: list[EmailMessage] = field(default_factory=list)
    greylist: int = 0  # answer this many DATA commands with 451
    refuse: bool = False  # answer DATA with 550
    drop: int = 0  # close the connection on this many DATA commands, without an answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def messages_to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.received if address in str(m["To"])]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.drop > 0:
                self.drop -= 1
                server.transport.abort()  # the connection is gone before the server answers
                return "250 never seen"
            if self.greylist > 0:
                self.greylist -= 1
                return "451 4.7.1 Greylisted, please try again later"
            if self.refuse:
                return "550 5.1.1 No such user here"
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.append(parsed)
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, str]]:
    """A running server and its smtp:// URL."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())
