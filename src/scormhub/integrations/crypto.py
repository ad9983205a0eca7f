"""Encryption at rest and signed session tokens, on `cryptography`'s Fernet (AES-128-CBC + HMAC).

One SCORMHUB_SECRET_KEY feeds several purposes; HKDF derives an independent key per purpose, so a
session token can never be decrypted as a stored credential or the other way round.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any
from uuid import UUID

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


class ReviewPass:
    """Links that play a course with nothing recorded, shaped exactly like launch tokens (43 URL-safe
    characters), so the link a self-enrollment answers with does not tell a review from an enrollment.

    32 bytes: the course id, 4 random bytes (no two passes alike) and the first 12 bytes of HMAC-SHA256
    over both, under a key of their own derived from SCORMHUB_SECRET_KEY.
    """

    def __init__(self, secret_key: str) -> None:
        self._key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"scormhub/review-pass/v1"
        ).derive(secret_key.encode())

    def issue(self, course_id: UUID) -> str:
        body = course_id.bytes + secrets.token_bytes(4)
        return base64.urlsafe_b64encode(body + self._mac(body)).rstrip(b"=").decode()

    def course_of(self, token: str) -> UUID | None:
        """The course a genuine pass was issued for; None for anything else."""
        if len(token) != 43:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=")
        except ValueError:
            return None
        body, mac = raw[:20], raw[20:]
        if len(raw) != 32 or not hmac.compare_digest(mac, self._mac(body)):
            return None
        return UUID(bytes=body[:16])

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:12]
