"""Settings → Account mode's billing section: the plan, this month's registrations and the charges.

Built here and included by the Settings page (`templates/partials/settings/billing.html`), apart from the
rest of Account mode, which other sections share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scormhub.domain.model import WorkspaceKind
from scormhub.domain.model_billing import ChargeStatus, cycle_of

if TYPE_CHECKING:
    from scormhub.bootstrap import Deps
    from scormhub.domain.model import Workspace
    from scormhub.web.sessions import AdminSession


async def billing_context(deps: Deps, workspace: Workspace, admin: AdminSession) -> dict[str, Any]:
    now = deps.clock.now()
    cycle = cycle_of(now)
    async with deps.uow() as uow:
        account = await uow.billing.account(workspace.id)
        this_cycle = await uow.billing.count_cycle(workspace.id, cycle)
        charges = await uow.billing.recent(workspace.id, limit=50)
    billed = [c for c in charges if c.status is not ChargeStatus.FREE]
    catalog = deps.settings.highlevel_plans
    charged_total = sum((c.price_usd or 0) for c in billed if c.status is ChargeStatus.CHARGED)
    return {
        "account": account,
        "standalone": workspace.kind is WorkspaceKind.STANDALONE,
        "cycle": cycle,
        "this_cycle": this_cycle,
        "charges": billed,
        "charged_total": charged_total,
        "needs_action": [c for c in billed if c.status in (ChargeStatus.REFUSED, ChargeStatus.FAILED)],
        "flagged": [c for c in billed if c.reconcile_flag],
        "live_plan": catalog.live_plan,
        "can_go_live": admin.crm_admin,
    }
