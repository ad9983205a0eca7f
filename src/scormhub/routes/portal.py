"""The learner portal at /learn/{workspace}: ask for a sign-in link by email, open it, see "my courses".

No admin session is read or needed: the learner's proof is the emailed one-time link, which leaves a
portal cookie scoped to this workspace's /learn path. Opening the link shows a button that signs in
(a POST): mail scanners that fetch every link in a message cannot spend it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from scormhub.bootstrap import Deps
from scormhub.domain import portal, schedule
from scormhub.domain.model import Workspace
from scormhub.domain.model_learners import PortalCourse
from scormhub.routes.providers import DepsDep

PORTAL_COOKIE = "scormhub_portal"
# One network asking for links: a class behind one office address fits; a script is cut off.
LINKS_PER_IP_PER_MINUTE = 30
SENT_MESSAGE = (
    "If {email} is enrolled in courses here, a sign-in link is on its way. It works once, for 15 minutes. "
    "Nothing arrived? Check your spam folder, or ask whoever enrolled you which address they used."
)


class PortalController(Controller):
    path = "/learn/{workspace_id:uuid}"

    @get("", cache=False)
    async def home(
        self, workspace_id: FromPath[UUID], request: Request[Any, Any, Any], deps: DepsDep
    ) -> Response[Any]:
        workspace = await _workspace(deps, workspace_id)
        if workspace is None:
            return _no_portal()
        signed_in = await portal.signed_in_courses(
            workspace_id, request.cookies.get(PORTAL_COOKIE), uow=deps.uow, clock=deps.clock
        )
        if signed_in is None:
            return _form(workspace)
        email, courses = signed_in
        now = deps.clock.now()
        # Display strings are made here, not in the template: a learner may have hundreds of courses, and
        # a Jinja include or nested conditionals per row cost more than the query (bench/learners.py).
        rows = [_row(course, now) for course in courses]
        return Template(
            template_name="pages/portal/courses.html",
            context={"workspace": workspace, "email": email, "rows": rows},
        )

    @post("/link")
    async def send_link(
        self, workspace_id: FromPath[UUID], request: Request[Any, Any, Any], deps: DepsDep
    ) -> Response[Any]:
        workspace = await _workspace(deps, workspace_id)
        if workspace is None:
            return _no_portal()
        form = await request.form()
        raw = str(form.get("email", ""))[:300]
        email = portal.normalise_email(raw)
        if email is None:
            return _form(
                workspace,
                error="Enter the email address you were enrolled with, like name@example.com.",
                email=raw,
                status=422,
            )
        client = request.client.host if request.client else "unknown"
        now = deps.clock.now()
        if not await deps.request_limits.allow(
            f"portal:ip:{client}", limit=LINKS_PER_IP_PER_MINUTE, window_s=60, now=now
        ):
            return _form(
                workspace,
                error="Too many requests from your network. Wait a minute and try again.",
                email=email,
                status=429,
            )
        await send_sign_in_link(deps, workspace, email)
        # The same page whether or not the address is known, or was already sent its budget of links.
        return Template(
            template_name="pages/portal/sent.html",
            context={"workspace": workspace, "message": SENT_MESSAGE.format(email=email)},
        )

    @get("/link/{token:str}", cache=False)
    async def open_link(
        self, workspace_id: FromPath[UUID], token: FromPath[str], deps: DepsDep
    ) -> Response[Any]:
        workspace = await _workspace(deps, workspace_id)
        if workspace is None:
            return _no_portal()
        # Nothing is spent here (mail scanners open links): the button below signs in.
        return Template(
            template_name="pages/portal/confirm.html",
            context={"workspace": workspace, "action": f"/learn/{workspace.id}/link/{token[:100]}"},
            headers={"Referrer-Policy": "no-referrer"},
        )

    @post("/link/{token:str}")
    async def use_link(
        self, workspace_id: FromPath[UUID], token: FromPath[str], deps: DepsDep
    ) -> Response[Any]:
        workspace = await _workspace(deps, workspace_id)
        if workspace is None:
            return _no_portal()
        outcome = await portal.redeem_link(workspace.id, token, uow=deps.uow, clock=deps.clock)
        if isinstance(outcome, portal.LinkProblem):
            return _form(
                workspace,
                error=outcome.message,
                status=410 if outcome is not portal.LinkProblem.UNKNOWN else 404,
            )
        session, link = outcome
        response: Response[Any] = Redirect(path=link.next_path or f"/learn/{workspace.id}", status_code=303)
        response.set_cookie(
            PORTAL_COOKIE,
            session,
            path=f"/learn/{workspace.id}",
            max_age=int(portal.SESSION_LIFETIME.total_seconds()),
            httponly=True,
            secure=deps.settings.uses_https,
            samesite="lax",
        )
        return response

    @post("/sign-out")
    async def sign_out(self, workspace_id: FromPath[UUID], deps: DepsDep) -> Response[Any]:
        if await _workspace(deps, workspace_id) is None:
            return _no_portal()
        response: Response[Any] = Redirect(path=f"/learn/{workspace_id}", status_code=303)
        response.delete_cookie(PORTAL_COOKIE, path=f"/learn/{workspace_id}")
        return response


async def send_sign_in_link(deps: Deps, workspace: Workspace, email: str) -> bool:
    """Email `email` a portal sign-in link if it is enrolled here (within its budget); True when queued."""
    branding = await deps.brandings.load(workspace.id, workspace.name)
    queued = await portal.request_link(
        workspace.id,
        email,
        uow=deps.uow,
        limits=deps.request_limits,
        clock=deps.clock,
        branding=branding,
        link_url=lambda token: f"{deps.settings.public_url}/learn/{workspace.id}/link/{token}",
    )
    if queued:
        await deps.jobs.enqueue("deliver_mail")  # no key: a sender may be running; claims keep it once
    return queued


def _row(course: PortalCourse, now: datetime) -> dict[str, Any]:
    if course.completion == "completed":
        progress = "Completed" + {"passed": " · passed", "failed": " · failed"}.get(course.success, "")
        action = "Review"
    elif course.started:
        progress, action = "In progress", "Resume"
    else:
        progress, action = "Not started", "Launch"
    if course.score_percent is not None:
        progress += f" · {round(course.score_percent)}%"
    certificate = None
    if course.certificate_id and not course.certificate_revoked:
        expiry = course.certificate_expires_at
        certificate = {
            "id": course.certificate_id,
            "expired": schedule.certificate_state(expiry, now) == "expired",
            "until": expiry.strftime("%Y-%m-%d") if expiry else None,
        }
    return {
        "title": course.course_title,
        "token": course.launch_token,
        "progress": progress,
        "action": action,
        "due": course.due_at.strftime("%Y-%m-%d") if course.due_at else None,
        "due_badge": schedule.due_badge(course.due_at, course.completion, now),
        "certificate": certificate,
    }


async def _workspace(deps: Deps, workspace_id: UUID) -> Workspace | None:
    async with deps.uow() as uow:
        return await uow.workspaces.get(workspace_id)


def _form(workspace: Workspace, *, error: str | None = None, email: str = "", status: int = 200) -> Template:
    return Template(
        template_name="pages/portal/sign_in.html",
        context={"workspace": workspace, "error": error, "email": email},
        status_code=status,
    )


def _no_portal() -> Template:
    return Template(
        template_name="pages/enroll/message.html",
        context={
            "title": "No courses here",
            "message": "This learning portal address is not valid. Use the link from your enrollment email.",
        },
        status_code=404,
    )
