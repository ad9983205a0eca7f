"""Signed webhooks out: Standard Webhooks signatures (the `standardwebhooks` library), sent only to the
address the SSRF guard vetted (the branding logo's guard, `vet_public_https`), never following redirects.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import httpx
from standardwebhooks import Webhook

from scormhub.domain.errors import DomainError, LogoRefused, ServiceUnavailable
from scormhub.domain.ports.automation import WebhookResponse
from scormhub.integrations.branding import Resolver, resolve_host, vet_public_https

SEND_TIMEOUT_S: Final = 10.0
MAX_RESPONSE_CHARS: Final = 2000
USER_AGENT: Final = "SCORM Hub webhooks"


class WebhookRefused(DomainError):
    """The endpoint's URL may not receive webhooks (not https, private address …): not worth retrying."""


class WebhookUnreachable(ServiceUnavailable):
    """The endpoint could not be reached or did not answer in time: retried with backoff."""


class HttpWebhookSender:
    """The WebhookSender port over httpx. `resolve` is swappable so tests can vet a stand-in's name."""

    def __init__(
        self, resolve: Resolver | None = None, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._resolve = resolve or resolve_host
        self._transport = transport

    async def check_url(self, url: str) -> None:
        try:
            await vet_public_https(url, self._resolve, noun="webhook URL", instead="")
        except LogoRefused as refused:
            raise WebhookRefused(str(refused)) from None

    async def send(
        self, url: str, *, secret: str, message_id: str, timestamp: datetime, body: str
    ) -> WebhookResponse:
        try:
            target = await vet_public_https(url, self._resolve, noun="webhook URL", instead="")
        except LogoRefused as refused:
            raise WebhookRefused(str(refused)) from None
        signature = Webhook(secret).sign(message_id, timestamp, body)
        headers = {
            "Host": target.url.netloc.decode("ascii"),
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": message_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": signature,
        }
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(SEND_TIMEOUT_S, connect=5.0),
            follow_redirects=False,
            trust_env=False,
            transport=self._transport,
        ) as client:
            last_error: Exception | None = None
            for address in target.addresses:
                # Sent to the vetted address with the name as Host and TLS server name: a second DNS
                # answer (rebinding) cannot steer the request inside.
                request = client.build_request(
                    "POST",
                    target.pinned(address),
                    content=body.encode(),
                    headers=headers,
                    extensions={"sni_hostname": target.host},
                )
                try:
                    response = await client.send(request)
                except httpx.ConnectError as exc:
                    last_error = exc
                    continue
                except httpx.TimeoutException:
                    raise WebhookUnreachable(
                        f"The endpoint did not answer within {SEND_TIMEOUT_S:.0f} s."
                    ) from None
                except httpx.HTTPError as exc:
                    raise WebhookUnreachable(
                        f"The endpoint could not be reached ({type(exc).__name__})."
                    ) from None
                return WebhookResponse(response.status_code, _excerpt(response))
        raise WebhookUnreachable(f"The endpoint refused the connection ({type(last_error).__name__}).")


def _excerpt(response: httpx.Response) -> str:
    text = response.text[:MAX_RESPONSE_CHARS]
    location = response.headers.get("location")
    return f"Location: {location}\n{text}" if response.is_redirect and location else text
