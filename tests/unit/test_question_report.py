"""The question report's arithmetic: answers read from stored cmi, one per learner and question, % correct
and the most common wrong answers."""

from __future__ import annotations

import uuid

from scormhub.domain.questions import (
    Answer,
    LearnerAnswers,
    Verdict,
    answers_from_cmi,
    build_report,
    export_rows,
    latest_per_question,
)

SCORM12_INTERACTIONS = {
    "0": {
        "id": "q1",
        "type": "choice",
        "student_response": "b",
        "result": "correct",
        "correct_responses": {"0": {"pattern": "b"}},
    },
    "1": {"id": "q2", "type": "true-false", "student_response": "t", "result": "wrong"},
    "2": {"id": "q1", "type": "choice", "student_response": "c", "result": "wrong"},
}
SCORM2004_INTERACTIONS = [
    {
        "id": "urn:golf:par",
        "type": "numeric",
        "learner_response": "4",
        "result": "correct",
        "description": "What is par?",
    },
    {
        "id": "urn:golf:club",
        "type": "fill-in",
        "learner_response": "driver",
        "correct_responses": [{"pattern": "putter"}],
    },
    {"id": "urn:golf:feel", "type": "likert", "learner_response": "3", "result": "neutral"},
]


def learner(name: str, *answers: Answer) -> LearnerAnswers:
    return LearnerAnswers(uuid.uuid4(), name, f"{name.lower()}@example.com", latest_per_question(answers))


def test_scorm_12_student_responses_are_read_in_index_order() -> None:
    answers = answers_from_cmi(SCORM12_INTERACTIONS)
    assert [(a.question_id, a.response, a.verdict) for a in answers] == [
        ("q1", "b", Verdict.CORRECT),
        ("q2", "t", Verdict.INCORRECT),
        ("q1", "c", Verdict.INCORRECT),
    ]
    assert answers[0].correct_responses == ("b",)


def test_scorm_2004_answers_without_a_result_are_judged_against_the_correct_pattern() -> None:
    answers = answers_from_cmi(SCORM2004_INTERACTIONS)
    assert [a.verdict for a in answers] == [Verdict.CORRECT, Verdict.INCORRECT, Verdict.UNJUDGED]
    assert answers[0].description == "What is par?"


def test_a_learner_who_answers_again_counts_once_with_the_latest_answer() -> None:
    latest = latest_per_question(answers_from_cmi(SCORM12_INTERACTIONS))
    assert [(a.question_id, a.response) for a in latest] == [("q1", "c"), ("q2", "t")]


def test_the_report_counts_answers_percent_correct_and_common_wrong_answers() -> None:
    def q1(response: str, result: str) -> Answer:
        return Answer("q1", "choice", response, result)

    report = build_report(
        [
            learner("Ada", q1("b", "correct")),
            learner("Bob", q1("c", "wrong")),
            learner("Cy", q1("c", "wrong")),
            learner("Di", q1("a", "wrong"), Answer("q2", "likert", "5", "neutral")),
        ]
    )
    first, second = report.questions
    assert (first.question_id, first.answered, first.correct, first.percent_correct) == ("q1", 4, 1, 25.0)
    assert first.wrong_answers == (("c", 2), ("a", 1))
    assert (second.answered, second.percent_correct) == (1, None)  # nothing to judge it by
    _, questions, _, answers = export_rows(report)
    assert questions[0][:6] == ["q1", "choice", "", 4, 1, 25.0]
    assert questions[0][6] == "c (2); a (1)"
    assert answers[0] == ["Ada", "ada@example.com", "q1", "b", "correct"]
    assert len(answers) == 5


def test_malformed_stored_records_are_skipped() -> None:
    assert answers_from_cmi({"0": "text", "x": {"id": "q"}, "1": {"type": "choice"}}) == []
    assert answers_from_cmi(None) == []
