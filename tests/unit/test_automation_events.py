"""Automation events: which progress changes are events, the shared payload, and trigger filters."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from scormhub.domain.automation.events import EventFacts, absolute, matches, payload_of, progress_events
from scormhub.domain.automation.model import AutomationEvent
from scormhub.domain.model import Enrollment
from scormhub.domain.scorm.cmi import Completion, Success

NOW = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)


def enrollment(**changes: object) -> Enrollment:
    base = Enrollment(
        id=uuid.uuid4(),
        workspace_id=uuid.uuid4(),
        course_id=uuid.uuid4(),
        contact_id="CON",
        learner_name="Ann Lee",
        learner_email="ann@example.com",
        company_key=None,
        launch_token="t",
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_each_transition_is_an_event_once_and_a_repeat_is_none() -> None:
    started = enrollment()
    passed = replace(started, completion=Completion.COMPLETED, success=Success.PASSED, score_percent=87.0)

    assert progress_events(started, passed) == [
        AutomationEvent.COURSE_COMPLETED,
        AutomationEvent.COURSE_PASSED,
    ]
    assert progress_events(passed, passed) == []
    assert progress_events(passed, replace(passed, success=Success.FAILED)) == [AutomationEvent.COURSE_FAILED]


def test_the_payload_has_the_fields_the_trigger_declares() -> None:
    done = enrollment(
        completion=Completion.COMPLETED, success=Success.PASSED, score_percent=87.0, completed_at=NOW
    )
    facts = EventFacts(AutomationEvent.COURSE_PASSED, done, "Excel 101", NOW, "x")

    body = payload_of(facts, location_id="LOC")

    assert body["event"] == "course_passed"
    assert body["eventId"] == EventFacts(AutomationEvent.COURSE_PASSED, done, "Other", NOW, "x").event_id
    assert body["contact"] == {"email": "ann@example.com", "firstName": "Ann", "lastName": "Lee"}
    assert body["enrollment"]["score"] == 87.0
    assert body["enrollment"]["passed"] is True
    assert body["enrollment"]["completedAt"] == "2026-09-01T10:00:00Z"


def test_certificate_paths_become_links_on_this_server() -> None:
    sent = absolute({"certificate": {"id": "c", "url": "/certificates/c"}}, "https://hub.example.com/")

    assert sent["certificate"]["url"] == "https://hub.example.com/certificates/c"


def test_filters_match_on_dot_paths_and_unknown_operators_do_not_narrow() -> None:
    body = {"course": {"id": "crs_1"}, "enrollment": {"passed": True}}

    assert matches([{"field": "course.id", "operator": "==", "value": "crs_1"}], body)
    assert not matches([{"field": "course.id", "operator": "==", "value": "crs_2"}], body)
    assert matches([{"field": "course.id", "operator": "==", "value": ["crs_2", "crs_1"]}], body)
    assert matches([{"field": "course.id", "operator": "contains", "value": "zzz"}], body)
    assert matches([{"id": "course.id", "value": "crs_1"}], body)
    assert matches([], body)
