"""initial_cmi: the data model a SCO starts with, from the learner, its manifest item and its saved state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.domain.scorm.commits import validate_commit
from scormhub.domain.scorm.launch_data import LmsLearner, initial_cmi, last_first
from scormhub.domain.scorm.package import Sco
from scormhub.domain.scorm.sessions import Applied, apply_commit, start_session
from scormhub.domain.scorm.state import ScoState

ADA = LmsLearner("contact-42", "Ada Lovelace")
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def first_launch(standard: str) -> ScoState:
    return start_session(
        None, standard="scorm12" if standard == "scorm12" else "scorm2004", session_id="s1"
    ).state


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ada Lovelace", "Lovelace, Ada"),
        ("Mary Ann Evans", "Evans, Mary Ann"),
        ("Lovelace, Ada", "Lovelace, Ada"),
        ("Plato", "Plato"),
        ("  Ada   Lovelace ", "Lovelace, Ada"),
        ("", ""),
    ],
)
def test_the_scorm12_student_name_is_last_comma_first(name: str, expected: str) -> None:
    assert last_first(name) == expected


def test_a_scorm12_item_seeds_every_lms_owned_value_it_declares() -> None:
    sco = Sco(
        "lesson",
        "Lesson",
        "index.html",
        data_from_lms="chapter=2",
        mastery_score=75.5,
        max_time_allowed="00:20:00",
        time_limit_action="continue,message",
    )

    cmi = initial_cmi("scorm12", sco, ADA, first_launch("scorm12"))

    assert cmi["core"] == {
        "entry": "ab-initio",
        "total_time": "0000:00:00.00",
        "student_id": "contact-42",
        "student_name": "Lovelace, Ada",
        "credit": "credit",
        "lesson_mode": "normal",
    }
    assert cmi["launch_data"] == "chapter=2"
    assert cmi["student_data"] == {
        "mastery_score": "75.5",
        "max_time_allowed": "00:20:00",
        "time_limit_action": "continue,message",
    }


def test_an_item_that_declares_nothing_leaves_those_values_at_the_data_model_defaults() -> None:
    cmi = initial_cmi("scorm12", Sco("lesson", "Lesson", "index.html"), ADA, first_launch("scorm12"))

    assert "launch_data" not in cmi
    assert "student_data" not in cmi


def test_a_review_is_launched_for_no_credit_in_the_mode_asked_for() -> None:
    sco = Sco("lesson", "Lesson", "index.html")

    cmi_12 = initial_cmi("scorm12", sco, ADA, first_launch("scorm12"), credit=False, mode="browse")
    cmi_2004 = initial_cmi("scorm2004", sco, ADA, first_launch("scorm2004"), credit=False, mode="review")

    core = cmi_12["core"]
    assert isinstance(core, dict)
    assert (core["credit"], core["lesson_mode"]) == ("no-credit", "browse")
    assert (cmi_2004["credit"], cmi_2004["mode"]) == ("no-credit", "review")


def test_a_scorm2004_item_seeds_its_passing_score_threshold_limits_and_objectives() -> None:
    sco = Sco(
        "lesson",
        "Lesson",
        "index.html",
        data_from_lms="x=1",
        scaled_passing_score=0.6,
        completion_threshold=0.75,
        max_time_allowed="PT1H",
        time_limit_action="exit,message",
        objective_ids=("main", "side"),
    )

    cmi = initial_cmi("scorm2004", sco, ADA, first_launch("scorm2004"))

    assert (cmi["learner_id"], cmi["learner_name"], cmi["entry"]) == (
        "contact-42",
        "Lovelace, Ada",
        "ab-initio",
    )
    assert (cmi["credit"], cmi["mode"], cmi["launch_data"]) == ("credit", "normal", "x=1")
    assert (cmi["scaled_passing_score"], cmi["completion_threshold"]) == ("0.6", "0.75")
    assert (cmi["max_time_allowed"], cmi["time_limit_action"]) == ("PT1H", "exit,message")
    assert cmi["objectives"] == {"0": {"id": "main"}, "1": {"id": "side"}}


def test_saved_objectives_are_kept_and_the_manifest_adds_only_the_ids_they_lack() -> None:
    sco = Sco("lesson", "Lesson", "index.html", objective_ids=("main", "side"))
    saved = {"objectives": {"0": {"id": "side", "success_status": "passed"}}, "exit": "suspend"}
    state = first_launch("scorm2004")
    committed = apply_commit(
        state,
        validate_commit("scorm2004", saved),
        standard="scorm2004",
        session_id="s1",
        is_final=True,
        mastery_score=None,
    )
    assert isinstance(committed, Applied)
    resumed = start_session(committed.state, standard="scorm2004", session_id="s2").state

    cmi = initial_cmi("scorm2004", sco, ADA, resumed)

    assert cmi["entry"] == "resume"
    assert cmi["objectives"] == {"0": {"id": "side", "success_status": "passed"}, "1": {"id": "main"}}


def finish(state: ScoState, cmi: dict[str, object], *, mastery: float | None, now: datetime) -> ScoState:
    outcome = apply_commit(
        state,
        validate_commit("scorm12", cmi),
        standard="scorm12",
        session_id="s1",
        is_final=True,
        mastery_score=mastery,
        now=now,
    )
    assert isinstance(outcome, Applied)
    return outcome.state


@pytest.mark.parametrize(
    ("raw", "mastery", "expected"),
    [
        (None, None, (Completion.COMPLETED, Success.UNKNOWN)),
        (None, 80.0, (Completion.COMPLETED, Success.UNKNOWN)),
        ("90", 80.0, (Completion.COMPLETED, Success.PASSED)),
        ("50", 80.0, (Completion.COMPLETED, Success.FAILED)),
    ],
)
def test_a_scorm12_sco_that_finishes_without_a_status_gets_the_lms_status(
    raw: str | None, mastery: float | None, expected: tuple[Completion, Success]
) -> None:
    state = start_session(None, standard="scorm12", session_id="s1", now=NOW).state
    cmi: dict[str, object] = {"core": {"lesson_status": "not attempted"}}
    if raw is not None:
        cmi = {"core": {"lesson_status": "not attempted", "score": {"raw": raw}}}

    finished = finish(state, cmi, mastery=mastery, now=NOW + timedelta(minutes=3))

    assert (finished.completion, finished.success) == expected


def test_a_scorm12_session_that_reports_no_time_counts_the_time_it_was_open() -> None:
    state = start_session(None, standard="scorm12", session_id="s1", now=NOW).state

    finished = finish(
        state, {"core": {"session_time": "00:00:00"}}, mastery=None, now=NOW + timedelta(minutes=3)
    )

    assert finished.session_seconds_total == pytest.approx(180)


def test_a_stored_not_attempted_status_is_not_handed_back_so_the_player_can_decide_it_at_finish() -> None:
    state = start_session(None, standard="scorm12", session_id="s1", now=NOW).state
    outcome = apply_commit(
        state,
        validate_commit("scorm12", {"core": {"lesson_status": "not attempted", "lesson_location": "p2"}}),
        standard="scorm12",
        session_id="s1",
        is_final=False,
        mastery_score=None,
    )
    assert isinstance(outcome, Applied)

    cmi = initial_cmi("scorm12", Sco("lesson", "Lesson", "index.html"), ADA, outcome.state)

    core = cmi["core"]
    assert isinstance(core, dict)
    assert "lesson_status" not in core
    assert core["lesson_location"] == "p2"
