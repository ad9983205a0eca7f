"""add_contact on a fake contact book: what is stored from the Contacts form, and what it refuses."""

from __future__ import annotations

import pytest
from fakes.crm import FakeContactDirectory

from scormhub.domain.contacts import ContactExists, InvalidInput, add_contact

FORM = {"first_name": "  Ann ", "last_name": "Example", "email": " Ann@Example.COM ", "company": ""}


async def test_a_contact_is_added_with_trimmed_names_and_a_lower_case_email() -> None:
    book = FakeContactDirectory()

    contact = await add_contact(FORM, book=book)

    assert (contact.first_name, contact.last_name, contact.email) == ("Ann", "Example", "ann@example.com")
    assert list(book.contacts) == [contact.id]
    assert book.companies == {}


async def test_a_company_is_set_with_its_whitespace_folded() -> None:
    book = FakeContactDirectory()

    contact = await add_contact({**FORM, "company": "  Acme \t  Golf  "}, book=book)

    assert book.companies == {contact.id: "Acme Golf"}


async def test_the_same_email_again_is_refused_naming_the_contact_already_there() -> None:
    book = FakeContactDirectory()
    first = await add_contact(FORM, book=book)

    with pytest.raises(ContactExists) as exists:
        await add_contact({**FORM, "first_name": "Annie", "email": "ANN@example.com"}, book=book)

    assert exists.value.contact.id == first.id
    assert "Ann Example already has the email ann@example.com" in str(exists.value)
    assert len(book.contacts) == 1


@pytest.mark.parametrize(("field", "value"), [("first_name", " "), ("last_name", ""), ("email", "ann@")])
async def test_a_bad_field_is_named_and_nothing_is_added(field: str, value: str) -> None:
    book = FakeContactDirectory()

    with pytest.raises(InvalidInput) as bad:
        await add_contact({**FORM, field: value}, book=book)

    assert bad.value.field == field
    assert book.contacts == {}
