"""Messages carried across a redirect ("X was removed", "SCORM Cloud refused…") in a signed cookie.

They used to travel in the query string (?notice=…), so anyone could send an admin a link to our page
showing text of their choosing ("Your session expired, sign in at …"): a phishing aid. Now only the
server writes them: an encrypted cookie (its own key purpose), short-lived, bound to the page it was
meant for, and cleared by the response that shows it, so a reload does not show it again.

Adopting it is one call: `return redirect_with_flash(request, path, notice="…")` in the handler, and
`flashed(request).get("notice")` where the page builds its context.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.response import Redirect
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from scormhub.integrations.crypto import DecryptionError, TokenSigner

if TYPE_CHECKING:
    from scormhub.bootstrap import Deps

FLASH_COOKIE = "scormhub_flash"
# Long enough for the redirect to be followed on a slow connection, short enough not to linger.
FLASH_MAX_AGE_S = 60
MAX_MESSAGE_LENGTH = 600
_READ = "flash_read"


@lru_cache(maxsize=4)
def _signer(secret_key: str) -> TokenSigner:
    return TokenSigner(secret_key, "flash")


def _secret(request: Request[Any, Any, Any]) -> str:
    deps: Deps = request.app.state.deps
    secret = deps.settings.secret_key
    return secret


def redirect_with_flash(request: Request[Any, Any, Any], path: str, **messages: str | None) -> Redirect:
    """A 303 to `path` whose page shows `messages` once (read there with `flashed`); empty ones are left
    out. `path` may carry a query string of fixed values (?saved=crm); never put text in it."""
    response = Redirect(path=path, status_code=303)
    kept = {name: text[:MAX_MESSAGE_LENGTH] for name, text in messages.items() if text}
    if kept:
        token = _signer(_secret(request)).dumps({"p": path.split("?", 1)[0], "m": kept})
        response.headers["set-cookie"] = _cookie(request, token, FLASH_MAX_AGE_S)
    return response


def flashed(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The messages a redirect left for this page ({} if none, expired, forged or meant for another)."""
    token = request.cookies.get(FLASH_COOKIE)
    if not token:
        return {}
    try:
        payload = _signer(_secret(request)).loads(token, max_age_s=FLASH_MAX_AGE_S)
    except DecryptionError:
        payload = {}
    if payload and payload.get("p") != request.url.path:
        return {}  # for another page: left for it
    request.scope["state"][_READ] = True  # shown now (or useless): the response clears the cookie
    messages = payload.get("m")
    if not isinstance(messages, dict):
        return {}
    return {str(name): str(text) for name, text in messages.items()}


def _cookie(request: Request[Any, Any, Any], value: str, max_age_s: int) -> str:
    # The same third-party-context rules as the session cookie (see web.sessions.Sessions.cookie_header).
    deps: Deps = request.app.state.deps
    secure = deps.settings.uses_https
    parts = [f"{FLASH_COOKIE}={value}", "Path=/", f"Max-Age={max_age_s}", "HttpOnly"]
    parts += ["Secure", "SameSite=None", "Partitioned"] if secure else ["SameSite=Lax"]
    return "; ".join(parts)


class FlashClearingMiddleware:
    """Clears the flash cookie on the response of a page that read it, so it is shown once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        async def send_clearing(message: Message) -> None:
            if message["type"] == "http.response.start" and scope.get("state", {}).get(_READ):
                request: Request[Any, Any, Any] = Request(scope)
                MutableScopeHeaders.from_message(message).add("set-cookie", _cookie(request, "", 0))
            await send(message)

        await self.app(scope, receive, send_clearing)
