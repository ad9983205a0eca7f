"""HighLevel's two pieces of app crypto: webhook signatures and the custom page's SSO payload.

Pure functions over `cryptography`; no I/O. Reference: shared/reference/highlevel-api.md §2 and §3.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# §2: signs `x-ghl-signature`. Not in HighLevel's docs repository (copied from the marketplace's webhook
# guide by many community repos), so deployments can override it in settings.
VENDOR_ED25519_PEM: Final = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----
"""

# §2: signs the legacy `x-wh-signature` (RSA-4096), from WebhookAuthentication.md.
VENDOR_RSA_PEM: Final = """-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
"""

ED25519_HEADER: Final = "x-ghl-signature"
RSA_HEADER: Final = "x-wh-signature"

# Webhooks older than this are refused (reference §2): a captured one cannot be replayed later.
WEBHOOK_MAX_AGE_S: Final = 5 * 60
# How far ahead of our clock a webhook may be stamped: clocks drift, but a stamp far ahead would keep a
# captured webhook "fresh" for as long as it is ahead.
WEBHOOK_MAX_SKEW_S: Final = 60

SALTED: Final = b"Salted__"
SALT_BYTES: Final = 8
BLOCK_BYTES: Final = 16


class SsoPayloadInvalid(ValueError):
    """The SSO payload is not one our shared secret made: wrong key, cut short, or not CryptoJS output."""


# --- webhooks ---------------------------------------------------------------------------------------------


def verify_webhook(raw: bytes, headers: Mapping[str, str], *, ed25519_pem: str, rsa_pem: str) -> bool:
    """Whether HighLevel signed exactly these body bytes. Unsigned or malformed is False; never raises.

    The Ed25519 header wins when present (both official SDKs do this); the RSA one is the legacy
    fallback, kept because its retirement date is unconfirmed.
    """
    try:
        lowered = {name.lower(): value for name, value in headers.items()}
        if signature := lowered.get(ED25519_HEADER):
            ed_key = _public_key(ed25519_pem)
            if not isinstance(ed_key, Ed25519PublicKey):
                return False
            ed_key.verify(_b64(signature), raw)
            return True
        if signature := lowered.get(RSA_HEADER):
            rsa_key = _public_key(rsa_pem)
            if not isinstance(rsa_key, RSAPublicKey):
                return False
            rsa_key.verify(_b64(signature), raw, asym_padding.PKCS1v15(), hashes.SHA256())
            return True
    except InvalidSignature:
        return False
    except Exception:  # bad base64, a key of the wrong kind: a webhook endpoint must answer whatever it gets
        return False
    return False


def webhook_age_problem(event: Mapping[str, Any], now_s: float) -> str | None:
    """Why a verified webhook is too old to act on, or None when its `timestamp` is recent or absent.

    A stamp that is there but unreadable, or ahead of our clock, is refused: it would make the 5-minute
    rule meaningless. A webhook with no stamp at all is accepted, because the reference's INSTALL and
    UNINSTALL examples carry none (only the SDK reads one) and refusing would lose real installs; replays of
    it are stopped by `webhook_dedupe_key` instead, which is kept for as long as the inbox keeps the webhook.
    """
    if event.get("timestamp") is None:
        return None
    sent_at = _sent_at(event.get("timestamp"))
    if sent_at is None:
        return "The webhook has no readable timestamp (ISO 8601 or epoch milliseconds)."
    if sent_at - now_s > WEBHOOK_MAX_SKEW_S:
        return "The webhook's timestamp is in the future; check the sender's clock."
    if now_s - sent_at > WEBHOOK_MAX_AGE_S:
        return "The webhook is older than 5 minutes (its timestamp)."
    return None


def webhook_dedupe_key(event: Mapping[str, Any], raw: bytes) -> str:
    """What identifies a webhook across retries and replays: its `webhookId`, else the signed bytes.

    A replay is the same signed body byte for byte, so its digest catches one that carries no id.
    """
    webhook_id = event.get("webhookId")
    if isinstance(webhook_id, str) and webhook_id.strip():
        return webhook_id.strip()[:200]
    return "body-sha256:" + hashlib.sha256(raw).hexdigest()


def _sent_at(value: Any) -> float | None:
    """HighLevel's `timestamp` in epoch seconds: an ISO string or epoch milliseconds (the reference does
    not say which)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            return None
        return value / 1000 if value > 10**11 else float(value)
    if isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
        except (ValueError, OverflowError):
            return None
    return None


@lru_cache(maxsize=8)
def _public_key(pem: str) -> Any:
    # Parsing a 4096-bit RSA key on every webhook is wasted work; the PEMs are fixed per process.
    return serialization.load_pem_public_key(pem.encode())


def _b64(text: str) -> bytes:
    return base64.b64decode(text.strip(), validate=True)


# --- SSO (custom page) ------------------------------------------------------------------------------------


def decrypt_sso(payload: str, key: str) -> dict[str, Any]:
    """The user data of a `REQUEST_USER_DATA_RESPONSE`, encrypted by CryptoJS with the app's shared secret."""
    try:
        raw = base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError, AttributeError):
        raise SsoPayloadInvalid("The SSO payload is not base64.") from None
    if not raw.startswith(SALTED):
        raise SsoPayloadInvalid("The SSO payload is not in CryptoJS's salted format.")
    salt = raw[len(SALTED) : len(SALTED) + SALT_BYTES]
    ciphertext = raw[len(SALTED) + SALT_BYTES :]
    if len(salt) != SALT_BYTES or not ciphertext or len(ciphertext) % BLOCK_BYTES:
        raise SsoPayloadInvalid("The SSO payload is truncated.")
    aes_key, iv = evp_bytes_to_key(key.encode(), salt)
    decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
    unpadder = sym_padding.PKCS7(algorithms.AES.block_size).unpadder()
    try:
        plain = unpadder.update(decryptor.update(ciphertext) + decryptor.finalize()) + unpadder.finalize()
    except ValueError:
        # Bad padding is what a wrong key almost always produces.
        raise SsoPayloadInvalid("The SSO payload was not encrypted with this shared secret.") from None
    try:
        data = json.loads(plain.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        # About 1 in 256 wrong keys still yields valid padding; the plaintext is then noise.
        raise SsoPayloadInvalid("The SSO payload was not encrypted with this shared secret.") from None
    if not isinstance(data, dict):
        raise SsoPayloadInvalid("The SSO payload holds no user data.")
    return data


def evp_bytes_to_key(passphrase: bytes, salt: bytes) -> tuple[bytes, bytes]:
    """OpenSSL's EVP_BytesToKey with MD5 and one iteration: CryptoJS's passphrase mode (32-byte key + IV).

    MD5 here is the format's key derivation, which we must reproduce, not a choice of ours.
    """
    derived, block = b"", b""
    while len(derived) < 48:
        block = hashlib.md5(block + passphrase + salt, usedforsecurity=False).digest()
        derived += block
    return derived[:32], derived[32:48]
