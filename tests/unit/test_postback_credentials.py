"""The postback endpoint reads only the credentials, and must read the ones parse_postback would."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest

from scormhub.domain.engine_accounts import parse_postback
from scormhub.routes.hooks import postback_credentials

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
    fast = postback_credentials(content_type, body, authorization)
    full = parse_postback(content_type, body, authorization)

    assert (fast.username, fast.password) == (full.username, full.password)
    assert fast.registration is None  # left to the drain job
