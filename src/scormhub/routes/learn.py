"""Learner pages (no account): the built-in player, its commit endpoint, the exit page, self-enrollment."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from scormhub.bootstrap import Deps
from scormhub.domain import enrollments as cases
from scormhub.domain.billing.plans import AppUninstalled
from scormhub.domain.contacts import InvalidInput
from scormhub.domain.enrollments import (
    CourseNotAvailable,
    Launch,
    PlanLimitReached,
    RegistrationOnHold,
    ReviewOnly,
    UnknownItem,
)
from scormhub.domain.errors import (
    CrmAuthExpired,
    CrmRejected,
    DomainError,
    EngineAccountLimit,
    NotFound,
    ServiceUnavailable,
)
from scormhub.domain.model import Course, CourseStatus, EngineKind, Enrollment
from scormhub.domain.portal import normalise_email
from scormhub.domain.ports import RequestLimits
from scormhub.domain.postbacks import sync_registration
from scormhub.domain.scorm.launch_data import SCORM12_API_SETTINGS
from scormhub.domain.sequencing_commits import SequencingConflict
from scormhub.domain.themes import LearnerBrand
from scormhub.routes.brand import brand_for
from scormhub.routes.courses import serve_content
from scormhub.routes.portal import send_sign_in_link
from scormhub.routes.providers import DepsDep, UowDep
from scormhub.routes.sequencing import sequenced_player
from scormhub.web.htmx import vary_on_htmx, wants_fragment

log = logging.getLogger(__name__)

# Abuse protection on the public form. A class of 40 behind one office address must get in within a
# minute (with room for typos), while a script gets at most an hour's budget into a course, not a flood.
ENROLL_PER_IP_PER_MINUTE = 60
ENROLL_PER_IP_PER_HOUR = 150
ENROLL_PER_COURSE_PER_MINUTE = 100
ENROLL_PER_COURSE_PER_HOUR = 400
MAX_COMMIT_BYTES = 256 * 1024
# Proof that this browser enrolled (it holds the launch token it was given), kept for that course's form.
PROOF_COOKIE = "scormhub_learner"
PROOF_MAX_AGE_S = 400 * 24 * 3600  # the longest browsers keep a cookie
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


class PlayerController(Controller):
    """Everything under /play/{token}: the launch token is the learner's only credential."""

    path = "/play/{token:str}"
    opt = {"exclude_from_csrf": True}  # no cookies here: the unguessable token authenticates

    @get("", cache=False)
    async def player(
        self, token: FromPath[str], request: Request[Any, Any, Any], deps: DepsDep
    ) -> Response[Any]:
        try:
            enrollment, held = await cases.find_launch(token, uow=deps.uow(), opening=True)
        except NotFound:
            review = await _review_course(deps, token)
            if review is None:
                raise NotFoundException("This learning link is not valid. Ask for a new one.") from None
            if review.engine is EngineKind.SCORM_CLOUD:
                return await _scorm_cloud_review(deps, review, token)
            try:
                launch = cases.review_launch(review, request.query_params.get("sco"), clock=deps.clock)
            except UnknownItem:
                return _no_such_item(token)
            return _player_page(launch, token, await brand_for(deps, review.workspace_id))
        except RegistrationOnHold as on_hold:
            return _on_hold(str(on_hold))
        except CourseNotAvailable:
            return _not_available()
        if held.engine is EngineKind.SCORM_CLOUD:
            return await _scorm_cloud_launch(deps, enrollment, token)
        try:
            page = await sequenced_player(deps, token)
        except (NotFound, CourseNotAvailable):
            return _not_available()
        if page is not None:
            return page
        try:
            launch = await cases.start_launch(
                token, request.query_params.get("sco"), uow=deps.uow(), clock=deps.clock
            )
        except UnknownItem:
            return _no_such_item(token)
        except NotFound:
            raise NotFoundException("This learning link is not valid. Ask for a new one.") from None
        except CourseNotAvailable:
            return _not_available(await brand_for(deps, enrollment.workspace_id))
        return _player_page(launch, token, await brand_for(deps, enrollment.workspace_id))

    @get("/content/{path:path}", cache=False)
    async def content(self, token: FromPath[str], path: FromPath[str], deps: DepsDep) -> Response[Any]:
        try:
            _, course = await cases.find_launch(token, uow=deps.uow())
        except NotFound:
            review = await _review_course(deps, token)
            if review is None:
                raise NotFoundException() from None
            course = review
        except CourseNotAvailable:
            raise NotFoundException() from None
        # Content is served only for the course this token is enrolled in (or is a review of).
        return await serve_content(deps, course.id, path, course.version)

    @post("/commit", status_code=200, request_max_body_size=MAX_COMMIT_BYTES, opt={"checks_own_input": True})
    async def commit(
        self, token: FromPath[str], request: Request[Any, Any, Any], deps: DepsDep
    ) -> Response[Any]:
        params = request.query_params
        if not params.get("session", "").isprintable():
            # Ours are URL-safe tokens; NUL or a lone surrogate could not even be stored.
            return _scorm_reply(False, 201, "The commit's session is not valid.", status=400)
        try:
            payload = await request.json()
        except RequestEntityTooLarge:
            return _scorm_reply(False, 201, "The commit is larger than the player may send.", status=413)
        except Exception:
            return _scorm_reply(False, 201, "The commit was not valid JSON.", status=400)
        if not isinstance(payload, dict):
            return _scorm_reply(False, 201, "The commit must be a JSON object.", status=400)
        review = await _review_course(deps, token)
        if review is not None:
            # A review answers like any player session, and stores nothing.
            try:
                checked = cases.check_commit(review, params.get("sco", ""), payload)
            except NotFound:
                return _scorm_reply(False, 301, "This learning link is not valid.", status=404)
            rejected = [f"{p.element}: {p.reason}" for p in checked.problems]
            return Response(content={"result": True, "errorCode": 0, "rejected": rejected}, status_code=200)
        try:
            reply = await cases.record_commit(
                token,
                params.get("sco", ""),
                params.get("session", ""),
                payload,
                is_final=params.get("final") == "true",
                uow=deps.uow(),
                clock=deps.clock,
                trees=deps.activity_trees(),
            )
        except SequencingConflict:
            return _scorm_reply(
                False, 391, "The course was changed in another window; reload it.", status=409
            )
        except (NotFound, CourseNotAvailable):
            return _scorm_reply(False, 301, "This learning link is not valid.", status=404)
        if reply.finished_attempt:
            return _scorm_reply(
                False, 391, "This attempt has finished; reopen the course to continue.", status=409
            )
        if reply.sync_needed is not None:
            # The built-in engine feeds the same pipeline as SCORM Cloud's postbacks. The key collapses
            # a burst of commits into one queued sync.
            enrollment = reply.sync_needed
            await deps.jobs.enqueue(
                "sync_enrollment",
                key=f"sync_enrollment:{enrollment.id}",
                workspace_id=str(enrollment.workspace_id),
                enrollment_id=str(enrollment.id),
            )
        return Response(
            content={"result": True, "errorCode": 0, "rejected": list(reply.errors)},
            status_code=200,
        )

    @get("/exit", cache=False)
    async def exit_page(self, token: FromPath[str], deps: DepsDep) -> Template:
        try:
            enrollment, course = await cases.find_launch(token, uow=deps.uow())
        except NotFound:
            review = await _review_course(deps, token)
            if review is None:
                raise NotFoundException() from None
            return Template(
                template_name="pages/player/exit_review.html",
                context={"course": review, "brand": await brand_for(deps, review.workspace_id)},
            )
        except CourseNotAvailable:
            raise NotFoundException() from None
        if course.engine is EngineKind.SCORM_CLOUD:
            # Coming back from SCORM Cloud is a hint that progress changed; its postback may lag.
            await deps.jobs.enqueue(
                "sync_enrollment",
                key=f"sync_enrollment:{enrollment.id}",
                workspace_id=str(enrollment.workspace_id),
                enrollment_id=str(enrollment.id),
            )
        async with deps.uow() as uow:
            current = await uow.enrollments.get(enrollment.workspace_id, enrollment.id)
        # Back from SCORM Cloud, the result may still be on its way: say so and ask until it is known.
        saving = course.engine is EngineKind.SCORM_CLOUD
        context = _result_context(token, course, current or enrollment, saving, deps.clock.now())
        context["brand"] = await brand_for(deps, course.workspace_id)
        return Template(template_name="pages/player/exit.html", context=context)

    @get("/exit/result", cache=False)
    async def exit_result(self, token: FromPath[str], request: HTMXRequest, deps: DepsDep) -> Response[Any]:
        try:
            enrollment, course = await cases.find_launch(token, uow=deps.uow())
        except (NotFound, CourseNotAvailable):
            raise NotFoundException() from None
        since = _moment(request.query_params.get("since", "")) or deps.clock.now()
        current, known = await _known_result(deps, enrollment, course, since)
        context = _result_context(token, course, current, not known, since)
        if wants_fragment(request):
            return vary_on_htmx(Template(template_name="partials/player/result.html", context=context))
        context["brand"] = await brand_for(deps, course.workspace_id)
        return vary_on_htmx(Template(template_name="pages/player/exit.html", context=context))


