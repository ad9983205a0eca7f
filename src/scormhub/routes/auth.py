"""Standalone admin access: the site root, one-time login links, sign-out."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from scormhub.domain.workspaces import redeem_login_token
from scormhub.routes.providers import DepsDep
from scormhub.web.sessions import set_session_cookie

LINK_HELP = "For a new link, run `make login-link` (or `scormhub login-link`) on the server."


@get("/", cache=False, include_in_schema=False)
async def root(request: Request[Any, Any, Any], deps: DepsDep) -> Redirect:
    signed_in = deps.sessions.from_connection(request) is not None
    return Redirect(path="/app/courses" if signed_in else "/signed-out", status_code=303)


class AuthController(Controller):
    @get("/login/{token:str}", cache=False)
    async def login(self, token: FromPath[str], deps: DepsDep) -> Response[Any]:
        workspace = await redeem_login_token(token, uow=deps.uow(), clock=deps.clock)
        if workspace is None:
            return Template(
                template_name="pages/auth/link_used.html",
                context={"help": LINK_HELP},
                status_code=410,
            )
        response: Response[Any] = Redirect(path="/app/courses", status_code=303)
        set_session_cookie(response, deps.sessions.cookie_header(deps.sessions.issue(workspace.id)))
        return response

    @post("/logout")
    async def logout(self, deps: DepsDep) -> Response[Any]:
        response: Response[Any] = Redirect(path="/signed-out", status_code=303)
        set_session_cookie(response, deps.sessions.cleared_cookie_header())
        return response

    @get(["/signed-out", "/hl"], cache=False)
    async def signed_out(self, request: Request[Any, Any, Any], deps: DepsDep) -> Template:
        # /hl is the page HighLevel frames; inside the iframe it signs in through SSO, and a session that
        # expired there lands back on /signed-out, which tries SSO once more (never a redirect loop).
        return Template(
            template_name="pages/auth/signed_out.html",
            context={
                "help": LINK_HELP,
                "sso": bool(deps.settings.highlevel_sso_key),
                "crm_origins": " ".join(crm_origins(deps.settings.frame_ancestors)),
            },
        )


def crm_origins(frame_ancestors: str) -> list[str]:
    """The CSP sources in `frame_ancestors` that name who may send the SSO page its sign-in message.

    The pages that may frame us are the CRM's (white-label agencies add their domains to the same
    setting), so they are the ones whose messages count. Kept as CSP source expressions (`'self'`,
    `https:`, `https://*.example.com:*`) for sso.js to match an event's origin against; paths are
    dropped (an origin has none), and keywords other than `'self'` name no origin.
    """
    sources = []
    for source in frame_ancestors.split():
        source = source.lower()
        if source.startswith("'"):
            if source == "'self'":
                sources.append(source)
            continue
        scheme, separator, rest = source.partition("://")
        if separator:
            source = f"{scheme}://{rest.split('/', 1)[0]}"
        elif not source.endswith(":"):
            source = source.split("/", 1)[0]
        if source not in sources:
            sources.append(source)
    return sources
