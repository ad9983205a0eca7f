"""Enrolling contacts from a course page (its table and search results: partials.enrollments), launching;
and the contact book pages."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from scormhub.bootstrap import Deps
from scormhub.domain import enrollments as cases
from scormhub.domain import schedule
from scormhub.domain.contacts import ContactExists, InvalidInput, add_contact, clean_name, normalize_email
from scormhub.domain.enrollments import CourseNotAvailable, PlanLimitReached
from scormhub.domain.errors import DomainError, EngineAccountLimit, NotFound
from scormhub.domain.listing import ListQuery, parse_list_query
from scormhub.domain.model import Course, CrmKind, Workspace
from scormhub.domain.model_billing import ChargeStatus
from scormhub.partials.courses import course_or_404 as _course
from scormhub.partials.enrollments import enrolled_context, enrolled_query, enrollment_table, search_results
from scormhub.partials.versions import versions_context
from scormhub.routes.providers import DepsDep, UowDep, WorkspaceDep
from scormhub.web.flash import flashed, redirect_with_flash
from scormhub.web.guards import admin_guard, current_admin
from scormhub.web.htmx import vary_on_htmx, wants_fragment


class EnrollmentController(Controller):
    path = "/app/courses/{course_id:uuid}"
    guards = [admin_guard]

    @get("/contacts", cache=False)
    async def search(
        self,
        request: HTMXRequest,
        course_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        course = await _course(deps, workspace, course_id)
        query = request.query_params.get("q", "").strip()[:100]
        search_error: str | None = None
        results: list[Any] = []
        if query:
            try:
                results = await deps.crm.for_workspace(workspace).search_contacts(query, limit=8)
            except DomainError as exc:
                # HighLevel down or wanting reconnecting: say so where the results would be.
                search_error = f"Contacts could not be searched: {exc}"
        if wants_fragment(request):
            return search_results(course, query, results, search_error)
        # Without JavaScript the plain search form lands on the course page, results in place.
        return vary_on_htmx(await _detail(request, deps, workspace, course, query=query, results=results))

    @get("/enrollments", cache=False)
    async def table(
        self,
        request: HTMXRequest,
        course_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        course = await _course(deps, workspace, course_id)
        query = enrolled_query(request)
        if wants_fragment(request):
            return enrollment_table(await enrolled_context(deps, workspace, course, query))
        # The table's own address is the course page's: a bookmark of this one lands there.
        suffix = query.query_string()
        return vary_on_htmx(
            Redirect(path=f"/app/courses/{course.id}" + (f"?{suffix}" if suffix else ""), status_code=303)
        )

    @post("/enrollments")
    async def enroll(
        self,
        request: HTMXRequest,
        course_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        course = await _course(deps, workspace, course_id)
        form = await request.form()
        contacts = deps.crm.for_workspace(workspace, user_id=current_admin(request).user_id)
        message: str | None = None
        error: str | None = None
        try:
            # Checked before anyone is enrolled: a due date in the past is refused, with nothing changed.
            due_raw = str(form.get("due_date", ""))[:20]
            due_at = schedule.parse_due_date(due_raw, now=deps.clock.now())
            if form.get("contact_id"):
                contact_id = str(form.get("contact_id"))
            else:
                contact = await contacts.upsert_contact(
                    first_name=clean_name(str(form.get("first_name", "")), "first_name", "first name"),
                    last_name=clean_name(str(form.get("last_name", "")), "last_name", "last name"),
                    email=normalize_email(str(form.get("email", ""))),
                )
                contact_id = contact.id
            result = await cases.enroll_contact(
                workspace.id,
                course.id,
                contact_id,
                uow=deps.uow(),
                contacts=contacts,
                clock=deps.clock,
                registrations=await deps.scorm_cloud.for_workspace(workspace.id),
                enrolled_by=current_admin(request).user_id,
                jobs=deps.jobs,
            )
            who = result.enrollment.learner_name
            message = f"{who} is enrolled." if result.created else f"{who} was already enrolled."
            if result.charge is ChargeStatus.PENDING:
                message = (
                    f"{who} is enrolled. This registration is past the month's free ones: the learner can "
                    "start once its charge goes through (Settings → Account mode)."
                )
            if due_at is not None:
                await schedule.set_due_date(
                    workspace.id, result.enrollment.id, due_raw, uow=deps.uow, clock=deps.clock
                )
                message = f"{message[:-1]}, due by {due_at.date().isoformat()}."
        except schedule.BadSchedule as bad:
            error = str(bad)
        except InvalidInput as bad:
            error = str(bad)
        except (PlanLimitReached, EngineAccountLimit) as full:
            error = str(full)
        except CourseNotAvailable:
            error = "Learners can be enrolled once the course is Ready."
        except NotFound:
            error = "That contact no longer exists. Search again."
        except DomainError as exc:
            error = f"The contact could not be enrolled: {exc}"
        if not wants_fragment(request):
            return redirect_with_flash(request, f"/app/courses/{course.id}", notice=message, error=error)
        context = await enrolled_context(deps, workspace, course)
        context.update(notice=message, error=error)
        return enrollment_table(await _with_sync_progress(deps, workspace, course, context))

    @post("/enrollments/{enrollment_id:uuid}/delete")
    async def remove(
        self,
        request: HTMXRequest,
        course_id: FromPath[UUID],
        enrollment_id: FromPath[UUID],
        deps: DepsDep,
        workspace: WorkspaceDep,
    ) -> Response[Any]:
        course = await _course(deps, workspace, course_id)
        try:
            removed = await cases.delete_enrollment(workspace.id, enrollment_id, uow=deps.uow())
        except NotFound:
            raise NotFoundException() from None
        if removed.course_id != course.id:
            raise NotFoundException()
        notice = f"{removed.learner_name} was removed from this course."
        if not wants_fragment(request):
            return redirect_with_flash(request, f"/app/courses/{course.id}", notice=notice)
        context = await enrolled_context(deps, workspace, course)
        context["notice"] = notice
        return enrollment_table(await _with_sync_progress(deps, workspace, course, context))

    @get("/enrollments/{enrollment_id:uuid}/launch", cache=False)
    async def launch(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[UUID],
        enrollment_id: FromPath[UUID],
        deps: DepsDep,
        uow: UowDep,
        workspace: WorkspaceDep,
    ) -> Redirect:
        async with uow:
            enrollment = await uow.enrollments.get(workspace.id, enrollment_id)
        if enrollment is None or enrollment.course_id != course_id:
            raise NotFoundException()
        return Redirect(path=f"/play/{enrollment.launch_token}", status_code=303)


async def _with_sync_progress(
    deps: Deps, workspace: Workspace, course: Course, context: dict[str, Any]
) -> dict[str, Any]:
    """The table after a change, with the Sync All card's count beside it (swapped out of band)."""
    async with deps.uow() as uow:
        context["sync_run"] = await uow.sync_runs.latest(workspace.id, course.id)
    context["oob_sync"] = True
    return context


