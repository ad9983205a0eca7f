"""HighLevel workflow actions and triggers: the calls HighLevel makes to us (reference: workflows §2 to §6).

Each call is authenticated by the static header configured in the marketplace app (a signature on these
calls is UNCONFIRMED), then must name a location with an installation. Answers are JSON and fast: slow
work (SCORM Cloud, trigger and webhook deliveries) happens in jobs after the enrollment is committed.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from litestar import Controller, Request, Response, post

from scormhub.bootstrap import Deps
from scormhub.domain.automation import actions, triggers
from scormhub.domain.model import ConnectionStatus
from scormhub.domain.sync import enqueue_push, enqueue_webhooks
from scormhub.routes.providers import DepsDep

log = logging.getLogger(__name__)

ACTION_KEY_HEADER = "x-scormhub-action-key"
MAX_CALL_BYTES = 64 * 1024


def _json(content: dict[str, Any], status: int = 200) -> Response[Any]:
    return Response(content=content, status_code=status, headers={"Cache-Control": "no-store"})


async def _authenticated_body(request: Request[Any, Any, Any], deps: Deps) -> dict[str, Any] | Response[Any]:
    """The call's JSON object, or the answer refusing it (unconfigured, wrong key, not JSON)."""
    expected = deps.settings.highlevel_workflow_key
    if not expected:
        return _json(
            {"error": "Workflow actions are not set up on this server: set HIGHLEVEL_WORKFLOW_KEY."}, 404
        )
    given = request.headers.get(ACTION_KEY_HEADER, "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return _json({"error": f"Missing or wrong {ACTION_KEY_HEADER} header."}, 401)
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return _json({"error": "The body is not JSON."}, 400)
    if not isinstance(body, dict):
        return _json({"error": "The body must be a JSON object."}, 400)
    return body


async def _installed_workspace(deps: Deps, location_id: str | None) -> Any:
    """The location's workspace id, or the answer refusing the call (no location, not installed)."""
    if not location_id:
        return _json({"error": "extras.locationId is missing."}, 400)
    connection = await deps.highlevel_connections.by_location(location_id)
    if connection is None or connection.status is ConnectionStatus.UNINSTALLED:
        return _json(
            {
                "error": "SCORM Hub is not installed in this location. "
                "Install the app, then run the workflow again."
            },
            403,
        )
    return connection.workspace_id


class WorkflowController(Controller):
    path = "/hooks/highlevel"
    # JSON from HighLevel, authenticated by the header; the input guard's form rules do not apply.
    opt = {"checks_own_input": True}

    @post("/actions/enroll", request_max_body_size=MAX_CALL_BYTES, status_code=200, include_in_schema=False)
    async def enroll(self, request: Request[Any, Any, Any], deps: DepsDep) -> Response[Any]:
        """Action "Enroll contact in a course": status, enrollmentId, launchUrl, alreadyEnrolled (§3)."""
        body = await _authenticated_body(request, deps)
        if isinstance(body, Response):
            return body
        try:
            call = actions.parse_action(body, dict(request.query_params))
        except actions.MalformedCall as bad:
            return _json({"error": str(bad)}, 400)
        workspace_id = await _installed_workspace(deps, call.location_id)
        if isinstance(workspace_id, Response):
            return workspace_id
        outcome = await actions.enroll_action(
            call,
            workspace_id,
            uow=deps.uow(),
            contacts=await deps.crm.contact_book(workspace_id),
            clock=deps.clock,
            public_url=deps.settings.public_url,
        )
        # After the commit, and never failing the answer: the crons deliver whatever was not woken here.
        try:
            if outcome.workspace_woken:
                await enqueue_push(workspace_id, jobs=deps.jobs)
            if outcome.webhooks:
                await enqueue_webhooks(workspace_id, jobs=deps.jobs)
        except Exception:
            log.warning(
                "enrollment %s committed; its deliveries wait for the cron",
                outcome.response.get("enrollmentId"),
            )
        return _json(outcome.response)

    @post(
        "/actions/enrollment-link",
        request_max_body_size=MAX_CALL_BYTES,
        status_code=200,
        include_in_schema=False,
    )
    async def enrollment_link(self, request: Request[Any, Any, Any], deps: DepsDep) -> Response[Any]:
        """Action "Send the self-enrollment link": status, enrollmentLink."""
        body = await _authenticated_body(request, deps)
        if isinstance(body, Response):
            return body
        try:
            call = actions.parse_action(body, dict(request.query_params))
        except actions.MalformedCall as bad:
            return _json({"error": str(bad)}, 400)
        workspace_id = await _installed_workspace(deps, call.location_id)
        if isinstance(workspace_id, Response):
            return workspace_id
        return _json(
            await actions.send_link_action(
                call, workspace_id, uow=deps.uow(), public_url=deps.settings.public_url
            )
        )

    @post("/actions/courses", request_max_body_size=MAX_CALL_BYTES, status_code=200, include_in_schema=False)
    async def action_courses(self, request: Request[Any, Any, Any], deps: DepsDep) -> Response[Any]:
        """The actions' DYNAMIC input: this location's Ready courses (§4)."""
        body = await _authenticated_body(request, deps)
        if isinstance(body, Response):
            return body
        call = actions.parse_action(body, dict(request.query_params))
        workspace_id = await _installed_workspace(deps, call.location_id)
        if isinstance(workspace_id, Response):
            return workspace_id
        return _json(actions.dynamic_fields(await actions.course_options(workspace_id, uow=deps.uow())))

    @post("/triggers/courses", request_max_body_size=MAX_CALL_BYTES, status_code=200, include_in_schema=False)
    async def trigger_courses(self, request: Request[Any, Any, Any], deps: DepsDep) -> Response[Any]:
        """The triggers' DYNAMIC course filter (§5)."""
        body = await _authenticated_body(request, deps)
        if isinstance(body, Response):
            return body
        call = actions.parse_action(body, dict(request.query_params))
        workspace_id = await _installed_workspace(deps, call.location_id)
        if isinstance(workspace_id, Response):
            return workspace_id
        return _json(actions.dynamic_filters(await actions.course_options(workspace_id, uow=deps.uow())))

    @post("/triggers", request_max_body_size=MAX_CALL_BYTES, status_code=200, include_in_schema=False)
    async def subscription(self, request: Request[Any, Any, Any], deps: DepsDep) -> Response[Any]:
        """A workflow added, edited or removed one of our triggers (§6): kept, then `{"success": true}`."""
        body = await _authenticated_body(request, deps)
        if isinstance(body, Response):
            return body
        try:
            change = triggers.parse_subscription(body)
        except triggers.SubscriptionRefused as bad:
            return _json({"success": False, "error": str(bad)}, 400)
        if change.event_type == "DELETED":
            connection = await deps.highlevel_connections.by_location(change.location_id)
            if connection is None:
                # Nothing of this location is kept, so nothing fires: the deletion is already true.
                return _json({"success": True, "status": "already deleted"})
            workspace_id = connection.workspace_id
        else:
            found = await _installed_workspace(deps, change.location_id)
            if isinstance(found, Response):
                return found
            workspace_id = found
        try:
            outcome = await triggers.change_subscription(
                change,
                workspace_id,
                uow=deps.uow(),
                clock=deps.clock,
                api_url=deps.settings.highlevel_api_url,
            )
        except triggers.SubscriptionRefused as bad:
            return _json({"success": False, "error": str(bad)}, 400)
        return _json({"success": True, "status": outcome})
