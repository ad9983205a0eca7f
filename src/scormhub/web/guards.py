"""Route guards: who may open the admin pages (a session) and the job dashboard (the operator)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler

from scormhub.domain.model import WorkspaceKind
from scormhub.web.sessions import AdminSession

if TYPE_CHECKING:
    from scormhub.bootstrap import Deps


def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Every /app page needs a session; its workspace is kept on the connection for the handler."""
    deps: Deps = connection.app.state.deps
    session = deps.sessions.from_connection(connection)
    if session is None:
        raise NotAuthorizedException("Sign in to continue.")
    connection.state.admin = session
    connection.scope["state"]["workspace_id"] = str(session.workspace_id)


async def operator_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The job dashboard lists and controls every workspace's jobs, so only the operator may open it: the
    holder of a standalone-workspace session (a login link made on the server). To the admin of a CRM
    location it does not exist (404), like any other workspace's data."""
    admin_guard(connection, handler)
    deps: Deps = connection.app.state.deps
    async with deps.uow() as uow:
        workspace = await uow.workspaces.get(connection.state.admin.workspace_id)
    if workspace is None or workspace.kind is not WorkspaceKind.STANDALONE:
        raise NotFoundException()


def current_admin(request: Request[Any, Any, Any]) -> AdminSession:
    admin: AdminSession = request.state.admin
    return admin
