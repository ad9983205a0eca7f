"""Certificates over HTTP: the admin's and the learner's downloads (a branded PDF rendered in a worker
process), public verification, revocation, and every bad input the issue names."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import signal
import subprocess
import sys
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from litestar import Litestar
from movable_clock import MovableClock
from PIL import Image

from appserver import csrf_of
from pdf_text import read_pdf
from scormhub.app import create_app
from scormhub.bootstrap import build_deps
from scormhub.domain.certificates import new_certificate_id
from scormhub.domain.model import Branding, Certificate, CertificateSnapshot
from scormhub.integrations import branding as branding_store
from scormhub.integrations.certificate_pdf import CONTENT_WIDTH, fit, render_certificate_pdf
from scormhub.integrations.db.tables import CertificateRow, CourseRow, EnrollmentRow, WorkspaceRow
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.pdf import unicode_font
from scormhub.integrations.render_pool import RenderPool
from scormhub.settings import Settings
from waits import until_waiting_on_a_lock

NOW = datetime.now(UTC)
HX = {"HX-Request": "true"}
LONG_NAME = ("Maximilian-Alexander von Hohenzollern-Sigmaringen " * 5)[:200]


class SharedRenderPool(RenderPool):
    """One warm pool for the whole module: each test's app would otherwise spawn (and warm) its own."""

    def shutdown(self) -> None:
        pass  # the app's shutdown at the end of a test; the fixture stops the pool at the end

    def close(self) -> None:
        super().shutdown()


@pytest.fixture(scope="module")
def render_pool() -> Any:
    pool = SharedRenderPool(workers=1)
    yield pool
    pool.close()


@pytest.fixture
def app(db: str, settings: Settings, render_pool: SharedRenderPool) -> Litestar:
    return create_app(settings, build_deps(settings, clock=MovableClock(), render_pool=render_pool))


# --- data ----------------------------------------------------------------------------------------------


async def standalone_id() -> UUID:
    async with PiccoloUnitOfWork() as uow:
        workspace = await uow.workspaces.get_standalone()
    assert workspace is not None
    return workspace.id


async def add_course(workspace_id: UUID, title: str = "Golf Basics") -> UUID:
    course_id = uuid.uuid4()
    await CourseRow.insert(
        CourseRow(
            id=course_id,
            workspace_id=workspace_id,
            title=title,
            standard="scorm12",
            status="ready",
            engine="builtin",
            package_key=str(course_id),
            package_bytes=1,
            file_name="x.zip",
            self_enroll_token=uuid.uuid4().hex,
            scos=[{"identifier": "sco-1", "title": title, "launch": "index.html"}],
            created_at=NOW,
            updated_at=NOW,
        )
    )
    return course_id


async def add_enrollment(
    workspace_id: UUID,
    course_id: UUID,
    name: str = "Ada Lovelace",
    *,
    completed: bool = True,
    email: str = "ada@example.com",
) -> tuple[UUID, str]:
    enrollment_id, token = uuid.uuid4(), uuid.uuid4().hex + uuid.uuid4().hex
    await EnrollmentRow.insert(
        EnrollmentRow(
            id=enrollment_id,
            workspace_id=workspace_id,
            course_id=course_id,
            contact_id=uuid.uuid4().hex,
            learner_name=name,
            learner_email=email,
            launch_token=token,
            completion="completed" if completed else "in_progress",
            success="passed" if completed else "unknown",
            score_percent=92.0 if completed else None,
            completed_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC) if completed else None,
            created_at=NOW - timedelta(days=3),
            updated_at=NOW,
        )
    )
    return enrollment_id, token


@pytest.fixture
async def world(admin: httpx.AsyncClient) -> dict[str, Any]:
    """A course here with one learner who completed it and one who has not; another workspace's learner."""
    workspace_id = await standalone_id()
    course_id = await add_course(workspace_id)
    done, done_token = await add_enrollment(workspace_id, course_id)
    pending, pending_token = await add_enrollment(
        workspace_id, course_id, "Grace Hopper", completed=False, email="grace@example.com"
    )
    other = uuid.uuid4()
    await WorkspaceRow.insert(WorkspaceRow(id=other, name="Other", kind="location", created_at=NOW))
    theirs, _ = await add_enrollment(other, await add_course(other, "Secret Course"), "Mallory Other")
    return {
        "workspace_id": workspace_id,
        "course_id": course_id,
        "done": done,
        "done_token": done_token,
        "pending": pending,
        "pending_token": pending_token,
        "theirs": theirs,
    }