class EnrollController(Controller):
    path = "/enroll/{token:str}"

    @get("", cache=False)
    async def form(self, token: FromPath[str], deps: DepsDep, uow: UowDep) -> Response[Any]:
        return await _branded_for_course(deps, token, await self._form(token, deps, uow))

    async def _form(self, token: str, deps: Deps, uow: Any) -> Response[Any]:
        async with uow:
            course = await uow.courses.get_by_enroll_token(token)
        if course is None or course.status.value != "ready":
            return _not_available()
        return Template(
            template_name="pages/enroll/form.html", context={"course": course, "values": {}, "errors": {}}
        )

    @post("")
    async def submit(
        self, token: FromPath[str], request: Request[Any, Any, Any], deps: DepsDep, uow: UowDep
    ) -> Response[Any]:
        return await _branded_for_course(deps, token, await self._submit(token, request, deps, uow))

    async def _submit(
        self, token: str, request: Request[Any, Any, Any], deps: Deps, uow: Any
    ) -> Response[Any]:
        form = await request.form()
        values = {k: str(form.get(k, ""))[:1000] for k in ("first_name", "last_name", "email")}
        client = request.client.host if request.client else "unknown"
        now = deps.clock.now()
        if not await _within_budgets(deps.request_limits, client, token, now):
            return Template(
                template_name="pages/enroll/message.html",
                context={"title": "Too many attempts", "message": "Please wait a minute and try again."},
                status_code=429,
            )
        async with uow:
            course = await uow.courses.get_by_enroll_token(token)
        if course is None or course.status.value != "ready":
            # Checked before the fields: there is no form to correct on a course nobody can take.
            return _not_available()
        try:
            result = await cases.self_enroll(
                token,
                first_name=values["first_name"],
                last_name=values["last_name"],
                email=values["email"],
                uow=deps.uow(),
                contacts_for=deps.crm.contact_book,
                clock=deps.clock,
                registrations_for=deps.scorm_cloud.for_workspace,
                proof=request.cookies.get(PROOF_COOKIE),
                jobs=deps.jobs,  # a registration past the plan's free allowance: its charge goes out now
            )
        except InvalidInput as bad:
            return Template(
                template_name="pages/enroll/form.html",
                context={"course": course, "values": values, "errors": {bad.field: str(bad)}},
                status_code=422,
            )
        except (CourseNotAvailable, NotFound):
            return _not_available()
        except (EngineAccountLimit, AppUninstalled):
            return Template(
                template_name="pages/enroll/message.html",
                context={
                    "title": "Enrollment is closed for now",
                    "message": "This course can't take new learners at the moment.",
                    "next_steps": [
                        "Ask whoever sent you this link to open more places; then try again.",
                        "Already enrolled? Open the course from the link you were sent, or from the "
                        "browser you enrolled in.",
                    ],
                    "retry_url": f"/enroll/{token}",
                },
                status_code=403,
            )
        except PlanLimitReached:
            return Template(
                template_name="pages/enroll/message.html",
                context={
                    "title": "Enrollment is closed for now",
                    "message": "This course has reached its number of learners.",
                    "next_steps": [
                        "Ask whoever sent you this link to make room for you; then try again.",
                        "Already enrolled? Open the course from the link you were sent, or from the "
                        "browser you enrolled in.",
                    ],
                    "retry_url": f"/enroll/{token}",
                },
                status_code=403,
            )
        except (ServiceUnavailable, CrmAuthExpired, CrmRejected) as exc:
            # The CRM (where learners are kept) is down or refused the contact: nothing was stored;
            # the form keeps what they typed.
            log.warning("self-enrollment could not reach the CRM: %s", exc)
            return Template(
                template_name="pages/enroll/form.html",
                context={
                    "course": course,
                    "values": values,
                    "errors": {"form": "We could not enroll you just now. Please try again in a minute."},
                },
                status_code=503,
            )
        if isinstance(result, ReviewOnly):
            # An enrolled address without this browser's proof: typing it proves nothing, so its progress
            # is reached through a sign-in link emailed to it (issue 23); the answer itself stays the same.
            await _email_resume_link(deps, result.course.workspace_id, values["email"])
        return _enrolled_answer(deps, request, token, result)


