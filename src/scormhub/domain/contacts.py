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


class ContactExists(DomainError):
    """The contact book already holds someone with this email: the form says so and links to them,
    instead of silently opening their record as if it had been added."""

    def __init__(self, contact: Contact) -> None:
        super().__init__(f"{contact.full_name} already has the email {contact.email}.")
        self.contact = contact


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
    """Add a contact from the Contacts form; raises InvalidInput, or ContactExists for a known email.

    `values` holds first_name, last_name, email and company as typed.
    """
    first_name = clean_name(values.get("first_name", ""), "first_name", "first name")
    last_name = clean_name(values.get("last_name", ""), "last_name", "last name")
    email = normalize_email(values.get("email", ""))
    existing = next((c for c in await book.search_contacts(email, limit=5) if c.email.lower() == email), None)
    if existing is not None:
        raise ContactExists(existing)
    # Still an upsert: two forms sent at once with one email make one contact.
    contact = await book.upsert_contact(first_name=first_name, last_name=last_name, email=email)
    company = " ".join(values.get("company", "").split())[:MAX_COMPANY_LENGTH]
    if company:
        await book.set_company(contact.id, company)
    return contact