async def certificates() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await CertificateRow.select().output(load_json=True)
    return rows


def png(size: tuple[int, int] = (120, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 120, 0, 200)).save(out, "PNG")
    return out.getvalue()


async def brand(workspace_id: UUID, name: str = "Ąćme Academy", logo: bytes | None = None) -> None:
    await branding_store.save_branding(
        workspace_id,
        Branding(
            organization_name=name,
            primary_color="#AA0044",
            logo_bytes=logo,
            logo_content_type="image/png" if logo else None,
        ),
        NOW,
    )


def pdf_has_words(pdf: bytes, text: str) -> bool:
    """borb writes each word as a TJ array of the font's glyph codes (DejaVu Sans for Latin text)."""
    font = unicode_font()
    content = b"".join(_streams(pdf)).lower()
    return all(
        b"[" + b"".join(b"<%04x>" % font.get_character_code(c) for c in word) + b"]" in content
        for word in text.split()
    )


def _streams(pdf: bytes) -> list[bytes]:
    out = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(match.group(1)))
        except zlib.error:
            out.append(match.group(1))
    return out


def has_image(pdf: bytes) -> bool:
    return b"/Subtype /Image" in pdf or b"/Subtype/Image" in pdf


def ids_printed(pdf: bytes, known: list[str]) -> set[str]:
    return {i for i in known if pdf_has_words(pdf, f"Certificate ID: {i}")}


# --- the enrolled table and the admin's download ------------------------------------------------------


