"""CRM installs (HighLevel): from an OAuth grant or an INSTALL webhook, per location or for a whole agency;
uninstalls; and the custom objects a connected location gets."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from scormhub.domain.billing.plans import apply_plan, apply_plan_event
from scormhub.domain.errors import DomainError, ServiceUnavailable
from scormhub.domain.model import TokenGrant, Workspace
from scormhub.domain.sync import enqueue_push

if TYPE_CHECKING:
    from scormhub.domain.model_billing import PlanCatalog
    from scormhub.domain.ports import Clock, CrmAgencyAuth, CrmInstallations, CrmWriter, JobQueue, UnitOfWork

# An agency install can approve many locations; each needs its own minted token and workspace.
MAX_AGENCY_LOCATIONS = 1000


@dataclass(frozen=True)
class InstallOutcome:
    workspace: Workspace | None  # the location's workspace; None for an agency-wide install
    locations: int = 1


async def install_from_grant(
    grant: TokenGrant,
    *,
    installations: CrmInstallations,
    agency: CrmAgencyAuth,
    app_id: str | None,
    uow: UnitOfWork,
    jobs: JobQueue,
    clock: Clock,
    plans: PlanCatalog | None = None,
) -> InstallOutcome:
    """Store what a token exchange gave: a location's tokens, or an agency's (then mint per location).

    `app_id` (the marketplace app's) lets an agency grant that names no locations ask which have the app.
    """
    if grant.location_id and grant.user_type != "Company":
        workspace = await installations.install_location(
            location_id=grant.location_id,
            company_id=grant.company_id,
            grant=grant,
            user_id=grant.user_id,
        )
        await after_connect(workspace.id, uow=uow, jobs=jobs, clock=clock)
        if plans is not None and grant.plan_id:
            await apply_plan(
                workspace.id, grant.plan_id, catalog=plans, source="install", uow=uow, clock=clock
            )
        return InstallOutcome(workspace=workspace)
    if not grant.company_id or not grant.refresh_token:
        raise DomainError("HighLevel's answer named neither a location nor an agency.")
    await installations.save_agency(grant)
    locations = list(grant.approved_locations)
    if not locations and app_id:
        locations = await agency.installed_locations(
            grant.access_token, company_id=grant.company_id, app_id=app_id
        )
    for location_id in locations[:MAX_AGENCY_LOCATIONS]:
        await _enqueue_agency_location(jobs, grant.company_id, location_id)
    return InstallOutcome(workspace=None, locations=len(locations))


async def _enqueue_agency_location(jobs: JobQueue, company_id: str, location_id: str) -> None:
    await jobs.enqueue(
        "install_agency_location",
        key=f"install_agency_location:{location_id}",
        retries=5,
        company_id=company_id,
        location_id=location_id,
    )


async def after_connect(workspace_id: UUID, *, uow: UnitOfWork, jobs: JobQueue, clock: Clock) -> None:
    """A (re)connected location: writes held while it was disconnected go out, custom objects get made."""
    async with uow:
        resumed = await uow.outbox.resume(workspace_id, clock.now())
        await uow.commit()
    if resumed:
        await enqueue_push(workspace_id, jobs=jobs)
    await jobs.enqueue(
        "provision_crm", key=f"provision_crm:{workspace_id}", retries=5, workspace_id=str(workspace_id)
    )


async def install_agency_location(
    company_id: str,
    location_id: str,
    *,
    installations: CrmInstallations,
    agency: CrmAgencyAuth,
    uow: UnitOfWork,
    jobs: JobQueue,
    clock: Clock,
    plans: PlanCatalog | None = None,
) -> Workspace:
    """Mint a location token from the agency's and connect the location's workspace."""
    company_token = await agency.agency_token(company_id)
    grant = await agency.location_token(company_token, company_id=company_id, location_id=location_id)
    workspace = await installations.install_location(
        location_id=location_id, company_id=company_id, grant=grant, user_id=grant.user_id
    )
    await after_connect(workspace.id, uow=uow, jobs=jobs, clock=clock)
    if plans is not None and grant.plan_id:
        await apply_plan(workspace.id, grant.plan_id, catalog=plans, source="install", uow=uow, clock=clock)
    return workspace


async def provision_crm(crm: CrmWriter) -> str | None:
    """Create the Training Record and Company Training Summary objects (idempotent). Returns why the CRM
    refused (scopes, plan: the Settings page shows it and offers Provision Now), None once they exist;
    a CRM that is not answering raises, for the queue to retry."""
    try:
        await crm.provision_custom_objects()
    except ServiceUnavailable:
        raise
    except DomainError as exc:
        return str(exc)
    return None


async def process_crm_webhook(
    inbox_id: UUID,
    *,
    uow: Callable[[], UnitOfWork],
    installations: CrmInstallations,
    jobs: JobQueue,
    clock: Clock,
    plans: PlanCatalog | None = None,
) -> str:
    """Act on a stored INSTALL / PLAN_CHANGE / UNINSTALL webhook, once (a processed row is left alone);
    the outcome."""
    async with uow() as reading:
        item = await reading.inbox.get(inbox_id)
    if item is None or item.processed_at is not None:
        return "already processed"
    event = json.loads(item.body)
    outcome = (
        "plan change"
        if event.get("type") == "PLAN_CHANGE"
        else await _apply(event, installations=installations, jobs=jobs)
    )
    if plans is not None and isinstance(event, dict):
        plan = await apply_plan_event(event, installations=installations, uow=uow, catalog=plans, clock=clock)
        if plan is not None and event.get("type") != "UNINSTALL":
            outcome = f"{outcome}; {plan}"
    async with uow() as marking:
        await marking.inbox.mark_processed(item.id, outcome, clock.now())
        await marking.commit()
    return outcome


def _text(event: Mapping[str, Any], name: str) -> str | None:
    value = event.get(name)
    return value if isinstance(value, str) else None


async def _apply(event: dict[str, Any], *, installations: CrmInstallations, jobs: JobQueue) -> str:
    kind = event.get("type")
    location_id = _text(event, "locationId")
    company_id = _text(event, "companyId")
    if kind == "UNINSTALL":
        if location_id:
            workspace_id = await installations.uninstall_location(location_id)
            return f"uninstalled location {location_id}" if workspace_id else "unknown location"
        if company_id:
            workspaces = await installations.uninstall_company(company_id)
            return f"uninstalled agency {company_id} ({len(workspaces)} locations)"
        return "ignored: no location or company"
    if kind != "INSTALL":
        return f"ignored: {str(kind)[:40]}"
    if location_id and company_id and await installations.has_agency(company_id):
        # A location added under an agency install: mint its token like the SDKs do.
        await _enqueue_agency_location(jobs, company_id, location_id)
        return f"installing location {location_id} from agency {company_id}"
    if location_id:
        existing = await installations.by_location(location_id)
        if existing is not None:
            await installations.install_location(
                location_id=location_id, company_id=company_id, grant=None, name=_text(event, "companyName")
            )
            return f"location {location_id} already connected"
        # Tokens come with the OAuth callback; the webhook alone cannot connect a location.
        return f"location {location_id} waits for its OAuth callback"
    return "agency install: locations connect through OAuth"
