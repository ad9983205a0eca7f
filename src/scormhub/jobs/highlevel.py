"""HighLevel installs: from the OAuth callback or the INSTALL webhook; UNINSTALL; custom objects."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from scormhub.bootstrap import Deps
from scormhub.domain.errors import DomainError, ServiceUnavailable
from scormhub.domain.model import Workspace
from scormhub.domain.sync import enqueue_push
from scormhub.integrations.highlevel.oauth import TokenGrant
from scormhub.integrations.highlevel.tokens import agency_access_token
from scormhub.jobs.context import JobContext

log = logging.getLogger(__name__)

# An agency install can approve many locations; each needs its own minted token and workspace.
MAX_AGENCY_LOCATIONS = 1000


@dataclass(frozen=True)
class InstallOutcome:
    workspace: Workspace | None  # the location's workspace; None for an agency-wide install
    locations: int = 1


async def install_from_grant(deps: Deps, grant: TokenGrant) -> InstallOutcome:
    """Store what a token exchange gave: a location's tokens, or an agency's (then mint per location)."""
    connections = deps.highlevel_connections
    if grant.location_id and grant.user_type != "Company":
        workspace = await connections.install_location(
            location_id=grant.location_id,
            company_id=grant.company_id,
            grant=grant,
            user_id=grant.user_id,
        )
        await after_connect(deps, workspace.id)
        return InstallOutcome(workspace=workspace)
    if not grant.company_id or not grant.refresh_token:
        raise DomainError("HighLevel's answer named neither a location nor an agency.")
    await connections.save_agency(grant)
    locations = list(grant.approved_locations)
    if not locations and deps.settings.highlevel_app_id:
        locations = await deps.crm.oauth().installed_locations(
            grant.access_token, company_id=grant.company_id, app_id=deps.settings.highlevel_app_id
        )
    for location_id in locations[:MAX_AGENCY_LOCATIONS]:
        await deps.jobs.enqueue(
            "install_agency_location",
            key=f"install_agency_location:{location_id}",
            retries=5,
            company_id=grant.company_id,
            location_id=location_id,
        )
    return InstallOutcome(workspace=None, locations=len(locations))


async def after_connect(deps: Deps, workspace_id: UUID) -> None:
    """A (re)connected location: writes held while it was disconnected go out, custom objects get made."""
    async with deps.uow() as uow:
        resumed = await uow.outbox.resume(workspace_id, deps.clock.now())
        await uow.commit()
    if resumed:
        await enqueue_push(workspace_id, jobs=deps.jobs)
    await deps.jobs.enqueue(
        "provision_crm", key=f"provision_crm:{workspace_id}", retries=5, workspace_id=str(workspace_id)
    )


async def install_agency_location(ctx: JobContext, *, company_id: str, location_id: str) -> dict[str, Any]:
    """Mint a location token from the agency's and connect the location's workspace."""
    deps = ctx["deps"]
    oauth = deps.crm.oauth()
    company_token = await agency_access_token(oauth, deps.cipher, deps.clock, company_id)
    grant = await oauth.location_token(company_token, company_id=company_id, location_id=location_id)
    workspace = await deps.highlevel_connections.install_location(
        location_id=location_id, company_id=company_id, grant=grant, user_id=grant.user_id
    )
    await after_connect(deps, workspace.id)
    return {"workspace_id": str(workspace.id)}


async def provision_crm(ctx: JobContext, *, workspace_id: str) -> dict[str, Any]:
    """Create the Training Record and Company Training Summary objects (idempotent)."""
    deps = ctx["deps"]
    crm = await deps.crm.writer(UUID(workspace_id))
    try:
        await crm.provision_custom_objects()
    except ServiceUnavailable:
        raise  # the queue retries
    except DomainError as exc:
        # Refused (scopes, plan): the Settings page shows it and offers Provision Now.
        log.warning("custom objects not provisioned for %s: %s", workspace_id, exc)
        return {"provisioned": False, "reason": str(exc)}
    return {"provisioned": True}


async def process_crm_webhook(ctx: JobContext, *, inbox_id: str) -> dict[str, Any]:
    """Act on a stored INSTALL / UNINSTALL webhook, once (a processed row is left alone)."""
    deps = ctx["deps"]
    async with deps.uow() as uow:
        item = await uow.inbox.get(UUID(inbox_id))
    if item is None or item.processed_at is not None:
        return {"outcome": "already processed"}
    event = json.loads(item.body)
    outcome = await _apply(deps, event)
    async with deps.uow() as uow:
        await uow.inbox.mark_processed(item.id, outcome, deps.clock.now())
        await uow.commit()
    return {"outcome": outcome}


async def _apply(deps: Deps, event: dict[str, Any]) -> str:
    kind = event.get("type")
    location_id = event.get("locationId") if isinstance(event.get("locationId"), str) else None
    company_id = event.get("companyId") if isinstance(event.get("companyId"), str) else None
    connections = deps.highlevel_connections
    if kind == "UNINSTALL":
        if location_id:
            workspace_id = await connections.uninstall_location(location_id)
            return f"uninstalled location {location_id}" if workspace_id else "unknown location"
        if company_id:
            workspaces = await connections.uninstall_company(company_id)
            return f"uninstalled agency {company_id} ({len(workspaces)} locations)"
        return "ignored: no location or company"
    if kind != "INSTALL":
        return f"ignored: {str(kind)[:40]}"
    if location_id and company_id and await connections.has_agency(company_id):
        # A location added under an agency install: mint its token like the SDKs do.
        await deps.jobs.enqueue(
            "install_agency_location",
            key=f"install_agency_location:{location_id}",
            retries=5,
            company_id=company_id,
            location_id=location_id,
        )
        return f"installing location {location_id} from agency {company_id}"
    if location_id:
        existing = await connections.by_location(location_id)
        if existing is not None:
            name = event.get("companyName") if isinstance(event.get("companyName"), str) else None
            await connections.install_location(
                location_id=location_id, company_id=company_id, grant=None, name=name
            )
            return f"location {location_id} already connected"
        # Tokens come with the OAuth callback; the webhook alone cannot connect a location.
        return f"location {location_id} waits for its OAuth callback"
    return "agency install: locations connect through OAuth"
