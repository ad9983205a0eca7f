"""From sequencing to the course record: the SCO's committed state as a run-time report, the root's
rollup kept with the state, and the course progress it decides (status, result and score)."""

from __future__ import annotations

from dataclasses import replace

from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.domain.scorm.rollup import CourseProgress
from scormhub.domain.scorm.sequencing.process import Sequencer
from scormhub.domain.scorm.sequencing.runtime import ObjectiveReport, RuntimeReport, root_result
from scormhub.domain.scorm.state import ScoState

_COMPLETION = {
    Completion.COMPLETED: "completed",
    Completion.IN_PROGRESS: "incomplete",
}


def report_from(state: ScoState) -> RuntimeReport:
    cmi = state.cmi if isinstance(state.cmi, dict) else {}
    completion = cmi.get("completion_status")
    if not isinstance(completion, str):
        completion = _COMPLETION.get(state.completion)
    success = cmi.get("success_status")
    if not isinstance(success, str):
        success = state.success.value if state.success is not Success.UNKNOWN else None
    objectives = []
    raw = cmi.get("objectives")
    entries: list[object] = []
    if isinstance(raw, dict):
        listed = raw.get("childArray")
        entries = list(listed) if isinstance(listed, list) else list(raw.values())
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        score = entry.get("score")
        scaled = score.get("scaled") if isinstance(score, dict) else None
        objectives.append(
            ObjectiveReport(
                identifier=entry["id"],
                success=entry.get("success_status") if isinstance(entry.get("success_status"), str) else None,
                scaled=_number(scaled),
                completion=entry.get("completion_status")
                if isinstance(entry.get("completion_status"), str)
                else None,
            )
        )
    return RuntimeReport(
        completion=completion,
        success=success,
        scaled=state.score_scaled,
        progress=state.progress_measure,
        exit=state.exit or None,
        objectives=tuple(objectives),
    )


def _number(value: object) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def remember_result(sequencer: Sequencer) -> None:
    result = root_result(sequencer)
    sequencer.state.result = (result.completion, result.success, result.scaled, result.progress)


def with_root(
    progress: CourseProgress, result: tuple[str, str, float | None, float | None]
) -> CourseProgress:
    """The course's status, result and score as the root activity's rollup says (SN: the root is the
    course); time, attempts and access dates stay as the SCOs' records add up."""
    completion, success, scaled, _ = result
    status = (
        Completion.COMPLETED
        if completion == "completed"
        else Completion.IN_PROGRESS
        if completion == "incomplete"
        else Completion.NOT_STARTED
    )
    return replace(
        progress,
        completion=status,
        success=Success.PASSED
        if success == "passed"
        else Success.FAILED
        if success == "failed"
        else Success.UNKNOWN,
        score_percent=max(0.0, scaled) * 100 if scaled is not None else progress.score_percent,
        completed_at=(progress.completed_at or progress.last_access_at)
        if status is Completion.COMPLETED
        else None,
    )