async def _email_resume_link(deps: Deps, workspace_id: UUID, raw_email: str) -> None:
    email = normalise_email(raw_email)
    async with deps.uow() as uow:
        workspace = await uow.workspaces.get(workspace_id)
    if email is not None and workspace is not None:
        await send_sign_in_link(deps, workspace, email)


def _enrolled_answer(
    deps: Deps,
    request: Request[Any, Any, Any],
    course_token: str,
    result: cases.EnrollResult | ReviewOnly,
) -> Response[Any]:
    """The same answer for an enrollment and a review (a player link of one shape, the same cookie), so the
    form tells nobody whether an email is enrolled."""
    if isinstance(result, ReviewOnly):
        token = deps.review_passes().issue(result.course.id)
        # Keep whatever proof this browser already holds (for another learner on a shared computer).
        held = request.cookies.get(PROOF_COOKIE, "")
        remembered = held if _TOKEN_SHAPE.fullmatch(held) else token
    else:
        token = remembered = result.enrollment.launch_token
    response = Redirect(path=f"/play/{token}", status_code=303)
    response.set_cookie(
        PROOF_COOKIE,
        remembered,
        path=f"/enroll/{course_token}",
        max_age=PROOF_MAX_AGE_S,
        httponly=True,
        secure=deps.settings.uses_https,
        samesite="lax",
    )
    return response


