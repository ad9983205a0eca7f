"""The question report use case: a course's answers from the engine that plays it."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.questions import LearnerAnswers, QuestionReport, build_report, latest_per_question

if TYPE_CHECKING:
    from scormhub.domain.model import Course, Enrollment
    from scormhub.domain.ports.results import InteractionSource, QuestionUnitOfWork


async def question_report(
    workspace_id: UUID,
    course: Course,
    *,
    uow: QuestionUnitOfWork,
    cloud: InteractionSource | None,
) -> QuestionReport:
    """The course's question report, from the engine that plays it."""
    async with uow:
        stored = await uow.question_answers.for_course(workspace_id, course.id)
        enrollments: list[Enrollment] = []
        if course.engine.value == "scorm_cloud":
            enrollments = await uow.enrollments.list_for_course(workspace_id, course.id, limit=10_000)
    if course.engine.value != "scorm_cloud":
        learners = [
            LearnerAnswers(e.id, e.learner_name, e.learner_email, latest_per_question(answers))
            for e, answers in stored
            if answers
        ]
        return build_report(learners)
    started = [e for e in enrollments if e.completion.value != "not_started"]
    if cloud is None:
        return build_report([], [e.learner_name for e in started])
    read = await cloud.interactions_of([str(e.id) for e in started])
    learners = [
        LearnerAnswers(e.id, e.learner_name, e.learner_email, latest_per_question(given))
        for e in started
        if (given := read.get(str(e.id)))
    ]
    missing = [e.learner_name for e in started if read.get(str(e.id)) is None]
    return build_report(learners, missing)
