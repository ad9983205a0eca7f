"""Overriding a result from the course page: the form, its errors, the badge, and a later built-in commit."""

from __future__ import annotations

import httpx
from litestar import Litestar
from test_player_tracking import GOLF_12, PASSED_12, commit, current, enrolled, launch

from appserver import csrf_of
from scormhub.domain.scorm.cmi import Completion, Success


async def test_an_admin_overrides_a_result_and_a_later_commit_does_not_undo_it(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enrolled(admin, app, GOLF_12)
    base = f"/app/courses/{enrollment.course_id}/enrollments/{enrollment.id}/override"
    page = await admin.get(f"/app/courses/{enrollment.course_id}")
    assert base in page.text  # the row's Override link

    form = await admin.get(base)
    assert form.status_code == 200
    assert "No override has been set" in form.text
    refused = await admin.post(
        base,
        data={"_csrf_token": csrf_of(admin), "completion": "completed", "success": "passed", "score": "120"},
    )
    assert refused.status_code == 422
    assert "number from 0 to 100" in refused.text
    assert (await current(enrollment)).override is None

    done = await admin.post(
        base,
        data={
            "_csrf_token": csrf_of(admin),
            "completion": "completed",
            "success": "passed",
            "score": "90",
            "reason": "Passed the practical assessment in person",
        },
    )
    assert done.status_code == 303
    course_page = await admin.get(done.headers["location"])
    assert "overridden" in course_page.text
    assert "Passed" in course_page.text

    # The learner then plays the course and fails it: the override stands.
    config = await launch(admin, enrollment.launch_token)
    failed = {**PASSED_12, "core": {**PASSED_12["core"], "lesson_status": "failed", "score": {"raw": "20"}}}
    assert (await commit(admin, config, failed, final=True)).status_code == 200
    now = await current(enrollment)
    assert (now.completion, now.success, now.score_percent) == (Completion.COMPLETED, Success.PASSED, 90.0)
    assert now.override is not None
    assert now.override.engine.success is Success.FAILED

    audit = await admin.get(base)
    assert "Passed the practical assessment in person" in audit.text
    assert "Override set" in audit.text
    assert "The course itself reports: Completed" in audit.text

    cleared = await admin.post(f"{base}/clear", data={"_csrf_token": csrf_of(admin), "reason": "mistake"})
    assert cleared.status_code == 303
    assert (await current(enrollment)).success is Success.FAILED


async def test_another_courses_enrollment_is_not_found(admin: httpx.AsyncClient, app: Litestar) -> None:
    enrollment = await enrolled(admin, app, GOLF_12)
    wrong = f"/app/courses/{enrollment.id}/enrollments/{enrollment.id}/override"
    assert (await admin.get(wrong)).status_code == 404
    posted = await admin.post(
        wrong, data={"_csrf_token": csrf_of(admin), "completion": "completed", "reason": "x"}
    )
    assert posted.status_code == 404
