"""What the CRM is told about an enrollment: tags, the completion note, the training record."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from scormhub.domain.crm_writes import EnrollmentFacts, SyncSettings, plan_sync, score_band
from scormhub.domain.model import RegistrationProgress, SyncedState, WriteKind
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.domain.sync import is_newer, retry_delay

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def facts(**changes: object) -> EnrollmentFacts:
    base = EnrollmentFacts(
        enrollment_id=uuid.UUID(int=1),
        contact_id="contact-1",
        learner_name="Zoë Ångström",
        learner_email="zoe@example.com",
        course_id=uuid.UUID(int=2),
        course_title="Golf Explained",
        completion=Completion.COMPLETED,
        success=Success.PASSED,
        score_percent=85.0,
        score_raw=85.0,
        total_seconds=754,
        attempts=1,
        enrolled_at=NOW - timedelta(days=1),
        first_access_at=NOW - timedelta(hours=1),
        last_access_at=NOW,
        completed_at=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def kinds(plan_writes: tuple) -> list[WriteKind]:  # type: ignore[type-arg]
    return [w.kind for w in plan_writes]


@pytest.mark.parametrize(
    ("percent", "band"),
    [
        (100, "scorm_score_90_100"),
        (90, "scorm_score_90_100"),
        (89.9, "scorm_score_80_89"),
        (50, "scorm_score_50_59"),
        (49.99, "scorm_score_0_49"),
        (0, "scorm_score_0_49"),
        (None, None),
    ],
)
def test_scores_fall_into_one_band(percent: float | None, band: str | None) -> None:
    assert score_band(percent) == band


def test_a_first_completion_with_a_pass_queues_tags_a_note_and_a_record() -> None:
    plan = plan_sync(facts(), SyncedState(), SyncSettings())

    assert kinds(plan.writes) == [WriteKind.ADD_TAGS, WriteKind.NOTE, WriteKind.TRAINING_RECORD]
    assert plan.writes[0].payload == {"tags": ["scorm_completed", "scorm_passed", "scorm_score_80_89"]}
    note = plan.writes[1].payload["body"]
    assert "Golf Explained" in note
    assert "Passed" in note
    assert "85%" in note
    assert "12m 34s" in note
    assert plan.writes[2].payload["properties"]["completed_on"] == "2026-11-22"


def test_a_sync_that_changes_nothing_writes_nothing() -> None:
    first = plan_sync(facts(), SyncedState(), SyncSettings())

    second = plan_sync(facts(), first.synced, SyncSettings())

    assert second.writes == ()


def test_a_changed_result_swaps_passed_for_failed_and_moves_the_band() -> None:
    first = plan_sync(facts(), SyncedState(), SyncSettings())

    second = plan_sync(facts(success=Success.FAILED, score_percent=40.0), first.synced, SyncSettings())

    removed = next(w for w in second.writes if w.kind is WriteKind.REMOVE_TAGS)
    added = next(w for w in second.writes if w.kind is WriteKind.ADD_TAGS)
    assert removed.payload["tags"] == ["scorm_passed", "scorm_score_80_89"]
    assert added.payload["tags"] == ["scorm_failed", "scorm_score_0_49"]
    assert WriteKind.NOTE not in kinds(second.writes), "the completion note is written once"


def test_replaying_the_same_change_produces_the_same_idempotency_keys() -> None:
    one = plan_sync(facts(), SyncedState(), SyncSettings())
    two = plan_sync(facts(), SyncedState(), SyncSettings())

    assert [w.idempotency_key for w in one.writes] == [w.idempotency_key for w in two.writes]


def test_an_enrollment_not_started_writes_nothing() -> None:
    plan = plan_sync(
        facts(completion=Completion.NOT_STARTED, success=Success.UNKNOWN, score_percent=None),
        SyncedState(),
        SyncSettings(),
    )

    assert plan.writes == ()


@pytest.mark.parametrize(
    ("settings", "absent"),
    [
        (SyncSettings(tags=False), {WriteKind.ADD_TAGS, WriteKind.REMOVE_TAGS}),
        (SyncSettings(notes=False), {WriteKind.NOTE}),
        (SyncSettings(records=False), {WriteKind.TRAINING_RECORD}),
    ],
)
def test_a_kind_of_write_turned_off_is_not_queued(settings: SyncSettings, absent: set[WriteKind]) -> None:
    plan = plan_sync(facts(), SyncedState(), settings)

    assert not absent & set(kinds(plan.writes))
    assert plan.writes


def test_older_progress_never_replaces_newer() -> None:
    progress = RegistrationProgress(
        updated_at=NOW - timedelta(minutes=5),
        completion=Completion.IN_PROGRESS,
        success=Success.UNKNOWN,
        score_percent=None,
        score_raw=None,
        total_seconds=10,
        attempts=1,
        first_access_at=None,
        last_access_at=None,
        completed_at=None,
    )

    assert not is_newer(progress, held_stamp=NOW)
    assert is_newer(progress, held_stamp=None)
    assert is_newer(replace(progress, updated_at=NOW + timedelta(seconds=1)), held_stamp=NOW)


def test_retries_back_off_and_respect_retry_after() -> None:
    early = retry_delay(1, retry_after=None, jitter=0.0)
    later = retry_delay(6, retry_after=None, jitter=0.0)

    assert 0 < early < later
    assert retry_delay(1, retry_after=30.0, jitter=0.99) >= 30.0
    assert retry_delay(50, retry_after=None, jitter=0.99) <= 15 * 60
