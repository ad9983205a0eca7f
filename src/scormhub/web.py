"""HTTP plumbing shared by routes: admin sessions, security headers, request logging, page helpers."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import ClientException, NotAuthorizedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.csrf import CSRFMiddleware, generate_csrf_token
from litestar.types import ASGIApp, HTTPSendMessage, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from scormhub.domain.model import WorkspaceKind
from scormhub.integrations.crypto import DecryptionError, TokenSigner
from scormhub.settings import Settings

if TYPE_CHECKING:
    from scormhub.bootstrap import Deps

log = logging.getLogger("scormhub.request")

SESSION_COOKIE = "scormhub_session"
SESSION_HEADER = "x-scormhub-session"
SESSION_MAX_AGE_S = 12 * 60 * 60
# A session opened by the CRM's SSO lives in the page's memory and travels as a header when the browser
# blocks the cookie; it is short-lived, and the page asks the CRM for a fresh one when it expires.
SSO_SESSION_MAX_AGE_S = 60 * 60


@dataclass(frozen=True)
class AdminSession:
    """Who is signed in to the admin pages, and for which workspace."""

    workspace_id: UUID
    issued_at: int
    user_id: str | None = None  # the CRM user (HighLevel SSO); None for a standalone login link
    user_name: str | None = None
    via_header: bool = False  # authenticated by the header token, not the cookie


class Sessions:
    """Admin sessions as encrypted, expiring tokens: in a cookie, or in a header when cookies are blocked."""

    def __init__(self, settings: Settings) -> None:
        self._signer = TokenSigner(settings.secret_key, "admin-session")
        self._secure = settings.uses_https

    def issue(
        self,
        workspace_id: UUID,
        *,
        user_id: str | None = None,
        user_name: str | None = None,
        max_age_s: int = SESSION_MAX_AGE_S,
    ) -> str:
        payload: dict[str, Any] = {"w": str(workspace_id), "t": int(time.time()), "m": max_age_s}
        if user_id:
            payload["u"] = user_id
            payload["n"] = (user_name or "")[:200]
        return self._signer.dumps(payload)

    def read(self, token: str, *, via_header: bool = False) -> AdminSession | None:
        try:
            payload = self._signer.loads(token, max_age_s=SESSION_MAX_AGE_S)
            issued = int(payload["t"])
            if time.time() - issued > min(int(payload.get("m", SESSION_MAX_AGE_S)), SESSION_MAX_AGE_S):
                return None
            return AdminSession(
                workspace_id=UUID(payload["w"]),
                issued_at=issued,
                user_id=payload.get("u"),
                user_name=payload.get("n"),
                via_header=via_header,
            )
        except (DecryptionError, KeyError, ValueError, TypeError):
            return None

    def cookie_header(self, token: str, *, max_age_s: int = SESSION_MAX_AGE_S) -> str:
        """The Set-Cookie value. Over https the cookie must reach us inside the CRM's iframe (a third-party
        context), so it is SameSite=None and Partitioned (CHIPS: kept per top-level site, which browsers
        that block third-party cookies still allow); over plain http (local use) it is SameSite=Lax."""
        parts = [f"{SESSION_COOKIE}={token}", "Path=/", f"Max-Age={max_age_s}", "HttpOnly"]
        parts += ["Secure", "SameSite=None", "Partitioned"] if self._secure else ["SameSite=Lax"]
        return "; ".join(parts)

    def cleared_cookie_header(self) -> str:
        return self.cookie_header("", max_age_s=0)

    def from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AdminSession | None:
        # The header first: it belongs to this tab, while the cookie is shared by every tab of the
        # browser (two HighLevel locations open side by side would otherwise act on the last one).
        header = connection.headers.get(SESSION_HEADER)
        if header:
            session = self.read(header, via_header=True)
            if session is not None:
                return session
        cookie = connection.cookies.get(SESSION_COOKIE)
        return self.read(cookie) if cookie else None


def set_session_cookie(response: Response[Any], header_value: str) -> Response[Any]:
    # Litestar's Cookie has no Partitioned attribute, so the header is written whole (its own cookies
    # travel separately and are not overwritten by this).
    response.headers["set-cookie"] = header_value
    return response


class SessionAwareCSRFMiddleware(CSRFMiddleware):
    """Litestar's double-submit CSRF check, except for requests authenticated by the session header.

    A browser never attaches that header on its own (a cross-site form cannot, and a cross-origin
    script would need a CORS preflight we never grant), so such a request cannot be forged; and inside
    an iframe whose cookies are blocked there is no CSRF cookie to compare against.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.exclude is not None and self.exclude.search(scope["path"]):
            # An exempt path (webhooks, health): no session to look for, nothing to check.
            await self.app(scope, receive, send)
            return
        if scope["type"] == ScopeType.HTTP and _header_only_session(scope):
            ScopeState.from_scope(scope).csrf_token = generate_csrf_token(secret=self.config.secret)
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _set_cookie_if_needed(self, message: HTTPSendMessage, token: str) -> None:
        if not self.config.cookie_secure:
            super()._set_cookie_if_needed(message, token)
            return
        # The same third-party-context rules as the session cookie (see Sessions.cookie_header).
        headers = MutableScopeHeaders.from_message(message)
        headers.add(
            "set-cookie",
            f"{self.config.cookie_name}={token}; Path={self.config.cookie_path}; HttpOnly; Secure; "
            "SameSite=None; Partitioned",
        )


