"""Certificates on in-memory fakes: issued once per completed enrollment, a snapshot that later edits do not
touch, unguessable ids, revocation; and the QR encoder the certificate's verification link is drawn with."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from fakes.system import FakeClock
from fakes.uow import FakeStore, FakeUnitOfWork

from scormhub.domain import certificates as cases
from scormhub.domain.certificates import CertificateRevoked, NotCompleted
from scormhub.domain.errors import NotFound
from scormhub.domain.model import (
    Branding,
    Certificate,
    CertificateSnapshot,
    Course,
    CourseStatus,
    EngineKind,
    Enrollment,
)
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.integrations.certificate_pdf import qr_matrix


class World:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.store = FakeStore()
        self.workspace_id = uuid.uuid4()
        now = self.clock.now()
        self.course = Course(
            id=uuid.uuid4(),
            workspace_id=self.workspace_id,
            title="Fire Safety",
            standard="scorm12",
            edition=None,
            status=CourseStatus.READY,
            engine=EngineKind.BUILTIN,
            package_key="k",
            package_bytes=1,
            file_name="fire.zip",
            self_enroll_token="enroll-token",
            created_at=now,
            updated_at=now,
        )
        self.store.courses[self.course.id] = self.course

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    def enroll(
        self, *, completed: bool = True, name: str = "Zażółć Gęślą", workspace_id: UUID | None = None
    ) -> Enrollment:
        now = self.clock.now()
        enrollment = Enrollment(
            id=uuid.uuid4(),
            workspace_id=workspace_id or self.workspace_id,
            course_id=self.course.id,
            contact_id="c1",
            learner_name=name,
            learner_email="zazolc@example.com",
            launch_token=uuid.uuid4().hex,
            created_at=now - timedelta(days=3),
            updated_at=now,
            completion=Completion.COMPLETED if completed else Completion.IN_PROGRESS,
            success=Success.PASSED if completed else Success.UNKNOWN,
            score_percent=87.5 if completed else None,
            completed_at=now - timedelta(days=1) if completed else None,
        )
        self.store.enrollments[enrollment.id] = enrollment
        return enrollment

    async def issue(self, enrollment: Enrollment, organization: str = "Acme Academy") -> Certificate:
        return await cases.issue_certificate(
            self.workspace_id, enrollment.id, organization_name=organization, uow=self.uow(), clock=self.clock
        )


# --- issuing ----------------------------------------------------------------------------------------------


async def test_a_completed_enrollment_gets_a_certificate_recording_what_it_certifies() -> None:
    world = World()
    enrollment = world.enroll()

    certificate = await world.issue(enrollment)

    assert world.store.certificates == {certificate.id: certificate}
    assert certificate.enrollment_id == enrollment.id
    assert certificate.issued_at == world.clock.now()
    assert certificate.snapshot == CertificateSnapshot(
        learner_name="Zażółć Gęślą",
        learner_email="zazolc@example.com",
        course_title="Fire Safety",
        completed_at=enrollment.completed_at or world.clock.now(),
        success="passed",
        score_percent=87.5,
        organization_name="Acme Academy",
    )
    assert certificate.snapshot.result_label == "Passed"
    assert certificate.snapshot.score_label == "87.5%"
    assert certificate.snapshot.completion_date == "21 November 2026"
    assert certificate.verification_path == f"/certificates/{certificate.id}"


async def test_asking_twice_gives_the_same_certificate() -> None:
    world = World()
    enrollment = world.enroll()

    first = await world.issue(enrollment)
    world.clock.advance(days=2)
    second = await world.issue(enrollment)

    assert second == first
    assert len(world.store.certificates) == 1


async def test_later_edits_do_not_rewrite_an_issued_certificate() -> None:
    world = World()
    enrollment = world.enroll()
    issued = await world.issue(enrollment, organization="Acme Academy")

    world.store.courses[world.course.id] = replace(world.course, title="Fire Safety 2027")
    world.store.enrollments[enrollment.id] = replace(
        enrollment, learner_name="Someone Else", score_percent=10
    )
    again = await world.issue(enrollment, organization="Renamed Org")

    assert again.snapshot == issued.snapshot
    assert again.snapshot.course_title == "Fire Safety"
    assert again.snapshot.organization_name == "Acme Academy"


async def test_an_incomplete_enrollment_gets_no_certificate() -> None:
    world = World()
    enrollment = world.enroll(completed=False)

    with pytest.raises(NotCompleted, match="has not completed the course yet"):
        await world.issue(enrollment)

    assert world.store.certificates == {}


async def test_another_workspaces_enrollment_is_not_found() -> None:
    world = World()
    theirs = world.enroll(workspace_id=uuid.uuid4())

    with pytest.raises(NotFound):
        await world.issue(theirs)

    assert world.store.certificates == {}


async def test_a_completion_without_a_date_is_certified_on_the_day_of_issue() -> None:
    world = World()
    enrollment = world.enroll()
    world.store.enrollments[enrollment.id] = replace(enrollment, completed_at=None)

    certificate = await world.issue(enrollment)

    assert certificate.snapshot.completed_at == world.clock.now()


def test_ids_are_128_random_bits_or_more_and_only_such_ids_are_looked_up() -> None:
    ids = {cases.new_certificate_id() for _ in range(2000)}

    assert len(ids) == 2000
    assert all(len(i) >= 22 and cases.looks_like_certificate_id(i) for i in ids)
    assert cases.ID_BYTES * 8 >= 128
    for junk in ("", "abc", "../../etc/passwd", "x" * 41, "a" * 21 + "!", "<script>alert(1)</script>xxxx"):
        assert not cases.looks_like_certificate_id(junk)


async def test_a_malformed_id_is_not_found_without_a_lookup() -> None:
    world = World()
    certificate = await world.issue(world.enroll())

    assert await cases.find_certificate(certificate.id, uow=world.uow()) == certificate
    assert await cases.find_certificate("nope", uow=world.uow()) is None
    assert await cases.find_certificate(cases.new_certificate_id(), uow=world.uow()) is None


def test_the_snapshot_survives_its_json_form() -> None:
    snapshot = CertificateSnapshot(
        learner_name="שלום עליכם",
        learner_email="s@example.com",
        course_title="Golf",
        completed_at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        success="failed",
        score_percent=None,
        organization_name="Ąćme",
    )

    assert CertificateSnapshot.from_dict(snapshot.to_dict()) == snapshot
    assert snapshot.result_label == "Failed"
    assert snapshot.score_label == ""


@pytest.mark.parametrize(
    ("course", "learner", "expected"),
    [
        ("Fire Safety", "Zażółć Gęślą", "certificate-fire-safety-zazolc-gesla.pdf"),
        ('Evil"; rm -rf /', "a\r\nSet-Cookie: x", "certificate-evil-rm-rf-a-set-cookie-x.pdf"),
        ("李小龍", "שלום", "certificate.pdf"),
        ("A" * 300, "B" * 200, f"certificate-{'a' * 40}-{'b' * 40}.pdf"),
    ],
)
def test_file_names_are_plain_ascii(course: str, learner: str, expected: str) -> None:
    snapshot = CertificateSnapshot(
        learner_name=learner,
        learner_email="x@example.com",
        course_title=course,
        completed_at=datetime(2026, 1, 2, tzinfo=UTC),
        success="passed",
        score_percent=None,
        organization_name="Org",
    )

    assert cases.file_name(snapshot) == expected


# --- revoking ---------------------------------------------------------------------------------------------


async def test_revoking_records_the_date_once_and_stops_downloads() -> None:
    world = World()
    enrollment = world.enroll()
    certificate = await world.issue(enrollment)

    revoked = await cases.revoke_certificate(
        world.workspace_id, certificate.id, uow=world.uow(), clock=world.clock
    )
    world.clock.advance(days=1)
    again = await cases.revoke_certificate(
        world.workspace_id, certificate.id, uow=world.uow(), clock=world.clock
    )

    assert revoked.revoked
    assert revoked.revoked_at == again.revoked_at == world.clock.now() - timedelta(days=1)
    assert (await cases.find_certificate(certificate.id, uow=world.uow())) == revoked
    with pytest.raises(CertificateRevoked, match="revoked on 2026-11-22"):
        await cases.certificate_to_download(
            world.workspace_id, enrollment.id, organization_name="Acme", uow=world.uow(), clock=world.clock
        )


async def test_another_workspace_cannot_revoke() -> None:
    world = World()
    certificate = await world.issue(world.enroll())

    with pytest.raises(NotFound):
        await cases.revoke_certificate(uuid.uuid4(), certificate.id, uow=world.uow(), clock=world.clock)

    assert not world.store.certificates[certificate.id].revoked


# --- the QR code ------------------------------------------------------------------------------------------

REFERENCE_URL = "https://scormhub.example.com/certificates/AbCdEfGhIjKlMnOpQrStUvwXyZ0123456789-_aBcD"


def test_the_qr_code_holds_the_verification_link_with_its_finder_patterns() -> None:
    matrix = qr_matrix(REFERENCE_URL)

    assert matrix is not None
    size = len(matrix)
    assert size == 37  # version 5 at level M holds this link
    finder = [[c == "1" for c in row] for row in ("1111111", "1000001", "1011101", "1011101")]
    for top, left in ((0, 0), (0, size - 7), (size - 7, 0)):
        assert [row[left : left + 7] for row in matrix[top : top + 4]] == finder


def test_a_link_no_qr_code_can_hold_is_printed_as_text_only() -> None:
    assert qr_matrix("x" * 3000) is None


# --- the course's rule, the wording, the look as issued ---------------------------------------------------


async def test_a_course_that_certifies_passes_refuses_a_failed_learner_and_words_a_passed_one() -> None:
    world = World()
    await cases.set_certificate_rule(world.workspace_id, world.course.id, "passed", uow=world.uow())
    failed = replace(world.enroll(), success=Success.FAILED)
    world.store.enrollments[failed.id] = failed
    passed = world.enroll(name="Ada Lovelace")

    with pytest.raises(cases.NotPassed) as refused:
        await world.issue(failed)
    certificate = await world.issue(passed)

    assert "has not passed" in str(refused.value)
    assert world.store.certificates == {certificate.id: certificate}
    assert certificate.snapshot.title == "Certificate of Achievement"
    assert certificate.snapshot.statement == "has passed the course"
    assert certificate.snapshot.printed_result == "Passed"


async def test_a_completion_certificate_of_a_failed_attempt_never_prints_failed() -> None:
    world = World()
    failed = replace(world.enroll(), success=Success.FAILED)
    world.store.enrollments[failed.id] = failed

    certificate = await world.issue(failed)

    assert certificate.snapshot.title == "Certificate of Completion"
    assert certificate.snapshot.statement == "has completed the course"
    assert certificate.snapshot.printed_result == ""


async def test_an_unknown_rule_is_refused_with_what_to_choose() -> None:
    world = World()

    with pytest.raises(cases.InvalidRule) as refused:
        await cases.set_certificate_rule(world.workspace_id, world.course.id, "everyone", uow=world.uow())

    assert "only those who pass" in str(refused.value)
    assert world.store.courses[world.course.id].certificate_rule == "completed"


async def test_a_certificate_keeps_the_name_colour_and_logo_it_was_issued_with() -> None:
    world = World()
    then = Branding(
        organization_name="Acme Academy",
        primary_color="#AA0000",
        logo_bytes=b"old-logo",
        logo_content_type="image/png",
    )
    certificate = await cases.issue_certificate(
        world.workspace_id,
        world.enroll().id,
        organization_name=then.organization_name,
        uow=world.uow(),
        clock=world.clock,
        branding=then,
    )
    today = Branding(organization_name="Renamed Ltd", primary_color="#00AA00", logo_bytes=b"new-logo")
    async with world.uow() as uow:
        logo = await uow.certificates.logo(certificate.snapshot.logo_sha256)

    shown = cases.branding_as_issued(certificate, today, logo)

    assert (shown.organization_name, shown.primary_color, shown.logo_bytes) == (
        "Acme Academy",
        "#AA0000",
        b"old-logo",
    )


async def test_a_certificate_issued_before_looks_were_recorded_keeps_its_name_and_takes_todays_logo() -> None:
    world = World()
    certificate = await world.issue(world.enroll(), organization="Acme Academy")
    today = Branding(organization_name="Renamed Ltd", primary_color="#00AA00", logo_bytes=b"new-logo")

    shown = cases.branding_as_issued(certificate, today, None)

    assert (shown.organization_name, shown.primary_color, shown.logo_bytes) == (
        "Acme Academy",
        "#00AA00",
        b"new-logo",
    )
