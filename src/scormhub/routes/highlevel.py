"""HighLevel: the marketplace install (OAuth), install/uninstall webhooks, and SSO inside the iframe."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template

from scormhub.bootstrap import Deps
from scormhub.domain.errors import CrmAuthExpired, DomainError, ServiceUnavailable
from scormhub.domain.installs import install_from_grant
from scormhub.routes.providers import DepsDep
from scormhub.web.sessions import SSO_SESSION_MAX_AGE_S, set_session_cookie

log = logging.getLogger(__name__)

STATE_COOKIE = "scormhub_oauth_state"
STATE_MAX_AGE_S = 15 * 60  # the state cookie's life; the signed state itself expires with it
MAX_WEBHOOK_BYTES = 256 * 1024
MAX_SSO_PAYLOAD = 16 * 1024


def _callback_url(deps: Deps) -> str:
    return f"{deps.settings.public_url}/oauth/callback"


def _not_configured() -> Template:
    # A 404, not a 503: nothing is failing, this server simply has no HighLevel app to install.
    return Template(
        template_name="pages/error.html",
        context={
            "title": "HighLevel is not set up on this server",
            "message": "Set HIGHLEVEL_CLIENT_ID and HIGHLEVEL_CLIENT_SECRET (the marketplace app's OAuth "
            "credentials) and restart SCORM Hub.",
            "status": 404,
        },
        status_code=404,
    )


def _install_problem(status: int, message: str) -> Template:
    return Template(
        template_name="pages/highlevel/install_problem.html",
        context={"message": message, "status": status},
        status_code=status,
    )


class HighLevelController(Controller):
    @get("/oauth/install", cache=False)
    async def install(self, deps: DepsDep) -> Response[Any]:
        """Start an install: HighLevel's choose-location page, with a state bound to this browser."""
        if not deps.settings.highlevel_configured:
            return _not_configured()
        state, nonce = deps.highlevel_inbound.new_oauth_state()
        url = deps.crm.oauth().authorize_url(
            redirect_uri=_callback_url(deps), scopes=deps.settings.highlevel_scopes, state=state
        )
        response: Response[Any] = Redirect(path=url, status_code=303)
        # Lax: the callback is a top-level navigation back from HighLevel, which Lax cookies survive.
        response.set_cookie(
            STATE_COOKIE,
            nonce,
            max_age=STATE_MAX_AGE_S,
            httponly=True,
            secure=deps.settings.uses_https,
            samesite="lax",
            path="/oauth",
        )
        return response

    @get("/oauth/callback", cache=False)
    async def callback(self, request: Request[Any, Any, Any], deps: DepsDep) -> Response[Any]:
        if not deps.settings.highlevel_configured:
            return _not_configured()
        code = request.query_params.get("code", "").strip()
        state = request.query_params.get("state")
        if not code or len(code) > 2000:
            return _install_problem(400, "HighLevel did not send an authorization code.")
        # Only the state we bound to this browser lets the callback sign it in: with a code alone, anyone
        # could send a victim here with their own code and have the victim work in the attacker's location.
        # An install started in the marketplace carries no state of ours (HighLevel's echo of `state` is
        # unconfirmed), so a missing state still installs (the code only ever grants the installer's own
        # location) but signs nobody in; a state that is present must be ours, or nothing is exchanged.
        if state and not deps.highlevel_inbound.oauth_state_matches(state, request.cookies.get(STATE_COOKIE)):
            return _install_problem(400, "This install link has expired or was not started here.")
        signs_in = bool(state)
        try:
            grant = await deps.crm.oauth().exchange_code(
                code, user_type="Location", redirect_uri=_callback_url(deps)
            )
        except CrmAuthExpired:
            return _install_problem(400, "HighLevel did not accept this authorization (used or expired).")
        except ServiceUnavailable:
            return _install_problem(503, "HighLevel is not answering right now.")
        try:
            outcome = await install_from_grant(
                grant,
                installations=deps.highlevel_connections,
                agency=deps.crm.agency_auth(),
                app_id=deps.settings.highlevel_app_id,
                uow=deps.uow(),
                jobs=deps.jobs,
                clock=deps.clock,
                plans=deps.settings.highlevel_plans,
            )
        except ServiceUnavailable:
            return _install_problem(503, "HighLevel is not answering right now.")
        except DomainError as exc:
            return _install_problem(400, str(exc))
        if outcome.workspace is None or not signs_in:
            response: Response[Any] = Template(
                template_name="pages/highlevel/installed.html",
                context={"locations": outcome.locations, "agency": outcome.workspace is None},
            )
        else:
            response = Redirect(path="/app/courses", status_code=303)
            token = deps.sessions.issue(
                outcome.workspace.id, user_id=grant.user_id, max_age_s=SSO_SESSION_MAX_AGE_S
            )
            set_session_cookie(response, deps.sessions.cookie_header(token))
        response.delete_cookie(STATE_COOKIE, path="/oauth")
        return response

    @post(
        "/hooks/crm",
        request_max_body_size=MAX_WEBHOOK_BYTES,
        status_code=200,
        include_in_schema=False,
    )
    async def webhook(self, request: Request[Any, Any, Any], deps: DepsDep) -> Response[Any]:
        """INSTALL / UNINSTALL: verified on the raw body, stored, then acknowledged; a job acts on it."""
        raw = await request.body()
        inbound = deps.highlevel_inbound
        if not inbound.webhook_signed(raw, request.headers):
            return _json({"error": "The signature does not match the body."}, 401)
        try:
            event = json.loads(raw)
        except ValueError:
            return _json({"error": "The body is not JSON."}, 400)
        if not isinstance(event, dict):
            return _json({"error": "The body is not a JSON object."}, 400)
        if not inbound.webhook_for_this_app(event):
            return _json({"error": "This webhook is for another app."}, 403)
        if problem := inbound.webhook_too_old(event):
            return _json({"error": problem}, 400)
        item_id = await inbound.store_webhook(
            event, raw, request.headers.get("content-type", "application/json")
        )
        if item_id is None:
            return _json({"status": "duplicate"}, 200)
        try:
            await deps.jobs.enqueue(
                "process_crm_webhook", key=f"process_crm_webhook:{item_id}", inbox_id=str(item_id)
            )
        except Exception:
            log.warning("webhook %s stored but not queued; the sweeper will pick it up", item_id)
        return _json({"status": "ok"}, 200)

    @post("/sso/highlevel", request_max_body_size=MAX_SSO_PAYLOAD, status_code=200)
    async def sso(self, request: Request[Any, Any, Any], deps: DepsDep) -> Response[Any]:
        """Exchange the CRM's encrypted user payload for a session of ours (cookie and header token).

        Never a redirect: the page decides what to show, so a location without an installation gets
        an Install button rather than a sign-in page that sends it back here.
        """
        key = deps.settings.highlevel_sso_key
        if not key:
            return _json({"error": "HighLevel SSO is not set up on this server (HIGHLEVEL_SSO_KEY)."}, 404)
        if problem := _not_from_our_page(request, deps.settings.public_url):
            return problem
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep for the decoder
            body = None
        payload = body.get("payload") if isinstance(body, dict) else None
        if not isinstance(payload, str) or not payload:
            return _json({"error": "Send the payload HighLevel gave the page."}, 400)
        user = deps.highlevel_inbound.sso_user(payload)
        if user is None:
            return _json({"error": "HighLevel's sign-in data could not be read. Reload the page."}, 401)
        location_id = user.get("activeLocation")
        if not isinstance(location_id, str) or not location_id:
            return _json(
                {"error": "Open SCORM Hub from a sub-account (location); agency view is not supported."},
                409,
            )
        connection = await deps.highlevel_connections.by_location(location_id)
        if connection is None or not connection.usable:
            reason = (
                connection.status_message
                if connection is not None
                else "SCORM Hub is not installed in this location yet."
            )
            return _json({"install": "/oauth/install", "error": reason}, 409)
        user_id = user.get("userId") if isinstance(user.get("userId"), str) else None
        user_name = user.get("userName") if isinstance(user.get("userName"), str) else None
        role = user.get("role") if isinstance(user.get("role"), str) else None
        token = deps.sessions.issue(
            connection.workspace_id,
            user_id=user_id,
            user_name=user_name,
            max_age_s=SSO_SESSION_MAX_AGE_S,
            role=role,  # Go Live (changing the plan) is for the location's admins only
        )
        response = _json({"token": token, "expires_in": SSO_SESSION_MAX_AGE_S}, 200)
        set_session_cookie(response, deps.sessions.cookie_header(token, max_age_s=SSO_SESSION_MAX_AGE_S))
        return response