def _result_context(
    token: str, course: Course, enrollment: Enrollment, saving: bool, since: datetime
) -> dict[str, Any]:
    result_url = f"/play/{token}/exit/result?{urlencode({'since': since.isoformat()})}"
    return {
        "course": course,
        "enrollment": enrollment,
        "token": token,
        "saving": saving,
        "result_url": result_url,
    }


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


async def _known_result(
    deps: Deps, enrollment: Enrollment, course: Course, since: datetime
) -> tuple[Enrollment, bool]:
    """The enrollment as it stands, and whether its result is known: for SCORM Cloud, once something
    updated it after the learner came back, or else once SCORM Cloud's registration has been read here
    (the postback is late) through the same sync a postback runs, CRM writes going through the outbox."""

    async def current() -> Enrollment:
        async with deps.uow() as uow:
            return await uow.enrollments.get(enrollment.workspace_id, enrollment.id) or enrollment

    now = await current()
    if course.engine is not EngineKind.SCORM_CLOUD or now.updated_at >= since:
        return now, True
    try:
        await sync_registration(
            enrollment.workspace_id,
            enrollment.id,
            uow=deps.uow,
            engines=deps.scorm_cloud,
            jobs=deps.jobs,
            clock=deps.clock,
        )
    except NotFound:
        pass  # deleted here or in SCORM Cloud meanwhile: what is stored is all there is
    except DomainError as exc:
        log.info("the exit page could not read the registration yet: %s", exc)
        return now, False
    return await current(), True


async def _review_course(deps: Deps, token: str) -> Course | None:
    course_id = deps.review_passes().course_of(token) or deps.preview_passes().course_of(token)
    if course_id is None:
        return None
    async with deps.uow() as uow:
        course = await uow.courses.find_by_id(course_id)
    if course is None or course.status is not CourseStatus.READY or not course.scos:
        return None
    return course


def _player_page(launch: Launch, token: str, brand: LearnerBrand | None = None) -> Template:
    course = launch.course
    base = f"/play/{token}"
    sco = next(s for s in course.scos if s.identifier == launch.sco_id)
    config = {
        "standard": course.standard,
        "tracking": True,
        "launch": f"{base}/content/{sco.launch}",
        "commitUrl": f"{base}/commit?{urlencode({'sco': launch.sco_id, 'session': launch.session_id})}",
        "exitUrl": f"{base}/exit",
        # The whole data model to start from (saved state plus learner, credit, mode, launch data, mastery,
        # time limits, objectives), loaded before Initialize; "resume" is the name player.js reads.
        "resume": launch.resume,
    }
    if course.standard == "scorm12":
        config["apiSettings"] = SCORM12_API_SETTINGS
    return Template(
        template_name="pages/player/play.html",
        context={
            "course": course,
            "sco_id": launch.sco_id,
            "player_config": config,
            "base": base,
            "brand": brand,
        },
    )


