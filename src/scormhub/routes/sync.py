"""CRM sync in the admin: Sync log (with Retry), Sync All with live progress, per-row sync.

Which writes reach the CRM is a setting: routes/settings/crm.py."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from scormhub.domain import sync
from scormhub.domain.model_billing import ChargeStatus
from scormhub.partials.courses import course_or_404 as _course
from scormhub.partials.sync import sync_progress
from scormhub.routes.providers import DepsDep, UowDep, WorkspaceDep
from scormhub.web.flash import redirect_with_flash
from scormhub.web.guards import admin_guard
from scormhub.web.htmx import vary_on_htmx, wants_fragment


class SyncController(Controller):
    path = "/app"
    guards = [admin_guard]

    @get("/sync", cache=False)
    async def log(self, request: HTMXRequest, deps: DepsDep, workspace: WorkspaceDep) -> Response[Any]:
        enrollment = request.query_params.get("enrollment")
        try:
            enrollment_id = UUID(enrollment) if enrollment else None
        except ValueError:
            enrollment_id = None
        async with deps.uow() as uow:
            items = await uow.outbox.recent(workspace.id, enrollment_id=enrollment_id, limit=200)
            counts = await uow.outbox.counts(workspace.id, enrollment_id=enrollment_id)
            # Usage charges go out through their own outbox; the log shows them too (billed ones only).
            charges = [
                c
                for c in await uow.billing.recent(workspace.id, limit=50)
                if c.status is not ChargeStatus.FREE
            ]
            # People, not CRM ids: the name each contact is enrolled under.
            learners = await uow.listings.learners_by_contact(
                workspace.id, [item.write.contact_id for item in items]
            )
            learner = await uow.enrollments.get(workspace.id, enrollment_id) if enrollment_id else None
            course = await uow.courses.get(workspace.id, learner.course_id) if learner else None
        context = {
            "workspace": workspace,
            # One learner's log is reached from their course: the navigation stays on Courses.
            "nav": "courses" if course else "settings",
            "items": items,
            "counts": counts,
            "enrollment": enrollment_id,
            "charges": charges,
            "learners": learners,
            "learner": learner,
            "course": course,
        }
        if wants_fragment(request):
            return vary_on_htmx(Template(template_name="partials/sync/log.html", context=context))
        return vary_on_htmx(Template(template_name="pages/sync/log.html", context=context))

    @post("/sync/{item_id:uuid}/retry")
    async def retry(
        self, request: Request[Any, Any, Any], item_id: FromPath[UUID], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        await sync.retry_write(workspace.id, item_id, uow=deps.uow(), jobs=deps.jobs, clock=deps.clock)
        return Redirect(path="/app/sync", status_code=303)

    @post("/courses/{course_id:uuid}/sync")
    async def sync_all(
        self,
        request: HTMXRequest,
        course_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        course = await _course(deps, workspace, course_id)
        run = await sync.sync_all(workspace.id, course.id, uow=deps.uow(), jobs=deps.jobs, clock=deps.clock)
        if not wants_fragment(request):
            return Redirect(path=f"/app/courses/{course.id}", status_code=303)
        return sync_progress(course, run)

    @get("/courses/{course_id:uuid}/sync", cache=False)
    async def progress(
        self,
        request: HTMXRequest,
        course_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        course = await _course(deps, workspace, course_id)
        if not wants_fragment(request):
            return vary_on_htmx(Redirect(path=f"/app/courses/{course.id}", status_code=303))
        async with deps.uow() as uow:
            run = await uow.sync_runs.latest(workspace.id, course.id)
        return sync_progress(course, run)

    @post("/courses/{course_id:uuid}/enrollments/{enrollment_id:uuid}/sync")
    async def sync_one(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[UUID],
        enrollment_id: FromPath[UUID],
        deps: DepsDep,
        uow: UowDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        async with uow:
            enrollment = await uow.enrollments.get(workspace.id, enrollment_id)
        if enrollment is None or enrollment.course_id != course_id:
            raise NotFoundException()
        outcome = await sync.sync_enrollment(
            workspace.id, enrollment_id, uow=deps.uow(), jobs=deps.jobs, clock=deps.clock
        )
        who = enrollment.learner_name
        plural = "s" if outcome.queued != 1 else ""
        notice = (
            f"{outcome.queued} update{plural} queued for {who}."
            if outcome.queued
            else f"{who} is already up to date in the CRM."
        )
        return redirect_with_flash(request, f"/app/courses/{course_id}", notice=notice)