async def test_only_completed_learners_have_a_certificate_link_in_the_enrolled_table(
    admin: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    page = (await admin.get(f"/app/courses/{world['course_id']}")).text

    assert f'href="/app/enrollments/{world["done"]}/certificate"' in page
    assert f'href="/app/enrollments/{world["done"]}/certificate/details"' in page
    assert f"/app/enrollments/{world['pending']}/certificate" not in page


async def test_the_admin_downloads_a_branded_pdf_naming_the_learner_course_id_and_link(
    admin: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await brand(world["workspace_id"], logo=png())

    response = await admin.get(f"/app/enrollments/{world['done']}/certificate")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        'attachment; filename="certificate-golf-basics-ada-lovelace.pdf"'
    )
    assert "no-store" in response.headers["cache-control"]
    [row] = await certificates()
    assert len(row["id"]) >= 22
    assert row["enrollment_id"] == world["done"]
    assert row["snapshot"] == {
        "learner_name": "Ada Lovelace",
        "learner_email": "ada@example.com",
        "course_title": "Golf Basics",
        "completed_at": "2026-11-20T09:30:00+00:00",
        "success": "passed",
        "score_percent": 92.0,
        "organization_name": "Ąćme Academy",
        "primary_color": "#AA0044",
        "logo_sha256": hashlib.sha256(png()).hexdigest(),
        "kind": "completion",
    }
    pdf = response.content
    assert pdf.startswith(b"%PDF")
    for words in (
        "Ąćme Academy",
        "Certificate of Completion",
        "Ada Lovelace",
        "Golf Basics",
        "Completed on 20 November 2026",
        "Score 92% · Passed",
        f"Certificate ID: {row['id']}",
        f"Verify at http://testserver.local/certificates/{row['id']}",
    ):
        assert pdf_has_words(pdf, words), words
    assert b"/MediaBox [0 0 842 595]" in pdf or b"/MediaBox[0 0 842 595]" in pdf  # A4 landscape
    assert has_image(pdf)  # the logo
    assert pdf_has_words(pdf, "ada@example.com")  # the product promises the learner's email


async def test_a_second_download_is_the_same_certificate(
    admin: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    url = f"/app/enrollments/{world['done']}/certificate"

    first = await admin.get(url)
    second = await admin.get(url)

    ids = [row["id"] for row in await certificates()]
    assert len(ids) == 1
    assert ids_printed(first.content, ids) == ids_printed(second.content, ids) == set(ids)


async def test_concurrent_downloads_issue_exactly_one_certificate(
    admin: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    url = f"/app/enrollments/{world['done']}/certificate"

    responses = await asyncio.gather(*(admin.get(url) for _ in range(6)))

    assert [r.status_code for r in responses] == [200] * 6
    ids = [row["id"] for row in await certificates()]
    assert len(ids) == 1
    assert all(ids_printed(r.content, ids) == set(ids) for r in responses)


async def test_an_insert_racing_an_uncommitted_one_gets_the_winners_certificate(
    world: dict[str, Any], db: str
) -> None:
    def made(enrollment_id: UUID) -> Certificate:
        return Certificate(
            id=new_certificate_id(),
            workspace_id=world["workspace_id"],
            enrollment_id=enrollment_id,
            snapshot=CertificateSnapshot(
                learner_name="Ada Lovelace",
                learner_email="ada@example.com",
                course_title="Golf Basics",
                completed_at=NOW,
                success="passed",
                score_percent=None,
                organization_name="Org",
            ),
            issued_at=NOW,
        )

    first, second = made(world["done"]), made(world["done"])
    inserted, release = asyncio.Event(), asyncio.Event()

    async def winner() -> Certificate:
        async with PiccoloUnitOfWork() as uow:
            stored = await uow.certificates.add_once(first)
            inserted.set()
            await release.wait()
            await uow.commit()
        return stored

    async def loser() -> Certificate:
        await inserted.wait()
        async with PiccoloUnitOfWork() as uow:
            stored = await uow.certificates.add_once(second)  # waits on the unique index
            await uow.commit()
        return stored

    racing = asyncio.gather(winner(), loser())
    await inserted.wait()
    await until_waiting_on_a_lock(db)  # the loser's insert is blocked on the winner's index entry
    release.set()
    won, lost = await racing

    assert won == lost == first
    assert [row["id"] for row in await certificates()] == [first.id]


async def test_an_incomplete_enrollment_gets_a_clear_409_and_no_certificate(
    admin: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    response = await admin.get(f"/app/enrollments/{world['pending']}/certificate")

    assert response.status_code == 409
    assert "has not completed the course yet" in response.text
    assert "text/html" in response.headers["content-type"]
    assert await certificates() == []


async def test_another_workspaces_enrollment_and_made_up_ids_are_404(
    admin: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    theirs = world["theirs"]
    await admin.get("/app/courses")

    assert (await admin.get(f"/app/enrollments/{theirs}/certificate")).status_code == 404
    assert (await admin.get(f"/app/enrollments/{theirs}/certificate/details")).status_code == 404
    revoke = await admin.post(
        f"/app/enrollments/{theirs}/certificate/revoke", data={"_csrf_token": csrf_of(admin)}
    )
    assert revoke.status_code == 404
    assert (await admin.get(f"/app/enrollments/{uuid.uuid4()}/certificate")).status_code == 404
    assert (await admin.get("/app/enrollments/not-a-uuid/certificate")).status_code == 404
    assert await certificates() == []


async def test_downloads_need_a_session(client: httpx.AsyncClient, db: str) -> None:
    response = await client.get(f"/app/enrollments/{uuid.uuid4()}/certificate")

    assert response.status_code == 303
    assert response.headers["location"] == "/signed-out"


async def test_a_200_character_name_fits_and_renders(admin: httpx.AsyncClient, world: dict[str, Any]) -> None:
    spaced, _ = await add_enrollment(world["workspace_id"], world["course_id"], LONG_NAME)
    unbroken, _ = await add_enrollment(world["workspace_id"], world["course_id"], "Ż" * 200)

    spaced_pdf = await admin.get(f"/app/enrollments/{spaced}/certificate")
    unbroken_pdf = await admin.get(f"/app/enrollments/{unbroken}/certificate")

    assert spaced_pdf.status_code == unbroken_pdf.status_code == 200
    assert pdf_has_words(spaced_pdf.content, "Maximilian-Alexander von Hohenzollern-Sigmaringen")
    assert unbroken_pdf.content.startswith(b"%PDF")


def test_long_names_shrink_then_wrap_within_the_page() -> None:
    font = unicode_font()
    width = lambda line, size: font.get_width(text=line, font_size=size)  # noqa: E731

    short = fit("Ada Lovelace", font, CONTENT_WIDTH, 32, 11, 3)
    spaced = fit(LONG_NAME, font, CONTENT_WIDTH, 32, 11, 3)
    unbroken = fit("Ż" * 200, font, CONTENT_WIDTH, 32, 11, 3)

    assert short.lines == ("Ada Lovelace",)
    assert short.size == 32
    assert 11 <= spaced.size < 32
    assert len(spaced.lines) <= 3
    assert " ".join(spaced.lines) == LONG_NAME.strip()
    assert unbroken.size == 11
    assert "".join(unbroken.lines) == "Ż" * 200
    for fitted in (short, spaced, unbroken):
        assert all(width(line, fitted.size) <= CONTENT_WIDTH for line in fitted.lines)


async def test_any_unicode_name_renders(admin: httpx.AsyncClient, world: dict[str, Any]) -> None:
    polish, _ = await add_enrollment(world["workspace_id"], world["course_id"], "Zażółć Gęślą 😀")
    chinese, _ = await add_enrollment(world["workspace_id"], world["course_id"], "李小龍")
    hebrew, _ = await add_enrollment(world["workspace_id"], world["course_id"], "שלום עליכם")

    responses = [await admin.get(f"/app/enrollments/{e}/certificate") for e in (polish, chinese, hebrew)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert pdf_has_words(responses[0].content, "Zażółć Gęślą")


@pytest.mark.parametrize(
    "logo", [None, b"this is not an image", png()[:60]], ids=["none", "junk", "truncated"]
)
async def test_a_missing_or_broken_logo_falls_back_to_the_organization_name(
    admin: httpx.AsyncClient, world: dict[str, Any], logo: bytes | None
) -> None:
    await brand(world["workspace_id"], "Fallback Org", logo=logo)

    response = await admin.get(f"/app/enrollments/{world['done']}/certificate")

    assert response.status_code == 200
    assert pdf_has_words(response.content, "Fallback Org")
    assert not has_image(response.content)


async def test_a_certificate_is_shown_as_issued_on_its_pdf_and_its_verification_page_after_a_rebrand(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await brand(world["workspace_id"], "Acme Academy")
    url = f"/app/enrollments/{world['done']}/certificate"
    before = await admin.get(url)
    [row] = await certificates()
    await brand(world["workspace_id"], "Beta Institute", logo=png())
    await CourseRow.update({CourseRow.title: "Renamed Course"}).where(CourseRow.id == world["course_id"])
    await EnrollmentRow.update({EnrollmentRow.learner_name: "Someone Else"}).where(
        EnrollmentRow.id == world["done"]
    )
    later, _ = await add_enrollment(world["workspace_id"], world["course_id"], "Grace Hopper")

    again = await admin.get(url)
    page = await client.get(f"/certificates/{row['id']}")
    theme = await client.get(f"/certificates/{row['id']}/theme.css")
    issued_after = await admin.get(f"/app/enrollments/{later}/certificate")

    # One truth: the PDF downloaded again and the public page both show the certificate as issued.
    for pdf in (before.content, again.content):
        assert pdf_has_words(pdf, "Acme Academy")
        assert not pdf_has_words(pdf, "Beta Institute")
        assert not has_image(pdf)
        assert pdf_has_words(pdf, "Ada Lovelace Golf Basics")
    assert "Acme Academy" in page.text
    assert "Beta Institute" not in page.text
    assert "--brand:#AA0044" in theme.text
    # A certificate issued after the change has the new look.
    assert pdf_has_words(issued_after.content, "Beta Institute")
    assert has_image(issued_after.content)


async def test_the_pdf_names_the_learner_by_email_too_and_a_failed_learner_gets_no_failed_wording(
    admin: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await EnrollmentRow.update({EnrollmentRow.success: "failed"}).where(EnrollmentRow.id == world["done"])

    response = await admin.get(f"/app/enrollments/{world['done']}/certificate")

    text = read_pdf(response.content).text
    assert "ada@example.com" in text
    assert "Certificate of Completion" in text
    assert "Failed" not in text


async def test_a_course_that_certifies_passes_only_says_why_a_failed_learner_has_none(
    admin: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    course_url = f"/app/courses/{world['course_id']}"
    await admin.get(course_url)
    saved = await admin.post(
        f"{course_url}/certificate-rule", data={"_csrf_token": csrf_of(admin), "rule": "passed"}
    )
    await EnrollmentRow.update({EnrollmentRow.success: "failed"}).where(EnrollmentRow.id == world["done"])

    page = await admin.get(course_url)
    refused = await admin.get(f"/app/enrollments/{world['done']}/certificate")

    assert saved.status_code == 303
    assert "Certificates of this course now go to learners who pass it." in page.text
    assert f'href="/app/enrollments/{world["done"]}/certificate"' not in page.text
    assert refused.status_code == 409
    assert "has not passed" in refused.text
    assert await certificates() == []


# --- the details page and revocation --------------------------------------------------------------------


async def test_the_details_page_shows_the_certificate_once_issued(
    admin: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    details = f"/app/enrollments/{world['done']}/certificate/details"
    before = await admin.get(details)
    await admin.get(f"/app/enrollments/{world['done']}/certificate")
    [row] = await certificates()

    after = await admin.get(details)
    pending = await admin.get(f"/app/enrollments/{world['pending']}/certificate/details")

    assert before.status_code == 200
    assert "No certificate yet" in before.text
    assert "issued on its first download" in before.text
    assert row["id"] in after.text
    assert f"http://testserver.local/certificates/{row['id']}" in after.text
    assert "ada@example.com" in after.text  # the admin sees what was certified, email included
    assert "Revoke" in after.text
    assert "once Grace Hopper completes the course" in pending.text


async def test_revoking_needs_the_csrf_token(admin: httpx.AsyncClient, world: dict[str, Any]) -> None:
    await admin.get(f"/app/enrollments/{world['done']}/certificate")

    response = await admin.post(f"/app/enrollments/{world['done']}/certificate/revoke")

    assert response.status_code == 403
    [row] = await certificates()
    assert row["revoked_at"] is None


async def test_revoking_without_javascript_confirms_first_then_the_verification_page_says_revoked(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    base = f"/app/enrollments/{world['done']}/certificate"
    await admin.get(base)
    [row] = await certificates()

    confirm = await admin.get(f"{base}/revoke")
    revoked = await admin.post(f"{base}/revoke", data={"_csrf_token": csrf_of(admin)})
    details = await admin.get(revoked.headers["location"])
    download = await admin.get(base)
    learner = await client.get(f"/play/{world['done_token']}/certificate")
    verification = await client.get(f"/certificates/{row['id']}")

    assert confirm.status_code == 200
    assert f'<form method="post" action="{base}/revoke"' in confirm.text
    assert revoked.status_code == 303
    assert revoked.headers["location"].startswith(f"{base}/details")
    assert "is revoked" in details.text
    assert "Revoked on" in details.text
    assert download.status_code == 410
    assert "revoked on" in download.text
    assert learner.status_code == 410
    assert verification.status_code == 200
    assert "Certificate revoked" in verification.text
    assert f"revoked on {NOW:%Y-%m-%d}" in verification.text
    assert (await certificates())[0]["revoked_at"] is not None


async def test_revoking_with_htmx_returns_the_status_partial(
    admin: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    base = f"/app/enrollments/{world['done']}/certificate"
    await admin.get(base)
    page = (await admin.get(f"{base}/details")).text

    response = await admin.post(f"{base}/revoke", headers={**HX, "x-csrftoken": csrf_of(admin)})

    assert f'hx-post="{base}/revoke"' in page
    assert "hx-confirm=" in page
    assert response.status_code == 200
    assert response.headers["vary"] == "HX-Request"
    assert '<section class="card" id="certificate-status">' in response.text
    assert "<html" not in response.text
    assert "Revoked on" in response.text


# --- the learner ------------------------------------------------------------------------------------------


async def test_the_learner_downloads_their_certificate_from_the_exit_page(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    done_exit = await client.get(f"/play/{world['done_token']}/exit")
    pending_exit = await client.get(f"/play/{world['pending_token']}/exit")

    download = await client.get(f"/play/{world['done_token']}/certificate")
    early = await client.get(f"/play/{world['pending_token']}/certificate")
    made_up = await client.get(f"/play/{'x' * 43}/certificate")

    assert f'href="/play/{world["done_token"]}/certificate"' in done_exit.text
    assert "/certificate" not in pending_exit.text
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert pdf_has_words(download.content, "Ada Lovelace")
    assert early.status_code == 409
    assert "not ready yet" in early.text
    assert made_up.status_code == 404
    assert len(await certificates()) == 1


# --- public verification ----------------------------------------------------------------------------------


async def test_the_verification_page_is_public_and_shows_what_is_certified_but_not_the_email(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, world: dict[str, Any], app: Litestar
) -> None:
    await brand(world["workspace_id"], "Acme <b>Academy</b>")
    await admin.get(f"/app/enrollments/{world['done']}/certificate")
    [row] = await certificates()
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as stranger:
        response = await stranger.get(f"/certificates/{row['id']}")

    assert response.status_code == 200
    assert "Valid certificate" in response.text
    assert "Ada Lovelace" in response.text
    assert "Golf Basics" in response.text
    assert "20 November 2026" in response.text
    assert "Acme &lt;b&gt;Academy&lt;/b&gt;" in response.text
    assert row["id"] in response.text
    assert "ada@example.com" not in response.text
    assert response.headers["x-robots-tag"] == "noindex"


# A well-formed id nobody was issued: fixed, so every xdist worker collects the same test ids.
@pytest.mark.parametrize(
    "made_up", ["BJtyZ6BHlfVFGcgkG1PXGg", "short", "../../etc/passwd", "<script>x</script>"]
)
async def test_an_unknown_certificate_id_is_a_404_not_found_page(
    client: httpx.AsyncClient, db: str, made_up: str
) -> None:
    response = await client.get(f"/certificates/{made_up}")

    assert response.status_code == 404
    assert "not found" in response.text.lower()
    assert "<script>x</script>" not in response.text


async def test_verification_is_rate_limited_per_address(
    app: Litestar, client: httpx.AsyncClient, db: str
) -> None:
    from scormhub.routes.certificates import VERIFY_PER_IP_PER_MINUTE

    answers = [
        (await client.get(f"/certificates/{new_certificate_id()}")).status_code
        for _ in range(VERIFY_PER_IP_PER_MINUTE)
    ]
    blocked = await client.get(f"/certificates/{new_certificate_id()}")
    transport = httpx.ASGITransport(app=app, client=("203.0.113.50", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as elsewhere:
        other = await elsewhere.get(f"/certificates/{new_certificate_id()}")

    assert answers == [404] * VERIFY_PER_IP_PER_MINUTE
    assert blocked.status_code == 429
    assert "Too many" in blocked.text
    assert "Wait a minute" in blocked.text
    assert blocked.headers["retry-after"] == "60"
    assert other.status_code == 404, "another address has its own budget"


# --- the PDF worker ---------------------------------------------------------------------------------------


def test_the_server_never_loads_borb_itself() -> None:
    code = "import sys, scormhub.app, scormhub.routes.certificates; print('borb' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "False"


def test_rendering_keeps_the_process_signal_handlers() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    snapshot = CertificateSnapshot(
        learner_name="Ada Lovelace",
        learner_email="ada@example.com",
        course_title="Golf",
        completed_at=NOW,
        success="passed",
        score_percent=None,
        organization_name="Org",
    )
    certificate = Certificate(
        id=new_certificate_id(),
        workspace_id=uuid.uuid4(),
        enrollment_id=uuid.uuid4(),
        snapshot=snapshot,
        issued_at=NOW,
    )

    pdf = render_certificate_pdf(certificate, Branding(organization_name="Org"), "https://x.example/c/1")

    assert pdf.startswith(b"%PDF")
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
