"""Checks on the names and email addresses people type for contacts (the Contact entity is in model)."""

from __future__ import annotations

import re
import unicodedata

from scormhub.domain.errors import DomainError

MAX_NAME_LENGTH = 100
MAX_EMAIL_LENGTH = 254
# Deliberately simple: a real address has one @, no spaces, and a dot in the domain. Whether it exists
# is the mail server's business, not ours.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidInput(DomainError):
    """A field a person typed is unusable; `field` names it, the message says how to fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def clean_name(raw: str | None, field: str, label: str) -> str:
    """Trimmed, whitespace folded, NFC; refuses empty, overlong and control characters."""
    text = unicodedata.normalize("NFC", " ".join((raw or "").split()))
    if not text:
        raise InvalidInput(field, f"Enter a {label}.")
    if len(text) > MAX_NAME_LENGTH:
        raise InvalidInput(field, f"The {label} is too long: use at most {MAX_NAME_LENGTH} characters.")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise InvalidInput(field, f"The {label} contains characters that can't be shown. Type it again.")
    return text


def normalize_email(raw: str | None) -> str:
    """Lower-cased and trimmed: one person, one address, whatever case they type it in."""
    email = (raw or "").strip().lower()
    if not email:
        raise InvalidInput("email", "Enter an email address.")
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        raise InvalidInput("email", "Enter an email address like name@example.com.")
    return email
