"""Short-lived links an admin's preview plays through: a review (nothing recorded) that expires.

The preview runs on the content origin with no session at all; the pass is its only authority, and it
authorises nothing but playing one course, for a while. Same shape as launch tokens (43 URL-safe
characters): the course id, the expiry (seconds since the epoch) and the first 12 bytes of HMAC-SHA256
over both, under a key of its own (a review pass never reads as a preview pass, nor the reverse).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from uuid import UUID

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from scormhub.domain.ports import Clock

# Long enough to go through a course; a leaked link plays it (nothing else) for at most this long.
PREVIEW_TTL_S = 2 * 3600


class PreviewPass:
    def __init__(self, secret_key: str, clock: Clock, ttl_s: int = PREVIEW_TTL_S) -> None:
        self._key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"scormhub/preview-pass/v1"
        ).derive(secret_key.encode())
        self._clock = clock
        self._ttl_s = ttl_s

    def issue(self, course_id: UUID) -> str:
        expires = int(self._clock.now().timestamp()) + self._ttl_s
        body = course_id.bytes + struct.pack(">I", expires)
        return base64.urlsafe_b64encode(body + self._mac(body)).rstrip(b"=").decode()

    def course_of(self, token: str) -> UUID | None:
        """The course of a genuine pass that has not expired; None for anything else."""
        if len(token) != 43:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=")
        except ValueError:
            return None
        body, mac = raw[:20], raw[20:]
        if len(raw) != 32 or not hmac.compare_digest(mac, self._mac(body)):
            return None
        (expires,) = struct.unpack(">I", body[16:])
        if expires < self._clock.now().timestamp():
            return None
        return UUID(bytes=body[:16])

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:12]
