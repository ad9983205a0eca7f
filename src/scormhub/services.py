"""The adapters one process shares between requests and jobs (built by `create_app`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from litestar.di import NamedDependency
from saq import Queue, Worker
from saq.types import Context

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
    worker: Worker[Context] | None = None
    worker_task: asyncio.Task[None] | None = field(default=None, repr=False)

    def uow(self) -> PiccoloUnitOfWork:
        return PiccoloUnitOfWork()

    def job_context(self) -> dict[str, Any]:
        return {"services": self}


# Handlers take `services: ServicesDep`; Litestar injects the one instance registered in create_app().
ServicesDep: TypeAlias = NamedDependency[Services]
