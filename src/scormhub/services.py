"""The adapters one process shares between requests and jobs (built by `create_app`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, TypeAlias
from uuid import UUID

from litestar.di import NamedDependency
from saq import Queue, Worker
from saq.types import Context

from scormhub.domain.packages import PackageLimits
from scormhub.domain.ports import Clock, CrmWriter
from scormhub.integrations.builtin_engine import BuiltinEngine, Engines
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.jobqueue import SaqJobQueue
from scormhub.integrations.local_crm import LocalContactBook
from scormhub.integrations.storage import FilesystemPackageStorage
from scormhub.integrations.throttle import PostgresThrottle
from scormhub.settings import Settings
from scormhub.web import Sessions


@dataclass
class Services:
    settings: Settings
    sessions: Sessions
    clock: Clock
    queue: Queue
    jobs: SaqJobQueue
    storage: FilesystemPackageStorage
    engines: Engines
    package_limits: PackageLimits
    throttle: PostgresThrottle
    worker: Worker[Context] | None = None
    worker_task: asyncio.Task[None] | None = field(default=None, repr=False)

    def uow(self) -> PiccoloUnitOfWork:
        return PiccoloUnitOfWork()

    def job_context(self) -> dict[str, Any]:
        return {"services": self}

    def crm_writer(self, workspace_id: UUID) -> CrmWriter:
        """The CRM a workspace's results are written to (the contact book until HighLevel is connected)."""
        return LocalContactBook(workspace_id)

    @property
    def builtin(self) -> BuiltinEngine:
        return self.engines.builtin


def build_services(settings: Settings, *, clock: Clock, queue: Queue) -> Services:
    """Every adapter of one process, from settings. The database must be configured already."""
    limits = PackageLimits(max_compressed_bytes=settings.max_package_bytes)
    storage = FilesystemPackageStorage(settings.data_dir / "packages")
    return Services(
        settings=settings,
        sessions=Sessions(settings),
        clock=clock,
        queue=queue,
        jobs=SaqJobQueue(queue),
        storage=storage,
        engines=Engines(BuiltinEngine(settings.data_dir / "content", storage, limits)),
        package_limits=limits,
        throttle=PostgresThrottle(),
    )


# Handlers take `services: ServicesDep`; Litestar injects the one instance registered in create_app().
ServicesDep: TypeAlias = NamedDependency[Services]
