"""Score and status: a SCO's completion, success and percentage from its data model values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from scormhub.domain.scorm.cmi import (
    Completion,
    InvalidValue,
    Success,
)
from scormhub.domain.scorm.datamodel import (
    COMPLETION_STATUS,
    LESSON_STATUS,
    PATHS,
    SUCCESS_STATUS,
    to_float,
)
from scormhub.domain.scorm.package import Standard


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


def number_at(values: Mapping[str, object], path: str | None) -> float | None:
    if path is None:
        return None
    try:
        return to_float(path, values.get(path))
    except InvalidValue:
        return None


def word_at(values: Mapping[str, object], path: str) -> str | None:
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
    LESSON_STATUS: frozenset({"not attempted"}),
    COMPLETION_STATUS: frozenset({"not attempted", "unknown"}),
    SUCCESS_STATUS: frozenset({"unknown"}),
}


def _is_unset(path: str, value: object) -> bool:
    return isinstance(value, str) and value in _UNSET_VALUES.get(path, frozenset())


def mastered_lesson_status(status: str | None, raw: float | None, mastery_score: float | None) -> str | None:
    """SCORM 1.2 RTE 3-24: after a SCO sets "completed", an LMS with a mastery score and a raw score
    (launched for credit) decides passed/failed by comparing the two; without either it stays completed."""
    if status == "completed" and mastery_score is not None and raw is not None:
        return "passed" if raw >= mastery_score else "failed"
    return status


def status_at_finish(
    raw: float | None, mastery_score: float | None, *, credit: bool = True, browse: bool = False
) -> str:
    """SCORM 1.2 RTE 3.4.4 (cmi.core.lesson_status): what the LMS sets when a SCO finishes without having
    set a status. In browse mode the SCO was browsed; for credit, with a mastery score and a raw score,
    the score decides passed or failed; otherwise the SCO counts as completed by being finished."""
    if browse:
        return "browsed"
    if credit and mastery_score is not None and raw is not None:
        return "passed" if raw >= mastery_score else "failed"
    return "completed"


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
        status = word_at(values, LESSON_STATUS)
        if credit:
            status = mastered_lesson_status(status, number_at(values, PATHS[standard].raw), mastery_score)
        return _LESSON_STATUS_AXES.get(status or "", (fallback, Success.UNKNOWN))
    # 2004 keeps the two axes apart: a SCO may be passed and still incomplete, or completed and failed.
    completion = {"completed": Completion.COMPLETED, "incomplete": Completion.IN_PROGRESS}.get(
        word_at(values, COMPLETION_STATUS) or "", fallback
    )
    success = {"passed": Success.PASSED, "failed": Success.FAILED}.get(
        word_at(values, SUCCESS_STATUS) or "", Success.UNKNOWN
    )
    return completion, success


def merge_status(path: str, old: str | None, new: str) -> str:
    """Within an attempt, a finished status is not taken back by a later, staler one.

    Scorm-again sends the full data model on every commit, so a second tab that loaded before the learner
    finished keeps sending "incomplete"; last-write-wins would flip a completed learner back and forth.
    A new pass/fail result still replaces an old one (a retaken test)."""
    if path == LESSON_STATUS:
        if old in ("passed", "failed", "completed") and new in ("incomplete", "browsed"):
            return old
        if old in ("passed", "failed") and new == "completed":
            return old
    if path == COMPLETION_STATUS and old == "completed":
        return old
    if path == SUCCESS_STATUS and new == "unknown" and old in ("passed", "failed"):
        return old
    return new
