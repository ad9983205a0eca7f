"""SCORM Cloud's record of learners' answers: the runtime interactions of a registration's activities.

`GET /registrations/{id}?includeChildResults=true&includeInteractionsAndObjectives=true&includeRuntime=true`
returns the activity tree (`activityDetails`, its `children`), each activity's `runtime` carrying
`runtimeInteractions[]` with `id`, `type`, `learnerResponse`, `result`, `correctResponses[]` and
`description` (RuntimeInteractionSchema). Reference: shared/reference/scorm-cloud-api.md §3.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from typing import Any, Final

from scormhub.domain.errors import DomainError
from scormhub.domain.model import Answer
from scormhub.integrations.scorm_cloud.client import ScormCloudClient
from scormhub.integrations.vendor_http import segment

log = logging.getLogger(__name__)

REGISTRATION: Final = "registrations/{registration_id}"
WITH_INTERACTIONS: Final = {
    "includeChildResults": "true",
    "includeInteractionsAndObjectives": "true",
    "includeRuntime": "true",
}
# Registrations read at once for one report: enough to be quick, few enough to be a polite client.
CONCURRENCY: Final = 4


class ScormCloudInteractions:
    def __init__(self, api: ScormCloudClient) -> None:
        self._api = api

    async def interactions_of(self, registration_ids: Sequence[str]) -> dict[str, list[Answer] | None]:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(registration_id: str) -> tuple[str, list[Answer] | None]:
            async with gate:
                try:
                    response = await self._api.send(
                        "GET",
                        REGISTRATION.format(registration_id=segment(registration_id)),
                        params=WITH_INTERACTIONS,
                        idempotent=True,
                        missing=f"registration {registration_id}",
                    )
                    return registration_id, runtime_answers(self._api.json_object(response))
                except DomainError as exc:
                    # One unreadable registration must not cost the whole report: it is listed as such.
                    log.warning("answers of registration %s could not be read: %s", registration_id, exc)
                    return registration_id, None

        return dict(await asyncio.gather(*(one(r) for r in registration_ids)))


def _activities(activity: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(activity, dict):
        return
    yield activity
    children = activity.get("children")
    if isinstance(children, list):
        for child in children:
            yield from _activities(child)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def runtime_answers(registration: dict[str, Any]) -> list[Answer]:
    """Every runtime interaction of the registration's activities, in tree and record order."""
    answers: list[Answer] = []
    for activity in _activities(registration.get("activityDetails")):
        runtime = activity.get("runtime")
        records = runtime.get("runtimeInteractions") if isinstance(runtime, dict) else None
        if not isinstance(records, list):
            continue
        for record in records:
            if not isinstance(record, dict) or not _text(record.get("id")):
                continue
            patterns = record.get("correctResponses")
            answers.append(
                Answer(
                    question_id=_text(record.get("id")),
                    # SCORM Cloud names types in CamelCase (TrueFalse, Choice, FillIn…).
                    kind=_text(record.get("type")),
                    response=_text(record.get("learnerResponse")),
                    result=_text(record.get("result")),
                    correct_responses=tuple(_text(p) for p in patterns if _text(p))
                    if isinstance(patterns, list)
                    else (),
                    description=_text(record.get("description")),
                )
            )
    return answers
