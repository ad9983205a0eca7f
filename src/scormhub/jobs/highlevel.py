"""HighLevel jobs: connect a location of an agency install, act on a stored install webhook, and create
the custom objects. Each calls its use case in `domain.installs`."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from scormhub.domain import installs
from scormhub.jobs.context import JobContext

log = logging.getLogger(__name__)


async def install_agency_location(ctx: JobContext, *, company_id: str, location_id: str) -> dict[str, Any]:
    deps = ctx["deps"]
    workspace = await installs.install_agency_location(
        company_id,
        location_id,
        installations=deps.highlevel_connections,
        agency=deps.crm.agency_auth(),
        uow=deps.uow(),
        jobs=deps.jobs,
        clock=deps.clock,
        plans=deps.settings.highlevel_plans,
    )
    return {"workspace_id": str(workspace.id)}


async def provision_crm(ctx: JobContext, *, workspace_id: str) -> dict[str, Any]:
    deps = ctx["deps"]
    refused = await installs.provision_crm(await deps.crm.writer(UUID(workspace_id)))
    if refused is not None:
        log.warning("custom objects not provisioned for %s: %s", workspace_id, refused)
        return {"provisioned": False, "reason": refused}
    return {"provisioned": True}


async def process_crm_webhook(ctx: JobContext, *, inbox_id: str) -> dict[str, Any]:
    deps = ctx["deps"]
    outcome = await installs.process_crm_webhook(
        UUID(inbox_id),
        uow=deps.uow,
        installations=deps.highlevel_connections,
        jobs=deps.jobs,
        clock=deps.clock,
        plans=deps.settings.highlevel_plans,
    )
    return {"outcome": outcome}
