"""SCORM Cloud courses (DeliveryEngine): importing a stored package, following the import, deleting, and
previewing a course."""

from __future__ import annotations

from typing import Any, Final

import anyio

from scormhub.domain.courses import ImportFailed
from scormhub.domain.model import Course, ImportState, ImportStatus
from scormhub.domain.scorm.package import Problem
from scormhub.integrations.scorm_cloud.client import (
    ScormCloudClient,
    as_object,
    link_expiry,
    required_str,
    unreadable,
)
from scormhub.integrations.storage import PackageStore
from scormhub.integrations.vendor_http import segment

IMPORT_UPLOAD: Final = "courses/importJobs/upload"
IMPORT_JOB: Final = "courses/importJobs/{job_id}"
COURSE: Final = "courses/{course_id}"
PREVIEW_LINK: Final = "courses/{course_id}/preview"


class ScormCloudCourses:
    """One application's courses."""

    def __init__(self, api: ScormCloudClient, storage: PackageStore) -> None:
        self._api = api
        self._storage = storage

    async def start_import(self, course: Course) -> str:
        try:
            async with self._storage.local_copy(course.package_key) as path:
                package = await anyio.open_file(path, "rb")
                try:
                    # httpx streams the open file in chunks (sized up front, so no chunked encoding); the
                    # 50 MB package is never held in memory. Never retried here: the import job retries
                    # the whole step.
                    response = await self._api.send(
                        "POST",
                        IMPORT_UPLOAD,
                        params={"courseId": str(course.id), "mayCreateNewVersion": "true"},
                        files={"file": (f"{course.id}.zip", package.wrapped, "application/zip")},
                        idempotent=False,
                    )
                finally:
                    await package.aclose()
        except (FileNotFoundError, ValueError) as exc:
            raise ImportFailed(
                "The uploaded package is no longer stored. Delete this course and upload the package again."
            ) from exc
        return required_str(self._api.json_object(response), "result")

    async def poll_import(self, handle: str) -> ImportStatus:
        response = await self._api.send(
            "GET",
            IMPORT_JOB.format(job_id=segment(handle)),
            idempotent=True,
            missing="this import job (SCORM Cloud keeps them for a week); upload the package again",
        )
        return import_status(self._api.json_object(response))

    async def delete_course(self, course: Course) -> None:
        await self._api.send(
            "DELETE",
            COURSE.format(course_id=segment(str(course.id))),
            idempotent=True,  # a repeat after a lost answer is a 404, which callers read as "already gone"
            missing=f"course {course.id}",
        )

    async def preview_link(self, course_id: str, *, redirect_on_exit_url: str, expiry_s: int = 120) -> str:
        expiry = link_expiry(expiry_s)
        response = await self._api.send(
            "POST",
            PREVIEW_LINK.format(course_id=segment(course_id)),
            json={"redirectOnExitUrl": redirect_on_exit_url, "expiry": expiry},
            idempotent=True,  # builds a link; nothing is tracked
            missing=f"course {course_id}",
        )
        return required_str(self._api.json_object(response), "launchLink")


def import_status(job: dict[str, Any]) -> ImportStatus:
    status = job.get("status")
    state = status.upper() if isinstance(status, str) else None
    if state == "RUNNING":
        return ImportStatus(state=ImportState.RUNNING)
    if state == "ERROR":
        message = job.get("message")
        return ImportStatus(
            state=ImportState.ERROR,
            message=message.strip()
            if isinstance(message, str) and message.strip()
            else "SCORM Cloud could not import this package.",
        )
    if state != "COMPLETE":
        unreadable()
    result = as_object(job.get("importResult") or {})
    course = as_object(result.get("course") or {})
    title = course.get("title")
    warnings = result.get("parserWarnings") or []
    if not isinstance(warnings, list):
        unreadable()
    return ImportStatus(
        state=ImportState.COMPLETE,
        title=title.strip() or None if isinstance(title, str) else None,
        warnings=tuple(
            Problem(code="cloud-parser-warning", message=w.strip())
            for w in warnings
            if isinstance(w, str) and w.strip()
        ),
    )
