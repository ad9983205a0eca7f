"""Plays HighLevel's part of the custom-page SSO handshake: the payload its page would post to ours."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from scormhub.integrations.highlevel.auth import SALT_BYTES, SALTED, evp_bytes_to_key


def encrypt_sso(data: dict[str, Any], key: str) -> str:
    """What `CryptoJS.AES.encrypt(JSON.stringify(data), key).toString()` returns (random salt)."""
    plain = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    salt = os.urandom(SALT_BYTES)
    aes_key, iv = evp_bytes_to_key(key.encode(), salt)
    padder = sym_padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    return base64.b64encode(SALTED + salt + ciphertext).decode("ascii")
