"""Review links: shaped like launch tokens, naming only the course they were issued for, unforgeable."""

from __future__ import annotations

import base64
import re
import uuid

from scormhub.domain.enrollments import new_launch_token
from scormhub.integrations.crypto import ReviewPass

KEY = "k" * 64


def test_a_review_pass_looks_like_a_launch_token_and_names_its_course() -> None:
    course = uuid.uuid4()
    passes = {ReviewPass(KEY).issue(course) for _ in range(20)}

    assert len(passes) == 20, "no two alike"
    for token in passes:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
        assert len(token) == len(new_launch_token())
        assert ReviewPass(KEY).course_of(token) == course


def test_a_pass_altered_made_up_or_made_with_another_key_names_no_course() -> None:
    course, other = uuid.uuid4(), uuid.uuid4()
    token = ReviewPass(KEY).issue(course)
    raw = base64.urlsafe_b64decode(token + "=")
    retargeted = base64.urlsafe_b64encode(other.bytes + raw[16:]).rstrip(b"=").decode()

    for candidate in (
        retargeted,
        new_launch_token(),
        ReviewPass("another key").issue(course),
        token[:-1],
        token + "A",
        "é" * 43,
        "=" * 43,
        "",
    ):
        assert ReviewPass(KEY).course_of(candidate) is None, candidate
