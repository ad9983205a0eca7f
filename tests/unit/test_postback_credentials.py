"""The postback endpoint reads only the credentials (read_credentials), and must read the ones
parse_postback would; and parse_postback reads a form exactly as urllib's parse_qs would (it uses yarl's
faster decoder)."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scormhub.integrations.scorm_cloud.postbacks import parse_postback, read_credentials

FORM = "application/x-www-form-urlencoded"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


CASES = [
    (FORM, urlencode({"userName": "u ser", "password": "p&a=ss+", "data": '{"id":"x"}'}).encode(), None),
    (FORM, b"userName=&username=bob&password=x", None),
    (FORM, b"password&userName=a", None),
    (FORM, b"password=1&password=2&userName=a%ZZ", None),
    (FORM + "; charset=UTF-8", b"userName=z%C3%A9&password=%E2%82%AC", None),
    (FORM, "userName=zé&password=€ \xff".encode(), None),
    (FORM, b"userName=a&password=b", basic("h", "k")),
    (FORM, b"userName=a&password=b", "Basic !!!"),
    ("application/json", b'{"id":"x"}', basic("h", "k:z")),
    ("application/json", b'{"id":"x"}', None),
    ("application/json", b'{"id":"x"}', "Bearer x"),
    (FORM, b"", None),
    (FORM, b"&&=&userName", None),
]


@pytest.mark.parametrize(("content_type", "body", "authorization"), CASES)
def test_the_credentials_read_are_those_the_full_parse_reads(
    content_type: str, body: bytes, authorization: str | None
) -> None:
    fast = read_credentials(content_type, body, authorization)
    full = parse_postback(content_type, body, authorization)

    assert (fast.username, fast.password) == (full.username, full.password)
    assert fast.registration is None  # left to the drain job


def reference_form(body: bytes) -> tuple[str | None, str | None, object]:
    """What parse_postback read from a form when it used urllib.parse.parse_qs."""
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)

    def first(name: str) -> str | None:
        values = form.get(name)
        return values[0] if values else None

    try:
        data = json.loads(first("data") or "null")
    except ValueError:
        data = None
    return first("userName") or first("username"), first("password"), data if isinstance(data, dict) else None


NAMES = st.sampled_from(["userName", "username", "password", "data", "x", "", "data "])
VALUES = st.one_of(
    st.text(max_size=30),
    st.dictionaries(st.sampled_from(["id", "x"]), st.text(max_size=10), max_size=2).map(json.dumps),
)


@given(st.lists(st.tuples(NAMES, VALUES), max_size=6))
def test_an_encoded_form_is_read_as_urllib_reads_it(pairs: list[tuple[str, str]]) -> None:
    body = urlencode(pairs).encode()

    read = parse_postback(FORM, body, None)

    assert (read.username, read.password, read.registration) == reference_form(body)


@given(st.binary(max_size=80) | st.text(alphabet="%&=+;a9FzZ\u00e9 ", max_size=40).map(str.encode))
def test_any_form_body_is_read_as_urllib_reads_it(body: bytes) -> None:
    read = parse_postback(FORM, body, None)

    assert (read.username, read.password, read.registration) == reference_form(body)
