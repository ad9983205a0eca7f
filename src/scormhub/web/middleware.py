"""ASGI middleware around every request: security headers, input guard, trusted proxy, request log."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from litestar.enums import ScopeType
from litestar.exceptions import ClientException, NotFoundException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from scormhub.settings import Settings

log = logging.getLogger("scormhub.request")


class SecurityHeadersMiddleware:
    """CSP and friends on every response. No X-Frame-Options: the CRM frames us (frame-ancestors rules).

    The headers are encoded once, here, and appended to each response's raw header list: every request
    pays for this, so it is one pass over the headers the route set rather than a lookup per header.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.csp = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
            "font-src 'self'; connect-src 'self'; "
            # A form's redirect counts too: self-enrollment lands in the player on the content origin.
            f"form-action 'self' {_origin(settings.content_origin)}; base-uri 'self'; object-src 'none'; "
            f"frame-ancestors {settings.frame_ancestors}"
        )
        always = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin-allow-popups"),
        ]
        if settings.uses_https:
            always.append((b"strict-transport-security", b"max-age=31536000"))
        self._always = always
        self._replaced = frozenset(name for name, _ in always)
        self._csp = (b"content-security-policy", self.csp.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name.lower(), value) for name, value in message.get("headers", ())]
                # Ours win over a route's, except the CSP: a route may set its own (the SCORM player
                # needs a looser one for course content).
                kept = [header for header in headers if header[0] not in self._replaced]
                if not any(name == b"content-security-policy" for name, _ in kept):
                    kept.append(self._csp)
                message["headers"] = kept + self._always
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# No file or folder name is longer, in bytes (ext4, APFS), and no id or token of ours comes near it.
MAX_PATH_SEGMENT = 255


class UnusableInput(ClientException):
    """A request no route can act on (a NUL byte in its address); answered 400 with a page saying so."""


class InputGuardMiddleware:
    """Refuses, for every route at once, addresses no handler could use, before any handler sees them.

    A NUL byte in the path or the query string is never meaningful here (PostgreSQL cannot store it, the
    filesystem cannot name it), and a path segment longer than any file name names nothing (the
    filesystem would raise instead of saying "no such file"). A handler whose callers expect a reply of
    their own shape (the player's commit: scorm-again reads its JSON) sets `opt={"checks_own_input": True}`
    and answers such input itself.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if scope["type"] == ScopeType.HTTP and not (handler and handler.opt.get("checks_own_input")):
            query = scope.get("query_string", b"")
            if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
                raise UnusableInput(
                    "This address contains a character that is not allowed (a NUL byte). "
                    "Check the link, or go back and try again."
                )
            if any(
                len(segment.encode(errors="surrogatepass")) > MAX_PATH_SEGMENT
                for segment in scope["path"].split("/")
            ):
                raise NotFoundException()
        await self.app(scope, receive, send)


class TrustedProxyMiddleware:
    """The client's address as our own proxies saw it: the X-Forwarded-For entry `hops` from the right.

    Each proxy appends the address that connected to it, so only the last `hops` entries were written by
    proxies we trust; anything left of them came from the client and may be made up (taking the left-most
    entry, as uvicorn does with FORWARDED_ALLOW_IPS='*', let a client pick its own rate-limit key).
    """

    def __init__(self, app: ASGIApp, hops: int) -> None:
        self.app = app
        self.hops = hops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hops and scope["type"] == ScopeType.HTTP:
            address = forwarded_client(scope["headers"], self.hops)
            if address is not None:
                peer = scope.get("client")
                scope["client"] = (address, peer[1] if peer else 0)
        await self.app(scope, receive, send)


def forwarded_client(headers: Iterable[tuple[bytes, bytes]], hops: int) -> str | None:
    entries = [
        entry.strip()
        for name, value in headers
        if name.lower() == b"x-forwarded-for"
        for entry in value.decode("latin-1").split(",")
    ]
    entries = [entry for entry in entries if entry]
    if not entries:
        return None
    # Fewer entries than hops: every one was written by a trusted proxy, and the first is the client.
    return entries[-hops] if len(entries) >= hops else entries[0]


class RequestLogMiddleware:
    """One log line per request: method, path, status, duration and workspace (never query strings).

    Also a `Server-Timing: app;dur=…` header (ms until the response starts), so a browser's dev tools and
    the benchmarks see the server's own time apart from the network's.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                elapsed_ms = (time.perf_counter() - started) * 1000
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"server-timing", b"app;dur=%.1f" % elapsed_ms)]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            workspace = scope.get("state", {}).get("workspace_id", "-")
            # The path only: login tokens and other secrets may travel in a query string.
            log.info(
                "%s %s %s %.1fms workspace=%s",
                scope.get("method", "-"),
                _loggable_path(_request_path(scope)),
                status,
                (time.perf_counter() - started) * 1000,
                workspace,
            )


def _request_path(scope: Scope) -> str:
    # The path as requested: a mounted app (the postback endpoint) sees only the rest of it in "path".
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if raw else scope["path"]


def _loggable_path(path: str) -> str:
    # Login links carry their secret in the path itself.
    if path.startswith("/login/"):
        return "/login/***"
    return path
