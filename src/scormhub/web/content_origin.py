"""Two origins in one process: the app (admin and learner pages) and the content origin (player, package
files, runtime endpoints).

Course packages are the customer's own HTML and script. On the app's origin they would run beside the
admin's session cookie and could read admin pages with it; on a host of their own, no cookie of the app
reaches them and the browser's same-origin policy keeps them out of the app's pages. This middleware is
that split, decided on the Host header before any route runs:

- content origin: only `/play/{token}/…` (each route authorised by the token in its path), `/static/…`
  and the organization's public theme and logo (`/brand/{workspace}/…`);
  a request carrying the admin session cookie, or for any other path, is a 404; cookies are neither read
  (the header is dropped) nor set (Set-Cookie is dropped); package files get the loose content CSP in
  place of the app's strict one (which the player page keeps).
  Learner pages under the token (exit, certificate) are answered on the app's origin, by a redirect.
- app origin: package files are never served (404); the player page redirects to the content origin.
  Runtime endpoints (commit, …) still answer there: they read no cookie, the token authorises them, and
  a player page loaded before this change keeps saving.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)

from scormhub.settings import Settings
from scormhub.web.sessions import SESSION_COOKIE

# Launch tokens, review and preview passes all have this shape; anything else is for the app to refuse.
_PLAYER_PAGE = re.compile(r"^/play/[A-Za-z0-9_-]{43}/?$")
_PACKAGE_FILES = re.compile(r"^/play/[^/]+/content(/|$)")
# Learner pages under a launch token: the exit page (and its result) and the certificate download.
_LEARNER_PAGES = re.compile(r"^/play/[^/]+/(exit|certificate)(/|$)")
# The organization's public look (theme.css, logo) too: the player page is a branded learner page.
_CONTENT_PATHS = re.compile(r"^/(play/[^/]+|static/|brand/[0-9a-fA-F-]{36}/(theme\.css|logo)$)")
_NOT_FOUND = (
    b"<!doctype html><title>Not found</title><h1>Not found</h1>"
    b"<p>There is nothing here. Check the link, or go back.</p>"
)


def content_csp(settings: Settings) -> str:
    """What course content may do on its own origin: load scripts, styles, fonts, frames and media from
    the web (CDN jQuery, Google Fonts, Vimeo and YouTube players, vendor metrics), run inline script and
    eval (authoring tools rely on both). Framed only by our own pages and the CRM that frames them."""
    # Over plain http (development and the tests' stand-in CDN) the web is http too.
    web = "https: http:" if settings.content_origin.startswith("http://") else "https:"
    anything = f"'self' {web} data: blob:"
    return (
        f"default-src {anything} 'unsafe-inline' 'unsafe-eval'; "
        f"script-src {anything} 'unsafe-inline' 'unsafe-eval'; style-src {anything} 'unsafe-inline'; "
        f"img-src {anything}; font-src {anything}; media-src {anything}; frame-src {anything}; "
        f"connect-src 'self' {web}; object-src 'none'; base-uri 'self'; "
        f"frame-ancestors {settings.frame_ancestors} {origin_of(settings.public_url)}"
    )


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _host(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"host":
            return value.decode("latin-1").lower()
    return ""


def _has_session_cookie(scope: Scope) -> bool:
    marker = f"{SESSION_COOKIE}=".encode()
    return any(name == b"cookie" and marker in value for name, value in scope["headers"])


class ContentOriginMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.content_host = urlsplit(settings.content_origin).netloc.lower()
        self.content_origin = origin_of(settings.content_origin)
        self.app_origin = origin_of(settings.public_url)
        self._csp = (b"content-security-policy", content_csp(settings).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if _host(scope) == self.content_host:
            await self._content(scope, receive, send, path)
            return
        if _PACKAGE_FILES.match(path):
            await _not_found(send)
            return
        if _PLAYER_PAGE.match(path) and scope["method"] in ("GET", "HEAD"):
            await _redirect(send, self.content_origin + _path_and_query(scope))
            return
        await self.app(scope, receive, send)

    async def _content(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        # An admin's cookie here means the content origin shares the app's host name (a misconfigured
        # proxy): refuse rather than run course script next to it.
        if _has_session_cookie(scope) or not _CONTENT_PATHS.match(path):
            await _not_found(send, self._csp)
            return
        if _LEARNER_PAGES.match(path):
            await _redirect(send, self.app_origin + _path_and_query(scope), self._csp)
            return
        scope["headers"] = [(n, v) for n, v in scope["headers"] if n != b"cookie"]
        # The package's own files get the loose policy; the player page around them (ours) and the
        # runtime endpoints keep the app's strict one, so a hostile course title cannot run there.
        dropped = (
            (b"set-cookie", b"content-security-policy") if _PACKAGE_FILES.match(path) else (b"set-cookie",)
        )
        added = [self._csp] if _PACKAGE_FILES.match(path) else []

        async def send_content(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value) for name, value in message.get("headers", ()) if name.lower() not in dropped
                ]
                message["headers"] = [*headers, *added]
            await send(message)

        await self.app(scope, receive, send_content)


def _path_and_query(scope: Scope) -> str:
    raw = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    return raw.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")


async def _not_found(send: Send, *extra: tuple[bytes, bytes]) -> None:
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 404,
        "headers": [(b"content-type", b"text/html; charset=utf-8"), *extra],
    }
    body: HTTPResponseBodyEvent = {"type": "http.response.body", "body": _NOT_FOUND, "more_body": False}
    await send(start)
    await send(body)


async def _redirect(send: Send, location: str, *extra: tuple[bytes, bytes]) -> None:
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 303,
        "headers": [(b"location", location.encode("latin-1")), (b"content-length", b"0"), *extra],
    }
    body: HTTPResponseBodyEvent = {"type": "http.response.body", "body": b"", "more_body": False}
    await send(start)
    await send(body)
