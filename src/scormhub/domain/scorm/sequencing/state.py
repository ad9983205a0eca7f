"""Tracking state of one learner's activity tree (SN book 4.2), and its JSON form for the database.

Global objectives live in the same state: they are scoped to one enrollment (one learner in one course),
so a map to a global objective that another course also writes never leaks between courses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATE_FORMAT = 1


@dataclass(slots=True)
class ObjectiveState:
    progress_status: bool = False  # satisfaction known
    satisfied: bool = False
    measure_status: bool = False
    measure: float = 0.0
    completion_status: bool = False  # 4th Ed: the objective's completion known
    completed: bool = False
    progress_measure_status: bool = False
    progress_measure: float = 0.0

    def clone(self) -> ObjectiveState:
        return ObjectiveState(
            self.progress_status,
            self.satisfied,
            self.measure_status,
            self.measure,
            self.completion_status,
            self.completed,
            self.progress_measure_status,
            self.progress_measure,
        )

    def to_list(self) -> list[Any]:
        return [
            self.progress_status,
            self.satisfied,
            self.measure_status,
            self.measure,
            self.completion_status,
            self.completed,
            self.progress_measure_status,
            self.progress_measure,
        ]

    @classmethod
    def from_list(cls, data: list[Any]) -> ObjectiveState:
        return cls(
            bool(data[0]),
            bool(data[1]),
            bool(data[2]),
            float(data[3]),
            bool(data[4]),
            bool(data[5]),
            bool(data[6]),
            float(data[7]),
        )


@dataclass(slots=True)
class ActivityState:
    attempt_count: int = 0
    progress_status: bool = False  # activity progress status: attempted at least once
    attempt_progress_status: bool = False  # completion known for the current attempt
    attempt_completed: bool = False
    completion_amount_status: bool = False
    completion_amount: float = 0.0
    active: bool = False
    suspended: bool = False
    objectives: dict[str, ObjectiveState] = field(default_factory=dict)  # "" is the primary
    children: list[str] | None = None  # available children after selection/randomization; None: all
    shuffled_for_attempt: int = -1  # the attempt whose selection/randomization has been done

    def clone(self) -> ActivityState:
        return ActivityState(
            self.attempt_count,
            self.progress_status,
            self.attempt_progress_status,
            self.attempt_completed,
            self.completion_amount_status,
            self.completion_amount,
            self.active,
            self.suspended,
            {k: v.clone() for k, v in self.objectives.items()},
            list(self.children) if self.children is not None else None,
            self.shuffled_for_attempt,
        )


@dataclass(slots=True)
class TreeState:
    activities: dict[str, ActivityState] = field(default_factory=dict)
    globals: dict[str, ObjectiveState] = field(default_factory=dict)
    current: str | None = None
    suspended: str | None = None
    ended: bool = False  # the last sequencing session ended (exit at the root, exitAll, end of course)
    # The root's rollup when last saved: (completion, success, scaled, progress), for the course record.
    result: tuple[str, str, float | None, float | None] | None = None

    def activity(self, identifier: str) -> ActivityState:
        found = self.activities.get(identifier)
        if found is None:
            found = self.activities[identifier] = ActivityState()
        return found

    def clone(self) -> TreeState:
        return TreeState(
            {k: v.clone() for k, v in self.activities.items()},
            {k: v.clone() for k, v in self.globals.items()},
            self.current,
            self.suspended,
            self.ended,
            self.result,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "current": self.current,
            "suspended": self.suspended,
            "ended": self.ended,
            "result": list(self.result) if self.result is not None else None,
            "globals": {k: v.to_list() for k, v in self.globals.items()},
            "activities": {
                k: {
                    "n": a.attempt_count,
                    "p": [
                        a.progress_status,
                        a.attempt_progress_status,
                        a.attempt_completed,
                        a.completion_amount_status,
                        a.completion_amount,
                        a.active,
                        a.suspended,
                    ],
                    "o": {ok: ov.to_list() for ok, ov in a.objectives.items()},
                    "c": a.children,
                    "r": a.shuffled_for_attempt,
                }
                for k, a in self.activities.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TreeState:
        if data.get("format") != STATE_FORMAT:
            return cls()
        activities = {}
        for key, raw in data.get("activities", {}).items():
            p = raw["p"]
            activities[key] = ActivityState(
                attempt_count=int(raw["n"]),
                progress_status=bool(p[0]),
                attempt_progress_status=bool(p[1]),
                attempt_completed=bool(p[2]),
                completion_amount_status=bool(p[3]),
                completion_amount=float(p[4]),
                active=bool(p[5]),
                suspended=bool(p[6]),
                objectives={ok: ObjectiveState.from_list(ov) for ok, ov in raw.get("o", {}).items()},
                children=list(raw["c"]) if raw.get("c") is not None else None,
                shuffled_for_attempt=int(raw.get("r", -1)),
            )
        return cls(
            activities=activities,
            globals={k: ObjectiveState.from_list(v) for k, v in data.get("globals", {}).items()},
            current=data.get("current"),
            suspended=data.get("suspended"),
            ended=bool(data.get("ended", False)),
            result=_result(data.get("result")),
        )


def _result(data: Any) -> tuple[str, str, float | None, float | None] | None:
    if not isinstance(data, list) or len(data) != 4:
        return None
    completion, success, scaled, progress = data
    return (
        str(completion),
        str(success),
        float(scaled) if scaled is not None else None,
        float(progress) if progress is not None else None,
    )