async def _detail(
    request: Request[Any, Any, Any], deps: Deps, workspace: Workspace, course: Course, **extra: Any
) -> Template:
    context = await enrolled_context(deps, workspace, course, enrolled_query(request))
    context.update(extra)
    flash = flashed(request)
    async with deps.uow() as uow:
        context["sync_run"] = await uow.sync_runs.latest(workspace.id, course.id)
    context.update(await versions_context(deps, workspace, course))
    return Template(
        template_name="pages/courses/detail.html",
        context={
            "workspace": workspace,
            "nav": "courses",
            "public_url": deps.settings.public_url,
            "notice": flash.get("notice"),
            "error": flash.get("error"),
            **context,
        },
    )


# The contact book's sortable columns (integrations.db.listings maps them to SQL), and its page size.
CONTACT_SORTS = ("name", "email", "added")
CONTACTS_PAGE = 50


def _contacts_context(
    workspace: Workspace,
    query: ListQuery,
    contacts: list[Any] | Any,
    *,
    pages: int,
    matched: int,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "workspace": workspace,
        "nav": "contacts",
        "contacts": contacts,
        "listing": query,
        "query": query.q,
        "pages": pages,
        "matched": matched,
        "values": {},
        "errors": errors or {},
    }


class ContactController(Controller):
    path = "/app/contacts"
    guards = [admin_guard]

    @get("", cache=False)
    async def index(self, request: HTMXRequest, deps: DepsDep, workspace: WorkspaceDep) -> Response[Any]:
        query = parse_list_query(
            dict(request.query_params), sorts=CONTACT_SORTS, default_sort="name", page_size=CONTACTS_PAGE
        )
        if workspace.crm is CrmKind.HIGHLEVEL:
            return await self._highlevel_index(request, deps, workspace, query)
        async with deps.uow() as uow:
            listed = await uow.listings.contacts(workspace.id, query)
        context = _contacts_context(workspace, query, listed.items, pages=listed.pages, matched=listed.total)
        if wants_fragment(request):
            return vary_on_htmx(Template(template_name="partials/contacts/table.html", context=context))
        context["companies"] = await deps.crm.contact_directory(workspace.id).company_summaries()
        return vary_on_htmx(Template(template_name="pages/contacts/list.html", context=context))

    async def _highlevel_index(
        self, request: HTMXRequest, deps: Deps, workspace: Workspace, query: ListQuery
    ) -> Response[Any]:
        """HighLevel keeps the contacts: search them there (no full list: a location may hold millions)."""
        errors: dict[str, str] = {}
        contacts: list[Any] = []
        if query.q:
            try:
                contacts = await deps.crm.for_workspace(workspace).search_contacts(query.q, limit=50)
            except DomainError as exc:
                errors["search"] = f"Contacts could not be searched: {exc}"
        context = _contacts_context(workspace, query, contacts, pages=1, matched=len(contacts), errors=errors)
        context["searchable_only"] = True
        if wants_fragment(request):
            return vary_on_htmx(Template(template_name="partials/contacts/table.html", context=context))
        return vary_on_htmx(Template(template_name="pages/contacts/list.html", context=context))

    @post("")
    async def add(
        self, request: Request[Any, Any, Any], deps: DepsDep, workspace: WorkspaceDep
    ) -> Response[Any]:
        if workspace.crm is CrmKind.HIGHLEVEL:
            raise NotFoundException()  # contacts are added in HighLevel itself
        form = await request.form()
        values = {k: str(form.get(k, ""))[:1000] for k in ("first_name", "last_name", "email", "company")}
        book = deps.crm.contact_directory(workspace.id)
        existing: Any = None
        try:
            # The company as typed: add_contact folds its whitespace and caps its length itself.
            contact = await add_contact({**values, "company": str(form.get("company", ""))}, book=book)
        except (InvalidInput, ContactExists) as bad:
            field = bad.field if isinstance(bad, InvalidInput) else "email"
            existing = bad.contact if isinstance(bad, ContactExists) else None
            query = parse_list_query({}, sorts=CONTACT_SORTS, default_sort="name", page_size=CONTACTS_PAGE)
            async with deps.uow() as uow:
                listed = await uow.listings.contacts(workspace.id, query)
            context = _contacts_context(
                workspace, query, listed.items, pages=listed.pages, matched=listed.total
            )
            context.update(values=values, errors={field: str(bad)}, existing=existing)
            return Template(
                template_name="pages/contacts/list.html",
                context=context,
                status_code=409 if existing else 422,
            )
        return Redirect(path=f"/app/contacts/{contact.id}", status_code=303)

    @get("/{contact_id:str}", cache=False)
    async def detail(
        self,
        request: Request[Any, Any, Any],
        contact_id: FromPath[str],
        deps: DepsDep,
        uow: UowDep,
        workspace: WorkspaceDep,
    ) -> Template:
        highlevel = workspace.crm is CrmKind.HIGHLEVEL
        book = deps.crm.contact_directory(workspace.id)
        try:
            contact = await (deps.crm.for_workspace(workspace) if highlevel else book).get_contact(contact_id)
        except DomainError:
            contact = None
        if contact is None:
            raise NotFoundException()
        async with uow:
            enrollments = await uow.enrollments.list_for_contact(workspace.id, contact.id)
            titles: dict[UUID, str] = {}
            for e in enrollments:
                course = await uow.courses.get(workspace.id, e.course_id)
                titles[e.course_id] = course.title if course else "(deleted course)"
        return Template(
            template_name="pages/contacts/detail.html",
            context={
                "workspace": workspace,
                "nav": "contacts",
                "contact": contact,
                # HighLevel shows notes and records on its own contact page.
                "notes": [] if highlevel else await book.notes(contact.id),
                "records": [] if highlevel else await book.training_records(contact.id),
                "enrollments": enrollments,
                "titles": titles,
            },
        )
