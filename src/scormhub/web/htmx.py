"""Page or fragment: how a handler reads an htmx request (litestar-htmx's `HTMXRequest`, installed by
`HTMXPlugin` as the app's request class) and marks an answer that depends on it."""

from __future__ import annotations

from typing import Any, TypeVar

from litestar import Response
from litestar.plugins.htmx import HTMXRequest

R = TypeVar("R", bound=Response[Any])


def wants_fragment(request: HTMXRequest) -> bool:
    """An htmx request that is neither boosted nor a history restore gets just the partial: a boosted
    link and a history restore replace the whole page, so they need the page."""
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def vary_on_htmx(response: R) -> R:
    """Mark an answer of a URL that serves both a page and a fragment, so that no cache (the browser's
    back button included) serves the one for the other."""
    response.headers["Vary"] = "HX-Request"
    return response
