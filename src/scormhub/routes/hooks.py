"""Webhooks from SCORM Cloud: stored before they are acknowledged, processed by jobs."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from litestar import Request, Response, post
from litestar.params import FromPath

from scormhub.domain.engine_accounts import credentials_match, parse_postback
from scormhub.integrations import inbox
from scormhub.services import ServicesDep

log = logging.getLogger(__name__)

# A registration with its activity tree is a few KB; nothing legitimate comes near this.
MAX_POSTBACK_BYTES = 1024 * 1024


@post(
    "/hooks/scorm-cloud/{workspace_id:uuid}",
    request_max_body_size=MAX_POSTBACK_BYTES,
    status_code=200,
    include_in_schema=False,
)
async def scorm_cloud_postback(
    workspace_id: FromPath[UUID], request: Request[Any, Any, Any], services: ServicesDep
) -> Response[str]:
    """Answer 200 as soon as the body is stored. Never a redirect (SCORM Cloud counts 3xx as delivered),
    never a 5xx for a stored body, and 4xx only for an unknown workspace or wrong credentials."""
    body = await request.body()
    credentials = await services.postback_credentials(workspace_id)
    if credentials is None:
        return Response("Unknown workspace.", status_code=404, media_type="text/plain")
    content_type = request.headers.get("content-type", "")
    postback = parse_postback(content_type, body, request.headers.get("authorization"))
    if not credentials_match(postback, *credentials):
        # Maybe the account was reconnected with new credentials since they were cached: look again.
        credentials = await services.postback_credentials(workspace_id, fresh=True)
        if credentials is None or not credentials_match(postback, *credentials):
            return Response(
                "Wrong postback credentials.",
                status_code=401,
                media_type="text/plain",
                headers={"WWW-Authenticate": 'Basic realm="scormhub"'},
            )
    await inbox.store(
        workspace_id=workspace_id,
        source="scorm_cloud",
        content_type=content_type,
        body=body.decode("utf-8", "replace"),
        received_at=services.clock.now(),
    )
    try:
        await services.request_inbox_drain(workspace_id)
    except Exception:
        log.warning("postback for %s stored but no drain queued; the sweeper will pick it up", workspace_id)
    return Response("ok", status_code=200, media_type="text/plain")
