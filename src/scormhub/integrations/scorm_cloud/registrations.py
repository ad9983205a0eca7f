"""SCORM Cloud registrations (RegistrationEngine): creating and deleting them, launch links, and reading
progress (one registration, or every one changed since a moment).

registration_progress reads a RegistrationSchema, which is also the body of a postback.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Final

from scormhub.domain.errors import EngineRefused, NotFound
from scormhub.domain.model import Learner, PostbackTarget, RegistrationProgress
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.integrations.scorm_cloud.client import (
    ScormCloudClient,
    as_object,
    link_expiry,
    required_str,
    unreadable,
)
from scormhub.integrations.scorm_cloud.connection import postback_schema
from scormhub.integrations.vendor_http import segment

REGISTRATIONS: Final = "registrations"
REGISTRATION: Final = "registrations/{registration_id}"
LAUNCH_LINK: Final = "registrations/{registration_id}/launchLink"
# Clears launch history and progress; the registration stays, on the course's latest version.
PROGRESS: Final = "registrations/{registration_id}/progress"


class ScormCloudRegistrations:
    """One application's registrations."""

    def __init__(self, api: ScormCloudClient) -> None:
        self._api = api

    async def create_registration(
        self, *, registration_id: str, course_id: str, learner: Learner, postback: PostbackTarget | None
    ) -> None:
        body: dict[str, Any] = {
            "courseId": course_id,
            "registrationId": registration_id,
            "learner": _omit_empty(
                {
                    "id": learner.id,
                    "firstName": learner.first_name,
                    "lastName": learner.last_name,
                    "email": learner.email,
                }
            ),
        }
        if postback is not None:
            body["postBack"] = postback_schema(postback)
        try:
            # Not retried here: a POST that timed out may have created it; the job's retry will find it.
            await self._api.send(
                "POST",
                REGISTRATIONS,
                json=body,
                idempotent=False,
                missing=f"course {course_id}",
                sensitive=(postback.password,) if postback else (),
            )
        except EngineRefused as refused:
            # The duplicate-id answer is undocumented (expected: a 400 with some message), so any refusal
            # is checked against what SCORM Cloud holds: if the registration exists, we are done.
            if await self._registration_exists(registration_id):
                return
            raise refused from None

    async def delete_registration(self, registration_id: str) -> None:
        await self._api.send(
            "DELETE",
            REGISTRATION.format(registration_id=segment(registration_id)),
            idempotent=True,
            missing=f"registration {registration_id}",
        )

    async def reset_progress(self, registration_id: str) -> None:
        await self._api.send(
            "DELETE",
            PROGRESS.format(registration_id=segment(registration_id)),
            idempotent=True,
            missing=f"registration {registration_id}",
        )

    async def launch_link(
        self, registration_id: str, *, redirect_on_exit_url: str, expiry_s: int = 120
    ) -> str:
        expiry = link_expiry(expiry_s)
        response = await self._api.send(
            "POST",
            LAUNCH_LINK.format(registration_id=segment(registration_id)),
            json={"redirectOnExitUrl": redirect_on_exit_url, "expiry": expiry},
            idempotent=True,  # each call only builds a fresh link
            missing=f"registration {registration_id}",
        )
        return required_str(self._api.json_object(response), "launchLink")

    async def get_progress(self, registration_id: str) -> RegistrationProgress:
        response = await self._api.send(
            "GET",
            REGISTRATION.format(registration_id=segment(registration_id)),
            idempotent=True,
            missing=f"registration {registration_id}",
        )
        return registration_progress(self._api.json_object(response))

    async def registrations_changed_since(self, since: datetime) -> AsyncIterator[RegistrationProgress]:
        params: dict[str, str] = {"since": _iso_z(since), "datetimeFilter": "updated"}
        seen: set[str] = set()
        while True:
            response = await self._api.send("GET", REGISTRATIONS, params=params, idempotent=True)
            page = self._api.json_object(response)
            registrations = page.get("registrations") or []
            if not isinstance(registrations, list):
                unreadable()
            for item in registrations:
                yield registration_progress(as_object(item))
            more = page.get("more")
            if not more:
                return
            if not isinstance(more, str) or more in seen:
                unreadable()  # a token that repeats would page forever
            seen.add(more)
            # The original filters persist server-side; SCORM Cloud refuses them next to `more`.
            params = {"more": more}

    async def _registration_exists(self, registration_id: str) -> bool:
        try:
            await self._api.send(
                "HEAD", REGISTRATION.format(registration_id=segment(registration_id)), idempotent=True
            )
        except NotFound:
            return False
        return True


def registration_progress(data: dict[str, Any]) -> RegistrationProgress:
    """A RegistrationSchema (a GET, a list page or a postback body) as the domain's RegistrationProgress."""
    first_access = _datetime(data.get("firstAccessDate"))
    last_access = _datetime(data.get("lastAccessDate"))
    total_seconds = max(0.0, _number(data.get("totalSecondsTracked")) or 0.0)
    completion_value = _enum_text(data.get("registrationCompletion"))
    # INCOMPLETE is only ever reported after content ran, so it counts as an access too.
    accessed = bool(first_access or last_access or total_seconds > 0 or completion_value == "INCOMPLETE")
    if completion_value == "COMPLETED":
        completion = Completion.COMPLETED
    elif accessed:
        completion = Completion.IN_PROGRESS
    else:
        completion = Completion.NOT_STARTED
    success = {"PASSED": Success.PASSED, "FAILED": Success.FAILED}.get(
        _enum_text(data.get("registrationSuccess")), Success.UNKNOWN
    )

    score = data.get("score")
    scaled = _number(as_object(score).get("scaled")) if score is not None else None
    # score.scaled is a percentage (0 to 100), not SCORM's -1..1 scaled score.
    score_percent = None if scaled is None else max(0.0, min(100.0, scaled))

    details = data.get("activityDetails")
    details = as_object(details) if details is not None else {}
    attempts_value = _number(details.get("attempts"))
    attempts = int(attempts_value) if attempts_value is not None else (1 if accessed else 0)
    runtime = details.get("runtime")
    score_raw = _number(as_object(runtime).get("scoreRaw")) if runtime is not None else None

    updated_at = _datetime(data.get("updated")) or last_access or _datetime(data.get("createdDate"))
    if updated_at is None:
        unreadable()  # nothing to order two views of this registration by
    instance = _number(data.get("instance"))
    registration_id = data.get("id")
    return RegistrationProgress(
        updated_at=updated_at,
        completion=completion,
        success=success,
        score_percent=score_percent,
        score_raw=score_raw,
        total_seconds=total_seconds,
        attempts=max(0, attempts),
        first_access_at=first_access,
        last_access_at=last_access,
        completed_at=_datetime(data.get("completedDate")),
        registration_id=registration_id if isinstance(registration_id, str) else None,
        instance=int(instance) if instance is not None else 0,
    )


def _omit_empty(values: dict[str, str]) -> dict[str, str]:
    # The official client omits None fields; an empty name or email is no better than none.
    return {key: value for key, value in values.items() if value}


def _iso_z(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # naive datetimes in this app are UTC
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _enum_text(value: Any) -> str:
    return value.strip().upper() if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    if not isinstance(value, int | float | str):
        unreadable()
    try:
        number = float(value)
    except ValueError:
        unreadable()
    return number if math.isfinite(number) else None


def _datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        unreadable()
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        unreadable()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
