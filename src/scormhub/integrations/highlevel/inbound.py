"""What HighLevel sends us, checked before anything acts on it: webhooks, the SSO payload, the OAuth state.

One object the routes receive through `Deps`, so the HTTP edge never handles keys, signatures or the inbox
table itself. The checks are the pure functions of `auth.py`; this adds the keys from settings, the clock
and the inbox write.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from scormhub.domain.ports import Clock
from scormhub.integrations.crypto import DecryptionError, TokenSigner
from scormhub.integrations.highlevel.auth import (
    VENDOR_ED25519_PEM,
    VENDOR_RSA_PEM,
    SsoPayloadInvalid,
    decrypt_sso,
    verify_webhook,
    webhook_age_problem,
    webhook_dedupe_key,
)
from scormhub.integrations.highlevel.webhook_inbox import store_webhook
from scormhub.settings import Settings

HIGHLEVEL_SOURCE = "highlevel"
# How long an install started here may take in HighLevel's screens before its state is refused.
OAUTH_STATE_MAX_AGE_S = 15 * 60


class HighLevelInbound:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._states = TokenSigner(settings.secret_key, "oauth-state")

    # --- webhooks -----------------------------------------------------------------------------------------

    def webhook_signed(self, raw: bytes, headers: Mapping[str, str]) -> bool:
        """True when HighLevel's key (or the deployment's override) signed exactly these bytes."""
        settings = self._settings
        return verify_webhook(
            raw,
            headers,
            ed25519_pem=settings.highlevel_webhook_ed25519_key or VENDOR_ED25519_PEM,
            rsa_pem=settings.highlevel_webhook_rsa_key or VENDOR_RSA_PEM,
        )

    def webhook_for_this_app(self, event: Mapping[str, Any]) -> bool:
        """HighLevel signs every app's webhooks with one key: the body must also name our app."""
        app_id = self._settings.highlevel_app_id
        return app_id is not None and event.get("appId") == app_id

    def webhook_too_old(self, event: Mapping[str, Any]) -> str | None:
        """Why a signed webhook cannot be a live one (stamped too long ago, or ahead of our clock)."""
        return webhook_age_problem(event, self._clock.now().timestamp())

    async def store_webhook(self, event: Mapping[str, Any], raw: bytes, content_type: str) -> UUID | None:
        """Store the webhook before it is acknowledged; None when HighLevel sent this one before."""
        return await store_webhook(
            external_id=webhook_dedupe_key(event, raw),
            source=HIGHLEVEL_SOURCE,
            content_type=content_type,
            body=raw.decode("utf-8", "replace"),
            received_at=self._clock.now(),
        )

    # --- SSO ----------------------------------------------------------------------------------------------

    def sso_user(self, payload: str) -> dict[str, Any] | None:
        """The custom page's user data; None when our shared secret did not encrypt the payload."""
        key = self._settings.highlevel_sso_key
        if not key:
            return None
        try:
            return decrypt_sso(payload, key)
        except SsoPayloadInvalid:
            return None

    # --- OAuth state --------------------------------------------------------------------------------------

    def new_oauth_state(self) -> tuple[str, str]:
        """(state for HighLevel, nonce for this browser's cookie): the callback needs both to match."""
        nonce = secrets.token_urlsafe(16)
        return self._states.dumps({"n": nonce}), nonce

    def oauth_state_matches(self, state: str, nonce_cookie: str | None) -> bool:
        try:
            data = self._states.loads(state, max_age_s=OAUTH_STATE_MAX_AGE_S)
        except DecryptionError:
            return False
        nonce = data.get("n")
        return (
            isinstance(nonce, str)
            and nonce_cookie is not None
            and secrets.compare_digest(nonce, nonce_cookie)
        )
