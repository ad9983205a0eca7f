"""CSRF protection: Litestar's double-submit check, waived for requests carrying the session header."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware.csrf import CSRFMiddleware, generate_csrf_token
from litestar.types import HTTPSendMessage, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from scormhub.web.sessions import SESSION_COOKIE, SESSION_HEADER

if TYPE_CHECKING:
    from scormhub.bootstrap import Deps


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
        # The same third-party-context rules as the session cookie (see sessions.Sessions.cookie_header).
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
