"""The built-in player on sequenced SCORM 2004 courses: the page with its contents and buttons, and the
navigation endpoint the player (and the content, through adl.nav.request at Terminate) calls."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath
from litestar.response import Redirect, Template

from scormhub.bootstrap import Deps
from scormhub.domain import enrollments as cases
from scormhub.domain import sequenced
from scormhub.domain.enrollments import CourseNotAvailable
from scormhub.domain.errors import NotFound
from scormhub.domain.model import Enrollment
from scormhub.domain.sequencing_commits import SequencingConflict
from scormhub.routes.providers import DepsDep

log = logging.getLogger(__name__)

MAX_NAV_BYTES = 256 * 1024  # the same budget as a commit: a navigation may carry the SCO's last commit
_HELP = (
    "Send request = start, resumeAll, continue, previous, choice, jump, exit, exitAll, suspendAll, "
    "abandon or abandonAll (choice and jump with a target)."
)


async def sequenced_player(deps: Deps, token: str) -> Response[Any] | None:
    """The player page of a sequenced course, or None when the course isn't sequenced."""
    opened = await sequenced.open_course(token, uow=deps.uow(), clock=deps.clock, trees=deps.activity_trees())
    if opened is None:
        return None
    deliver, view = opened
    base = f"/play/{token}"
    launch = None
    if deliver is not None:
        launch = await cases.start_launch(token, deliver, uow=deps.uow(), clock=deps.clock)
    course = launch.course if launch is not None else (await cases.find_launch(token, uow=deps.uow()))[1]
    config: dict[str, Any] = {
        "standard": course.standard,
        "tracking": True,
        "navUrl": f"{base}/nav",
        "exitUrl": f"{base}/exit",
        "playerUrl": base,
        "sequencing": view.to_json(),
    }
    if launch is not None:
        sco = next((s for s in course.scos if s.identifier == launch.sco_id), None)
        if sco is not None:
            query = urlencode({"sco": launch.sco_id, "session": launch.session_id})
            config.update(
                launch=f"{base}/content/{sco.launch}",
                commitUrl=f"{base}/commit?{query}",
                sco=launch.sco_id,
                session=launch.session_id,
                resume=launch.resume,
            )
    return Template(
        template_name="pages/player/play.html",
        context={
            "course": course,
            "sco_id": launch.sco_id if launch is not None else None,
            "player_config": config,
            "base": base,
            "nav": view,
        },
    )


class NavigationController(Controller):
    path = "/play/{token:str}/nav"
    opt = {"exclude_from_csrf": True}  # the unguessable launch token authenticates, as for commits

    @get("", cache=False)
    async def state(self, token: FromPath[str], deps: DepsDep) -> Response[Any]:
        """The contents, valid buttons and progress as they stand (the player asks after each commit)."""
        try:
            view = await sequenced.current_view(token, uow=deps.uow(), trees=deps.activity_trees())
        except (NotFound, CourseNotAvailable):
            raise NotFoundException("This learning link is not valid. Ask for a new one.") from None
        except sequenced.NotSequenced:
            return Response(content={"sequencing": None}, status_code=200)
        return Response(content={"sequencing": view.to_json()}, status_code=200)

    @post("", status_code=200, request_max_body_size=MAX_NAV_BYTES, opt={"checks_own_input": True})
    async def navigate(
        self, token: FromPath[str], request: Request[Any, Any, Any], deps: DepsDep
    ) -> Response[Any]:
        as_form = "application/json" not in request.headers.get("content-type", "")
        try:
            body: Any = dict(await request.form()) if as_form else await request.json()
        except RequestEntityTooLarge:
            return _answer(as_form, token, 413, message="The request is larger than the player may send.")
        except Exception:
            return _answer(as_form, token, 400, message="The request was not valid JSON.")
        if not isinstance(body, dict):
            return _answer(as_form, token, 400, message="The request must be a JSON object.")
        requested = body.get("request")
        target = body.get("target")
        parsed = None
        if isinstance(requested, str) and (target is None or isinstance(target, str)):
            parsed = sequenced.parse_request(requested, target)
        if parsed is None:
            return _answer(as_form, token, 400, message=f"That is not a navigation request. {_HELP}")
        commit = body.get("commit")
        if isinstance(commit, dict) and isinstance(commit.get("cmi"), dict):
            # The SCO's last values travel with the request, so termination sees them (the final commit
            # may still be on its way); a copy of a commit that already arrived is dropped as ended.
            await _final_commit(deps, token, commit)
        try:
            result = await sequenced.navigate(
                token, parsed[0], parsed[1], uow=deps.uow(), clock=deps.clock, trees=deps.activity_trees()
            )
        except (NotFound, CourseNotAvailable):
            raise NotFoundException("This learning link is not valid. Ask for a new one.") from None
        except (SequencingConflict, sequenced.NotSequenced) as refused:
            return _answer(as_form, token, 409, message=str(refused))
        if result.changed is not None:
            await _queue_sync(deps, result.changed)
        url = f"/play/{token}/exit" if result.ended else f"/play/{token}"
        if as_form:
            if not result.valid:
                return _answer(True, token, 409, message=result.message or "That can't be done now.")
            return Redirect(path=url, status_code=303)
        return Response(
            content={
                "valid": result.valid,
                "ended": result.ended,
                "deliver": result.deliver,
                "message": result.message,
                "url": url if result.valid else None,
                "sequencing": result.view.to_json(),
            },
            status_code=200 if result.valid else 409,
        )


async def _final_commit(deps: Deps, token: str, commit: dict[str, Any]) -> None:
    sco, session = commit.get("sco"), commit.get("session")
    if not isinstance(sco, str) or not isinstance(session, str) or not session.isprintable():
        return
    try:
        reply = await cases.record_commit(
            token,
            sco,
            session,
            {"cmi": commit["cmi"]},
            is_final=True,
            uow=deps.uow(),
            clock=deps.clock,
            trees=deps.activity_trees(),
        )
    except (NotFound, CourseNotAvailable, SequencingConflict):
        return
    if reply.sync_needed is not None:
        await _queue_sync(deps, reply.sync_needed)


async def _queue_sync(deps: Deps, enrollment: Enrollment) -> None:
    # The same pipeline as every commit: the key collapses a burst into one queued sync (CRM outbox).
    await deps.jobs.enqueue(
        "sync_enrollment",
        key=f"sync_enrollment:{enrollment.id}",
        workspace_id=str(enrollment.workspace_id),
        enrollment_id=str(enrollment.id),
    )


def _answer(as_form: bool, token: str, status: int, *, message: str) -> Response[Any]:
    if as_form:
        return Template(
            template_name="pages/enroll/message.html",
            context={
                "title": "That can't be done now",
                "message": message,
                "back": f"/play/{token}",
            },
            status_code=status,
        )
    return Response(content={"valid": False, "message": message}, status_code=status)
