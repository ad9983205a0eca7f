"""Webhooks from SCORM Cloud: stored before they are acknowledged, processed by jobs."""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any
from urllib.parse import unquote_plus
from uuid import UUID

from litestar import Request, Response, post
from litestar.params import FromPath

from scormhub.domain.engine_accounts import Postback, credentials_match
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
    postback = postback_credentials(content_type, body, request.headers.get("authorization"))
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


_FORM = "application/x-www-form-urlencoded"
_FORM_CREDENTIALS = frozenset({"userName", "username", "password"})


def postback_credentials(content_type: str, body: bytes, authorization: str | None) -> Postback:
    """The credentials `parse_postback` would read, without reading the registration itself.

    The request only authenticates and stores; the drain job parses the registration. Decoding just the
    credential fields (and no JSON) is most of a postback's parsing cost saved on the hot path.
    """
    if authorization and authorization.lower().startswith("basic "):
        try:
            user, _, secret = base64.b64decode(authorization[6:].strip()).decode().partition(":")
            return Postback(username=user, password=secret, registration=None)
        except (binascii.Error, UnicodeDecodeError):
            pass  # as parse_postback: an unreadable header leaves the form's credentials
    if not content_type.startswith(_FORM):
        return Postback(username=None, password=None, registration=None)
    fields: dict[str, str] = {}
    for pair in body.decode("utf-8", "replace").split("&"):
        name, _, value = pair.partition("=")
        name = unquote_plus(name)
        if name in _FORM_CREDENTIALS and name not in fields:
            fields[name] = unquote_plus(value)
    return Postback(
        username=fields.get("userName") or fields.get("username"),
        password=fields.get("password"),
        registration=None,
    )
