"""Admin pages of issue 23: a due date when enrolling (and its badge), the due-dates report, certificate
validity and the verification page's expiry, reminder settings, and the email delivery log with retry."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import asyncpg
import httpx
from litestar import Litestar
from movable_clock import MovableClock
from test_enrollment_pages import enroll_directly, enrollments_of, ready_course, standalone

from appserver import csrf_of
from learner_rows import complete, issue_certificate
from pdf_text import read_pdf
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.jobs.learners import deliver_mail


def visible(response: httpx.Response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


async def test_a_due_date_set_when_enrolling_shows_on_the_course_page_and_turns_overdue(
    admin: httpx.AsyncClient, app: Litestar, clock: MovableClock
) -> None:
    course = await ready_course(admin, app)
    due = (clock.now() + timedelta(days=3)).date().isoformat()

    enrolled = await admin.post(
        f"/app/courses/{course.id}/enrollments",
        data={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "due_date": due,
            "_csrf_token": csrf_of(admin),
        },
        headers={"HX-Request": "true"},
    )

    assert enrolled.status_code == 200
    assert f"due by {due}" in visible(enrolled)
    assert f"due {due} due soon" in visible(enrolled)
    clock.offset += timedelta(days=5)
    page = await admin.get(f"/app/courses/{course.id}")
    assert f"due {due} overdue" in visible(page)
    report = await admin.get("/app/reports/due?state=overdue")
    assert "ada@example.com" in report.text
    soon = await admin.get("/app/reports/due?state=due_soon")
    assert "ada@example.com" not in soon.text


async def test_a_due_date_in_the_past_is_refused_and_nobody_is_enrolled(
    admin: httpx.AsyncClient, app: Litestar, clock: MovableClock
) -> None:
    course = await ready_course(admin, app)
    past = (clock.now() - timedelta(days=2)).date().isoformat()

    refused = await admin.post(
        f"/app/courses/{course.id}/enrollments",
        data={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "due_date": past,
            "_csrf_token": csrf_of(admin),
        },
        headers={"HX-Request": "true"},
    )

    assert refused.status_code == 200
    assert f"The due date {past} is in the past. Choose today or a later day" in visible(refused)
    assert await enrollments_of(course) == []


async def test_validity_is_checked_saved_and_the_verification_page_shows_expiry_then_expired(
    admin: httpx.AsyncClient, app: Litestar, clock: MovableClock, db: str
) -> None:
    course = await ready_course(admin, app)
    await admin.get(f"/app/courses/{course.id}/validity")
    bad = await admin.post(
        f"/app/courses/{course.id}/validity", data={"validity_days": "a year", "_csrf_token": csrf_of(admin)}
    )
    saved = await admin.post(
        f"/app/courses/{course.id}/validity", data={"validity_days": "30", "_csrf_token": csrf_of(admin)}
    )
    enrollment = await enroll_directly(course, "Ada", "Lovelace", "ada@example.com")
    conn = await asyncpg.connect(db)
    try:
        await complete(conn, enrollment.id, clock.now())
    finally:
        await conn.close()
    certificate = await issue_certificate(enrollment.workspace_id, enrollment.id, clock.now())

    valid = await admin.get(f"/certificates/{certificate.id}")
    pdf = await admin.get(f"/app/enrollments/{enrollment.id}/certificate")
    clock.offset += timedelta(days=31)
    expired = await admin.get(f"/certificates/{certificate.id}")

    assert bad.status_code == 422
    assert "whole number of days from 1 to 3650" in visible(bad)
    assert saved.status_code == 303
    expiry = (certificate.issued_at + timedelta(days=30)).date().isoformat()
    assert "Valid certificate" in visible(valid)
    assert f"Valid until {expiry}" in visible(valid)
    assert pdf.status_code == 200
    assert read_pdf(pdf.content).has(f"valid until {expiry}")
    assert "Certificate expired" in visible(expired)
    assert f"Expired on {expiry}" in visible(expired)


async def test_reminder_settings_are_saved_and_bad_offsets_explained(admin: httpx.AsyncClient) -> None:
    await admin.get("/app/learners/settings")

    bad = await admin.post(
        "/app/learners/settings",
        data={"offsets": "-7, soon", "notice_days": "30", "_csrf_token": csrf_of(admin)},
    )
    good = await admin.post(
        "/app/learners/settings",
        data={"offsets": "3, -14, -1", "notice_days": "45", "_csrf_token": csrf_of(admin)},
    )
    page = await admin.get("/app/learners/settings")

    assert bad.status_code == 422
    assert "“soon” is not a number of days" in visible(bad)
    assert good.status_code == 303
    assert 'value="-14, -1, 3"' in page.text
    assert 'value="45"' in page.text


async def test_the_delivery_log_shows_each_email_and_a_failed_one_can_be_retried(
    admin: httpx.AsyncClient, app: Litestar, clock: MovableClock
) -> None:
    course = await ready_course(admin, app)
    await enroll_directly(course, "Ada", "Lovelace", "ada@example.com")
    workspace = await standalone()
    await admin.get(f"/learn/{workspace.id}")
    await admin.post(
        f"/learn/{workspace.id}/link", data={"email": "ada@example.com", "_csrf_token": csrf_of(admin)}
    )
    await deliver_mail({"deps": app.state.deps})  # type: ignore[typeddict-item]

    log = await admin.get("/app/mail")

    assert log.status_code == 200
    assert "ada@example.com" in log.text
    assert "Your sign-in link for" in visible(log)
    assert "sent via log" in visible(log)  # no SMTP configured: development writes it to the log
    async with PiccoloUnitOfWork() as uow:
        [mail] = await uow.mail.recent(workspace.id, limit=1)
        await uow.mail.mark_failed(mail.id, "SMTP 550: No such user here")
        await uow.commit()
    failed = await admin.get("/app/mail")
    assert "SMTP 550: No such user here" in visible(failed)
    retried = await admin.post(f"/app/mail/{mail.id}/retry", data={"_csrf_token": csrf_of(admin)})
    again = await admin.post(f"/app/mail/{mail.id}/retry", data={"_csrf_token": csrf_of(admin)})
    assert retried.status_code == again.status_code == 303
    await deliver_mail({"deps": app.state.deps})  # type: ignore[typeddict-item]
    assert "sent via log" in visible(await admin.get("/app/mail"))
