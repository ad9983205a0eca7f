"""The shapes of HighLevel's JSON answers: checked, so a body that is not what the reference says is
CrmUnavailable (retryable), never a KeyError."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, NoReturn

from scormhub.domain.errors import CrmUnavailable

UNEXPECTED_MESSAGE: Final = "HighLevel answered with an unexpected body"
# Create answers for something that already exists (a relation, a field) are undocumented; these are the
# words such an answer must contain.
ALREADY_EXISTS: Final = re.compile(r"already\s+(exists?|associated|related|linked)|duplicate", re.I)


def id_of(data: Mapping[str, Any]) -> str | None:
    for key in ("id", "_id"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def require_list(data: Any, key: str) -> None:
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        unexpected()


def as_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        unexpected()
    return value


def required_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        unexpected()
    return value


def unexpected() -> NoReturn:
    raise CrmUnavailable(UNEXPECTED_MESSAGE)


def moment_of(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
