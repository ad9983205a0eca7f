"""Encryption at rest and signed session tokens, on `cryptography`'s Fernet (AES-128-CBC + HMAC).

One SCORMHUB_SECRET_KEY feeds several purposes; HKDF derives an independent key per purpose, so a
session token can never be decrypted as a stored credential or the other way round.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class DecryptionError(Exception):
    """A token was forged, corrupted, made with another key, or has expired."""


def _derive(secret_key: str, purpose: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


class SecretBox:
    """Encrypts credentials before they are written to the database."""

    def __init__(self, secret_key: str) -> None:
        self._fernet = _derive(secret_key, "scormhub/secrets-at-rest/v1")

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise DecryptionError("stored secret cannot be decrypted with this key") from None


class TokenSigner:
    """Authenticated, encrypted, expiring tokens carrying a small JSON payload (sessions, links)."""

    def __init__(self, secret_key: str, purpose: str) -> None:
        self._fernet = _derive(secret_key, f"scormhub/tokens/{purpose}/v1")

    def dumps(self, payload: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(payload, separators=(",", ":")).encode()).decode()

    def loads(self, token: str, *, max_age_s: int) -> dict[str, Any]:
        try:
            data = self._fernet.decrypt(token.encode(), ttl=max_age_s)
        except (InvalidToken, ValueError):
            raise DecryptionError("token is invalid or expired") from None
        payload = json.loads(data)
        if not isinstance(payload, dict):
            raise DecryptionError("token payload is not an object")
        return payload
