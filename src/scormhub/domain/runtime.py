"""SCORM run-time data: validate what a SCO commits, count time and attempts, roll SCOs up to a course."""

from __future__ import annotations

import copy
import enum
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from statistics import fmean
from typing import Any, Final, Literal, NamedTuple, TypeAlias

from scormhub.domain.errors import DomainError

Standard: TypeAlias = Literal["scorm12", "scorm2004"]
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
_PREVIEW_CHARS: Final = 200


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


# ---------------------------------------------------------------------------------------------------------
# Validation of one commit


@dataclass(frozen=True)
class RejectedValue:
    element: str
    value: object
    reason: str
    kind: RejectionKind = RejectionKind.INVALID


@dataclass(frozen=True)
class CommitResult:
    """What survived validation (normalised: decimals as float, session time as seconds) and what did not."""

    accepted: dict[str, AcceptedValue]
    rejected: list[RejectedValue]

    @property
    def problems(self) -> list[RejectedValue]:
        """Rejections worth a log line: read-only echoes are in every full commit and mean nothing."""
        return [r for r in self.rejected if r.kind is not RejectionKind.READ_ONLY]


_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_INTEGER = re.compile(r"-?[0-9]{1,6}")
_ARRAY_INDEX = re.compile(r"[0-9]{1,4}")
_RECORD_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}|[0-9]{1,4}")


# PostgreSQL can store no NUL character (in text or JSON), and no real SCO writes one.
_NUL_REASON = "contains a NUL character, which can't be stored"


def _preview(value: object) -> object:
    """Keeps rejections small and printable: a 5 MB suspend_data or a 10**5000 must not reach a log."""
    if isinstance(value, str) and len(value) > _PREVIEW_CHARS:
        return value[:_PREVIEW_CHARS] + f"… ({len(value)} characters)"
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if abs(value) < 10**18 else "<integer too large to show>"
    if isinstance(value, Mapping | list):
        return f"<{type(value).__name__} with {len(value)} entries>"
    return value if isinstance(value, str) else f"<{type(value).__name__}>"


def _to_float(element: str, value: object) -> float | None:
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