def _header_only_session(scope: Scope) -> bool:
    deps: Deps = scope["litestar_app"].state.deps
    sessions = deps.sessions
    headers = dict(scope["headers"])
    token = headers.get(SESSION_HEADER.encode())
    if not token or _has_cookie(headers.get(b"cookie", b""), SESSION_COOKIE):
        return False
    return sessions.read(token.decode("latin-1"), via_header=True) is not None


def _has_cookie(raw: bytes, name: str) -> bool:
    return any(part.strip().startswith(f"{name}=".encode()) for part in raw.split(b";"))


def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Every /app page needs a session; its workspace is kept on the connection for the handler."""
    deps: Deps = connection.app.state.deps
    session = deps.sessions.from_connection(connection)
    if session is None:
        raise NotAuthorizedException("Sign in to continue.")
    connection.state.admin = session
    connection.scope["state"]["workspace_id"] = str(session.workspace_id)


async def operator_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The job dashboard lists and controls every workspace's jobs, so only the operator may open it: the
    holder of a standalone-workspace session (a login link made on the server). To the admin of a CRM
    location it does not exist (404), like any other workspace's data."""
    admin_guard(connection, handler)
    deps: Deps = connection.app.state.deps
    async with deps.uow() as uow:
        workspace = await uow.workspaces.get(connection.state.admin.workspace_id)
    if workspace is None or workspace.kind is not WorkspaceKind.STANDALONE:
        raise NotFoundException()


def current_admin(request: Request[Any, Any, Any]) -> AdminSession:
    admin: AdminSession = request.state.admin
    return admin


def wants_fragment(request: Request[Any, Any, Any]) -> bool:
    """An htmx request that is neither boosted nor a history restore gets just the partial."""
    headers = request.headers
    return (
        headers.get("hx-request") == "true"
        and headers.get("hx-boosted") != "true"
        and headers.get("hx-history-restore-request") != "true"
    )


def vary_on_htmx(response: Response[Any]) -> Response[Any]:
    response.headers["Vary"] = "HX-Request"
    return response


class SecurityHeadersMiddleware:
    """CSP and friends on every response. No X-Frame-Options: the CRM frames us (frame-ancestors rules).

    The headers are encoded once, here, and appended to each response's raw header list: every request
    pays for this, so it is one pass over the headers the route set rather than a lookup per header.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.csp = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
            "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'self'; object-src 'none'; "
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
