"""How routes and partials receive their dependencies: Litestar providers over the app's `Deps`.

A handler names what it needs (`deps: DepsDep`, `workspace: WorkspaceDep`, `uow: UowDep`) and Litestar
calls the provider of that name; `create_app` registers `PROVIDERS` for the whole app.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException

from scormhub.bootstrap import AppUnitOfWork, Deps
from scormhub.domain.model import Workspace
from scormhub.web.guards import current_admin

# Handlers take `deps: DepsDep` (and `workspace: WorkspaceDep`, `uow: UowDep`); Litestar injects them by name.
DepsDep: TypeAlias = NamedDependency[Deps]
WorkspaceDep: TypeAlias = NamedDependency[Workspace]
UowDep: TypeAlias = NamedDependency[AppUnitOfWork]


def provide_deps(state: State) -> Deps:
    """The process's dependencies, set in the app's state by `create_app`."""
    deps: Deps = state.deps
    return deps


async def provide_workspace(request: Request[Any, Any, Any], deps: DepsDep) -> Workspace:
    """The signed-in admin's workspace (behind `admin_guard`, which puts the session on the request)."""
    async with deps.uow() as uow:
        workspace = await uow.workspaces.get(current_admin(request).workspace_id)
    if workspace is None:
        # The workspace was removed after the session was issued.
        raise NotAuthorizedException("This workspace no longer exists.")
    return workspace


def provide_uow(deps: DepsDep) -> AppUnitOfWork:
    """A new unit of work for one use case (entering it opens the transaction)."""
    return deps.uow()


PROVIDERS: dict[str, Provide] = {
    "deps": Provide(provide_deps, sync_to_thread=False),
    "workspace": Provide(provide_workspace),
    "uow": Provide(provide_uow, sync_to_thread=False),
}
