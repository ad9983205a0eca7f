"""Admin sessions: encrypted, expiring tokens in a cookie, or in a header when an iframe blocks cookies."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import Response
from litestar.connection import ASGIConnection

from scormhub.integrations.crypto import DecryptionError, TokenSigner
from scormhub.settings import Settings

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
    # The CRM's role for the user (HighLevel SSO: "admin" | "user"); None for a login link or an install.
    role: str | None = None

    @property
    def crm_admin(self) -> bool:
        """Whether the CRM says this user administers the location (what changing its plan needs)."""
        return self.role == "admin"


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
        role: str | None = None,
    ) -> str:
        payload: dict[str, Any] = {"w": str(workspace_id), "t": int(time.time()), "m": max_age_s}
        if user_id:
            payload["u"] = user_id
            payload["n"] = (user_name or "")[:200]
        if role:
            payload["r"] = role[:20]
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
                role=payload.get("r") if isinstance(payload.get("r"), str) else None,
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
