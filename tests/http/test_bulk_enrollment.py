"""Bulk enrollment from a CSV over HTTP: preview, confirm, the job, the report; resumable and idempotent."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from litestar import Litestar
from workflow_world import add_course

from scormhub.bootstrap import Deps
from scormhub.domain import bulk_enrollment
from scormhub.domain.errors import CrmUnavailable
from scormhub.domain.model import Contact
from scormhub.domain.ports import ContactBook
from scormhub.jobs.bulk import bulk_enroll


@pytest.fixture
def deps(app: Litestar) -> Deps:
    found: Deps = app.state.deps
    return found


async def workspace_id(deps: Deps) -> UUID:
    async with deps.uow() as uow:
        workspace = await uow.workspaces.get_standalone()
    assert workspace is not None
    return workspace.id


async def rows(db: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def csrf(admin: httpx.AsyncClient, path: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', (await admin.get(path)).text)
    assert match
    return match.group(1)


async def upload(
    admin: httpx.AsyncClient, course_id: UUID, content: bytes, name: str = "learners.csv"
) -> httpx.Response:
    base = f"/app/courses/{course_id}/bulk"
    return await admin.post(
        f"{base}/preview",
        data={"_csrf_token": await csrf(admin, base)},
        files={"file": (name, content, "text/csv")},
    )


def fact(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]+)<', page)
    assert match, element_id
    return match.group(1).strip()


async def test_the_preview_counts_what_will_happen_and_lists_each_skipped_line(
    admin: httpx.AsyncClient, deps: Deps, db: str
) -> None:
    workspace = await workspace_id(deps)
    course = await add_course(deps, workspace, "Excel 101")
    book = await deps.crm.contact_book(workspace)
    zoe = await book.upsert_contact(first_name="Zoe", last_name="Old", email="zoe@example.com")
    await bulk_enrollment.enroll_contact(
        workspace, course.id, zoe.id, uow=deps.uow(), contacts=book, clock=deps.clock
    )
    content = (
        "\ufefffirst name;last name;email\n"
        "Ann;Lee;ann@example.com\n"
        "Bo;Chen;bo@example.com\n"
        "Annie;Lee;ANN@example.com\n"
        "=cmd|' /C calc'!A0;x;evil@example.com\n"
        "Zoe;Old;zoe@example.com\n"
        f"Long;Mail;{'a' * 290}@example.com\n"
    ).encode()

    preview = await upload(admin, course.id, content)

    assert preview.status_code == 200, preview.text
    page = preview.text
    assert fact(page, "to-enroll") == "2"
    assert fact(page, "already") == "1"
    assert fact(page, "skipped") == "3"
    assert "9 more registrations" in fact(page, "plan-room")
    assert "The same email as line 2" in page
    assert "like a spreadsheet formula" in page
    assert "longer than 254 characters" in page
    assert await rows(db, "SELECT id FROM enrollment WHERE learner_email <> 'zoe@example.com'") == []


async def test_confirming_runs_the_job_to_a_report_and_running_it_again_changes_nothing(
    admin: httpx.AsyncClient, deps: Deps, db: str
) -> None:
    workspace = await workspace_id(deps)
    course = await add_course(deps, workspace, "Excel 101")
    preview = await upload(
        admin, course.id, b"Ann,Lee,ann@example.com\nBo,Chen,bo@example.com\nBad,Row,nope\n"
    )
    start = re.search(r'action="(/app/courses/[^"]+/start)"', preview.text)
    assert start

    started = await admin.post(
        start.group(1), data={"_csrf_token": await csrf(admin, f"/app/courses/{course.id}/bulk")}
    )
    run_url = started.headers["location"]
    running = await admin.get(run_url)
    run_id = run_url.rsplit("/", 1)[1]
    first = await bulk_enroll({"deps": deps}, workspace_id=str(workspace), run_id=run_id)
    again = await bulk_enroll({"deps": deps}, workspace_id=str(workspace), run_id=run_id)
    report = await admin.get(run_url)
    fragment = await admin.get(run_url, headers={"HX-Request": "true"})

    assert "<progress" in running.text
    assert first == again == {"enrolled": 2, "skipped": 1}
    assert fact(report.text, "enrolled-count") == "2"
    assert "Enter an email address like name@example.com." in report.text
    assert "<progress" not in report.text
    assert fragment.text.lstrip().startswith("{#") or 'id="bulk-progress"' in fragment.text
    emails = {r["learner_email"] for r in await rows(db, "SELECT learner_email FROM enrollment")}
    assert emails == {"ann@example.com", "bo@example.com"}


async def test_the_plan_limit_skips_the_rest_with_the_reason(
    admin: httpx.AsyncClient, deps: Deps, db: str
) -> None:
    workspace = await workspace_id(deps)
    course = await add_course(deps, workspace, "Excel 101")
    content = "".join(f"L{n},N{n},l{n}@example.com\n" for n in range(12)).encode()

    preview = await upload(admin, course.id, content)
    start = re.search(r'action="(/app/courses/[^"]+/start)"', preview.text)
    assert start
    started = await admin.post(
        start.group(1), data={"_csrf_token": await csrf(admin, f"/app/courses/{course.id}/bulk")}
    )
    run_id = started.headers["location"].rsplit("/", 1)[1]
    result = await bulk_enroll({"deps": deps}, workspace_id=str(workspace), run_id=run_id)

    assert "2 of them are over the plan" in preview.text
    assert result == {"enrolled": 10, "skipped": 2}
    reasons = {r["reason"] for r in await rows(db, "SELECT reason FROM bulk_row WHERE status = 'skipped'")}
    assert reasons == {"Plan limit: 10 registrations are in use."}


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "The file is empty"), (b"PK\x03\x04\x00\x00", "Excel workbook"), (b"email\n", "no learners")],
)
async def test_an_unusable_file_is_refused_with_what_to_do(
    admin: httpx.AsyncClient, deps: Deps, db: str, content: bytes, message: str
) -> None:
    course = await add_course(deps, await workspace_id(deps), "Excel 101")

    refused = await upload(admin, course.id, content)

    assert refused.status_code == 400
    assert message in refused.text
    assert await rows(db, "SELECT id FROM bulk_run") == []


class FlakyBook:
    """The contact book, failing like a CRM outage after `ok` upserts."""

    def __init__(self, book: ContactBook, ok: int) -> None:
        self._book, self._left = book, ok

    async def search_contacts(self, query: str, *, limit: int = 10) -> list[Contact]:
        return await self._book.search_contacts(query, limit=limit)

    async def get_contact(self, contact_id: str) -> Contact | None:
        return await self._book.get_contact(contact_id)

    async def upsert_contact(self, *, first_name: str, last_name: str, email: str) -> Contact:
        if self._left <= 0:
            raise CrmUnavailable("the CRM is down")
        self._left -= 1
        return await self._book.upsert_contact(first_name=first_name, last_name=last_name, email=email)


async def test_a_run_stopped_by_an_outage_resumes_where_it_stopped(
    admin: httpx.AsyncClient, deps: Deps, db: str
) -> None:
    workspace = await workspace_id(deps)
    course = await add_course(deps, workspace, "Excel 101")
    content = "".join(f"L{n},N{n},l{n}@example.com\n" for n in range(5)).encode()
    preview = await bulk_enrollment.preview_csv(
        workspace, course.id, "x.csv", content, uow=deps.uow(), clock=deps.clock
    )
    await bulk_enrollment.start(workspace, preview.run.id, uow=deps.uow(), jobs=deps.jobs, clock=deps.clock)
    book = await deps.crm.contact_book(workspace)

    with pytest.raises(CrmUnavailable):
        await bulk_enrollment.run(
            workspace,
            preview.run.id,
            uow_factory=deps.uow,
            contacts=FlakyBook(book, ok=3),
            clock=deps.clock,
            batch=2,
        )
    halfway = await rows(db, "SELECT status, count(*) AS n FROM bulk_row GROUP BY status")
    done = await bulk_enrollment.run(
        workspace, preview.run.id, uow_factory=deps.uow, contacts=book, clock=deps.clock
    )

    assert {r["status"]: r["n"] for r in halfway} == {"enrolled": 3, "pending": 2}
    assert done.counts == {"enrolled": 5}
    assert len(await rows(db, "SELECT id FROM enrollment")) == 5


async def test_everyone_with_a_contact_book_tag_is_enrolled(
    admin: httpx.AsyncClient, deps: Deps, db: str
) -> None:
    workspace = await workspace_id(deps)
    course = await add_course(deps, workspace, "Excel 101")
    book = deps.crm.contact_directory(workspace)
    for n in range(5):
        contact = await book.upsert_contact(first_name=f"T{n}", last_name="Tagged", email=f"t{n}@example.com")
        if n < 3:
            writer = await deps.crm.writer(workspace)
            await writer.add_tags(contact.id, ["customer"])
    base = f"/app/courses/{course.id}/bulk"

    preview = await admin.post(
        f"{base}/preview-tag", data={"_csrf_token": await csrf(admin, base), "tag": "customer"}
    )
    nobody = await admin.post(
        f"{base}/preview-tag", data={"_csrf_token": await csrf(admin, base), "tag": "nobody"}
    )
    start = re.search(r'action="(/app/courses/[^"]+/start)"', preview.text)
    assert start
    started = await admin.post(start.group(1), data={"_csrf_token": await csrf(admin, base)})
    result = await bulk_enroll(
        {"deps": deps}, workspace_id=str(workspace), run_id=started.headers["location"].rsplit("/", 1)[1]
    )

    assert fact(preview.text, "to-enroll") == "3"
    assert (
        "No contact has the tag &#39;nobody&#39;" in nobody.text
        or "No contact has the tag 'nobody'" in nobody.text
    )
    assert result == {"enrolled": 3}
    emails = {r["learner_email"] for r in await rows(db, "SELECT learner_email FROM enrollment")}
    assert emails == {"t0@example.com", "t1@example.com", "t2@example.com"}
