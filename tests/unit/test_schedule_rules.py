"""The learner-side rules that need no database: due dates, offsets, validity, badges, retry delays, and
how SMTP answers map onto "try later" and "never"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiosmtplib
import pytest

from scormhub.domain import mail, portal, schedule
from scormhub.integrations.mail import _smtp_failure

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def test_a_due_date_is_the_end_of_that_day_and_today_is_still_allowed() -> None:
    assert schedule.parse_due_date("2026-12-07", now=NOW) == datetime(2026, 12, 7, 23, 59, 59, tzinfo=UTC)
    assert schedule.parse_due_date("  ", now=NOW) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2026-12-06", "is in the past. Choose today or a later day"),
        ("07/12/2026", "Use the form YYYY-MM-DD"),
        ("2026-02-30", "Use the form YYYY-MM-DD"),
    ],
)
def test_a_due_date_that_cannot_be_used_is_refused_saying_what_to_enter(raw: str, message: str) -> None:
    with pytest.raises(schedule.BadSchedule) as refused:
        schedule.parse_due_date(raw, now=NOW)
    assert message in str(refused.value)


def test_offsets_are_read_sorted_and_deduplicated_and_bad_ones_explained() -> None:
    assert schedule.parse_offsets("1, -7; -7 ,0") == (-7, 0, 1)
    assert schedule.parse_offsets("") == ()
    with pytest.raises(schedule.BadSchedule, match="is not a number of days"):
        schedule.parse_offsets("-7, a week")
    with pytest.raises(schedule.BadSchedule, match="within a year"):
        schedule.parse_offsets("400")


def test_validity_is_a_whole_number_of_days_or_empty() -> None:
    assert schedule.parse_validity("365") == 365
    assert schedule.parse_validity("") is None
    for bad in ("0", "-5", "1.5", "3651", "a year"):
        with pytest.raises(schedule.BadSchedule, match="whole number of days"):
            schedule.parse_validity(bad)


def test_the_badge_says_due_soon_within_a_week_overdue_after_and_nothing_once_completed() -> None:
    assert schedule.due_badge(NOW + timedelta(days=8), "not_started", NOW) is None
    assert schedule.due_badge(NOW + timedelta(days=6), "incomplete", NOW) == "due soon"
    assert schedule.due_badge(NOW - timedelta(minutes=1), "incomplete", NOW) == "overdue"
    assert schedule.due_badge(NOW - timedelta(days=3), "completed", NOW) is None
    assert schedule.due_badge(None, "not_started", NOW) is None


def test_a_certificate_is_expired_from_its_expiry_on() -> None:
    assert schedule.certificate_state(NOW, NOW) == "expired"
    assert schedule.certificate_state(NOW + timedelta(seconds=1), NOW) is None
    assert schedule.certificate_state(None, NOW) is None


def test_retries_wait_longer_each_time() -> None:
    delays = [mail.retry_delay(attempts) for attempts in range(1, mail.MAX_ATTEMPTS + 2)]
    assert delays == sorted(delays)
    assert delays[0] == timedelta(minutes=1)


def test_portal_addresses_are_lower_cased_and_checked() -> None:
    assert portal.normalise_email("  Ada@Example.COM ") == "ada@example.com"
    for bad in ("ada", "ada@", "@example.com", "a b@example.com", "ada@example"):
        assert portal.normalise_email(bad) is None


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (aiosmtplib.SMTPDataError(451, "Greylisted"), mail.MailDeferred),
        (aiosmtplib.SMTPDataError(550, "No such user"), mail.MailRefused),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "unknown", "x@y.z")]),
            mail.MailRefused,
        ),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(452, "full", "x@y.z")]),
            mail.MailDeferred,
        ),
        (aiosmtplib.SMTPServerDisconnected("gone"), mail.MailDeferred),
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), mail.MailDeferred),
    ],
)
def test_smtp_answers_map_to_try_later_or_never(
    error: aiosmtplib.SMTPException, kind: type[Exception]
) -> None:
    failure = _smtp_failure(error)
    assert isinstance(failure, kind)
