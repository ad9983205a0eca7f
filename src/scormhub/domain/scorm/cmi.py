"""The SCORM run-time data model's vocabulary: value types, limits, statuses and its time formats."""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable
from typing import Final, TypeAlias

from scormhub.domain.errors import DomainError

# What we store for resume is what scorm-again's loadFromJSON takes: its setters drop anything that is
# not a string, so every leaf is text, and arrays are objects keyed "0", "1", ... as scorm-again sends them.
CmiNode: TypeAlias = "str | dict[str, CmiNode]"
CmiTree: TypeAlias = "dict[str, CmiNode]"
AcceptedValue: TypeAlias = "str | float | CmiTree"
Validator: TypeAlias = Callable[[str, object], "AcceptedValue | None"]

SUSPEND_DATA_LIMIT_12: Final = 4096
SUSPEND_DATA_LIMIT_2004: Final = 4000  # 2nd and 3rd Edition
SUSPEND_DATA_LIMIT_2004_4TH: Final = 64000
# The longest span HHHH:MM:SS.SS can say; a longer 2004 session is a forged or broken clock, not a learner.
MAX_SESSION_SECONDS: Final = 9999 * 3600 + 59 * 60 + 59.99
# Bounds on the loosely checked arrays (interactions, objectives, comments): generous for real content,
# small enough that one commit cannot make a row unbounded.
MAX_ARRAY_ITEMS: Final = 1000
MAX_RECORD_DEPTH: Final = 4
MAX_RECORD_TEXT: Final = 64000
# Sessions are remembered so replays and stale tabs can be recognised; beyond this the oldest are folded
# into carried_seconds so the row stays small over years of relaunches.
MAX_TRACKED_SESSIONS: Final = 100

_MAX_TIMESPAN_CENTISECONDS: Final = round(MAX_SESSION_SECONDS * 100)
_MAX_DURATION_TEXT: Final = 64


class InvalidValue(DomainError):
    """A value that the SCORM data model does not allow for this element."""

    def __init__(self, element: str, value: object, reason: str) -> None:
        super().__init__(f"{element}: {reason}")
        self.element = element
        self.value = value
        self.reason = reason


class Completion(enum.StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class Success(enum.StrEnum):
    UNKNOWN = "unknown"
    PASSED = "passed"
    FAILED = "failed"


class Entry(enum.StrEnum):
    AB_INITIO = "ab-initio"
    RESUME = "resume"
    NONE = ""


class RejectionKind(enum.StrEnum):
    READ_ONLY = "read_only"
    INVALID = "invalid"
    UNKNOWN_ELEMENT = "unknown_element"


# ---------------------------------------------------------------------------------------------------------
# Durations

_TIMESPAN_12 = re.compile(r"([0-9]{2,4}):([0-5][0-9]):([0-5][0-9])(\.[0-9]{1,2})?")
# Only seconds may carry a fraction. Extra fraction digits are tolerated (scorm-again lets them through to
# the SCO, so rejecting them here would silently lose real time) and rounded to the 0.01 s we keep.
_DURATION_2004 = re.compile(
    r"P(?:([0-9]+)Y)?(?:([0-9]+)M)?(?:([0-9]+)D)?(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+(?:\.[0-9]+)?)S)?)?"
)
_DAY: Final = 86400
# Calendar units have no fixed length; 365 d and 30 d per the reference policy.
_DURATION_UNITS: Final = (365 * _DAY, 30 * _DAY, _DAY, 3600, 60, 1)


def parse_cmi_timespan(text: object, *, element: str = "cmi.core.session_time") -> float:
    """Seconds in a SCORM 1.2 CMITimespan, HHHH:MM:SS.SS (2-4 hour digits, up to 2 decimals)."""
    match = _TIMESPAN_12.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidValue(element, text, "expected a SCORM 1.2 timespan HHHH:MM:SS.SS")
    hours, minutes, seconds, fraction = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + float(fraction or 0)


def parse_iso_duration(text: object, *, element: str = "cmi.session_time") -> float:
    """Seconds in a SCORM 2004 ISO 8601 duration such as PT1H2M3.5S or P1DT2H."""
    fits = isinstance(text, str) and len(text) <= _MAX_DURATION_TEXT
    match = _DURATION_2004.fullmatch(text) if isinstance(text, str) and fits else None
    # "P", "PT" and "P1DT" match the pattern's optional parts but say nothing (or too little) in ISO 8601.
    if match is None or match.group(0).endswith("T") or not any(match.groups()):
        raise InvalidValue(element, text, "expected an ISO 8601 duration such as PT1H2M3.5S")
    parts = zip(match.groups(), _DURATION_UNITS, strict=True)
    return round(sum(float(part) * unit for part, unit in parts if part is not None), 2)


def _centiseconds(seconds: float, element: str) -> int:
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidValue(element, seconds, "a duration is a finite, non-negative number of seconds")
    return round(seconds * 100)


def _split_centiseconds(centiseconds: int) -> tuple[int, int, int, int]:
    hours, rest = divmod(centiseconds, 360_000)
    minutes, rest = divmod(rest, 6_000)
    seconds, hundredths = divmod(rest, 100)
    return hours, minutes, seconds, hundredths


def format_cmi_timespan(seconds: float) -> str:
    """HHHH:MM:SS.SS; capped at 9999 hours, the most the 1.2 format can say."""
    centiseconds = min(_centiseconds(seconds, "cmi.core.total_time"), _MAX_TIMESPAN_CENTISECONDS)
    hours, minutes, secs, hundredths = _split_centiseconds(centiseconds)
    return f"{hours:04d}:{minutes:02d}:{secs:02d}.{hundredths:02d}"


def format_iso_duration(seconds: float) -> str:
    """PT#H#M#S with hours as the largest unit, so no calendar assumption leaks into what we render."""
    hours, minutes, secs, hundredths = _split_centiseconds(_centiseconds(seconds, "cmi.total_time"))
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if secs or hundredths or text == "PT":
        fraction = f".{hundredths:02d}".rstrip("0") if hundredths else ""
        text += f"{secs}{fraction}S"
    return text
