"""Course rollup: one course's progress from the states of its SCOs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import fmean

from scormhub.domain.scorm.cmi import (
    Completion,
    Success,
)
from scormhub.domain.scorm.package import Standard
from scormhub.domain.scorm.state import ScoState


@dataclass(frozen=True)
class CourseProgress:
    completion: Completion
    success: Success
    score_percent: float | None
    score_raw: float | None
    total_seconds: float
    attempts: int = 0
    first_access_at: datetime | None = None
    last_access_at: datetime | None = None
    completed_at: datetime | None = None


def _browsed(state: ScoState) -> bool:
    """SCORM 1.2 "browsed": the learner went through the SCO in browse mode. It earns no credit (the SCO
    stays in progress on its own) but the learner has been through it, so it counts for the course."""
    core = state.cmi.get("core")
    return state.standard == "scorm12" and isinstance(core, dict) and core.get("lesson_status") == "browsed"


def _done(state: ScoState | None) -> bool:
    return state is not None and (state.completion is Completion.COMPLETED or _browsed(state))


def _rollup_completion(scos: Sequence[ScoState | None]) -> Completion:
    if scos and all(_done(s) for s in scos):
        return Completion.COMPLETED
    if any(s is not None and s.completion is not Completion.NOT_STARTED for s in scos):
        return Completion.IN_PROGRESS
    return Completion.NOT_STARTED


def _rollup_success(
    standard: Standard,
    scos: Sequence[ScoState | None],
    completion: Completion,
    percent: float | None,
    mastery_score: float | None,
) -> Success:
    results = [s.success for s in scos if s is not None]
    if Success.FAILED in results:
        return Success.FAILED
    if Success.PASSED in results:
        # Passed once nothing left could still fail: every other SCO is done (content SCOs report no
        # result, so they count when completed). A single SCO is simply its own result.
        settled = all(s is not None and (s.success is Success.PASSED or _done(s)) for s in scos)
        return Success.PASSED if settled else Success.UNKNOWN
    # 1.2 defines no course result; with a course mastery score, judge the average once everything is done.
    # A single SCO already had its mastery applied by map_status, so this is for multi-SCO courses only.
    multi_sco_12 = standard == "scorm12" and len(scos) > 1
    if (
        multi_sco_12
        and completion is Completion.COMPLETED
        and mastery_score is not None
        and percent is not None
    ):
        return Success.PASSED if percent >= mastery_score else Success.FAILED
    return Success.UNKNOWN


def _rollup_raw(launched: Sequence[ScoState]) -> float | None:
    scored = [s for s in launched if s.score_raw is not None]
    # Raw scores on different scales do not average into anything meaningful.
    if not scored or len({(s.score_min, s.score_max) for s in scored}) > 1:
        return None
    return fmean(s.score_raw for s in scored if s.score_raw is not None)


def rollup(
    standard: Standard, scos: Sequence[ScoState | None], mastery_score: float | None = None
) -> CourseProgress:
    """Course-level progress from one entry per launchable item of the organisation (None: never launched).

    Policy for 1.2 and for 2004 without the runtime's own rollup: every item completed (or, in 1.2,
    browsed; an asset is completed once opened) -> completed; any started -> in progress; failed if any
    SCO failed; passed per _rollup_success (each SCO judged by its own mastery score, or the mean against
    the course's when no SCO reports a result); the score is the mean of the SCOs that have a percentage;
    time is the sum of the sessions' time (a 1.2 session that reports none counts the time it was open).
    `attempts` here is the most any one SCO has; the enrollment counts launches of the course instead."""
    launched = [s for s in scos if s is not None]
    completion = _rollup_completion(scos)
    percents = [s.score_percent for s in launched if s.score_percent is not None]
    percent = fmean(percents) if percents else None
    return CourseProgress(
        completion=completion,
        success=_rollup_success(standard, scos, completion, percent, mastery_score),
        score_percent=percent,
        score_raw=_rollup_raw(launched),
        total_seconds=math.fsum(s.session_seconds_total for s in launched),
        attempts=max((s.attempt for s in launched), default=0),
        first_access_at=min((s.first_access_at for s in launched if s.first_access_at), default=None),
        last_access_at=max((s.last_access_at for s in launched if s.last_access_at), default=None),
        completed_at=_rollup_completed_at(scos) if completion is Completion.COMPLETED else None,
    )


def _rollup_completed_at(scos: Sequence[ScoState | None]) -> datetime | None:
    """The course was completed when its last SCO was; unknown if any SCO's date is."""
    found = (s.completed_at or (s.last_access_at if _browsed(s) else None) for s in scos if s is not None)
    dates = [d for d in found if d is not None]
    return max(dates) if dates and len(dates) == len(scos) else None
