"""The question report: each question of a course (SCORM interactions) with how many answered it, how many
got it right, the most common wrong answers, and what every learner answered.

Answers come from the built-in player's stored run-time data (cmi.interactions, which SCORM 1.2 content
may only write, but which the LMS receives in every commit) and from SCORM Cloud's runtime interactions.
A learner who answers one question several times counts once, with their latest answer: the report is
about what learners know now, not how often they clicked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from scormhub.domain.model import Answer as Answer
from scormhub.domain.model import Verdict as Verdict

# The most common wrong answers shown per question.
TOP_WRONG = 3


@dataclass(frozen=True)
class LearnerAnswers:
    enrollment_id: UUID
    learner_name: str
    learner_email: str
    answers: tuple[Answer, ...]  # one per question, the latest given

    def answer_to(self, question_id: str) -> Answer | None:
        return next((a for a in self.answers if a.question_id == question_id), None)


@dataclass(frozen=True)
class QuestionFigures:
    question_id: str
    kind: str
    description: str
    answered: int
    correct: int
    judged: int
    wrong_answers: tuple[tuple[str, int], ...]
    correct_responses: tuple[str, ...] = ()

    @property
    def percent_correct(self) -> float | None:
        return None if self.judged == 0 else round(100 * self.correct / self.judged, 1)


@dataclass(frozen=True)
class QuestionReport:
    questions: tuple[QuestionFigures, ...]
    learners: tuple[LearnerAnswers, ...]
    unavailable: tuple[str, ...] = field(default=())  # learners whose answers could not be read now


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


def _records(array: Any) -> list[Mapping[str, Any]]:
    """A stored cmi array ({"0": {...}, "1": {...}} or a list) in index order."""
    if isinstance(array, Mapping):
        keyed = [(int(k), v) for k, v in array.items() if str(k).isdigit() and isinstance(v, Mapping)]
        return [v for _, v in sorted(keyed, key=lambda kv: kv[0])]
    if isinstance(array, list):
        return [v for v in array if isinstance(v, Mapping)]
    return []


def answers_from_cmi(interactions: Any) -> list[Answer]:
    """The stored cmi.interactions of one SCO (either SCORM version) as answers, in the order given."""
    found: list[Answer] = []
    for record in _records(interactions):
        question = _text(record.get("id"))
        if not question:
            continue
        patterns = tuple(
            _text(p.get("pattern")) for p in _records(record.get("correct_responses")) if p.get("pattern")
        )
        found.append(
            Answer(
                question_id=question,
                kind=_text(record.get("type")),
                # 2004 learner_response, 1.2 student_response
                response=_text(record.get("learner_response", record.get("student_response"))),
                result=_text(record.get("result")),
                correct_responses=patterns,
                description=_text(record.get("description")),
            )
        )
    return found


def latest_per_question(answers: Iterable[Answer]) -> tuple[Answer, ...]:
    """One answer per question: the last given, in the order the questions were first met."""
    latest: dict[str, Answer] = {}
    for answer in answers:
        latest[answer.question_id] = answer  # a dict keeps the position of the first insertion
    return tuple(latest.values())


def build_report(learners: Sequence[LearnerAnswers], unavailable: Sequence[str] = ()) -> QuestionReport:
    """Per question: answered, correct of judged, and the most common wrong answers."""
    order: dict[str, Answer] = {}
    for learner in learners:
        for answer in learner.answers:
            order.setdefault(answer.question_id, answer)
    figures: list[QuestionFigures] = []
    for question_id, first in order.items():
        given = [a for learner in learners if (a := learner.answer_to(question_id)) is not None]
        verdicts = [a.verdict for a in given]
        wrong = Counter(a.response or "(no answer)" for a in given if a.verdict is Verdict.INCORRECT)
        figures.append(
            QuestionFigures(
                question_id=question_id,
                kind=first.kind,
                description=next((a.description for a in given if a.description), ""),
                answered=len(given),
                correct=verdicts.count(Verdict.CORRECT),
                judged=sum(v is not Verdict.UNJUDGED for v in verdicts),
                wrong_answers=tuple(sorted(wrong.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_WRONG]),
                correct_responses=next((a.correct_responses for a in given if a.correct_responses), ()),
            )
        )
    return QuestionReport(tuple(figures), tuple(learners), tuple(unavailable))


def export_rows(report: QuestionReport) -> tuple[list[str], list[list[Any]], list[str], list[list[Any]]]:
    """The two sheets of an export: questions (header, rows) and answers per learner (header, rows)."""
    questions_header = [
        "Question",
        "Type",
        "Description",
        "Answered",
        "Correct",
        "% correct",
        "Common wrong answers",
    ]
    questions = [
        [
            q.question_id,
            q.kind,
            q.description,
            q.answered,
            q.correct,
            q.percent_correct,
            "; ".join(f"{response} ({count})" for response, count in q.wrong_answers),
        ]
        for q in report.questions
    ]
    answers_header = ["Learner", "Email", "Question", "Answer", "Result"]
    answers = [
        [learner.learner_name, learner.learner_email, a.question_id, a.response, a.verdict.value]
        for learner in report.learners
        for a in learner.answers
    ]
    return questions_header, questions, answers_header, answers
