"""The run-time data model a SCO starts with: what the LMS owns (learner, credit, mode, launch data,
mastery and time limits from the manifest) on top of the learner's saved state, for scorm-again's
loadFromJSON before Initialize (read-only values are locked after it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from scormhub.domain.scorm.cmi import CmiNode, CmiTree
from scormhub.domain.scorm.datamodel import LESSON_STATUS, decimal_text
from scormhub.domain.scorm.package import Sco, Standard
from scormhub.domain.scorm.sessions import resume_cmi
from scormhub.domain.scorm.state import ScoState

Mode = Literal["normal", "browse", "review"]

# What scorm-again needs to apply the SCORM 1.2 RTE's LMS-side status rules at LMSFinish: a SCO that set
# no lesson_status becomes "completed" (its default, "incomplete", would leave multi-SCO courses that never
# set a status unfinished forever), and with credit, a mastery score and a raw score, passed or failed.
# The server applies the same rules again to what it receives (sessions.finish_lesson_status).
SCORM12_API_SETTINGS: dict[str, bool] = {"autoCompleteLessonStatus": True, "mastery_override": True}


@dataclass(frozen=True)
class LmsLearner:
    identifier: str  # the CRM contact id: stable across enrollments, unlike the enrollment's id
    name: str


def last_first(name: str) -> str:
    """SCORM 1.2 RTE cmi.core.student_name is "Last, First". We keep one full name, so the last word is
    taken as the family name; a name already written with a comma, or of one word, is kept as it is."""
    words = name.split()
    if "," in name or len(words) < 2:
        return " ".join(words)
    return f"{words[-1]}, {' '.join(words[:-1])}"


def initial_cmi(
    standard: Standard,
    sco: Sco,
    learner: LmsLearner,
    prior: ScoState,
    *,
    credit: bool = True,
    mode: Mode = "normal",
) -> CmiTree:
    """The tree to load before Initialize: `prior` (the state start_session returned, which decided entry:
    "resume" only after a suspend) plus every value the LMS owns, from the enrollment and the manifest."""
    tree = resume_cmi(prior)
    if standard == "scorm12":
        _seed_12(tree, sco, learner, credit=credit, mode=mode)
    else:
        _seed_2004(tree, sco, learner, credit=credit, mode=mode)
    return tree


def _branch(tree: CmiTree, *names: str) -> CmiTree:
    for name in names:
        child = tree.get(name)
        if not isinstance(child, dict):
            child = tree[name] = {}
        tree = child
    return tree


def _set(tree: CmiTree, path: str, value: str) -> None:
    """Set cmi.a.b (the tree has no "cmi" level) unless the value is empty, the data model's default."""
    if not value:
        return
    *parents, leaf = path.split(".")[1:]
    _branch(tree, *parents)[leaf] = value


def _seed_12(tree: CmiTree, sco: Sco, learner: LmsLearner, *, credit: bool, mode: Mode) -> None:
    core = _branch(tree, "core")
    if core.get(LESSON_STATUS.rsplit(".", 1)[-1]) == "not attempted":
        # A stored "not attempted" would make scorm-again believe the SCO set a status, and skip the LMS's
        # own status decision at LMSFinish; leaving it out lets scorm-again start from "not attempted".
        del core["lesson_status"]
    _set(tree, "cmi.core.student_id", learner.identifier)
    _set(tree, "cmi.core.student_name", last_first(learner.name))
    _set(tree, "cmi.core.credit", "credit" if credit else "no-credit")
    _set(tree, "cmi.core.lesson_mode", mode)
    _set(tree, "cmi.launch_data", sco.data_from_lms)
    if sco.mastery_score is not None:
        _set(tree, "cmi.student_data.mastery_score", decimal_text(sco.mastery_score))
    _set(tree, "cmi.student_data.max_time_allowed", sco.max_time_allowed)
    _set(tree, "cmi.student_data.time_limit_action", sco.time_limit_action)


def _seed_2004(tree: CmiTree, sco: Sco, learner: LmsLearner, *, credit: bool, mode: Mode) -> None:
    _set(tree, "cmi.learner_id", learner.identifier)
    _set(tree, "cmi.learner_name", last_first(learner.name))
    _set(tree, "cmi.credit", "credit" if credit else "no-credit")
    _set(tree, "cmi.mode", mode)
    _set(tree, "cmi.launch_data", sco.data_from_lms)
    if sco.scaled_passing_score is not None:
        _set(tree, "cmi.scaled_passing_score", decimal_text(sco.scaled_passing_score))
    if sco.completion_threshold is not None:
        _set(tree, "cmi.completion_threshold", decimal_text(sco.completion_threshold))
    _set(tree, "cmi.max_time_allowed", sco.max_time_allowed)
    _set(tree, "cmi.time_limit_action", sco.time_limit_action)
    _seed_objectives(tree, sco.objective_ids)


def _seed_objectives(tree: CmiTree, identifiers: tuple[str, ...]) -> None:
    """cmi.objectives starts with the item's objective ids (SCORM 2004 RTE 4.2.17); records the SCO saved
    are kept as they are, and an id it already has is not added twice."""
    if not identifiers:
        return
    objectives = _branch(tree, "objectives")
    known = {record.get("id") for record in objectives.values() if isinstance(record, dict)}
    index = len(objectives)
    for identifier in identifiers:
        if identifier in known:
            continue
        record: dict[str, CmiNode] = {"id": identifier}
        objectives[str(index)] = record
        known.add(identifier)
        index += 1
