"""The SCORM 1.2 and 2004 data models: which elements a SCO may set, and the check for each value."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from scormhub.domain.scorm.cmi import (
    MAX_SESSION_SECONDS,
    SUSPEND_DATA_LIMIT_12,
    SUSPEND_DATA_LIMIT_2004_4TH,
    InvalidValue,
    Validator,
    parse_cmi_timespan,
    parse_iso_duration,
)
from scormhub.domain.scorm.package import Standard

_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_INTEGER = re.compile(r"-?[0-9]{1,6}")


# PostgreSQL can store no NUL character (in text or JSON), and no real SCO writes one.
NUL_REASON = "contains a NUL character, which can't be stored"


def to_float(element: str, value: object) -> float | None:
    """A SCORM decimal as float; None when the runtime reports it unset ("")."""
    if value is None or value == "":
        return None
    number: float
    if isinstance(value, bool):
        raise InvalidValue(element, value, "expected a decimal number")
    if isinstance(value, int):
        try:
            number = float(value)
        except OverflowError:
            raise InvalidValue(element, value, "number too large") from None
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str) and _DECIMAL.fullmatch(value):
        number = float(value)
    else:
        raise InvalidValue(element, value, "expected a decimal number")
    if not math.isfinite(number):
        raise InvalidValue(element, value, "expected a finite number")
    return number


def decimal_text(number: float) -> str:
    """Plain positional notation: scorm-again's decimal patterns have no exponent."""
    text = format(Decimal(repr(number)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _range_text(low: float | None, high: float | None) -> str:
    return f"{'' if low is None else f'{low:g}'}..{'' if high is None else f'{high:g}'}"


def _decimal(low: float | None = None, high: float | None = None) -> Validator:
    def check(element: str, value: object) -> float | None:
        number = to_float(element, value)
        if number is not None and (
            (low is not None and number < low) or (high is not None and number > high)
        ):
            raise InvalidValue(element, value, f"outside the range {_range_text(low, high)}")
        return number

    return check


def _integer(low: int, high: int) -> Validator:
    def check(element: str, value: object) -> float | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not (
            (isinstance(value, int) and abs(value) < 10**6)
            or (isinstance(value, str) and _INTEGER.fullmatch(value))
        ):
            raise InvalidValue(element, value, "expected a whole number")
        number = int(value)
        if not low <= number <= high:
            raise InvalidValue(element, value, f"outside the range {low}..{high}")
        return float(number)

    return check


def _text(max_length: int) -> Validator:
    def check(element: str, value: object) -> str:
        if not isinstance(value, str):
            raise InvalidValue(element, value, "expected text")
        if "\x00" in value:
            raise InvalidValue(element, value, NUL_REASON)
        if len(value) > max_length:
            raise InvalidValue(element, value, f"{len(value)} characters, over the limit of {max_length}")
        return value

    return check


def _vocabulary(*allowed: str, lms_only: tuple[str, ...] = ()) -> Validator:
    words = frozenset(allowed)

    def check(element: str, value: object) -> str:
        if isinstance(value, str) and value in lms_only:
            raise InvalidValue(element, value, f"'{value}' is set by the LMS only, never by a SCO")
        if not isinstance(value, str) or value not in words:
            shown = ", ".join(repr(word) for word in sorted(words))
            raise InvalidValue(element, value, f"not one of {shown}")
        return value

    return check


def _session_time(parse: Callable[..., float]) -> Validator:
    def check(element: str, value: object) -> float:
        seconds = parse(value, element=element)
        if seconds > MAX_SESSION_SECONDS:
            raise InvalidValue(element, value, "longer than any real session (9999 hours)")
        return seconds

    return check


@dataclass(frozen=True)
class Paths:
    """Where each tracking field lives in one standard's data model."""

    status: tuple[str, ...]
    raw: str
    min: str
    max: str
    scaled: str | None
    progress: str | None
    location: str
    exit: str
    session_time: str
    entry: str
    total_time: str
    suspend_data: str = "cmi.suspend_data"

    @property
    def transient(self) -> frozenset[str]:
        # Write-only and per session: fed back on resume they would replay an old exit or session time.
        return frozenset({self.exit, self.session_time})


LESSON_STATUS: Final = "cmi.core.lesson_status"
COMPLETION_STATUS: Final = "cmi.completion_status"
SUCCESS_STATUS: Final = "cmi.success_status"

PATHS: Final[Mapping[str, Paths]] = {
    "scorm12": Paths(
        status=(LESSON_STATUS,),
        raw="cmi.core.score.raw",
        min="cmi.core.score.min",
        max="cmi.core.score.max",
        scaled=None,
        progress=None,
        location="cmi.core.lesson_location",
        exit="cmi.core.exit",
        session_time="cmi.core.session_time",
        entry="cmi.core.entry",
        total_time="cmi.core.total_time",
    ),
    "scorm2004": Paths(
        status=(COMPLETION_STATUS, SUCCESS_STATUS),
        raw="cmi.score.raw",
        min="cmi.score.min",
        max="cmi.score.max",
        scaled="cmi.score.scaled",
        progress="cmi.progress_measure",
        location="cmi.location",
        exit="cmi.exit",
        session_time="cmi.session_time",
        entry="cmi.entry",
        total_time="cmi.total_time",
    ),
}

_LEAVES_12: Final[Mapping[str, Validator]] = {
    LESSON_STATUS: _vocabulary(
        "passed", "completed", "failed", "incomplete", "browsed", lms_only=("not attempted",)
    ),
    "cmi.core.lesson_location": _text(255),
    "cmi.core.score.raw": _decimal(0, 100),
    "cmi.core.score.min": _decimal(0, 100),
    "cmi.core.score.max": _decimal(0, 100),
    "cmi.core.exit": _vocabulary("", "time-out", "suspend", "logout"),
    "cmi.core.session_time": _session_time(parse_cmi_timespan),
    "cmi.comments": _text(4096),
    "cmi.student_preference.audio": _integer(-1, 100),
    "cmi.student_preference.language": _text(255),
    "cmi.student_preference.speed": _integer(-100, 100),
    "cmi.student_preference.text": _integer(-1, 1),
}
_LEAVES_2004: Final[Mapping[str, Validator]] = {
    COMPLETION_STATUS: _vocabulary("completed", "incomplete", "not attempted", "unknown"),
    SUCCESS_STATUS: _vocabulary("passed", "failed", "unknown"),
    "cmi.score.scaled": _decimal(-1, 1),
    "cmi.score.raw": _decimal(),
    "cmi.score.min": _decimal(),
    "cmi.score.max": _decimal(),
    "cmi.progress_measure": _decimal(0, 1),
    "cmi.location": _text(1000),
    "cmi.exit": _vocabulary("", "normal", "suspend", "time-out", "logout"),
    "cmi.session_time": _session_time(parse_iso_duration),
    "cmi.learner_preference.audio_level": _decimal(0, None),
    "cmi.learner_preference.language": _text(250),
    "cmi.learner_preference.delivery_speed": _decimal(0, None),
    "cmi.learner_preference.audio_captioning": _integer(-1, 1),
}
_READ_ONLY_12: Final = frozenset(
    {
        "cmi.core.student_id",
        "cmi.core.student_name",
        "cmi.core.credit",
        "cmi.core.entry",
        "cmi.core.total_time",
        "cmi.core.lesson_mode",
        "cmi.launch_data",
        "cmi.comments_from_lms",
        "cmi.student_data",
    }
)
_READ_ONLY_2004: Final = frozenset(
    {
        "cmi.completion_threshold",
        "cmi.credit",
        "cmi.entry",
        "cmi.launch_data",
        "cmi.learner_id",
        "cmi.learner_name",
        "cmi.max_time_allowed",
        "cmi.mode",
        "cmi.scaled_passing_score",
        "cmi.time_limit_action",
        "cmi.total_time",
        "cmi.comments_from_lms",
    }
)
_ARRAYS_12: Final = frozenset({"cmi.objectives", "cmi.interactions"})
_ARRAYS_2004: Final = frozenset({"cmi.objectives", "cmi.interactions", "cmi.comments_from_learner"})
ARRAYS: Final = _ARRAYS_12 | _ARRAYS_2004


@dataclass(frozen=True)
class Model:
    label: str
    leaves: Mapping[str, Validator]
    read_only: frozenset[str]
    arrays: frozenset[str]
    containers: frozenset[str]


def _containers(paths: Iterable[str]) -> frozenset[str]:
    return frozenset(path.rsplit(".", depth)[0] for path in paths for depth in range(1, path.count(".")))


def model_for(standard: Standard, suspend_data_limit: int | None) -> Model:
    if standard == "scorm12":
        limit = SUSPEND_DATA_LIMIT_12 if suspend_data_limit is None else suspend_data_limit
        leaves = {**_LEAVES_12, "cmi.suspend_data": _text(limit)}
        return Model("1.2", leaves, _READ_ONLY_12, _ARRAYS_12, _containers(leaves))
    if standard == "scorm2004":
        # Default to the 4th Edition limit, the one scorm-again enforces for every edition; callers that
        # know the course is 2nd/3rd Edition pass SUSPEND_DATA_LIMIT_2004.
        limit = SUSPEND_DATA_LIMIT_2004_4TH if suspend_data_limit is None else suspend_data_limit
        leaves = {**_LEAVES_2004, "cmi.suspend_data": _text(limit)}
        return Model("2004", leaves, _READ_ONLY_2004, _ARRAYS_2004, _containers(leaves))
    raise ValueError(f"unknown SCORM standard {standard!r}")
