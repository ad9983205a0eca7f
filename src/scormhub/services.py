"""The adapters one process shares between requests and jobs (built by `create_app`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from saq import Queue, Worker

from scormhub.domain.ports import Clock
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.jobqueue import SaqJobQueue
from scormhub.settings import Settings
from scormhub.web import Sessions


@dataclass
class Services:
    settings: Settings
    sessions: Sessions
    clock: Clock
    queue: Queue
    jobs: SaqJobQueue
    worker: Worker | None = None
    worker_task: asyncio.Task[None] | None = field(default=None, repr=False)

    def uow(self) -> PiccoloUnitOfWork:
        return PiccoloUnitOfWork()

    def job_context(self) -> dict[str, Any]:
        return {"services": self}
