"""Entities of what admins do with results — overrides and their audit log, question answers — split
from domain.model by size; domain.model re-exports them, and like it they import only the SCORM types."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from scormhub.domain.scorm.cmi import Completion, Success


@dataclass(frozen=True)
class EngineResult:
    """The result an engine reported, kept aside while an admin's override stands."""

    completion: Completion
    success: Success
    score_percent: float | None
    score_raw: float | None
    completed_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "completion": self.completion.value,
            "success": self.success.value,
            "score_percent": self.score_percent,
            "score_raw": self.score_raw,
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineResult:
        completed = data.get("completed_at")
        return cls(
            completion=Completion(data.get("completion", Completion.NOT_STARTED.value)),
            success=Success(data.get("success", Success.UNKNOWN.value)),
            score_percent=data.get("score_percent"),
            score_raw=data.get("score_raw"),
            completed_at=datetime.fromisoformat(completed) if completed else None,
        )


@dataclass(frozen=True)
class ResultOverride:
    """An admin's word on a learner's result, with why, who and when; `engine` is what the course says."""

    completion: Completion
    success: Success
    score_percent: float | None
    reason: str
    set_by: str
    set_at: datetime
    engine: EngineResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "completion": self.completion.value,
            "success": self.success.value,
            "score_percent": self.score_percent,
            "reason": self.reason,
            "set_by": self.set_by,
            "set_at": self.set_at.isoformat(),
            "engine": self.engine.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResultOverride:
        return cls(
            completion=Completion(data["completion"]),
            success=Success(data["success"]),
            score_percent=data.get("score_percent"),
            reason=str(data.get("reason", "")),
            set_by=str(data.get("set_by", "")),
            set_at=datetime.fromisoformat(data["set_at"]),
            engine=EngineResult.from_dict(dict(data.get("engine") or {})),
        )


@dataclass(frozen=True)
class OverrideAuditEntry:
    """One change to a learner's result made by an admin: who, when, why, and the result before and after."""

    id: UUID
    workspace_id: UUID
    enrollment_id: UUID
    action: str  # "set" | "cleared"
    actor: str
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]
    at: datetime


class Verdict(enum.StrEnum):
    CORRECT = "correct"
    INCORRECT = "incorrect"
    UNJUDGED = "unjudged"  # neutral, unanticipated, a numeric result, or nothing to compare with


@dataclass(frozen=True)
class Answer:
    """One interaction as the content reported it."""

    question_id: str
    kind: str
    response: str
    result: str
    correct_responses: tuple[str, ...] = ()
    description: str = ""

    @property
    def verdict(self) -> Verdict:
        result = self.result.strip().lower()
        if result == "correct":
            return Verdict.CORRECT
        if result in ("wrong", "incorrect"):  # 1.2 says wrong, 2004 incorrect
            return Verdict.INCORRECT
        if not result and self.correct_responses and self.response:
            # No verdict from the content, but the correct pattern was given: compare with it.
            return Verdict.CORRECT if self.response in self.correct_responses else Verdict.INCORRECT
        return Verdict.UNJUDGED
