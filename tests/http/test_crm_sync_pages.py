"""CRM sync as an admin sees it: a finished course reaches the contact; sync log, toggles, Sync All."""

from __future__ import annotations

import uuid

import httpx
from litestar import Litestar
from test_player_tracking import GOLF_12, PASSED_12, commit, enrolled, launch

from appserver import csrf_of
from scormhub.jobs.sync import push_to_crm, sync_enrollment


async def run_sync_jobs(app: Litestar, workspace_id: str, enrollment_id: str) -> None:
    ctx = {"deps": app.state.deps}
    await sync_enrollment(ctx, workspace_id=workspace_id, enrollment_id=enrollment_id)
    await push_to_crm(ctx, workspace_id=workspace_id)


async def test_a_finished_course_queues_a_sync_and_the_contact_gets_tags_note_and_record(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enrolled(admin, app, GOLF_12)
    config = await launch(admin, enrollment.launch_token)

    response = await commit(admin, config, PASSED_12, final=True)
    queued = await app.state.deps.queue.job(f"sync_enrollment:{enrollment.id}")
    await run_sync_jobs(app, str(enrollment.workspace_id), str(enrollment.id))
    contact_page = await admin.get(f"/app/contacts/{enrollment.contact_id}")

    assert response.status_code == 200
    assert queued is not None, "a finished commit queues sync_enrollment"
    assert "scorm_completed" in contact_page.text
    assert "scorm_passed" in contact_page.text
    assert "scorm_score_80_89" in contact_page.text
    assert "Completed the course “Golf Explained - Run-time Basic Calls”" in contact_page.text
    assert "Training records" in contact_page.text
    assert "85%" in contact_page.text


async def test_the_sync_log_lists_what_was_sent(admin: httpx.AsyncClient, app: Litestar) -> None:
    enrollment = await enrolled(admin, app, GOLF_12)
    config = await launch(admin, enrollment.launch_token)
    await commit(admin, config, PASSED_12, final=True)
    await run_sync_jobs(app, str(enrollment.workspace_id), str(enrollment.id))

    page = await admin.get("/app/sync")

    assert page.status_code == 200
    assert "3 sent" in page.text
    tags = "scorm_completed, scorm_passed, scorm_score_80_89"
    assert f'Add tags<br><span class="muted small">{tags}</span>' in page.text
    assert "Training record" in page.text
    # People, not CRM ids: the learner each write was for.
    assert f'<span class="primary-text">{enrollment.learner_name}</span>' in page.text
    assert f">{enrollment.contact_id}<" not in page.text


async def test_turning_notes_off_stops_new_notes_but_keeps_tags(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    await admin.get("/app/settings")
    saved = await admin.post(
        "/app/settings/crm", data={"_csrf_token": csrf_of(admin), "sync_tags": "on", "sync_records": "on"}
    )
    enrollment = await enrolled(admin, app, GOLF_12)
    config = await launch(admin, enrollment.launch_token)
    await commit(admin, config, PASSED_12, final=True)
    await run_sync_jobs(app, str(enrollment.workspace_id), str(enrollment.id))

    contact_page = await admin.get(f"/app/contacts/{enrollment.contact_id}")
    async with app.state.deps.uow() as uow:
        workspace = await uow.workspaces.get(enrollment.workspace_id)
    assert saved.status_code == 303
    assert workspace is not None
    assert (workspace.sync_tags, workspace.sync_notes, workspace.sync_records) == (True, False, True)
    assert "scorm_passed" in contact_page.text
    assert "No notes yet." in contact_page.text


async def test_sync_all_shows_progress_that_stops_polling_when_done(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enrolled(admin, app, GOLF_12)
    course_url = f"/app/courses/{enrollment.course_id}"
    await admin.get(course_url)

    started = await admin.post(
        f"{course_url}/sync", data={"_csrf_token": csrf_of(admin)}, headers={"HX-Request": "true"}
    )
    assert 'hx-trigger="every 1s"' in started.text
    assert "0 / 1" in started.text
    async with app.state.deps.uow() as uow:
        run = await uow.sync_runs.latest(enrollment.workspace_id, enrollment.course_id)
    await sync_enrollment(
        {"deps": app.state.deps},
        workspace_id=str(enrollment.workspace_id),
        enrollment_id=str(enrollment.id),
        run_id=str(run.id),
    )
    finished = await admin.get(f"{course_url}/sync", headers={"HX-Request": "true"})

    assert "Synced 1 of 1" in finished.text
    assert "hx-trigger" not in finished.text


async def test_the_row_sync_button_says_when_a_learner_is_already_up_to_date(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enrolled(admin, app, GOLF_12)
    course_url = f"/app/courses/{enrollment.course_id}"
    await admin.get(course_url)

    response = await admin.post(
        f"{course_url}/enrollments/{enrollment.id}/sync",
        data={"_csrf_token": csrf_of(admin)},
        follow_redirects=True,
    )

    assert "is already up to date in the CRM" in response.text


async def test_custom_objects_show_as_provisioned_and_provision_now_is_idempotent(
    admin: httpx.AsyncClient,
) -> None:
    page = await admin.get("/app/settings")
    first = await admin.post(
        "/app/settings/custom-objects", data={"_csrf_token": csrf_of(admin)}, follow_redirects=True
    )
    second = await admin.post(
        "/app/settings/custom-objects", data={"_csrf_token": csrf_of(admin)}, follow_redirects=True
    )

    assert "Provisioned" in page.text
    assert "Custom objects are provisioned." in first.text
    assert second.status_code == 200


async def test_the_sync_log_can_be_narrowed_to_one_learner(admin: httpx.AsyncClient, app: Litestar) -> None:
    first = await enrolled(admin, app, GOLF_12, email="first@example.com")
    config = await launch(admin, first.launch_token)
    await commit(admin, config, PASSED_12, final=True)
    await run_sync_jobs(app, str(first.workspace_id), str(first.id))
    course_page = await admin.get(f"/app/courses/{first.course_id}")

    narrowed = await admin.get(f"/app/sync?enrollment={first.id}")
    other = await admin.get(f"/app/sync?enrollment={uuid.uuid4()}")

    assert f'href="/app/sync?enrollment={first.id}"' in course_page.text
    assert "3 sent" in narrowed.text
    assert "Nothing has been sent" in other.text
