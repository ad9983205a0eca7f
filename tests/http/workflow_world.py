"""A HighLevel location installed through the real OAuth flow, with courses, for the workflow tests."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from scormhub.bootstrap import Deps
from scormhub.domain.model import Course, CourseStatus, EngineKind
from scormhub.settings import Settings

API = "https://hl.test"
MARKET = "https://marketplace.test"
CLIENT_ID = "6612abcdef-lx1y2z3"
LOCATION = "ve9EPM428h8vShlRW1KT"
OTHER_LOCATION = "zzOtherLocation00001"
COMPANY = "ocQHyuzHvysMo5N5VsXc"
WORKFLOW_KEY = "k" * 43
KEY_HEADER = {"X-ScormHub-Action-Key": WORKFLOW_KEY}
TARGET_PREFIX = f"{API}/workflows-marketplace/triggers/execute/"


def workflow_settings(settings: Settings) -> Settings:
    return replace(
        settings,
        highlevel_api_url=API,
        highlevel_marketplace_url=MARKET,
        highlevel_client_id=CLIENT_ID,
        highlevel_client_secret="client-secret",
        highlevel_sso_key="sso-key",
        highlevel_workflow_key=WORKFLOW_KEY,
    )


async def install(client: httpx.AsyncClient) -> None:
    """The marketplace install as a browser runs it; the mounted fake answers the token exchange."""
    start = await client.get("/oauth/install")
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    done = await client.get("/oauth/callback", params={"code": "the-code", "state": state})
    assert done.status_code == 303, done.text


async def workspace_of(deps: Deps, location_id: str = LOCATION) -> uuid.UUID:
    connection = await deps.highlevel_connections.by_location(location_id)
    assert connection is not None
    return connection.workspace_id


async def add_course(
    deps: Deps, workspace_id: uuid.UUID, title: str, status: CourseStatus = CourseStatus.READY
) -> Course:
    now = datetime.now(UTC)
    course = Course(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        title=title,
        standard="scorm12",
        edition=None,
        status=status,
        engine=EngineKind.BUILTIN,
        package_key=f"pkg-{uuid.uuid4().hex}",
        package_bytes=1,
        file_name="course.zip",
        self_enroll_token=uuid.uuid4().hex,
        created_at=now,
        updated_at=now,
    )
    async with deps.uow() as uow:
        await uow.courses.add(course)
        await uow.commit()
    return course


def action_body(
    course_id: Any, *, location: str = LOCATION, contact: str = "CON1", **data: Any
) -> dict[str, Any]:
    """The default action body, exactly as the reference shows it (§2)."""
    fields = {
        "courseId": str(course_id),
        "email": "ann@example.com",
        "firstName": "Ann",
        "lastName": "Lee",
        "sendInvite": False,
    }
    fields.update(data)
    return {
        "data": fields,
        "extras": {"locationId": location, "contactId": contact, "workflowId": "WF1"},
        "meta": {"key": "scorm_enroll_contact", "version": "1.0"},
    }


def subscription_body(
    trigger_id: str,
    *,
    key: str = "scorm_course_completed",
    event_type: str = "CREATED",
    target_url: str | None = None,
    filters: list[dict[str, Any]] | None = None,
    location: str = LOCATION,
) -> dict[str, Any]:
    """A trigger subscription request, exactly as the reference shows it (§6)."""
    return {
        "triggerData": {
            "id": trigger_id,
            "key": key,
            "filters": filters or [],
            "eventType": event_type,
            "targetUrl": target_url if target_url is not None else f"{TARGET_PREFIX}{location}/{trigger_id}",
        },
        "meta": {"key": key, "version": "1.0"},
        "extras": {"locationId": location, "workflowId": "WF1", "companyId": COMPANY},
    }
