"""The persisted run-time record of one learner on one SCO (`ScoState`) and its JSON form."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scormhub.domain.scorm.cmi import (
    CmiTree,
    Completion,
    Entry,
    Success,
)
from scormhub.domain.scorm.datamodel import (
    PATHS,
)
from scormhub.domain.scorm.package import Standard


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
        if standard not in PATHS:
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
