"""Result overrides, the policy (the use cases are domain.override_cases): an admin sets a learner's
completion, result and score, with a reason.

The override lives with us (SCORM Cloud cannot be told a result) and wins over every later engine sync:
the engine's own newer result is kept beside it (`ResultOverride.engine`), shown on the override page,
and becomes the learner's result again only when an admin clears the override. So a learner who later
genuinely completes keeps the admin's result until someone decides otherwise — an override is a
decision, and a decision is not silently undone by a course. Every change is in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from scormhub.domain.errors import DomainError
from scormhub.domain.model import (
    EngineResult,
    Enrollment,
)
from scormhub.domain.scorm.cmi import Completion, Success

MAX_REASON = 1000
STATUS_HELP = "Choose a status: not started, in progress or completed."
SCORE_HELP = "Enter the score as a number from 0 to 100, or leave it empty."


class OverrideRejected(DomainError):
    """The override form is not usable; `field` names the field, the message says how to fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class OverrideCommand:
    completion: Completion
    success: Success
    score_percent: float | None
    reason: str
    actor: str


def parse_override(form: dict[str, str], *, actor: str) -> OverrideCommand:
    """The override form as typed, checked: every problem says what to do."""
    try:
        completion = Completion(form.get("completion", "").strip())
    except ValueError:
        raise OverrideRejected(
            "completion", "Choose a status: not started, in progress or completed."
        ) from None
    try:
        success = Success(form.get("success", "").strip() or Success.UNKNOWN.value)
    except ValueError:
        raise OverrideRejected("success", "Choose a result: passed, failed or none.") from None
    score_text = form.get("score", "").strip().removesuffix("%").strip()
    score: float | None = None
    if score_text:
        try:
            score = float(score_text.replace(",", "."))
        except ValueError:
            raise OverrideRejected(
                "score", "Enter the score as a number from 0 to 100, or leave it empty."
            ) from None
        if not 0 <= score <= 100 or score != score:
            raise OverrideRejected("score", "Enter the score as a number from 0 to 100, or leave it empty.")
    reason = clean_reason(form.get("reason", ""))
    if not reason:
        raise OverrideRejected("reason", "Say why you are changing this result; the audit log keeps it.")
    if len(reason) > MAX_REASON:
        raise OverrideRejected("reason", f"Keep the reason under {MAX_REASON} characters.")
    if completion is Completion.NOT_STARTED and (success is not Success.UNKNOWN or score is not None):
        raise OverrideRejected("completion", "A learner who has not started has no result or score.")
    return OverrideCommand(completion, success, score, reason, actor[:200] or "admin")


def clean_reason(text: str) -> str:
    """One line of text: whitespace folded, NUL bytes (which PostgreSQL text cannot hold) dropped."""
    return " ".join(text.replace("\x00", "").split())


def engine_result(enrollment: Enrollment) -> EngineResult:
    """What the engine says, whether or not an override hides it."""
    if enrollment.override is not None:
        return enrollment.override.engine
    return EngineResult(
        completion=enrollment.completion,
        success=enrollment.success,
        score_percent=enrollment.score_percent,
        score_raw=enrollment.score_raw,
        completed_at=enrollment.completed_at,
    )


def engine_view(enrollment: Enrollment) -> Enrollment:
    """The enrollment with the engine's result in place of an override (for rolling up new progress)."""
    if enrollment.override is None:
        return enrollment
    engine = enrollment.override.engine
    return replace(
        enrollment,
        completion=engine.completion,
        success=engine.success,
        score_percent=engine.score_percent,
        score_raw=engine.score_raw,
        completed_at=engine.completed_at,
    )


def keep_override(before: Enrollment, after: Enrollment) -> Enrollment:
    """New progress from an engine (`after`, computed from `before`) under an override: time, attempts and
    access dates move on, the overridden result stays, and the engine's result is kept inside it."""
    held = before.override
    if held is None:
        return after
    engine = EngineResult(
        completion=after.completion,
        success=after.success,
        score_percent=after.score_percent,
        score_raw=after.score_raw,
        completed_at=after.completed_at,
    )
    return replace(
        after,
        completion=before.completion,
        success=before.success,
        score_percent=before.score_percent,
        score_raw=before.score_raw,
        completed_at=before.completed_at,
        override=replace(held, engine=engine),
    )


def result_snapshot(enrollment: Enrollment) -> dict[str, Any]:
    """The result as the audit log shows it."""
    return {
        "completion": enrollment.completion.value,
        "success": enrollment.success.value,
        "score_percent": enrollment.score_percent,
        "overridden": enrollment.override is not None,
    }
