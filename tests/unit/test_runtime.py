"""SCORM run-time rules: what a SCO may commit, how it maps to tracking, how time and attempts add up."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scormhub.domain.scorm.cmi import (
    MAX_SESSION_SECONDS,
    SUSPEND_DATA_LIMIT_2004,
    Completion,
    Entry,
    InvalidValue,
    RejectionKind,
    Success,
    format_cmi_timespan,
    format_iso_duration,
    parse_cmi_timespan,
    parse_iso_duration,
)
from scormhub.domain.scorm.commits import CommitResult, validate_commit
from scormhub.domain.scorm.package import Standard
from scormhub.domain.scorm.rollup import CourseProgress, rollup
from scormhub.domain.scorm.sessions import (
    Applied,
    AttemptFinished,
    CommitOutcome,
    SessionEnded,
    apply_commit,
    resume_cmi,
    start_session,
)
from scormhub.domain.scorm.state import ScoState
from scormhub.domain.scorm.status import map_status, percent_score

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def commit12(**core: Any) -> dict[str, Any]:
    """A scorm-again 1.2 json commit with the given cmi.core values (score given as raw/min/max)."""
    score = {k: core.pop(k) for k in ("raw", "min", "max") if k in core}
    extra: dict[str, Any] = {k: core.pop(k) for k in ("suspend_data", "interactions") if k in core}
    return {"core": {**core, "score": score}, **extra}


def commit2004(**cmi: Any) -> dict[str, Any]:
    score = {k: cmi.pop(k) for k in ("scaled", "raw", "min", "max") if k in cmi}
    return {**cmi, "score": score}


def applied(outcome: CommitOutcome) -> ScoState:
    assert isinstance(outcome, Applied), outcome
    return outcome.state


def launch(state: ScoState | None, standard: Standard, session_id: str, at: datetime = T0) -> ScoState:
    return start_session(state, standard=standard, session_id=session_id, now=at).state


def send(
    state: ScoState,
    payload: dict[str, Any],
    session_id: str,
    *,
    final: bool = False,
    mastery: float | None = None,
    at: datetime | None = None,
) -> CommitOutcome:
    commit = validate_commit(state.standard, payload)
    return apply_commit(
        state,
        commit,
        standard=state.standard,
        session_id=session_id,
        is_final=final,
        mastery_score=mastery,
        now=at,
    )


# ---------------------------------------------------------------------------------------------------------
# Durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:00:00", 0.0),
        ("0000:01:30.00", 90.0),
        ("00:01:30.5", 90.5),
        ("01:30:15.5", 5415.5),
        ("9999:59:59.99", MAX_SESSION_SECONDS),
        ("123:00:00.05", 123 * 3600 + 0.05),
    ],
)
def test_a_scorm12_timespan_reads_as_seconds(text: str, seconds: float) -> None:
    assert parse_cmi_timespan(text) == pytest.approx(seconds, abs=1e-9)


@pytest.mark.parametrize(
    "text",
    [
        "0:01:30",  # one hour digit
        "00000:00:00",  # five hour digits
        "00:60:00",
        "00:00:60",
        "00:01:30.123",  # three decimals
        "00:01",
        "PT1M30S",  # a 2004 duration in a 1.2 field
        "-00:00:01",
        "",
        "00:01:30\n",
        "١٢:00:00",  # non-ASCII digits
        90,
        None,
    ],
)
def test_a_malformed_scorm12_timespan_is_an_invalid_value(text: object) -> None:
    with pytest.raises(InvalidValue) as raised:
        parse_cmi_timespan(text)
    assert raised.value.element == "cmi.core.session_time"
    assert raised.value.value == text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT1H2M3.5S", 3723.5),
        ("P1DT2H", 93600.0),
        ("P1Y", 365 * 86400.0),
        ("P1M", 30 * 86400.0),
        ("PT1M", 60.0),
        ("P1MT1M", 30 * 86400.0 + 60),
        ("PT0S", 0.0),
        ("PT0H0M0S", 0.0),
        ("PT90M", 5400.0),
        ("PT0.05S", 0.05),
        ("PT2.257S", 2.26),  # finer than 0.01 s is kept to 0.01 s
    ],
)
def test_a_scorm2004_duration_reads_as_seconds(text: str, seconds: float) -> None:
    assert parse_iso_duration(text) == pytest.approx(seconds, abs=1e-9)


@pytest.mark.parametrize(
    "text",
    [
        "P",
        "PT",
        "P1DT",
        "-PT1S",
        "00:30:00",  # a 1.2 timespan in a 2004 field
        "PT1.5H",  # only seconds may have a fraction
        "P1W",
        "PT1M1H",
        "pt1s",
        "PT1S ",
        "PT1,5S",
        "",
        "P" + "1" * 80 + "Y",
        5,
        None,
    ],
)
def test_a_malformed_scorm2004_duration_is_an_invalid_value(text: object) -> None:
    with pytest.raises(InvalidValue) as raised:
        parse_iso_duration(text)
    assert raised.value.element == "cmi.session_time"


@pytest.mark.parametrize(
    ("seconds", "timespan", "duration"),
    [
        (0, "0000:00:00.00", "PT0S"),
        (0.05, "0000:00:00.05", "PT0.05S"),
        (90, "0000:01:30.00", "PT1M30S"),
        (3600, "0001:00:00.00", "PT1H"),
        (5415.5, "0001:30:15.50", "PT1H30M15.5S"),
        (90061, "0025:01:01.00", "PT25H1M1S"),
    ],
)
def test_seconds_render_in_both_standards_formats(seconds: float, timespan: str, duration: str) -> None:
    assert (format_cmi_timespan(seconds), format_iso_duration(seconds)) == (timespan, duration)


def test_a_scorm12_timespan_caps_at_the_longest_the_format_can_say() -> None:
    assert format_cmi_timespan(20_000 * 3600) == "9999:59:59.99"


@pytest.mark.parametrize("seconds", [-1.0, float("nan"), float("inf")])
def test_a_negative_or_non_finite_duration_cannot_be_rendered(seconds: float) -> None:
    with pytest.raises(InvalidValue):
        format_iso_duration(seconds)
    with pytest.raises(InvalidValue):
        format_cmi_timespan(seconds)


@given(st.floats(min_value=0, max_value=MAX_SESSION_SECONDS, allow_nan=False))
def test_a_rendered_scorm12_timespan_reads_back_within_a_hundredth_of_a_second(seconds: float) -> None:
    assert abs(parse_cmi_timespan(format_cmi_timespan(seconds)) - seconds) <= 0.01


@given(st.floats(min_value=0, max_value=10**8, allow_nan=False))
def test_a_rendered_scorm2004_duration_reads_back_within_a_hundredth_of_a_second(seconds: float) -> None:
    assert abs(parse_iso_duration(format_iso_duration(seconds)) - seconds) <= 0.01


# ---------------------------------------------------------------------------------------------------------
# Validating a commit


@pytest.mark.parametrize(
    ("standard", "payload", "element", "expected"),
    [
        ("scorm12", commit12(lesson_status="passed"), "cmi.core.lesson_status", "passed"),
        ("scorm12", commit12(lesson_status="browsed"), "cmi.core.lesson_status", "browsed"),
        ("scorm12", commit12(raw="85"), "cmi.core.score.raw", 85.0),
        ("scorm12", commit12(raw=85), "cmi.core.score.raw", 85.0),
        ("scorm12", commit12(raw="99.5"), "cmi.core.score.raw", 99.5),
        ("scorm12", commit12(min="0", max="100"), "cmi.core.score.max", 100.0),
        ("scorm12", commit12(session_time="0000:01:30.00"), "cmi.core.session_time", 90.0),
        ("scorm12", commit12(session_time="00:01:30"), "cmi.core.session_time", 90.0),
        ("scorm12", commit12(exit="suspend"), "cmi.core.exit", "suspend"),
        ("scorm12", commit12(exit=""), "cmi.core.exit", ""),
        ("scorm12", commit12(lesson_location="x" * 255), "cmi.core.lesson_location", "x" * 255),
        ("scorm12", {"suspend_data": "s" * 4096}, "cmi.suspend_data", "s" * 4096),
        ("scorm12", {"student_preference": {"audio": "-1"}}, "cmi.student_preference.audio", -1.0),
        ("scorm2004", {"completion_status": "incomplete"}, "cmi.completion_status", "incomplete"),
        ("scorm2004", {"completion_status": "not attempted"}, "cmi.completion_status", "not attempted"),
        ("scorm2004", {"success_status": "failed"}, "cmi.success_status", "failed"),
        ("scorm2004", commit2004(scaled="0.8"), "cmi.score.scaled", 0.8),
        ("scorm2004", commit2004(scaled="-1"), "cmi.score.scaled", -1.0),
        ("scorm2004", commit2004(raw="-5.5"), "cmi.score.raw", -5.5),
        ("scorm2004", commit2004(max="250"), "cmi.score.max", 250.0),
        ("scorm2004", {"progress_measure": "1"}, "cmi.progress_measure", 1.0),
        ("scorm2004", {"session_time": "PT1M30S"}, "cmi.session_time", 90.0),
        ("scorm2004", {"exit": "normal"}, "cmi.exit", "normal"),
        ("scorm2004", {"location": "p" * 1000}, "cmi.location", "p" * 1000),
        ("scorm2004", {"suspend_data": "s" * 64000}, "cmi.suspend_data", "s" * 64000),
    ],
)
def test_a_value_inside_the_data_model_is_accepted_and_normalised(
    standard: Standard, payload: dict[str, Any], element: str, expected: object
) -> None:
    result = validate_commit(standard, payload)
    assert result.accepted[element] == expected
    assert result.problems == []


@pytest.mark.parametrize(
    ("standard", "payload", "element", "reason"),
    [
        ("scorm12", commit12(raw="150"), "cmi.core.score.raw", "outside the range 0..100"),
        ("scorm12", commit12(raw="-1"), "cmi.core.score.raw", "outside the range 0..100"),
        ("scorm12", commit12(raw="eighty"), "cmi.core.score.raw", "expected a decimal"),
        ("scorm12", commit12(raw="1e2"), "cmi.core.score.raw", "expected a decimal"),
        ("scorm12", commit12(raw=True), "cmi.core.score.raw", "expected a decimal"),
        ("scorm12", commit12(lesson_status="not attempted"), "cmi.core.lesson_status", "LMS only"),
        ("scorm12", commit12(lesson_status="unknown"), "cmi.core.lesson_status", "not one of"),
        ("scorm12", commit12(session_time="PT1M30S"), "cmi.core.session_time", "1.2 timespan"),
        ("scorm12", commit12(exit="normal"), "cmi.core.exit", "not one of"),
        ("scorm12", commit12(lesson_location="x" * 256), "cmi.core.lesson_location", "limit of 255"),
        ("scorm12", {"suspend_data": "s" * 4097}, "cmi.suspend_data", "limit of 4096"),
        ("scorm12", {"suspend_data": 12}, "cmi.suspend_data", "expected text"),
        ("scorm12", {"student_preference": {"text": "2"}}, "cmi.student_preference.text", "outside"),
        ("scorm2004", commit2004(scaled="1.5"), "cmi.score.scaled", "outside the range -1..1"),
        ("scorm2004", commit2004(scaled="-1.01"), "cmi.score.scaled", "outside the range -1..1"),
        ("scorm2004", commit2004(raw=float("nan")), "cmi.score.raw", "finite"),
        ("scorm2004", commit2004(raw="Infinity"), "cmi.score.raw", "expected a decimal"),
        ("scorm2004", {"session_time": "00:30:00"}, "cmi.session_time", "ISO 8601"),
        ("scorm2004", {"session_time": "P2000Y"}, "cmi.session_time", "longer than any real session"),
        ("scorm2004", {"completion_status": "passed"}, "cmi.completion_status", "not one of"),
        ("scorm2004", {"success_status": "completed"}, "cmi.success_status", "not one of"),
        ("scorm2004", {"exit": "quit"}, "cmi.exit", "not one of"),
        ("scorm2004", {"progress_measure": "1.2"}, "cmi.progress_measure", "outside the range 0..1"),
        ("scorm2004", {"location": "p" * 1001}, "cmi.location", "limit of 1000"),
        ("scorm2004", {"suspend_data": "s" * 64001}, "cmi.suspend_data", "limit of 64000"),
        ("scorm2004", {"score": "high"}, "cmi.score", "expected an object"),
    ],
)
def test_a_value_outside_the_data_model_is_rejected_and_not_stored(
    standard: Standard, payload: dict[str, Any], element: str, reason: str
) -> None:
    result = validate_commit(standard, payload)
    assert element not in result.accepted
    [rejection] = [r for r in result.rejected if r.element == element]
    assert reason in rejection.reason
    assert rejection.kind is RejectionKind.INVALID


def test_a_rejected_score_does_not_cost_the_status_in_the_same_commit() -> None:
    result = validate_commit("scorm12", commit12(lesson_status="passed", raw="150", session_time="00:02:00"))
    assert result.accepted == {"cmi.core.lesson_status": "passed", "cmi.core.session_time": 120.0}
    assert [r.element for r in result.problems] == ["cmi.core.score.raw"]


@pytest.mark.parametrize(
    ("standard", "payload", "element"),
    [
        ("scorm12", commit12(student_id="learner-1"), "cmi.core.student_id"),
        ("scorm12", commit12(credit="credit"), "cmi.core.credit"),
        ("scorm12", commit12(entry="resume"), "cmi.core.entry"),
        ("scorm12", commit12(total_time="0100:00:00"), "cmi.core.total_time"),
        ("scorm12", commit12(lesson_mode="normal"), "cmi.core.lesson_mode"),
        ("scorm12", {"student_data": {"mastery_score": "10"}}, "cmi.student_data"),
        ("scorm12", {"launch_data": "x"}, "cmi.launch_data"),
        ("scorm12", {"core": {"_children": "student_id,student_name"}}, "cmi.core._children"),
        ("scorm2004", {"learner_id": "learner-1"}, "cmi.learner_id"),
        ("scorm2004", {"total_time": "PT100H"}, "cmi.total_time"),
        ("scorm2004", {"entry": "resume"}, "cmi.entry"),
        ("scorm2004", {"credit": "no-credit"}, "cmi.credit"),
        ("scorm2004", {"mode": "review"}, "cmi.mode"),
        ("scorm2004", {"scaled_passing_score": "0.1"}, "cmi.scaled_passing_score"),
        ("scorm2004", {"completion_threshold": "0.1"}, "cmi.completion_threshold"),
        ("scorm2004", {"_version": "1.0"}, "cmi._version"),
    ],
)
def test_an_lms_owned_element_is_noted_as_read_only_and_not_stored(
    standard: Standard, payload: dict[str, Any], element: str
) -> None:
    result = validate_commit(standard, payload)
    [rejection] = [r for r in result.rejected if r.element == element]
    assert (rejection.reason, rejection.kind) == ("read-only", RejectionKind.READ_ONLY)
    assert not any(path.startswith(element) for path in result.accepted)
    assert rejection not in result.problems


@pytest.mark.parametrize(
    ("standard", "payload", "element"),
    [
        ("scorm12", {"completion_status": "completed"}, "cmi.completion_status"),  # a 2004 element
        ("scorm2004", {"core": {"lesson_status": "passed"}}, "cmi.core"),  # a 1.2 element
        ("scorm2004", {"score": {"percent": "80"}}, "cmi.score.percent"),
        ("scorm2004", {"core.lesson_status": "passed"}, "cmi.core.lesson_status"),
    ],
)
def test_an_element_from_outside_the_standard_is_rejected(
    standard: Standard, payload: dict[str, Any], element: str
) -> None:
    result = validate_commit(standard, payload)
    assert result.accepted == {}
    assert [r.element for r in result.problems] == [element]


def test_scores_the_runtime_reports_as_empty_are_neither_stored_nor_complained_about() -> None:
    result = validate_commit("scorm2004", commit2004(scaled="", raw="", min="", max="", progress_measure=""))
    assert (result.accepted, result.rejected) == ({}, [])


def test_the_suspend_data_limit_follows_the_edition_the_caller_names() -> None:
    at_limit = validate_commit(
        "scorm2004", {"suspend_data": "s" * 4000}, suspend_data_limit=SUSPEND_DATA_LIMIT_2004
    )
    over = validate_commit(
        "scorm2004", {"suspend_data": "s" * 4001}, suspend_data_limit=SUSPEND_DATA_LIMIT_2004
    )
    assert "cmi.suspend_data" in at_limit.accepted
    assert "cmi.suspend_data" not in over.accepted
    assert "limit of 4000" in over.rejected[0].reason


@pytest.mark.parametrize(
    "envelope",
    [
        {"core": {"lesson_status": "completed"}},
        {"cmi": {"core": {"lesson_status": "completed"}}},
        {"successStatus": "passed", "runtimeData": {"cmi": {"core": {"lesson_status": "completed"}}}},
    ],
)
def test_the_cmi_tree_is_found_bare_wrapped_or_inside_the_common_commit_fields(
    envelope: dict[str, Any],
) -> None:
    result = validate_commit("scorm12", envelope)
    assert result.accepted == {"cmi.core.lesson_status": "completed"}


def test_a_commit_that_is_not_an_object_is_rejected_whole() -> None:
    result = validate_commit("scorm2004", ["completion_status", "completed"])  # type: ignore[arg-type]
    assert result.accepted == {}
    assert [(r.element, r.reason) for r in result.rejected] == [("cmi", "expected an object")]


def test_interactions_are_kept_as_indexed_records_with_id_and_type_first() -> None:
    interactions = [
        {"result": "correct", "type": "choice", "id": "q1", "correct_responses": [{"pattern": "a"}]},
        {"id": "q2", "weighting": 2, "latency": None},
    ]
    result = validate_commit("scorm2004", {"interactions": interactions})
    kept = result.accepted["cmi.interactions"]
    assert kept == {
        "0": {
            "id": "q1",
            "type": "choice",
            "result": "correct",
            "correct_responses": {"0": {"pattern": "a"}},
        },
        "1": {"id": "q2", "weighting": "2"},
    }
    assert isinstance(kept, dict)
    assert list(kept["0"]) == ["id", "type", "result", "correct_responses"]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"id": "q2", "result": True}, "expected text or a number"),
        ({"id": "q2", "a": {"b": {"c": {"d": {"e": "deep"}}}}}, "too deep"),
        ({"id": "q2", "bad key!": "x"}, "not a data model name"),
        ("q2", "expected a record"),
    ],
)
def test_a_malformed_interaction_is_dropped_while_the_others_are_kept(record: object, reason: str) -> None:
    result = validate_commit("scorm12", {"interactions": {"0": {"id": "q1"}, "1": record}})
    assert result.accepted["cmi.interactions"] == {"0": {"id": "q1"}}
    [rejection] = result.problems
    assert rejection.element == "cmi.interactions.1"
    assert reason in rejection.reason


def test_a_huge_rejected_value_is_shortened_in_the_rejection() -> None:
    result = validate_commit("scorm12", {"suspend_data": "s" * 100_000})
    [rejection] = result.rejected
    assert isinstance(rejection.value, str)
    assert len(rejection.value) < 300
    assert "100000 characters" in rejection.value


JSONISH_KEYS = st.sampled_from(
    [
        "cmi",
        "runtimeData",
        "core",
        "score",
        "raw",
        "scaled",
        "lesson_status",
        "completion_status",
        "success_status",
        "session_time",
        "exit",
        "suspend_data",
        "interactions",
        "objectives",
        "student_data",
        "learner_preference",
        "0",
        "id",
        "_count",
    ]
) | st.text(max_size=6)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(JSONISH_KEYS, children, max_size=5),
    max_leaves=40,
)


@settings(max_examples=300)
@given(standard=st.sampled_from(["scorm12", "scorm2004"]), payload=JSONISH)
def test_any_json_commit_is_validated_without_raising_and_resumes_as_text(
    standard: Standard, payload: Any
) -> None:
    result = validate_commit(standard, payload)
    assert all(isinstance(v, str | float | dict) for v in result.accepted.values())
    state = applied(
        apply_commit(None, result, standard=standard, session_id="s", is_final=False, mastery_score=50.0)
    )

    def leaves(node: object) -> list[object]:
        return [x for child in node.values() for x in leaves(child)] if isinstance(node, dict) else [node]

    assert all(isinstance(leaf, str) for leaf in leaves(resume_cmi(state)))
    json.dumps(state.to_dict())


# ---------------------------------------------------------------------------------------------------------
# Percentage score and status mapping


@pytest.mark.parametrize(
    ("scaled", "raw", "mn", "mx", "standard", "percent"),
    [
        (0.8, None, None, None, "scorm2004", 80.0),
        (0.5, 10.0, 0.0, 100.0, "scorm2004", 50.0),  # scaled wins over raw
        (-0.5, None, None, None, "scorm2004", 0.0),
        (1.0, None, None, None, "scorm2004", 100.0),
        (None, 85.0, None, None, "scorm12", 85.0),
        (None, 15.0, 0.0, 20.0, "scorm12", 75.0),
        (None, 15.0, 10.0, 20.0, "scorm2004", 50.0),
        (None, 5.0, 10.0, 20.0, "scorm12", 0.0),  # below min clamps
        (None, 15.0, None, None, "scorm2004", 15.0),  # no max: raw read as a percentage
        (None, 150.0, None, None, "scorm2004", None),  # ...unless it cannot be one
        (None, 150.0, 0.0, 200.0, "scorm2004", 75.0),
        (None, 50.0, 60.0, 60.0, "scorm12", 50.0),  # empty range falls back to the heuristic
        (None, None, 0.0, 100.0, "scorm12", None),
    ],
)
def test_the_percentage_follows_the_reference_policy(
    scaled: float | None,
    raw: float | None,
    mn: float | None,
    mx: float | None,
    standard: Standard,
    percent: float | None,
) -> None:
    assert percent_score(scaled, raw, mn, mx, standard) == percent


OPTIONAL_FLOAT = st.none() | st.floats(allow_nan=False, allow_infinity=False)


@given(
    OPTIONAL_FLOAT, OPTIONAL_FLOAT, OPTIONAL_FLOAT, OPTIONAL_FLOAT, st.sampled_from(["scorm12", "scorm2004"])
)
def test_the_percentage_is_always_between_0_and_100_or_absent(
    scaled: float | None, raw: float | None, mn: float | None, mx: float | None, standard: Standard
) -> None:
    percent = percent_score(scaled, raw, mn, mx, standard)
    assert percent is None or 0.0 <= percent <= 100.0


@pytest.mark.parametrize(
    ("values", "mastery", "credit", "expected"),
    [
        ({"cmi.core.lesson_status": "passed"}, None, True, (Completion.COMPLETED, Success.PASSED)),
        ({"cmi.core.lesson_status": "failed"}, None, True, (Completion.COMPLETED, Success.FAILED)),
        ({"cmi.core.lesson_status": "completed"}, None, True, (Completion.COMPLETED, Success.UNKNOWN)),
        ({"cmi.core.lesson_status": "incomplete"}, None, True, (Completion.IN_PROGRESS, Success.UNKNOWN)),
        ({"cmi.core.lesson_status": "browsed"}, None, True, (Completion.IN_PROGRESS, Success.UNKNOWN)),
        ({"cmi.core.lesson_status": "not attempted"}, None, True, (Completion.NOT_STARTED, Success.UNKNOWN)),
        ({}, None, True, (Completion.NOT_STARTED, Success.UNKNOWN)),
        ({"cmi.suspend_data": "page=3"}, None, True, (Completion.IN_PROGRESS, Success.UNKNOWN)),
        # SCORM 1.2 RTE 3-24: completed + raw + mastery score -> the LMS decides passed/failed
        (
            {"cmi.core.lesson_status": "completed", "cmi.core.score.raw": "85"},
            80.0,
            True,
            (Completion.COMPLETED, Success.PASSED),
        ),
        (  # reaching the mastery score exactly is a pass
            {"cmi.core.lesson_status": "completed", "cmi.core.score.raw": "80"},
            80.0,
            True,
            (Completion.COMPLETED, Success.PASSED),
        ),
        (
            {"cmi.core.lesson_status": "completed", "cmi.core.score.raw": 79.5},
            80.0,
            True,
            (Completion.COMPLETED, Success.FAILED),
        ),
        ({"cmi.core.lesson_status": "completed"}, 80.0, True, (Completion.COMPLETED, Success.UNKNOWN)),
        (
            {"cmi.core.lesson_status": "completed", "cmi.core.score.raw": "85"},
            80.0,
            False,
            (Completion.COMPLETED, Success.UNKNOWN),
        ),
        (  # the SCO's own verdict stands
            {"cmi.core.lesson_status": "passed", "cmi.core.score.raw": "10"},
            80.0,
            True,
            (Completion.COMPLETED, Success.PASSED),
        ),
        (
            {"cmi.core.lesson_status": "incomplete", "cmi.core.score.raw": "95"},
            80.0,
            True,
            (Completion.IN_PROGRESS, Success.UNKNOWN),
        ),
    ],
)
def test_scorm12_lesson_status_maps_to_completion_and_success(
    values: dict[str, object], mastery: float | None, credit: bool, expected: tuple[Completion, Success]
) -> None:
    assert map_status("scorm12", values, mastery_score=mastery, credit=credit) == expected


@pytest.mark.parametrize(
    ("completion_status", "success_status", "others", "expected"),
    [
        ("completed", "passed", {}, (Completion.COMPLETED, Success.PASSED)),
        ("completed", "failed", {}, (Completion.COMPLETED, Success.FAILED)),
        ("incomplete", "passed", {}, (Completion.IN_PROGRESS, Success.PASSED)),
        ("incomplete", "unknown", {}, (Completion.IN_PROGRESS, Success.UNKNOWN)),
        ("unknown", "unknown", {}, (Completion.NOT_STARTED, Success.UNKNOWN)),
        ("not attempted", "unknown", {}, (Completion.NOT_STARTED, Success.UNKNOWN)),
        ("unknown", "unknown", {"cmi.location": "page-2"}, (Completion.IN_PROGRESS, Success.UNKNOWN)),
        ("not attempted", "failed", {}, (Completion.IN_PROGRESS, Success.FAILED)),
    ],
)
def test_scorm2004_keeps_completion_and_success_apart(
    completion_status: str,
    success_status: str,
    others: dict[str, object],
    expected: tuple[Completion, Success],
) -> None:
    values = {"cmi.completion_status": completion_status, "cmi.success_status": success_status, **others}
    assert map_status("scorm2004", values) == expected


# ---------------------------------------------------------------------------------------------------------
# Sessions, time and attempts


@pytest.mark.parametrize(
    ("standard", "times"),
    [
        ("scorm12", ["00:00:30", "00:01:00", "00:01:30"]),
        ("scorm2004", ["PT30S", "PT1M", "PT1M30S"]),
    ],
)
def test_repeated_autocommits_of_one_session_count_its_time_once(
    standard: Standard, times: list[str]
) -> None:
    state = launch(None, standard, "tab-a")
    for time in times:
        payload = commit12(session_time=time) if standard == "scorm12" else {"session_time": time}
        state = applied(send(state, payload, "tab-a"))
    assert state.session_seconds_total == 90.0


def test_the_final_commit_does_not_add_the_session_a_second_time() -> None:
    state = launch(None, "scorm2004", "tab-a")
    state = applied(send(state, {"session_time": "PT5M"}, "tab-a"))
    state = applied(send(state, {"session_time": "PT5M10S", "exit": "suspend"}, "tab-a", final=True))
    assert state.session_seconds_total == 310.0


def test_two_tabs_committing_alternately_each_count_once() -> None:
    state = launch(None, "scorm12", "tab-a")
    state = launch(state, "scorm12", "tab-b")
    for session_id, time in [
        ("tab-a", "00:00:10"),
        ("tab-b", "00:00:20"),
        ("tab-a", "00:00:30"),
        ("tab-b", "00:00:40"),
    ]:
        state = applied(send(state, commit12(session_time=time, lesson_status="incomplete"), session_id))
    assert state.session_seconds_total == 70.0
    assert state.attempt == 1


def test_an_autocommit_arriving_late_does_not_shrink_its_session() -> None:
    state = launch(None, "scorm2004", "tab-a")
    state = applied(send(state, {"session_time": "PT2M"}, "tab-a"))
    state = applied(send(state, {"session_time": "PT1M"}, "tab-a"))
    assert state.session_seconds_total == 120.0


def test_a_stale_tab_does_not_take_back_a_completion() -> None:
    state = launch(None, "scorm12", "tab-a")
    state = launch(state, "scorm12", "tab-b")
    state = applied(send(state, commit12(lesson_status="passed", raw="90"), "tab-a"))
    state = applied(send(state, commit12(lesson_status="incomplete"), "tab-b"))
    assert (state.completion, state.success, state.score_raw) == (Completion.COMPLETED, Success.PASSED, 90.0)
    assert resume_cmi(state)["core"]["lesson_status"] == "passed"  # type: ignore[index]


def test_a_stale_scorm2004_tab_does_not_take_back_completion_or_result() -> None:
    state = launch(None, "scorm2004", "tab-a")
    state = applied(send(state, {"completion_status": "completed", "success_status": "passed"}, "tab-a"))
    state = applied(send(state, {"completion_status": "incomplete", "success_status": "unknown"}, "tab-a"))
    assert (state.completion, state.success) == (Completion.COMPLETED, Success.PASSED)


def test_a_retaken_test_replaces_a_failed_result_with_a_pass() -> None:
    state = launch(None, "scorm12", "tab-a")
    state = applied(send(state, commit12(lesson_status="failed", raw="40"), "tab-a"))
    state = applied(send(state, commit12(lesson_status="incomplete"), "tab-a"))
    assert state.success is Success.FAILED
    state = applied(send(state, commit12(lesson_status="passed", raw="95"), "tab-a"))
    assert (state.success, state.score_raw, state.score_percent) == (Success.PASSED, 95.0, 95.0)


def test_the_mastery_score_decides_a_scorm12_completion_and_the_sco_reads_the_verdict_back() -> None:
    state = launch(None, "scorm12", "tab-a")
    state = applied(send(state, commit12(lesson_status="completed", raw="72"), "tab-a", mastery=80.0))
    assert (state.completion, state.success) == (Completion.COMPLETED, Success.FAILED)
    assert resume_cmi(state)["core"]["lesson_status"] == "failed"  # type: ignore[index]
    state = applied(send(state, commit12(lesson_status="completed", raw="88"), "tab-a", mastery=80.0))
    assert state.success is Success.PASSED


def test_a_rejected_value_is_not_stored_while_the_rest_of_the_commit_is() -> None:
    state = launch(None, "scorm12", "tab-a")
    outcome = send(state, commit12(lesson_status="passed", raw="150", session_time="00:01:00"), "tab-a")
    assert isinstance(outcome, Applied)
    assert [r.element for r in outcome.rejected if r.kind is RejectionKind.INVALID] == ["cmi.core.score.raw"]
    assert (outcome.state.success, outcome.state.score_raw, outcome.state.session_seconds_total) == (
        Success.PASSED,
        None,
        60.0,
    )


def test_scorm2004_scores_and_progress_are_tracked_as_reported() -> None:
    state = launch(None, "scorm2004", "tab-a")
    payload = commit2004(scaled="0.75", raw="15", min="0", max="20", progress_measure="0.5", location="p4")
    state = applied(send(state, payload, "tab-a"))
    assert (state.score_scaled, state.score_raw, state.score_min, state.score_max) == (0.75, 15.0, 0.0, 20.0)
    assert (state.score_percent, state.progress_measure, state.location) == (75.0, 0.5, "p4")


@pytest.mark.parametrize(
    ("standard", "exit_value", "entry", "new_attempt", "total_after"),
    [
        ("scorm12", "suspend", Entry.RESUME, False, 60.0),
        ("scorm12", "", Entry.NONE, True, 60.0),  # 1.2: time keeps adding up over attempts
        ("scorm12", "logout", Entry.NONE, True, 60.0),
        ("scorm2004", "suspend", Entry.RESUME, False, 60.0),
        ("scorm2004", "normal", Entry.AB_INITIO, True, 0.0),  # 2004: a new attempt starts from zero
        ("scorm2004", "", Entry.AB_INITIO, True, 0.0),
        ("scorm2004", "time-out", Entry.AB_INITIO, True, 0.0),
    ],
)
def test_the_exit_of_the_last_session_decides_the_next_entry_and_attempt(
    standard: Standard, exit_value: str, entry: Entry, new_attempt: bool, total_after: float
) -> None:
    first = start_session(None, standard=standard, session_id="one")
    assert (first.entry, first.new_attempt, first.state.attempt) == (Entry.AB_INITIO, True, 1)
    time = "00:01:00" if standard == "scorm12" else "PT1M"
    payload = (
        commit12(session_time=time, exit=exit_value)
        if standard == "scorm12"
        else {"session_time": time, "exit": exit_value}
    )
    state = applied(send(first.state, payload, "one", final=True))
    second = start_session(state, standard=standard, session_id="two")
    assert (second.entry, second.new_attempt) == (entry, new_attempt)
    assert second.state.attempt == (2 if new_attempt else 1)
    assert second.state.session_seconds_total == total_after


def test_a_session_closed_without_terminate_keeps_its_attempt_open() -> None:
    state = launch(None, "scorm2004", "one")
    state = applied(send(state, {"session_time": "PT3M", "exit": "suspend", "suspend_data": "p=3"}, "one"))
    relaunch = start_session(state, standard="scorm2004", session_id="two")
    assert (relaunch.entry, relaunch.new_attempt) == (Entry.RESUME, False)
    assert relaunch.state.suspend_data == "p=3"
    assert relaunch.state.session_seconds_total == 180.0


def test_a_new_scorm2004_attempt_starts_from_a_fresh_data_model() -> None:
    state = launch(None, "scorm2004", "one")
    payload = {"completion_status": "completed", "suspend_data": "p=9", "location": "end", "exit": "normal"}
    state = applied(send(state, payload, "one", final=True))
    fresh = launch(state, "scorm2004", "two")
    assert (fresh.completion, fresh.suspend_data, fresh.location, fresh.attempt) == (
        Completion.NOT_STARTED,
        "",
        "",
        2,
    )
    assert resume_cmi(fresh) == {"entry": "ab-initio", "total_time": "PT0S"}


def test_a_scorm12_attempt_keeps_its_data_after_a_normal_exit() -> None:
    state = launch(None, "scorm12", "one")
    state = applied(
        send(state, commit12(lesson_status="completed", exit="", suspend_data="p=9"), "one", final=True)
    )
    again = launch(state, "scorm12", "two")
    assert (again.completion, again.suspend_data, again.attempt) == (Completion.COMPLETED, "p=9", 2)


def test_a_commit_for_a_finished_attempt_is_ignored() -> None:
    state = launch(None, "scorm2004", "one")
    state = applied(
        send(
            state,
            {"completion_status": "completed", "session_time": "PT1M", "exit": "normal"},
            "one",
            final=True,
        )
    )
    outcome = send(state, {"completion_status": "incomplete", "session_time": "PT9M"}, "one")
    assert isinstance(outcome, AttemptFinished)
    assert outcome.state == state
    assert outcome.session_id == "one"


def test_a_commit_from_an_earlier_attempt_is_ignored_once_a_new_one_began() -> None:
    state = launch(None, "scorm2004", "old-tab")
    state = launch(state, "scorm2004", "closer")
    state = applied(send(state, {"session_time": "PT1M", "exit": "normal"}, "closer", final=True))
    state = launch(state, "scorm2004", "new-tab")
    outcome = send(state, {"completion_status": "completed", "session_time": "PT5M"}, "old-tab")
    assert isinstance(outcome, AttemptFinished)
    assert (outcome.state.completion, outcome.state.session_seconds_total) == (Completion.NOT_STARTED, 0.0)


def test_a_replayed_commit_after_a_suspending_terminate_is_dropped() -> None:
    state = launch(None, "scorm12", "one")
    final = commit12(session_time="00:05:00", exit="suspend", suspend_data="p=5")
    state = applied(send(state, final, "one", final=True))
    outcome = send(state, commit12(session_time="00:04:00", suspend_data="p=4"), "one")
    assert isinstance(outcome, SessionEnded)
    assert (outcome.state.suspend_data, outcome.state.session_seconds_total) == ("p=5", 300.0)


def test_another_tab_of_a_just_finished_attempt_still_counts() -> None:
    state = launch(None, "scorm12", "tab-a")
    state = launch(state, "scorm12", "tab-b")
    state = applied(send(state, commit12(session_time="00:01:00", exit=""), "tab-a", final=True))
    state = applied(send(state, commit12(session_time="00:02:00", exit="suspend"), "tab-b", final=True))
    assert state.session_seconds_total == 180.0
    assert start_session(state, standard="scorm12").entry is Entry.RESUME


def test_a_commit_without_a_seen_launch_begins_the_first_attempt() -> None:
    commit = validate_commit("scorm2004", {"completion_status": "incomplete", "session_time": "PT10S"})
    outcome = apply_commit(
        None, commit, standard="scorm2004", session_id="s", is_final=False, mastery_score=None, now=T0
    )
    state = applied(outcome)
    # Its progress is kept, but not its time: a launch we never saw has been open for no time we know of.
    assert (state.attempt, state.completion, state.session_seconds_total, state.first_access_at) == (
        1,
        Completion.IN_PROGRESS,
        0.0,
        T0,
    )


def test_access_dates_and_the_completion_date_are_kept() -> None:
    t1, t2, t3 = (T0 + timedelta(minutes=m) for m in (5, 10, 15))
    state = launch(None, "scorm2004", "one", at=T0)
    state = applied(send(state, {"completion_status": "incomplete"}, "one", at=t1))
    assert (state.first_access_at, state.last_access_at, state.completed_at) == (T0, t1, None)
    state = applied(send(state, {"completion_status": "completed"}, "one", at=t2))
    state = applied(send(state, {"completion_status": "completed"}, "one", at=t3))
    assert (state.first_access_at, state.last_access_at, state.completed_at) == (T0, t3, t2)


def test_a_state_mixing_standards_is_a_programming_error() -> None:
    state = launch(None, "scorm12", "one")
    with pytest.raises(ValueError, match="scorm12"):
        start_session(state, standard="scorm2004")


def test_resume_data_carries_entry_and_total_time_but_no_write_only_values() -> None:
    state = launch(None, "scorm12", "one")
    state = applied(
        send(
            state,
            commit12(
                lesson_status="incomplete",
                lesson_location="p2",
                session_time="01:30:15.5",
                exit="suspend",
                suspend_data="x",
            ),
            "one",
            final=True,
        )
    )
    state = launch(state, "scorm12", "two")
    assert resume_cmi(state) == {
        "core": {
            "lesson_status": "incomplete",
            "lesson_location": "p2",
            "entry": "resume",
            "total_time": "0001:30:15.50",
        },
        "suspend_data": "x",
    }


def test_a_stored_state_reads_back_equal_from_json() -> None:
    state = launch(None, "scorm2004", "one", at=T0)
    payload = commit2004(
        scaled="0.9",
        completion_status="completed",
        success_status="passed",
        session_time="PT1M",
        interactions=[{"id": "q1"}],
    )
    state = applied(send(state, payload, "one", at=T0 + timedelta(minutes=1)))
    assert ScoState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


def test_sessions_beyond_the_tracked_limit_fold_into_the_total_without_losing_time() -> None:
    state: ScoState | None = None
    for n in range(150):
        state = launch(state, "scorm12", f"s{n}")
        state = applied(send(state, commit12(session_time="00:00:10", exit="suspend"), f"s{n}", final=True))
    assert state is not None
    assert len(state.sessions) <= 100
    assert state.session_seconds_total == 1500.0


def test_invented_session_ids_with_the_longest_session_time_add_nothing() -> None:
    state = launch(None, "scorm12", "real-tab")
    for n in range(110):
        outcome = send(
            state, commit12(session_time="9999:59:59.99"), f"made-up-{n}", at=T0 + timedelta(minutes=10)
        )
        state = applied(outcome)
    assert state.session_seconds_total == 0.0


@pytest.mark.parametrize(
    ("standard", "longest"), [("scorm12", "9999:59:59.99"), ("scorm2004", "PT9999H59M59.99S")]
)
def test_a_session_records_at_most_the_time_its_launch_has_been_open(
    standard: Standard, longest: str
) -> None:
    def timed(text: str) -> dict[str, Any]:
        return commit12(session_time=text) if standard == "scorm12" else {"session_time": text}

    state = launch(None, standard, "tab-a")
    state = applied(send(state, timed(longest), "tab-a", at=T0 + timedelta(minutes=10)))
    assert state.session_seconds_total == 600.0
    honest = "00:05:00" if standard == "scorm12" else "PT5M"
    state = launch(state, standard, "tab-b", at=T0 + timedelta(minutes=20))
    state = applied(send(state, timed(honest), "tab-b", at=T0 + timedelta(minutes=26)))
    assert state.session_seconds_total == 900.0, "an honest session keeps all its time"


def test_many_launches_open_at_once_record_no_more_than_the_time_since_the_first() -> None:
    state: ScoState | None = None
    for n in range(50):
        state = launch(state, "scorm2004", f"tab-{n}")
    assert state is not None
    for n in range(50):
        state = applied(send(state, {"session_time": "PT1H"}, f"tab-{n}", at=T0 + timedelta(hours=1)))
    assert state.session_seconds_total == 3600.0


def test_bounded_session_time_survives_storage() -> None:
    state = launch(None, "scorm12", "tab-a")
    stored = ScoState.from_dict(json.loads(json.dumps(state.to_dict())))
    state = applied(send(stored, commit12(session_time="9999:00:00"), "tab-a", at=T0 + timedelta(minutes=3)))
    assert state.session_seconds_total == 180.0


STEP = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.floats(min_value=0, max_value=36_000, allow_nan=False),
    st.booleans(),
    st.sampled_from(["", "suspend", "logout"]),
)


@given(standard=st.sampled_from(["scorm12", "scorm2004"]), steps=st.lists(STEP, max_size=25))
def test_commits_never_decrease_the_time_of_the_attempt(
    standard: Standard, steps: list[tuple[str, float, bool, str]]
) -> None:
    state: ScoState | None = None
    for session_id in "abc":
        state = launch(state, standard, session_id)
    assert state is not None
    for session_id, seconds, final, exit_value in steps:
        time = format_cmi_timespan(seconds) if standard == "scorm12" else format_iso_duration(seconds)
        payload = (
            commit12(session_time=time, exit=exit_value)
            if standard == "scorm12"
            else {"session_time": time, "exit": exit_value}
        )
        outcome = send(state, payload, session_id, final=final)
        assert outcome.state.attempt == state.attempt
        assert outcome.state.session_seconds_total >= state.session_seconds_total
        state = outcome.state


# ---------------------------------------------------------------------------------------------------------
# Course rollup


def sco(
    completion: Completion,
    success: Success = Success.UNKNOWN,
    percent: float | None = None,
    raw: float | None = None,
    seconds: float = 0.0,
    *,
    standard: Standard = "scorm12",
    scale: tuple[float | None, float | None] = (None, None),
) -> ScoState:
    return ScoState(
        standard=standard,
        completion=completion,
        success=success,
        score_percent=percent,
        score_raw=raw,
        score_min=scale[0],
        score_max=scale[1],
        session_seconds_total=seconds,
        attempt=1,
    )


C, P, N = Completion.COMPLETED, Completion.IN_PROGRESS, Completion.NOT_STARTED


@pytest.mark.parametrize(
    ("scos", "completion"),
    [
        ([sco(C), sco(C), sco(C)], C),
        ([sco(C), sco(C), None], P),
        ([sco(C), sco(P)], P),
        ([sco(N), None], N),
        ([None, None], N),
        ([], N),
    ],
)
def test_a_course_is_completed_when_every_sco_is(scos: list[ScoState | None], completion: Completion) -> None:
    assert rollup("scorm12", scos).completion is completion


@pytest.mark.parametrize(
    ("scos", "mastery", "success"),
    [
        ([sco(C, Success.PASSED), sco(C, Success.PASSED)], None, Success.PASSED),
        ([sco(C, Success.PASSED), sco(C)], None, Success.PASSED),  # a content SCO reports no result
        ([sco(C, Success.PASSED), sco(C, Success.FAILED)], None, Success.FAILED),
        ([sco(C, Success.PASSED), sco(P)], None, Success.UNKNOWN),  # the unfinished SCO may still fail
        ([sco(C, Success.PASSED), None], None, Success.UNKNOWN),
        ([sco(C), sco(C)], None, Success.UNKNOWN),
        ([sco(C, percent=90), sco(C, percent=70)], 75.0, Success.PASSED),  # 1.2 course mastery on the mean
        ([sco(C, percent=90), sco(C, percent=50)], 75.0, Success.FAILED),
        ([sco(C, percent=90), sco(P, percent=90)], 75.0, Success.UNKNOWN),
    ],
)
def test_a_course_result_follows_its_scos(
    scos: list[ScoState | None], mastery: float | None, success: Success
) -> None:
    assert rollup("scorm12", scos, mastery).success is success


def test_a_scorm2004_course_without_runtime_rollup_ignores_a_course_mastery_score() -> None:
    scos: list[ScoState | None] = [
        sco(C, percent=90, standard="scorm2004"),
        sco(C, percent=90, standard="scorm2004"),
    ]
    assert rollup("scorm2004", scos, 75.0).success is Success.UNKNOWN


def test_a_course_score_is_the_mean_of_its_scored_scos_and_its_time_the_sum() -> None:
    progress = rollup(
        "scorm12",
        [sco(C, percent=80, raw=80, seconds=60), sco(C, seconds=30), sco(C, percent=60, raw=60, seconds=10)],
    )
    assert (progress.score_percent, progress.score_raw, progress.total_seconds) == (70.0, 70.0, 100.0)


def test_raw_scores_on_different_scales_do_not_average() -> None:
    scos: list[ScoState | None] = [
        sco(C, percent=80, raw=8, scale=(0, 10)),
        sco(C, percent=60, raw=60, scale=(0, 100)),
    ]
    progress = rollup("scorm2004", scos)
    assert (progress.score_percent, progress.score_raw) == (70.0, None)


OPTIONAL_TIME = st.none() | st.datetimes(timezones=st.just(UTC))
SCO_STATE = st.builds(
    ScoState,
    standard=st.sampled_from(["scorm12", "scorm2004"]),
    completion=st.sampled_from(Completion),
    success=st.sampled_from(Success),
    score_raw=OPTIONAL_FLOAT,
    score_min=OPTIONAL_FLOAT,
    score_max=OPTIONAL_FLOAT,
    score_percent=st.none() | st.floats(min_value=0, max_value=100),
    session_seconds_total=st.floats(min_value=0, max_value=10**7),
    attempt=st.integers(min_value=1, max_value=50),
    first_access_at=OPTIONAL_TIME,
    last_access_at=OPTIONAL_TIME,
    completed_at=OPTIONAL_TIME,
)


@given(SCO_STATE, st.none() | st.floats(min_value=0, max_value=100))
def test_a_single_sco_course_rolls_up_to_exactly_that_sco(state: ScoState, mastery: float | None) -> None:
    progress = rollup(state.standard, [state], mastery)
    assert progress == CourseProgress(
        completion=state.completion,
        success=state.success,
        score_percent=state.score_percent,
        score_raw=state.score_raw,
        total_seconds=state.session_seconds_total,
        attempts=state.attempt,
        first_access_at=state.first_access_at,
        last_access_at=state.last_access_at,
        completed_at=state.completed_at if state.completion is Completion.COMPLETED else None,
    )


def test_a_commit_result_separates_problems_from_read_only_echoes() -> None:
    result = validate_commit("scorm12", commit12(student_name="Ada", raw="101"))
    assert isinstance(result, CommitResult)
    assert [r.element for r in result.rejected] == ["cmi.core.student_name", "cmi.core.score.raw"]
    assert [r.element for r in result.problems] == ["cmi.core.score.raw"]


def test_a_scorm12_sco_the_learner_browsed_counts_towards_the_course_without_a_result() -> None:
    browsed = replace(sco(P), cmi={"core": {"lesson_status": "browsed"}})

    progress = rollup("scorm12", [sco(C), browsed])

    assert (progress.completion, progress.success) == (C, Success.UNKNOWN)
