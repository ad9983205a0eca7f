"""Mail transports: SMTP (aiosmtplib), the CRM (HighLevel's conversations API), and the development log.

Each maps its failures onto the domain's two kinds: MailDeferred (try later: SMTP 4xx such as greylisting,
a connection that dropped or timed out, HighLevel busy) and MailRefused (never: SMTP 5xx, HighLevel
refusing the message). `MailRouter` picks one per workspace.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from typing import Protocol
from urllib.parse import unquote, urlsplit
from uuid import UUID

import aiosmtplib

from scormhub.domain.errors import CrmAuthExpired, CrmRejected, DomainError, ServiceUnavailable
from scormhub.domain.mail import MailDeferred, MailRefused
from scormhub.domain.model_learners import MailMessage

log = logging.getLogger("scormhub.mail")

SMTP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SmtpConfig:
    """From SCORMHUB_SMTP_URL: smtp://user:pass@host:587 (STARTTLS when offered, required when a password
    is sent) or smtps://user:pass@host:465 (TLS from the first byte)."""

    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool

    @classmethod
    def parse(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("an smtp:// or smtps:// URL such as smtp://user:password@mail.example.com:587")
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 587),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
        )

    def __repr__(self) -> str:  # never the password
        return f"SmtpConfig(host={self.host!r}, port={self.port}, tls={self.implicit_tls})"


def mime_of(message: MailMessage, sender: str) -> EmailMessage:
    """The message as MIME: multipart/alternative with the plain text first, then the HTML."""
    name, address = parseaddr(sender)
    mime = EmailMessage()
    mime["From"] = formataddr((message.sender_name or name, address))
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or None)
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    return mime


def _smtp_failure(exc: Exception) -> DomainError:
    code: int | None = None
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        code = exc.recipients[0].code
        text = exc.recipients[0].message
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        code = exc.code
        text = exc.message
    else:
        text = str(exc) or exc.__class__.__name__
    summary = f"SMTP {code}: {text}" if code is not None else f"SMTP connection: {text}"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        # The server refused our credentials: an operator fixes SCORMHUB_SMTP_URL; the message waits.
        return MailDeferred(f"{summary} (check the user and password in SCORMHUB_SMTP_URL)")
    if code is not None and 500 <= code < 600:
        return MailRefused(summary)
    return MailDeferred(summary)


class SmtpTransport:
    name = "smtp"

    def __init__(self, config: SmtpConfig, sender: str, *, validate_certs: bool = True) -> None:
        self._config = config
        self._sender = sender
        self._validate_certs = validate_certs

    async def send(self, workspace_id: UUID, message: MailMessage) -> str:
        config = self._config
        try:
            await aiosmtplib.send(
                mime_of(message, self._sender),
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                use_tls=config.implicit_tls,
                # STARTTLS whenever the server offers it; with a password, aiosmtplib refuses to log in
                # over a connection that could not be upgraded.
                start_tls=None if not config.implicit_tls else False,
                validate_certs=self._validate_certs,
                timeout=SMTP_TIMEOUT_S,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            failure = (
                _smtp_failure(exc)
                if isinstance(exc, aiosmtplib.SMTPException)
                else MailDeferred(f"SMTP connection: {exc}")
            )
            log.warning("mail to workspace %s not sent: %s", workspace_id, failure)
            raise failure from None
        return self.name


class LogTransport:
    """Development default: the message goes to the log (and stays in the delivery log page)."""

    name = "log"

    async def send(self, workspace_id: UUID, message: MailMessage) -> str:
        log.info(
            "mail (not sent, no SCORMHUB_SMTP_URL) to=%s subject=%r\n%s",
            message.to,
            message.subject,
            message.text,
        )
        return self.name


class CrmMailer(Protocol):
    async def send_email(self, contact_id: str, *, subject: str, text: str, html: str) -> None: ...


class CrmMailTransport:
    """Through the workspace's CRM, to the contact (HighLevel: POST /conversations/messages)."""

    name = "crm"

    def __init__(self, mailer_for: Callable[[UUID], Awaitable[CrmMailer | None]]) -> None:
        self._mailer_for = mailer_for

    async def send(self, workspace_id: UUID, message: MailMessage) -> str:
        mailer = await self._mailer_for(workspace_id)
        if mailer is None or not message.contact_id:
            raise MailRefused("This workspace's CRM cannot send email to this learner.")
        try:
            await mailer.send_email(
                message.contact_id, subject=message.subject, text=message.text, html=message.html
            )
        except CrmRejected as refused:
            raise MailRefused(f"HighLevel refused the email: {refused}") from None
        except (ServiceUnavailable, CrmAuthExpired) as later:
            raise MailDeferred(f"HighLevel: {later}") from None
        return self.name


class MailRouter:
    """Which transport a workspace's mail takes: its CRM when the workspace sends through it (HighLevel
    with the conversations scope) and the message names a contact; else SMTP when configured; else the log.
    """

    def __init__(
        self,
        fallback: SmtpTransport | LogTransport,
        crm: CrmMailTransport | None = None,
        uses_crm: Callable[[UUID], Awaitable[bool]] | None = None,
    ) -> None:
        self._fallback = fallback
        self._crm = crm
        self._uses_crm = uses_crm
        self.name = fallback.name

    async def send(self, workspace_id: UUID, message: MailMessage) -> str:
        if (
            self._crm is not None
            and self._uses_crm is not None
            and message.contact_id
            and await self._uses_crm(workspace_id)
        ):
            return await self._crm.send(workspace_id, message)
        return await self._fallback.send(workspace_id, message)
