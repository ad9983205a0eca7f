"""A course's Sync All progress: started by the course page's button, then polled until it finishes."""

from __future__ import annotations

from litestar.response import Template

from scormhub.domain.model import Course, SyncRun
from scormhub.web.htmx import vary_on_htmx


def sync_progress(course: Course, run: SyncRun | None) -> Template:
    """The progress card (also the answer to starting a Sync All from the page)."""
    return vary_on_htmx(
        Template(template_name="partials/sync/progress.html", context={"course": course, "run": run})
    )
