"""Webhooks from SCORM Cloud: stored before they are acknowledged, processed by jobs."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from litestar import Request, Response, post
from litestar.params import FromPath

from scormhub.domain.engine_accounts import credentials_match, parse_postback
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
    async with services.uow() as uow:
        account = await uow.engine_accounts.get(workspace_id)
    if account is None:
        return Response("Unknown workspace.", status_code=404, media_type="text/plain")
    content_type = request.headers.get("content-type", "")
    postback = parse_postback(content_type, body, request.headers.get("authorization"))
    if not credentials_match(postback, account, services.cipher):
        return Response(
            "Wrong postback credentials.",
            status_code=401,
            media_type="text/plain",
            headers={"WWW-Authenticate": 'Basic realm="scormhub"'},
        )
    async with services.uow() as uow:
        item_id = await uow.inbox.add(
            workspace_id=workspace_id,
            source="scorm_cloud",
            content_type=content_type,
            body=body.decode("utf-8", "replace"),
            received_at=services.clock.now(),
        )
        await uow.commit()
    try:
        await services.jobs.enqueue(
            "process_postback",
            key=f"process_postback:{item_id}",
            retries=8,
            inbox_id=str(item_id),
            workspace_id=str(workspace_id),
        )
    except Exception:
        log.warning("postback %s stored but not queued; the inbox sweeper will pick it up", item_id)
    return Response("ok", status_code=200, media_type="text/plain")
