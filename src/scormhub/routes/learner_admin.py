"""Admin pages of issue 23: the mail delivery log (with retry), reminder settings, a course's certificate
validity, and the due-dates report."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from scormhub.domain import schedule
from scormhub.domain.model_learners import LearnerSettings
from scormhub.partials.courses import course_or_404
from scormhub.routes.providers import DepsDep, WorkspaceDep
from scormhub.web.flash import flashed, redirect_with_flash
from scormhub.web.guards import admin_guard

DUE_STATES = {"overdue": "Overdue", "due_soon": "Due soon", "all": "All open due dates"}


class LearnerAdminController(Controller):
    guards = [admin_guard]

    @get("/app/mail", cache=False)
    async def mail_log(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Template:
        async with deps.uow() as uow:
            mails = await uow.mail.recent(workspace.id, limit=200)
        return Template(
            template_name="pages/learners/mail.html",
            context={
                "workspace": workspace,
                "nav": "settings",
                "mails": mails,
                "transport": "SMTP" if deps.settings.smtp_url else "the log (no SCORMHUB_SMTP_URL set)",
                **flashed(request),
            },
        )

    @post("/app/mail/{mail_id:uuid}/retry")
    async def retry_mail(
        self, mail_id: FromPath[UUID], request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        async with deps.uow() as uow:
            if not await uow.mail.exists(workspace.id, mail_id):
                raise NotFoundException()  # another workspace's message does not exist for this one
            retried = await uow.mail.retry_now(workspace.id, mail_id, deps.clock.now())
            await uow.commit()
        if retried:
            await deps.jobs.enqueue("deliver_mail")  # no key: a sender may be running; claims keep it once
            return redirect_with_flash(request, "/app/mail", notice="The message will be sent again.")
        return redirect_with_flash(request, "/app/mail", error="Only a failed message can be retried.")

    @get("/app/learners/settings", cache=False)
    async def settings_page(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Template:
        async with deps.uow() as uow:
            current = await uow.learners.settings(workspace.id)
        return _settings(workspace, current, flashed(request))

    @post("/app/learners/settings")
    async def save_settings(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        form = await request.form()
        offsets_raw = str(form.get("offsets", ""))[:200]
        notice_raw = str(form.get("notice_days", "")).strip()[:10]
        try:
            offsets = schedule.parse_offsets(offsets_raw)
            if not notice_raw.isdigit() or not 0 <= int(notice_raw) <= 365:
                raise schedule.BadSchedule("Re-enroll between 0 and 365 days before a certificate expires.")
        except schedule.BadSchedule as bad:
            current = LearnerSettings(reminder_offsets=(), recert_notice_days=30)
            return _settings(workspace, current, {"error": str(bad)}, offsets_raw=offsets_raw, status=422)
        async with deps.uow() as uow:
            await uow.learners.save_settings(workspace.id, LearnerSettings(offsets, int(notice_raw)))
            await uow.commit()
        return redirect_with_flash(request, "/app/learners/settings", notice="Saved.")

    @get("/app/courses/{course_id:uuid}/validity", cache=False)
    async def validity_page(
        self,
        course_id: FromPath[UUID],
        request: Request[Any, Any, Any],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Template:
        course = await course_or_404(deps, workspace, course_id)
        async with deps.uow() as uow:
            days = await uow.learners.validity_days(workspace.id, course.id)
        return _validity(workspace, course, "" if days is None else str(days), flashed(request))

    @post("/app/courses/{course_id:uuid}/validity")
    async def save_validity(
        self,
        course_id: FromPath[UUID],
        request: Request[Any, Any, Any],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        course = await course_or_404(deps, workspace, course_id)
        raw = str((await request.form()).get("validity_days", ""))[:20]
        try:
            days = schedule.parse_validity(raw)
        except schedule.BadSchedule as bad:
            return _validity(workspace, course, raw, {"error": str(bad)}, status=422)
        async with deps.uow() as uow:
            await uow.learners.set_validity(workspace.id, course.id, days)
            await uow.commit()
        notice = (
            "Certificates of this course now never expire."
            if days is None
            else f"Certificates issued from now on are valid for {days} days."
        )
        return redirect_with_flash(request, f"/app/courses/{course.id}/validity", notice=notice)

    @get("/app/reports/due", cache=False)
    async def due_report(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Template:
        state = request.query_params.get("state", "overdue")
        state = state if state in DUE_STATES else "overdue"
        now = deps.clock.now()
        async with deps.uow() as uow:
            rows = await uow.learners.due_report(workspace.id, state, now, limit=500)
        return Template(
            template_name="pages/learners/due.html",
            context={
                "workspace": workspace,
                "nav": "reports",
                "rows": [
                    {"row": r, "due_badge": schedule.due_badge(r.due_at, r.completion, now)} for r in rows
                ],
                "state": state,
                "states": DUE_STATES,
            },
        )


def _settings(
    workspace: Any,
    current: LearnerSettings,
    messages: dict[str, str],
    *,
    offsets_raw: str | None = None,
    status: int = 200,
) -> Template:
    offsets = offsets_raw if offsets_raw is not None else ", ".join(str(o) for o in current.reminder_offsets)
    return Template(
        template_name="pages/learners/settings.html",
        context={
            "workspace": workspace,
            "nav": "settings",
            "offsets": offsets,
            "settings": current,
            **messages,
        },
        status_code=status,
    )


def _validity(
    workspace: Any, course: Any, value: str, messages: dict[str, str], *, status: int = 200
) -> Template:
    return Template(
        template_name="pages/learners/validity.html",
        context={"workspace": workspace, "nav": "courses", "course": course, "value": value, **messages},
        status_code=status,
    )
