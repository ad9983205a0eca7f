"""Plan state per workspace: from HighLevel's INSTALL, PLAN_CHANGE and UNINSTALL webhooks, the token grant,
the installer-details lookup (which repairs a missed webhook), or, standalone, the operator's CLI.

Rules (tested in tests/integrations/test_billing.py):
- The plan id decides trial or live; HighLevel's own `trial.onTrial` (a time-based trial of the plan's
  subscription) is shown but never changes limits, and nothing a (re)install says refills this month's
  free allowance: registrations already counted stay counted.
- A plan id missing from HIGHLEVEL_PLANS changes nothing: the workspace keeps its previous plan (a new one
  starts on the trial), and the note says which id to add. Unlocking an unknown plan could give away what
  should be paid; charging for one could bill what was never priced.
- An event for a location with no workspace here changes nothing (the OAuth grant carries the plan when
  the location connects).
- UNINSTALL: nothing more is charged (pending charges are cancelled by the charge job), no new
  registrations; data is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from uuid import UUID

from scormhub.domain.errors import DomainError, NotFound
from scormhub.domain.model import TRIAL_REGISTRATION_LIMIT, PlanMode, Workspace
from scormhub.domain.model_billing import (
    AccountStatus,
    BillingAccount,
    PlanCatalog,
)

if TYPE_CHECKING:
    from scormhub.domain.ports import Clock, CrmInstallations, UnitOfWork


class AppUninstalled(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "SCORM Hub was uninstalled from this HighLevel location, so no new registrations are taken. "
            "Install it again from the HighLevel App Marketplace to enroll learners; existing data is kept."
        )


def default_account(workspace: Workspace, now_source: str, clock: Clock) -> BillingAccount:
    live = workspace.plan is PlanMode.LIVE
    return BillingAccount(
        workspace_id=workspace.id,
        status=AccountStatus.LIVE if live else AccountStatus.TRIAL,
        plan_id=None,
        plan_name=None,
        registration_limit=None if live else TRIAL_REGISTRATION_LIMIT,
        free_per_cycle=0,
        meter_id=None,
        price_usd=None,
        on_trial=False,
        source=now_source,
        updated_at=clock.now(),
    )


async def apply_plan(
    workspace_id: UUID,
    plan_id: str | None,
    *,
    catalog: PlanCatalog,
    source: str,
    uow: UnitOfWork,
    clock: Clock,
    on_trial: bool | None = None,
) -> BillingAccount:
    """Put a workspace on the plan HighLevel names (see the module's rules); the state now."""
    async with uow:
        # The workspace row lock orders this against enrollments counting seats under the same lock.
        workspace = await uow.workspaces.lock(workspace_id)
        if workspace is None:
            raise NotFound("workspace")
        previous = await uow.billing.account(workspace_id) or default_account(workspace, source, clock)
        spec = catalog.get(plan_id)
        trial_flag = previous.on_trial if on_trial is None else on_trial
        if spec is None:
            kept = "the trial" if previous.status is AccountStatus.TRIAL else f"its {previous.status} plan"
            account = replace(
                previous,
                status=AccountStatus.TRIAL
                if previous.status is AccountStatus.UNINSTALLED
                else previous.status,
                on_trial=trial_flag,
                source=source,
                updated_at=clock.now(),
                note=f"HighLevel reported plan {str(plan_id)[:80]!r}, which this server does not know: the "
                f"workspace stays on {kept}. Add the plan to HIGHLEVEL_PLANS.",
            )
        else:
            live = spec.mode is PlanMode.LIVE
            account = replace(
                previous,
                status=AccountStatus.LIVE if live else AccountStatus.TRIAL,
                plan_id=spec.id,
                plan_name=spec.name,
                registration_limit=None if live else spec.free_registrations,
                free_per_cycle=spec.free_registrations if live else 0,
                meter_id=spec.meter_id if live else None,
                price_usd=spec.price_usd if live else None,
                on_trial=trial_flag,
                source=source,
                updated_at=clock.now(),
                note=None,
            )
        await uow.billing.save_account(account)
        mode = PlanMode.LIVE if account.status is AccountStatus.LIVE else PlanMode.TRIAL
        if workspace.plan is not mode:
            await uow.workspaces.save(replace(workspace, plan=mode))
        await uow.commit()
    return account


async def mark_uninstalled(workspace_id: UUID, *, uow: UnitOfWork, clock: Clock) -> None:
    async with uow:
        workspace = await uow.workspaces.lock(workspace_id)
        if workspace is None:
            return
        previous = await uow.billing.account(workspace_id) or default_account(workspace, "uninstall", clock)
        await uow.billing.save_account(
            replace(previous, status=AccountStatus.UNINSTALLED, source="uninstall", updated_at=clock.now())
        )
        await uow.commit()


async def set_operator_plan(
    workspace_id: UUID, mode: PlanMode, limit: int | None, *, uow: UnitOfWork, clock: Clock
) -> BillingAccount:
    """Standalone: the operator's plan (`scormhub plan set`). Nothing is charged; a live plan may still
    carry a limit the operator chose."""
    async with uow:
        workspace = await uow.workspaces.lock(workspace_id)
        if workspace is None:
            raise NotFound("workspace")
        previous = await uow.billing.account(workspace_id) or default_account(workspace, "operator", clock)
        account = replace(
            previous,
            status=AccountStatus.LIVE if mode is PlanMode.LIVE else AccountStatus.TRIAL,
            plan_id=None,
            plan_name="Set by the operator",
            registration_limit=limit
            if limit is not None
            else (None if mode is PlanMode.LIVE else TRIAL_REGISTRATION_LIMIT),
            free_per_cycle=0,
            meter_id=None,
            price_usd=None,
            source="operator",
            updated_at=clock.now(),
            note=None,
        )
        await uow.billing.save_account(account)
        if workspace.plan is not mode:
            await uow.workspaces.save(replace(workspace, plan=mode))
        await uow.commit()
    return account


async def registration_limit(uow: UnitOfWork, workspace: Workspace, *, enrolling: bool = True) -> int | None:
    """Active registrations the workspace may hold (inside the caller's transaction); None: no limit.

    `enrolling`: an uninstalled location takes no new registration (AppUninstalled); a page that only
    shows the limit gets the plan's."""
    account = await uow.billing.account(workspace.id)
    if account is None:
        return workspace.registration_limit
    if account.status is AccountStatus.UNINSTALLED and enrolling:
        raise AppUninstalled()
    return account.registration_limit


async def apply_plan_event(
    event: Mapping[str, Any],
    *,
    installations: CrmInstallations,
    uow: Callable[[], UnitOfWork],
    catalog: PlanCatalog,
    clock: Clock,
) -> str | None:
    """The plan part of a stored INSTALL / PLAN_CHANGE / UNINSTALL webhook (its signature was checked
    before it was stored); what was done, for the inbox's outcome, or None when it carries no plan."""
    kind = event.get("type")
    location_id = event.get("locationId")
    if kind not in ("INSTALL", "PLAN_CHANGE", "UNINSTALL") or not isinstance(location_id, str):
        return None
    connection = await installations.by_location(location_id)
    if connection is None:
        return f"plan: unknown location {location_id[:40]}, nothing changed"
    if kind == "UNINSTALL":
        await mark_uninstalled(connection.workspace_id, uow=uow(), clock=clock)
        return "plan: uninstalled, no further charges"
    plan_id = event.get("newPlanId") if kind == "PLAN_CHANGE" else event.get("planId")
    if not isinstance(plan_id, str) or not plan_id:
        return "plan: no plan id, nothing changed"
    trial = event.get("trial")
    on_trial = trial.get("onTrial") is True if isinstance(trial, dict) else None
    account = await apply_plan(
        connection.workspace_id,
        plan_id,
        catalog=catalog,
        source="plan_change" if kind == "PLAN_CHANGE" else "install",
        uow=uow(),
        clock=clock,
        on_trial=on_trial,
    )
    if account.note:
        return f"plan: unknown plan {plan_id[:60]}, kept {account.status}"
    return f"plan: {account.plan_name} ({account.status})"
