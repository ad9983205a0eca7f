"""HTTP plumbing shared by routes: admin sessions, security headers, request logging, page helpers."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from scormhub.integrations.crypto import DecryptionError, TokenSigner
from scormhub.settings import Settings

log = logging.getLogger("scormhub.request")

SESSION_COOKIE = "scormhub_session"
SESSION_HEADER = "x-scormhub-session"
SESSION_MAX_AGE_S = 12 * 60 * 60


@dataclass(frozen=True)
class AdminSession:
    """Who is signed in to the admin pages, and for which workspace."""

    workspace_id: UUID
    issued_at: int


class Sessions:
    """Admin sessions as encrypted, expiring tokens: in a cookie, or in a header when cookies are blocked."""

    def __init__(self, settings: Settings) -> None:
        self._signer = TokenSigner(settings.secret_key, "admin-session")
        self._secure = settings.uses_https

    def issue(self, workspace_id: UUID) -> str:
        return self._signer.dumps({"w": str(workspace_id), "t": int(time.time())})

    def read(self, token: str) -> AdminSession | None:
        try:
            payload = self._signer.loads(token, max_age_s=SESSION_MAX_AGE_S)
            return AdminSession(workspace_id=UUID(payload["w"]), issued_at=int(payload["t"]))
        except (DecryptionError, KeyError, ValueError, TypeError):
            return None

    def cookie(self, token: str) -> Cookie:
        return Cookie(
            key=SESSION_COOKIE,
            value=token,
            max_age=SESSION_MAX_AGE_S,
            httponly=True,
            secure=self._secure,
            samesite="lax",
            path="/",
        )

    def cleared_cookie(self) -> Cookie:
        return Cookie(key=SESSION_COOKIE, value="", max_age=0, httponly=True, secure=self._secure, path="/")

    def from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AdminSession | None:
        token = connection.cookies.get(SESSION_COOKIE) or connection.headers.get(SESSION_HEADER)
        return self.read(token) if token else None


def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Every /app page needs a session; its workspace is kept on the connection for the handler."""
    sessions: Sessions = connection.app.state.sessions
    session = sessions.from_connection(connection)
    if session is None:
        raise NotAuthorizedException("Sign in to continue.")
    connection.state.admin = session
    connection.scope["state"]["workspace_id"] = str(session.workspace_id)


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
    """CSP and friends on every response. No X-Frame-Options: the CRM frames us (frame-ancestors rules)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.csp = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
            "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'self'; object-src 'none'; "
            f"frame-ancestors {settings.frame_ancestors}"
        )
        self.hsts = settings.uses_https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                # A route may set its own policy (the SCORM player needs a looser one for content).
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = self.csp
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                headers["Cross-Origin-Opener-Policy"] = "same-origin-allow-popups"
                if self.hsts:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestLogMiddleware:
    """One log line per request: method, path, status, duration and workspace (never query strings)."""

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
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            workspace = scope.get("state", {}).get("workspace_id", "-")
            # The path only: login tokens and other secrets may travel in a query string.
            log.info(
                "%s %s %s %.1fms workspace=%s",
                scope.get("method", "-"),
                _loggable_path(scope["path"]),
                status,
                (time.perf_counter() - started) * 1000,
                workspace,
            )


def _loggable_path(path: str) -> str:
    # Login links carry their secret in the path itself.
    if path.startswith("/login/"):
        return "/login/***"
    return path