async def _scorm_cloud_review(deps: Deps, course: Course, token: str) -> Response[Any]:
    """SCORM Cloud's own preview: the course plays there and nothing is tracked."""
    engine = await deps.scorm_cloud.for_workspace(course.workspace_id)
    if engine is None:
        return _not_available()
    exit_url = f"{deps.settings.public_url}/play/{token}/exit"
    try:
        link = await engine.preview_link(str(course.id), redirect_on_exit_url=exit_url)
    except ServiceUnavailable:
        return _player_unavailable()
    except DomainError:
        return _not_available()
    return Redirect(path=link, status_code=303)


async def _scorm_cloud_launch(deps: Deps, enrollment: Enrollment, token: str) -> Response[Any]:
    """A fresh SCORM Cloud launch link on every click; the learner comes back to our exit page."""
    engine = await deps.scorm_cloud.for_workspace(enrollment.workspace_id)
    if engine is None:
        return _not_available()
    try:
        link = await cases.engine_launch_link(
            enrollment, registrations=engine, exit_url=f"{deps.settings.public_url}/play/{token}/exit"
        )
    except ServiceUnavailable:
        return _player_unavailable()
    except EngineAccountLimit as full:
        return Template(
            template_name="pages/enroll/message.html",
            context={"title": "This course can't be opened right now", "message": str(full)},
            status_code=403,
        )
    return Redirect(path=link, status_code=303)


async def _within_budgets(limits: RequestLimits, client: str, course_token: str, now: datetime) -> bool:
    budgets = (
        (f"enroll:ip:{client}", ENROLL_PER_IP_PER_MINUTE, 60),
        (f"enroll:ip:{client}:hour", ENROLL_PER_IP_PER_HOUR, 3600),
        (f"enroll:course:{course_token}", ENROLL_PER_COURSE_PER_MINUTE, 60),
        (f"enroll:course:{course_token}:hour", ENROLL_PER_COURSE_PER_HOUR, 3600),
    )
    for key, limit, window_s in budgets:
        if not await limits.allow(key, limit=limit, window_s=window_s, now=now):
            return False
    return True


def _player_unavailable() -> Template:
    return Template(
        template_name="pages/enroll/message.html",
        context={
            "title": "The course player is not answering",
            "message": "SCORM Cloud, which plays this course, did not answer. Try again in a minute.",
        },
        status_code=503,
    )


def _no_such_item(token: str) -> Template:
    return Template(
        template_name="pages/enroll/message.html",
        context={
            "title": "This part of the course does not exist",
            "message": "The link names a part of the course that isn't in it (the course may have been "
            "updated). Open the course from its link again to continue.",
            "continue_url": f"/play/{token}",
        },
        status_code=404,
    )


def _not_available(brand: LearnerBrand | None = None) -> Template:
    return Template(
        template_name="pages/enroll/message.html",
        context={
            "title": "Course not available",
            "message": "This course can't be taken right now. Check the link with whoever sent it to you.",
            "brand": brand,
        },
        status_code=404,
    )


def _on_hold(message: str) -> Template:
    # Billing: the registration's charge has not gone through yet (domain.billing.usage).
    return Template(
        template_name="pages/enroll/message.html",
        context={"title": "Registration not active yet", "message": message},
        status_code=409,
    )


async def _branded_for_course(deps: Deps, course_token: str, response: Response[Any]) -> Response[Any]:
    """A self-enrollment page in the look of the course's organization (when the link names a course)."""
    if isinstance(response, Template) and response.context.get("brand") is None:
        async with deps.uow() as uow:
            course = await uow.courses.get_by_enroll_token(course_token)
        if course is not None:
            response.context["brand"] = await brand_for(deps, course.workspace_id)
    return response


def _scorm_reply(result: bool, code: int, message: str, *, status: int) -> Response[Any]:
    # scorm-again reads {"result", "errorCode"}; the message is for people reading logs.
    return Response(content={"result": result, "errorCode": code, "message": message}, status_code=status)
