"""What a SAQ job receives: SAQ's own context plus this process's `Deps`, typed for mypy."""

from __future__ import annotations

from typing import Required

from saq.types import Context

from scormhub.bootstrap import Deps


class JobContext(Context, total=False):
    """SAQ's job context (worker, job, queue) with the adapters under "deps" (set by `build_worker`)."""

    deps: Required[Deps]
    started_at: float  # set before each job, for its log line
