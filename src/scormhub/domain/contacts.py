"""Contacts people add by hand: the checks on names and email addresses, and adding one to the contact book.

The Contact entity is in model."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING

from scormhub.domain.errors import DomainError
from scormhub.domain.model import Contact

if TYPE_CHECKING:
    from scormhub.domain.ports import ContactDirectory

MAX_NAME_LENGTH = 100
MAX_EMAIL_LENGTH = 254
MAX_COMPANY_LENGTH = 200
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


async def add_contact(values: Mapping[str, str], *, book: ContactDirectory) -> Contact:
    """Add a contact (or find the one with that email) from the Contacts form; raises InvalidInput.

    `values` holds first_name, last_name, email and company as typed. The company is set only when given,
    so adding someone again without one keeps the company they had.
    """
    contact = await book.upsert_contact(
        first_name=clean_name(values.get("first_name", ""), "first_name", "first name"),
        last_name=clean_name(values.get("last_name", ""), "last_name", "last name"),
        email=normalize_email(values.get("email", "")),
    )
    company = " ".join(values.get("company", "").split())[:MAX_COMPANY_LENGTH]
    if company:
        await book.set_company(contact.id, company)
    return contact
