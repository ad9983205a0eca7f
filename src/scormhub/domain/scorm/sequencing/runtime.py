"""What the player and the course record need from sequencing: the SCO's run-time data applied to its
activity, the table of contents with statuses and which requests are valid, and the root's result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scormhub.domain.scorm.sequencing.definitions import ActivityDefinition
from scormhub.domain.scorm.sequencing.process import Direction, Sequencer, SequencingRefused


@dataclass(frozen=True)
class ObjectiveReport:
    identifier: str
    success: str | None = None  # passed / failed / unknown
    scaled: float | None = None
    completion: str | None = None


@dataclass(frozen=True)
class RuntimeReport:
    """The SCO's cmi values the SN book maps onto tracking status (RTE 4.2 → SN 4.2)."""

    completion: str | None = None  # cmi.completion_status
    success: str | None = None  # cmi.success_status
    scaled: float | None = None  # cmi.score.scaled
    progress: float | None = None  # cmi.progress_measure
    exit: str | None = None  # cmi.exit
    objectives: Sequence[ObjectiveReport] = ()


@dataclass(frozen=True)
class TocEntry:
    identifier: str
    title: str
    depth: int
    leaf: bool
    status: str  # not attempted / incomplete / completed / passed / failed
    current: bool
    hidden: bool
    enabled: bool


@dataclass(frozen=True)
class RootResult:
    completion: str  # not attempted / incomplete / completed
    success: str  # unknown / passed / failed
    scaled: float | None
    progress: float | None  # 0..1, for a progress indicator


def apply_report(sequencer: Sequencer, activity_id: str, report: RuntimeReport, *, final: bool) -> bool:
    """Apply what the SCO reported to its activity and roll it up; False if the activity isn't there."""
    activity = sequencer.tree.by_id.get(activity_id)
    if activity is None or not activity.is_leaf:
        return False
    state = sequencer.of(activity)
    if activity.sequencing.tracked:
        if report.completion in {"completed", "incomplete", "not attempted"}:
            state.attempt_progress_status = True
            state.attempt_completed = report.completion == "completed"
        elif report.completion == "unknown":
            state.attempt_progress_status = False
        _apply_objective(
            sequencer,
            activity,
            activity.sequencing.primary.identifier,
            report.success,
            report.scaled,
            primary=True,
        )
        if report.progress is not None:
            state.completion_amount_status, state.completion_amount = True, report.progress
        for objective in report.objectives:
            if objective.identifier and objective.identifier != activity.sequencing.primary.identifier:
                _apply_objective(
                    sequencer, activity, objective.identifier, objective.success, objective.scaled
                )
    if final:
        state.suspended = report.exit == "suspend"
    sequencer.overall_rollup(activity)
    return True


def _apply_objective(
    sequencer: Sequencer,
    activity: ActivityDefinition,
    identifier: str,
    success: str | None,
    scaled: float | None,
    *,
    primary: bool = False,
) -> None:
    definition = next(
        (
            o
            for o in activity.sequencing.objectives
            if o.primary == primary and (primary or o.identifier == identifier)
        ),
        None,
    )
    if definition is None:
        return
    local = sequencer.objective(activity, definition)
    if success in {"passed", "failed"}:
        local.progress_status, local.satisfied = True, success == "passed"
    elif success == "unknown":
        local.progress_status = False
    if scaled is not None:
        local.measure_status, local.measure = True, max(-1.0, min(1.0, scaled))


def status_of(sequencer: Sequencer, activity: ActivityDefinition) -> str:
    satisfied = sequencer.satisfaction(activity, activity.sequencing.primary)
    state = sequencer.of(activity)
    if satisfied is not None and (state.attempt_count > 0 or sequencer.completion(activity) is not None):
        return "passed" if satisfied else "failed"
    completed = sequencer.completion(activity)
    if completed is True:
        return "completed"
    if completed is False or state.attempt_count > 0:
        return "incomplete"
    return "not attempted"


def looking(sequencer: Sequencer) -> Sequencer:
    """A probe over the same state: it only looks, and remembers rule results while it does."""
    probe = Sequencer(sequencer.tree, sequencer.state, rng=sequencer.rng, probe=True)
    probe.memo = {}
    return probe


def choice_valid(probe: Sequencer, target: ActivityDefinition) -> bool:
    """Would a choice of `target` deliver something? `probe` comes from `looking`."""
    try:
        probe._navigation_request("choice", target.identifier)
        probe._delivery_request(probe.choice(target))
    except SequencingRefused:
        return False
    return True


def flow_valid(probe: Sequencer, kind: str) -> bool:
    """adl.nav.request_valid.continue / previous: is there something to deliver that way?"""
    current = probe.current()
    if current is None:
        return False
    try:
        probe._navigation_request(kind, None)
        direction: Direction = "forward" if kind == "continue" else "backward"
        result, found = probe._flow(current, direction, consider_children=False)
        if found is not None:
            probe._delivery_request(found)
    except SequencingRefused:
        return False
    return result == "deliver"


def table_of_contents(sequencer: Sequencer) -> list[TocEntry]:
    sequencer = looking(sequencer)
    current = sequencer.current()
    entries = []
    for activity in _walk(sequencer, sequencer.tree.root):
        if activity.parent is None:
            continue
        hidden = not activity.visible or sequencer.pre_check(activity, "hiddenFromChoice")
        entries.append(
            TocEntry(
                identifier=activity.identifier,
                title=activity.title,
                depth=activity.depth - 1,
                leaf=activity.is_leaf,
                status=status_of(sequencer, activity),
                current=current is not None and current.identifier == activity.identifier,
                hidden=hidden,
                enabled=not hidden and choice_valid(sequencer, activity),
            )
        )
    return entries


def _walk(sequencer: Sequencer, activity: ActivityDefinition) -> list[ActivityDefinition]:
    found = [activity]
    for child in sequencer.available_children(activity):
        found.extend(_walk(sequencer, child))
    return found


def request_valid(sequencer: Sequencer, toc: Sequence[TocEntry]) -> Mapping[str, object]:
    probe = looking(sequencer)
    return {
        "continue": flow_valid(probe, "continue"),
        "previous": flow_valid(probe, "previous"),
        "choice": {entry.identifier: entry.enabled for entry in toc},
    }


def root_result(sequencer: Sequencer) -> RootResult:
    root = sequencer.tree.root
    state = sequencer.of(root)
    completed = sequencer.completion(root)
    satisfied = sequencer.satisfaction(root, root.sequencing.primary)
    measure = sequencer.measure(root, root.sequencing.primary)
    leaves = [a for a in sequencer.tree.leaves() if a.sequencing.tracked]
    done = sum(1 for a in leaves if sequencer.completion(a) is True)
    progress = (
        state.completion_amount
        if state.completion_amount_status
        else (done / len(leaves) if leaves else None)
    )
    if completed is True:
        progress = 1.0
    return RootResult(
        completion="completed"
        if completed is True
        else ("incomplete" if completed is False or state.attempt_count > 0 else "not attempted"),
        success="unknown" if satisfied is None else ("passed" if satisfied else "failed"),
        scaled=measure,
        progress=progress,
    )
