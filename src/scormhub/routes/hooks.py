"""Webhooks from SCORM Cloud: stored before they are acknowledged, processed by jobs.

The postback endpoint is the one route that takes machine traffic at volume (SCORM Cloud posts several
times per learner session, and a course going live can mean hundreds a second), and it needs nothing a
page needs: no session, no form, no template, no dependency injection. It is therefore a plain ASGI
handler inside the app: Litestar still routes it, runs the app middleware (request log, security
headers) and turns exceptions into answers (503 while the database is away), but the handler reads the
workspace from the path, the body, and writes the answer itself. That halves its cost per request (see
bench/RESULTS.md, "postbacks"); everything a request must guarantee is here and tested in
tests/http/test_scorm_cloud_connect.py.
"""

from __future__ import annotations

import logging
from uuid import UUID

from litestar import asgi
from litestar.enums import ScopeType
from litestar.types import Receive, Scope, Send

from scormhub.bootstrap import Deps
from scormhub.domain.engine_accounts import TEST_POSTBACK_QUERY

log = logging.getLogger(__name__)

# A registration with its activity tree is a few KB; nothing legitimate comes near this.
MAX_POSTBACK_BYTES = 1024 * 1024

_TEXT = (b"content-type", b"text/plain; charset=utf-8")
_TEST_QUERY = TEST_POSTBACK_QUERY.encode()


# Mounted, with the workspace read from the rest of the path: Litestar (2.25) routes an ASGI handler
# with a path parameter only for websockets (an HTTP request fails with a KeyError in its router).
# `serves` names the route as a client sees it, for the route table the security tests walk (a mount's
# own path has no parameter, and an ASGI handler no methods).
@asgi(
    "/hooks/scorm-cloud",
    is_mount=True,
    copy_scope=False,
    name="scorm-cloud-postback",
    opt={"serves": [("POST", "/hooks/scorm-cloud/{workspace_id:uuid}")]},
)
async def scorm_cloud_postback(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer 200 as soon as the body is stored. Never a redirect (SCORM Cloud counts 3xx as delivered),
    never a 5xx for a stored body, and 4xx only for an unknown workspace, wrong credentials, or a body
    no postback could be."""
    if scope["type"] != ScopeType.HTTP:
        await send({"type": "websocket.close", "code": 1003, "reason": "Postbacks are HTTP POSTs."})
        return
    if scope["method"] != "POST":
        await _answer(send, 405, b"Postbacks are sent with POST.", (b"allow", b"POST"))
        return
    try:
        # The mount leaves "/{workspace_id}/" (a trailing slash added or not, never a redirect).
        workspace_id = UUID(scope["path"].strip("/"))
    except ValueError:
        await _answer(send, 404, b"Unknown workspace.")
        return
    scope["state"]["workspace_id"] = str(workspace_id)  # for the request's log line
    content_type = authorization = ""
    declared = -1
    for name, value in scope["headers"]:
        if name == b"content-type" and not content_type:
            content_type = value.decode("latin-1")
        elif name == b"authorization" and not authorization:
            authorization = value.decode("latin-1")
        elif name == b"content-length" and value.isdigit():
            declared = int(value)
    if declared > MAX_POSTBACK_BYTES:
        await _answer(send, 413, b"A postback is at most 1 MiB; this one says it is larger.")
        return
    body = await _read_body(receive)
    if body is None:
        return  # the client hung up before sending it all: nothing to store, nobody to answer
    if len(body) > MAX_POSTBACK_BYTES:
        await _answer(send, 413, b"A postback is at most 1 MiB; this one is larger.")
        return

    deps: Deps = scope["litestar_app"].state.deps
    known = await deps.postback_credentials.check(workspace_id, content_type, body, authorization)
    if known is None:
        await _answer(send, 404, b"Unknown workspace.")
        return
    if not known:
        await _answer(
            send, 401, b"Wrong postback credentials.", (b"www-authenticate", b'Basic realm="scormhub"')
        )
        return
    if scope["query_string"] == _TEST_QUERY:
        # Connect's check: SCORM Cloud reached us with the new credentials. Its dummy registration is
        # nobody's result, so it is recorded as the check's outcome instead of being stored.
        await deps.postback_credentials.record_test_postback(workspace_id)
        await _answer(send, 200, b"ok")
        return
    await deps.postback_inbox.store(
        workspace_id=workspace_id,
        source="scorm_cloud",
        content_type=content_type,
        body=body.decode("utf-8", "replace"),
        received_at=deps.clock.now(),
    )
    try:
        await deps.inbox_drains.request(workspace_id)
    except Exception:
        log.warning("postback for %s stored but no drain queued; the sweeper will pick it up", workspace_id)
    await _answer(send, 200, b"ok")


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None if the client disconnected first. Reading stops past the limit: the
    caller answers 413 without holding more than the limit in memory."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        if chunk:
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_POSTBACK_BYTES:
                break
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _answer(send: Send, status: int, text: bytes, *extra: tuple[bytes, bytes]) -> None:
    headers = [_TEXT, (b"content-length", str(len(text)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text, "more_body": False})