def _not_from_our_page(request: Request[Any, Any, Any], public_url: str) -> Response[Any] | None:
    """Refuse an SSO exchange that another site's page could have made (login CSRF: signing the
    victim's browser in to the attacker's location with the attacker's own payload).

    Only `application/json` is read: a cross-origin page cannot send that content type without a CORS
    preflight, which the app never grants (a form or a no-cors fetch can only send text/plain, form or
    multipart). On top, the browser's own word on where the request came from: `Sec-Fetch-Site` must be
    `same-origin` (our page inside the CRM's iframe is still our origin), and where an older browser
    sends no `Sec-Fetch-Site`, a present `Origin` must be ours: the public URL's, or the host the
    browser addressed (the Host header, which a page cannot set; it differs from the public URL when
    the same server is reached by another name). A client that sends neither is not a browser, so it
    cannot be ridden cross-site.
    """
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        return _json({"error": "Send the payload as application/json, from SCORM Hub's page."}, 415)
    fetch_site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if fetch_site is not None:
        trusted = fetch_site == "same-origin"
    else:
        theirs = _origin_of(origin) if origin is not None else None
        host = request.headers.get("host", "").lower()
        trusted = origin is None or (
            theirs is not None and (theirs == _origin_of(public_url) or theirs.partition("://")[2] == host)
        )
    if not trusted:
        return _json({"error": "Sign in from SCORM Hub's own page inside HighLevel."}, 403)
    return None


def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[" and the like: not an origin at all
        return None
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


def _json(content: dict[str, Any], status: int) -> Response[Any]:
    return Response(content=content, status_code=status, headers={"Cache-Control": "no-store"})