def _decimal_text(number: float) -> str:
    """Plain positional notation: scorm-again's decimal patterns have no exponent."""
    text = format(Decimal(repr(number)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _range_text(low: float | None, high: float | None) -> str:
    return f"{'' if low is None else f'{low:g}'}..{'' if high is None else f'{high:g}'}"


def _decimal(low: float | None = None, high: float | None = None) -> Validator:
    def check(element: str, value: object) -> float | None:
        number = _to_float(element, value)
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
            raise InvalidValue(element, value, _NUL_REASON)
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
class _Paths:
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


_LESSON_STATUS: Final = "cmi.core.lesson_status"
_COMPLETION_STATUS: Final = "cmi.completion_status"
_SUCCESS_STATUS: Final = "cmi.success_status"

_PATHS: Final[Mapping[str, _Paths]] = {
    "scorm12": _Paths(
        status=(_LESSON_STATUS,),
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
    "scorm2004": _Paths(
        status=(_COMPLETION_STATUS, _SUCCESS_STATUS),
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
    _LESSON_STATUS: _vocabulary(
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
    _COMPLETION_STATUS: _vocabulary("completed", "incomplete", "not attempted", "unknown"),
    _SUCCESS_STATUS: _vocabulary("passed", "failed", "unknown"),
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
_ARRAYS: Final = _ARRAYS_12 | _ARRAYS_2004


@dataclass(frozen=True)
class _Model:
    label: str
    leaves: Mapping[str, Validator]
    read_only: frozenset[str]
    arrays: frozenset[str]
    containers: frozenset[str]


def _containers(paths: Iterable[str]) -> frozenset[str]:
    return frozenset(path.rsplit(".", depth)[0] for path in paths for depth in range(1, path.count(".")))


def _model(standard: Standard, suspend_data_limit: int | None) -> _Model:
    if standard == "scorm12":
        limit = SUSPEND_DATA_LIMIT_12 if suspend_data_limit is None else suspend_data_limit
        leaves = {**_LEAVES_12, "cmi.suspend_data": _text(limit)}
        return _Model("1.2", leaves, _READ_ONLY_12, _ARRAYS_12, _containers(leaves))
    if standard == "scorm2004":
        # Default to the 4th Edition limit, the one scorm-again enforces for every edition; callers that
        # know the course is 2nd/3rd Edition pass SUSPEND_DATA_LIMIT_2004.
        limit = SUSPEND_DATA_LIMIT_2004_4TH if suspend_data_limit is None else suspend_data_limit
        leaves = {**_LEAVES_2004, "cmi.suspend_data": _text(limit)}
        return _Model("2004", leaves, _READ_ONLY_2004, _ARRAYS_2004, _containers(leaves))
    raise ValueError(f"unknown SCORM standard {standard!r}")


def _cmi_root(payload: object) -> object:
    """The cmi object itself, whether we got it bare, as {"cmi": ...}, or in the common commit fields."""
    if isinstance(payload, Mapping):
        runtime_data = payload.get("runtimeData")
        if isinstance(runtime_data, Mapping):
            payload = runtime_data
    if isinstance(payload, Mapping) and isinstance(payload.get("cmi"), Mapping):
        return payload["cmi"]
    return payload


def validate_commit(
    standard: Standard, cmi: Mapping[str, Any], *, suspend_data_limit: int | None = None
) -> CommitResult:
    """Checks every value of one scorm-again json commit against the data model; never raises on input."""
    model = _model(standard, suspend_data_limit)
    result = CommitResult(accepted={}, rejected=[])
    root = _cmi_root(cmi)
    if isinstance(root, Mapping):
        _walk(root, "cmi", model, result)
    else:
        result.rejected.append(RejectedValue("cmi", _preview(root), "expected an object"))
    return result


def _walk(node: Mapping[Any, Any], path: str, model: _Model, result: CommitResult) -> None:
    for key, value in node.items():
        if not isinstance(key, str) or not key or "." in key:
            shown = key if isinstance(key, str) else f"<{type(key).__name__}>"
            result.rejected.append(
                RejectedValue(
                    f"{path}.{shown}", _preview(value), "not a data model name", RejectionKind.INVALID
                )
            )
            continue
        element = f"{path}.{key}"
        if key.startswith("_") or element in model.read_only:
            # LMS-owned (or a keyword like _children): scorm-again echoes them in every full commit.
            result.rejected.append(
                RejectedValue(element, _preview(value), "read-only", RejectionKind.READ_ONLY)
            )
        elif element in model.arrays:
            _walk_array(element, value, result)
        elif element in model.leaves:
            _check_leaf(element, value, model.leaves[element], result)
        elif element in model.containers and isinstance(value, Mapping):
            _walk(value, element, model, result)
        elif element in model.containers:
            result.rejected.append(RejectedValue(element, _preview(value), "expected an object"))
        else:
            reason = f"not in the SCORM {model.label} data model"
            result.rejected.append(
                RejectedValue(element, _preview(value), reason, RejectionKind.UNKNOWN_ELEMENT)
            )


def _check_leaf(element: str, value: object, check: Validator, result: CommitResult) -> None:
    try:
        normalised = check(element, value)
    except InvalidValue as error:
        result.rejected.append(RejectedValue(element, _preview(value), error.reason))
        return
    if normalised is not None:
        result.accepted[element] = normalised


def _walk_array(element: str, value: object, result: CommitResult) -> None:
    """Interactions, objectives and comments are kept for resume and checked only for shape and size."""
    items: Iterable[tuple[object, object]]
    if isinstance(value, list):
        items = enumerate(value)
    elif isinstance(value, Mapping):
        items = value.items()
    else:
        result.rejected.append(RejectedValue(element, _preview(value), "expected a list of records"))
        return
    if len(value) > MAX_ARRAY_ITEMS:
        reason = f"{len(value)} records, over the limit of {MAX_ARRAY_ITEMS}"
        result.rejected.append(RejectedValue(element, _preview(value), reason))
        return
    records: CmiTree = {}
    for index, item in items:
        text_index = str(index) if isinstance(index, int) else index
        if not isinstance(text_index, str) or not _ARRAY_INDEX.fullmatch(text_index):
            shown = text_index if isinstance(text_index, str) else f"<{type(text_index).__name__}>"
            result.rejected.append(RejectedValue(f"{element}.{shown}", _preview(item), "not an array index"))
            continue
        item_element = f"{element}.{int(text_index)}"
        if int(text_index) >= MAX_ARRAY_ITEMS:
            result.rejected.append(RejectedValue(item_element, _preview(item), "index past the record limit"))
            continue
        try:
            records[str(int(text_index))] = _record(item_element, item, depth=1)
        except InvalidValue as error:
            where = "" if error.element == item_element else f" at {error.element}"
            result.rejected.append(RejectedValue(item_element, _preview(item), f"{error.reason}{where}"))
    result.accepted[element] = records


def _record(element: str, value: object, *, depth: int) -> CmiTree:
    if isinstance(value, list):
        value = dict(enumerate(value))
    if not isinstance(value, Mapping):
        raise InvalidValue(element, value, "expected a record")
    if depth > MAX_RECORD_DEPTH or len(value) > MAX_ARRAY_ITEMS:
        raise InvalidValue(element, value, "record too deep or too large")
    record: CmiTree = {}
    for key, child in value.items():
        name = str(key) if isinstance(key, int) and not isinstance(key, bool) and 0 <= key < 10**4 else key
        if not isinstance(name, str) or not _RECORD_KEY.fullmatch(name):
            raise InvalidValue(element, value, "record has a name that is not a data model name")
        if child is None:
            continue
        child_element = f"{element}.{name}"
        if isinstance(child, Mapping | list):
            record[name] = _record(child_element, child, depth=depth + 1)
        else:
            record[name] = _record_text(child_element, child)
    # scorm-again needs id and type set before the other fields of an interaction when it loads them.
    return {key: record[key] for key in sorted(record, key=lambda k: (k not in ("id", "type"), k != "id"))}


def _record_text(element: str, value: object) -> str:
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidValue(element, value, _NUL_REASON)
        if len(value) > MAX_RECORD_TEXT:
            raise InvalidValue(element, value, f"longer than {MAX_RECORD_TEXT} characters")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(element, value, "expected text or a number")
    number = _to_float(element, value)
    return "" if number is None else _decimal_text(number)


# ---------------------------------------------------------------------------------------------------------
# Score and status


def percent_score(
    scaled: float | None, raw: float | None, mn: float | None, mx: float | None, standard: Standard
) -> float | None:
    """The reference §2 percentage policy, verbatim."""
    if scaled is not None:  # 2004 only; authoritative
        return max(0.0, min(100.0, scaled * 100))
    if raw is None:
        return None
    lo = mn if mn is not None else 0.0
    hi = mx if mx is not None else (100.0 if standard == "scorm12" else None)
    if hi is not None and hi > lo:
        return max(0.0, min(100.0, (raw - lo) / (hi - lo) * 100))
    return max(0.0, min(100.0, raw)) if 0 <= raw <= 100 else None  # heuristic: raw is already a percentage


def _number(values: Mapping[str, object], path: str | None) -> float | None:
    if path is None:
        return None
    try:
        return _to_float(path, values.get(path))
    except InvalidValue:
        return None


def _word(values: Mapping[str, object], path: str) -> str | None:
    value = values.get(path)
    return value if isinstance(value, str) else None


_LESSON_STATUS_AXES: Final[Mapping[str, tuple[Completion, Success]]] = {
    "passed": (Completion.COMPLETED, Success.PASSED),
    "failed": (Completion.COMPLETED, Success.FAILED),
    "completed": (Completion.COMPLETED, Success.UNKNOWN),
    "incomplete": (Completion.IN_PROGRESS, Success.UNKNOWN),
    # browsed: the learner viewed the SCO in browse mode; it is not credited, so never completed or passed.
    "browsed": (Completion.IN_PROGRESS, Success.UNKNOWN),
}
# Values that only say "nothing happened yet"; anything else means the SCO has reported something.
_UNSET_VALUES: Final[Mapping[str, frozenset[str]]] = {
    _LESSON_STATUS: frozenset({"not attempted"}),
    _COMPLETION_STATUS: frozenset({"not attempted", "unknown"}),
    _SUCCESS_STATUS: frozenset({"unknown"}),
}


def _is_unset(path: str, value: object) -> bool:
    return isinstance(value, str) and value in _UNSET_VALUES.get(path, frozenset())


def _mastered_lesson_status(status: str | None, raw: float | None, mastery_score: float | None) -> str | None:
    """SCORM 1.2 RTE 3-24: after a SCO sets "completed", an LMS with a mastery score and a raw score
    (launched for credit) decides passed/failed by comparing the two; without either it stays completed."""
    if status == "completed" and mastery_score is not None and raw is not None:
        return "passed" if raw >= mastery_score else "failed"
    return status


def map_status(
    standard: Standard,
    values: Mapping[str, object],
    *,
    mastery_score: float | None = None,
    credit: bool = True,
) -> tuple[Completion, Success]:
    """Our completion and success from one SCO's data model values (element path -> value)."""
    started = any(not _is_unset(path, value) for path, value in values.items())
    fallback = Completion.IN_PROGRESS if started else Completion.NOT_STARTED
    if standard == "scorm12":
        status = _word(values, _LESSON_STATUS)
        if credit:
            status = _mastered_lesson_status(status, _number(values, _PATHS[standard].raw), mastery_score)
        return _LESSON_STATUS_AXES.get(status or "", (fallback, Success.UNKNOWN))
    # 2004 keeps the two axes apart: a SCO may be passed and still incomplete, or completed and failed.
    completion = {"completed": Completion.COMPLETED, "incomplete": Completion.IN_PROGRESS}.get(
        _word(values, _COMPLETION_STATUS) or "", fallback
    )
    success = {"passed": Success.PASSED, "failed": Success.FAILED}.get(
        _word(values, _SUCCESS_STATUS) or "", Success.UNKNOWN
    )
    return completion, success


def _merge_status(path: str, old: str | None, new: str) -> str:
    """Within an attempt, a finished status is not taken back by a later, staler one.

    Scorm-again sends the full data model on every commit, so a second tab that loaded before the learner
    finished keeps sending "incomplete"; last-write-wins would flip a completed learner back and forth.
    A new pass/fail result still replaces an old one (a retaken test)."""
    if path == _LESSON_STATUS:
        if old in ("passed", "failed", "completed") and new in ("incomplete", "browsed"):
            return old
        if old in ("passed", "failed") and new == "completed":
            return old
    if path == _COMPLETION_STATUS and old == "completed":
        return old
    if path == _SUCCESS_STATUS and new == "unknown" and old in ("passed", "failed"):
        return old
    return new


# ---------------------------------------------------------------------------------------------------------
# Per-SCO state, sessions and attempts


@dataclass(frozen=True)
class SessionTrack:
    """The latest session_time one launch reported, and whether it has terminated."""

    attempt: int
    seconds: float = 0.0
    ended: bool = False
    opened_at: datetime | None = None  # when we first saw the launch: it cannot have lasted longer


@dataclass(frozen=True)
class ScoState:
    """The validated run-time record of one learner on one SCO, as we persist it."""

    standard: Standard
    completion: Completion = Completion.NOT_STARTED
    success: Success = Success.UNKNOWN
    score_raw: float | None = None
    score_min: float | None = None
    score_max: float | None = None
    score_scaled: float | None = None
    score_percent: float | None = None
    progress_measure: float | None = None
    location: str = ""  # cmi.core.lesson_location in 1.2, cmi.location in 2004
    suspend_data: str = ""
    exit: str = ""
    entry: Entry = Entry.AB_INITIO
    session_seconds_total: float = 0.0  # 1.2: every session; 2004: the current attempt's sessions
    attempt: int = 0  # 0 until the first launch
    attempt_closed: bool = False
    sessions: Mapping[str, SessionTrack] = field(default_factory=dict)
    carried_seconds: float = 0.0  # time counted in the total but no longer listed in sessions
    first_access_at: datetime | None = None
    last_access_at: datetime | None = None
    completed_at: datetime | None = None
    cmi: CmiTree = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; sessions become a list so their order survives jsonb."""
        return {
            "standard": self.standard,
            "completion": self.completion.value,
            "success": self.success.value,
            "score_raw": self.score_raw,
            "score_min": self.score_min,
            "score_max": self.score_max,
            "score_scaled": self.score_scaled,
            "score_percent": self.score_percent,
            "progress_measure": self.progress_measure,
            "location": self.location,
            "suspend_data": self.suspend_data,
            "exit": self.exit,
            "entry": self.entry.value,
            "session_seconds_total": self.session_seconds_total,
            "attempt": self.attempt,
            "attempt_closed": self.attempt_closed,
            "sessions": [
                {
                    "id": session_id,
                    "attempt": t.attempt,
                    "seconds": t.seconds,
                    "ended": t.ended,
                    "opened_at": _iso(t.opened_at),
                }
                for session_id, t in self.sessions.items()
            ],
            "carried_seconds": self.carried_seconds,
            "first_access_at": _iso(self.first_access_at),
            "last_access_at": _iso(self.last_access_at),
            "completed_at": _iso(self.completed_at),
            "cmi": copy.deepcopy(self.cmi),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoState:
        standard = data["standard"]
        if standard not in _PATHS:
            raise ValueError(f"unknown SCORM standard {standard!r}")
        return cls(
            standard=standard,
            completion=Completion(data.get("completion", Completion.NOT_STARTED)),
            success=Success(data.get("success", Success.UNKNOWN)),
            score_raw=data.get("score_raw"),
            score_min=data.get("score_min"),
            score_max=data.get("score_max"),
            score_scaled=data.get("score_scaled"),
            score_percent=data.get("score_percent"),
            progress_measure=data.get("progress_measure"),
            location=data.get("location", ""),
            suspend_data=data.get("suspend_data", ""),
            exit=data.get("exit", ""),
            entry=Entry(data.get("entry", Entry.AB_INITIO)),
            session_seconds_total=float(data.get("session_seconds_total", 0.0)),
            attempt=int(data.get("attempt", 0)),
            attempt_closed=bool(data.get("attempt_closed", False)),
            sessions={
                s["id"]: SessionTrack(
                    int(s["attempt"]),
                    float(s["seconds"]),
                    bool(s["ended"]),
                    _from_iso(s.get("opened_at")),
                )
                for s in data.get("sessions", [])
            },
            carried_seconds=float(data.get("carried_seconds", 0.0)),
            first_access_at=_from_iso(data.get("first_access_at")),
            last_access_at=_from_iso(data.get("last_access_at")),
            completed_at=_from_iso(data.get("completed_at")),
            cmi=copy.deepcopy(dict(data.get("cmi", {}))),
        )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _from_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class SessionStart(NamedTuple):
    state: ScoState
    entry: Entry
    new_attempt: bool


@dataclass(frozen=True)
class Applied:
    """The commit was merged; rejected values were left out and the rest kept."""

    state: ScoState
    rejected: tuple[RejectedValue, ...] = ()


@dataclass(frozen=True)
class AttemptFinished:
    """The commit belongs to an attempt that is over; nothing was stored (answer "attempt finished")."""

    state: ScoState
    session_id: str


@dataclass(frozen=True)
class SessionEnded:
    """The session already terminated and its attempt is suspended; a late or replayed commit is dropped."""

    state: ScoState
    session_id: str


CommitOutcome: TypeAlias = Applied | AttemptFinished | SessionEnded


def _check_standard(state: ScoState, standard: Standard) -> None:
    if state.standard != standard:
        raise ValueError(f"state is {state.standard}, commit is {standard}")


def _total_seconds(state: ScoState) -> float:
    current = (track.seconds for track in state.sessions.values() if track.attempt == state.attempt)
    return state.carried_seconds + math.fsum(current)


def _next_attempt(state: ScoState) -> ScoState:
    if state.standard == "scorm12":
        # 1.2 has no learner attempts in the data model: the data carries over and the time keeps adding up.
        return replace(
            state,
            attempt=state.attempt + 1,
            attempt_closed=False,
            exit="",
            carried_seconds=state.session_seconds_total,
        )
    # SCORM 2004 begins every new learner attempt with a fresh data model, total_time included.
    return ScoState(
        standard=state.standard,
        attempt=state.attempt + 1,
        sessions=state.sessions,
        first_access_at=state.first_access_at,
        last_access_at=state.last_access_at,
    )


def _believable_seconds(
    state: ScoState, session_id: str, track: SessionTrack, claimed: float, now: datetime | None
) -> float:
    """The session_time a SCO reports is the learner's word: cap it by the time the launch has been open,
    and the SCO's whole time by the time since it was first opened (many launches at once add no more)."""
    if now is None:
        return claimed
    bound = claimed
    if track.opened_at is not None:
        bound = min(bound, (now - track.opened_at).total_seconds())
    if state.first_access_at is not None:
        known = state.sessions.get(session_id)
        own = known.seconds if known is not None and known.attempt == state.attempt else 0.0
        others = _total_seconds(state) - own
        bound = min(bound, (now - state.first_access_at).total_seconds() - others)
    return max(0.0, bound)


def _with_session(state: ScoState, session_id: str, track: SessionTrack) -> ScoState:
    sessions = {**state.sessions, session_id: track}
    carried = state.carried_seconds
    while len(sessions) > MAX_TRACKED_SESSIONS:
        others = [sid for sid in sessions if sid != session_id]
        victim = next((sid for sid in others if sessions[sid].ended), others[0])
        dropped = sessions.pop(victim)
        if dropped.attempt == state.attempt:
            carried += dropped.seconds
    merged = replace(state, sessions=sessions, carried_seconds=carried)
    return replace(merged, session_seconds_total=_total_seconds(merged))


def start_session(
    previous: ScoState | None,
    *,
    standard: Standard,
    session_id: str | None = None,
    now: datetime | None = None,
) -> SessionStart:
    """Decides cmi.entry for a launch and whether it begins a new attempt; binds the session to it.

    Give every launch a new session_id: a known id keeps the attempt it was first seen in."""
    state = previous if previous is not None else ScoState(standard=standard)
    _check_standard(state, standard)
    if state.attempt == 0:
        entry, new_attempt = Entry.AB_INITIO, True
        state = replace(state, attempt=1)
    elif state.attempt_closed:
        # 2004 defines ab-initio as the first access in a learner attempt; 1.2 only for the very first.
        entry = Entry.AB_INITIO if standard == "scorm2004" else Entry.NONE
        new_attempt = True
        state = _next_attempt(state)
    else:
        # An attempt left without a terminate (a closed tab) stays open: losing progress is the worse error.
        entry = Entry.RESUME if state.exit == "suspend" else Entry.NONE
        new_attempt = False
    if session_id is not None and session_id not in state.sessions:
        state = _with_session(state, session_id, SessionTrack(attempt=state.attempt, opened_at=now))
    state = replace(
        state,
        entry=entry,
        session_seconds_total=_total_seconds(state),
        first_access_at=state.first_access_at or now,
        last_access_at=now or state.last_access_at,
    )
    return SessionStart(state, entry, new_attempt)


def _ignored(state: ScoState, session_id: str) -> AttemptFinished | SessionEnded | None:
    track = state.sessions.get(session_id)
    if track is None:
        return None
    if track.attempt != state.attempt:
        return AttemptFinished(state, session_id)
    if track.ended:
        return AttemptFinished(state, session_id) if state.attempt_closed else SessionEnded(state, session_id)
    return None


def _flatten(tree: Mapping[str, CmiNode], prefix: str = "cmi") -> dict[str, CmiNode]:
    flat: dict[str, CmiNode] = {}
    for key, node in tree.items():
        path = f"{prefix}.{key}"
        if isinstance(node, dict) and path not in _ARRAYS:
            flat.update(_flatten(node, path))
        else:
            flat[path] = copy.deepcopy(node)
    return flat


def _unflatten(flat: Mapping[str, CmiNode]) -> CmiTree:
    tree: CmiTree = {}
    for path, node in flat.items():
        *parents, leaf = path.split(".")[1:]
        branch = tree
        for name in parents:
            child = branch.setdefault(name, {})
            if not isinstance(child, dict):
                child = branch[name] = {}
            branch = child
        branch[leaf] = node
    return tree


def _deep_merge(old: CmiNode | None, new: CmiTree) -> CmiTree:
    merged: CmiTree = copy.deepcopy(old) if isinstance(old, dict) else {}
    for key, node in new.items():
        merged[key] = _deep_merge(merged.get(key), node) if isinstance(node, dict) else node
    return merged


def _merged_values(
    state: ScoState, commit: CommitResult, paths: _Paths, mastery: float | None
) -> dict[str, CmiNode]:
    values = _flatten(state.cmi)
    incoming = {p: v for p, v in commit.accepted.items() if p not in paths.transient}
    for path, value in incoming.items():
        if isinstance(value, dict):
            values[path] = _deep_merge(values.get(path), value)
        elif isinstance(value, float):
            values[path] = _decimal_text(value)
        elif path not in paths.status:
            values[path] = value
    for path in paths.status:
        new = incoming.get(path)
        if isinstance(new, str):
            if path == _LESSON_STATUS:
                new = _mastered_lesson_status(new, _number(values, paths.raw), mastery) or new
            old = values.get(path)
            values[path] = _merge_status(path, old if isinstance(old, str) else None, new)
    return values


def apply_commit(
    previous: ScoState | None,
    commit: CommitResult,
    *,
    standard: Standard,
    session_id: str,
    is_final: bool,
    mastery_score: float | None,
    now: datetime | None = None,
) -> CommitOutcome:
    """Merges one validated commit into the SCO's state, counting each session's time once."""
    state = previous if previous is not None else ScoState(standard=standard)
    _check_standard(state, standard)
    if (ignored := _ignored(state, session_id)) is not None:
        return ignored
    if state.attempt == 0:  # a commit without a launch we saw: treat it as the first launch
        state = start_session(state, standard=standard).state
    paths = _PATHS[standard]
    values = _merged_values(state, commit, paths, mastery_score)
    completion, success = map_status(standard, values, mastery_score=mastery_score)
    if standard == "scorm12" and completion is Completion.COMPLETED and success is not Success.UNKNOWN:
        values[_LESSON_STATUS] = success.value  # the LMS's mastery decision is what the SCO reads back
    # A session id we never handed out is first seen now, so a forged one has been open for no time.
    track = state.sessions.get(session_id) or SessionTrack(attempt=state.attempt, opened_at=now)
    session_time = commit.accepted.get(paths.session_time)
    if isinstance(session_time, float):
        # The largest value, not the last to arrive: autocommits can land out of order.
        believable = _believable_seconds(state, session_id, track, session_time, now)
        track = replace(track, seconds=max(track.seconds, believable))
    exit_value = commit.accepted.get(paths.exit)
    exit_text = exit_value if isinstance(exit_value, str) else state.exit
    if is_final:
        track = replace(track, ended=True)
    if session_id in state.sessions:
        # Ids we never handed out are not tracked: made up by the hundred, they would push out real ones.
        state = _with_session(state, session_id, track)
    raw, mn, mx, scaled = (_number(values, p) for p in (paths.raw, paths.min, paths.max, paths.scaled))
    state = replace(
        state,
        cmi=_unflatten(values),
        completion=completion,
        success=success,
        score_raw=raw,
        score_min=mn,
        score_max=mx,
        score_scaled=scaled,
        score_percent=percent_score(scaled, raw, mn, mx, standard),
        progress_measure=_number(values, paths.progress),
        location=_word(values, paths.location) or "",
        suspend_data=_word(values, paths.suspend_data) or "",
        exit=exit_text,
        attempt_closed=(exit_text != "suspend") if is_final else state.attempt_closed,
        first_access_at=state.first_access_at or now,
        last_access_at=now or state.last_access_at,
        completed_at=state.completed_at or (now if completion is Completion.COMPLETED else None),
    )
    return Applied(state, tuple(commit.rejected))


def resume_cmi(state: ScoState) -> CmiTree:
    """The tree to hand scorm-again's loadFromJSON before Initialize: stored values plus entry and total."""
    paths = _PATHS[state.standard]
    flat = _flatten(state.cmi)
    flat[paths.entry] = state.entry.value
    total = state.session_seconds_total
    flat[paths.total_time] = (
        format_cmi_timespan(total) if state.standard == "scorm12" else format_iso_duration(total)
    )
    return _unflatten(flat)


# ---------------------------------------------------------------------------------------------------------
# Course rollup


@dataclass(frozen=True)
class CourseProgress:
    completion: Completion
    success: Success
    score_percent: float | None
    score_raw: float | None
    total_seconds: float
    attempts: int = 0
    first_access_at: datetime | None = None
    last_access_at: datetime | None = None
    completed_at: datetime | None = None


def _rollup_completion(scos: Sequence[ScoState | None]) -> Completion:
    if scos and all(s is not None and s.completion is Completion.COMPLETED for s in scos):
        return Completion.COMPLETED
    if any(s is not None and s.completion is not Completion.NOT_STARTED for s in scos):
        return Completion.IN_PROGRESS
    return Completion.NOT_STARTED


def _rollup_success(
    standard: Standard,
    scos: Sequence[ScoState | None],
    completion: Completion,
    percent: float | None,
    mastery_score: float | None,
) -> Success:
    results = [s.success for s in scos if s is not None]
    if Success.FAILED in results:
        return Success.FAILED
    if Success.PASSED in results:
        # Passed once nothing left could still fail: every other SCO is done (content SCOs report no
        # result, so they count when completed). A single SCO is simply its own result.
        settled = all(
            s is not None and (s.success is Success.PASSED or s.completion is Completion.COMPLETED)
            for s in scos
        )
        return Success.PASSED if settled else Success.UNKNOWN
    # 1.2 defines no course result; with a course mastery score, judge the average once everything is done.
    # A single SCO already had its mastery applied by map_status, so this is for multi-SCO courses only.
    multi_sco_12 = standard == "scorm12" and len(scos) > 1
    if (
        multi_sco_12
        and completion is Completion.COMPLETED
        and mastery_score is not None
        and percent is not None
    ):
        return Success.PASSED if percent >= mastery_score else Success.FAILED
    return Success.UNKNOWN


def _rollup_raw(launched: Sequence[ScoState]) -> float | None:
    scored = [s for s in launched if s.score_raw is not None]
    # Raw scores on different scales do not average into anything meaningful.
    if not scored or len({(s.score_min, s.score_max) for s in scored}) > 1:
        return None
    return fmean(s.score_raw for s in scored if s.score_raw is not None)


def rollup(
    standard: Standard, scos: Sequence[ScoState | None], mastery_score: float | None = None
) -> CourseProgress:
    """Course-level progress from one entry per SCO of the organisation (None: never launched).

    Policy for 1.2 and for 2004 without the runtime's own rollup: all SCOs completed -> completed; any
    started -> in progress; failed if any SCO failed; passed per _rollup_success; the score is the mean of
    the SCOs that have a percentage; time is the sum."""
    launched = [s for s in scos if s is not None]
    completion = _rollup_completion(scos)
    percents = [s.score_percent for s in launched if s.score_percent is not None]
    percent = fmean(percents) if percents else None
    return CourseProgress(
        completion=completion,
        success=_rollup_success(standard, scos, completion, percent, mastery_score),
        score_percent=percent,
        score_raw=_rollup_raw(launched),
        total_seconds=math.fsum(s.session_seconds_total for s in launched),
        attempts=max((s.attempt for s in launched), default=0),
        first_access_at=min((s.first_access_at for s in launched if s.first_access_at), default=None),
        last_access_at=max((s.last_access_at for s in launched if s.last_access_at), default=None),
        completed_at=_rollup_completed_at(scos) if completion is Completion.COMPLETED else None,
    )


def _rollup_completed_at(scos: Sequence[ScoState | None]) -> datetime | None:
    """The course was completed when its last SCO was; unknown if any SCO's date is."""
    dates = [s.completed_at for s in scos if s is not None and s.completed_at is not None]
    return max(dates) if dates and len(dates) == len(scos) else None
