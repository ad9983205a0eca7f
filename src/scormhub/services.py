"""The adapters one process shares between requests and jobs (built by `create_app`)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, TypeAlias, cast
from uuid import UUID

import httpx
from litestar.di import NamedDependency
from saq import Queue, Worker
from saq.types import Context

from scormhub.domain.errors import CrmAuthExpired
from scormhub.domain.model import CrmKind, RateLimit, Workspace
from scormhub.domain.ports import Clock, ContactBook, CrmWriter
from scormhub.domain.scorm.package import PackageLimits
from scormhub.integrations.builtin_engine import BuiltinEngine
from scormhub.integrations.crm_throttle import PostgresThrottle, ThrottleLimiter
from scormhub.integrations.crypto import SecretBox
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.engines import Engines
from scormhub.integrations.highlevel.client import build_client as build_highlevel_client
from scormhub.integrations.highlevel.connections import HighLevelConnections
from scormhub.integrations.highlevel.crm import HighLevelCrm
from scormhub.integrations.highlevel.oauth import HighLevelOAuth
from scormhub.integrations.highlevel.provision_state import PostgresProvisionStore
from scormhub.integrations.highlevel.record_refs import PostgresRecordRefs
from scormhub.integrations.highlevel.tokens import PostgresTokenSource
from scormhub.integrations.jobqueue import SaqJobQueue
from scormhub.integrations.local_crm import LocalContactBook
from scormhub.integrations.render_pool import RenderPool
from scormhub.integrations.scorm_cloud.client import build_client as build_scorm_cloud_client
from scormhub.integrations.scorm_cloud.engine import ScormCloudEngine
from scormhub.integrations.storage import FilesystemPackageStorage
from scormhub.integrations.vendor_http import RetryPolicy
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
    cipher: SecretBox
    render_pool: RenderPool = field(default_factory=RenderPool)
    _scorm_cloud_client: httpx.AsyncClient | None = field(default=None, repr=False)
    _highlevel_client: httpx.AsyncClient | None = field(default=None, repr=False)
    _postback_credentials: dict[UUID, tuple[float, str, str]] = field(default_factory=dict, repr=False)
    _drain_requested: dict[UUID, int] = field(default_factory=dict, repr=False)
    _drain_locks: dict[UUID, asyncio.Lock] = field(default_factory=dict, repr=False)

    def drain_lock(self, workspace_id: UUID) -> asyncio.Lock:
        """One inbox drain per workspace at a time in this process: overlapping drains would read and
        process the same rows (harmless, being idempotent, but it multiplies the work under a burst)."""
        return self._drain_locks.setdefault(workspace_id, asyncio.Lock())

    worker: Worker[Context] | None = None
    worker_task: asyncio.Task[None] | None = field(default=None, repr=False)

    def uow(self) -> PiccoloUnitOfWork:
        return PiccoloUnitOfWork()

    def job_context(self) -> dict[str, Any]:
        return {"services": self}

    @property
    def scorm_cloud_client(self) -> httpx.AsyncClient:
        # One client for the process (connection pooling, explicit timeouts), made on first use.
        if self._scorm_cloud_client is None:
            self._scorm_cloud_client = build_scorm_cloud_client(self.settings.scorm_cloud_timeout_s)
        return self._scorm_cloud_client

    def scorm_cloud(self, app_id: str, secret_key: str) -> ScormCloudEngine:
        return ScormCloudEngine(
            self.scorm_cloud_client,
            app_id=app_id,
            secret_key=secret_key,
            storage=self.storage,
            base_url=self.settings.scorm_cloud_api_url,
            # A page waits on SCORM Cloud for at most its timeout, retries included (jobs retry later).
            retry=RetryPolicy(budget_s=self.settings.scorm_cloud_timeout_s),
        )

    async def registration_engine(self, workspace_id: UUID) -> ScormCloudEngine | None:
        """The workspace's SCORM Cloud engine, or None when it has not connected one."""
        async with self.uow() as uow:
            account = await uow.engine_accounts.get(workspace_id)
        if account is None:
            return None
        return self.scorm_cloud(account.app_id, self.cipher.decrypt(account.secret_key_enc))

    async def engines_for(self, workspace_id: UUID) -> Engines:
        """The engines a workspace's courses may live in (SCORM Cloud only once it is connected)."""
        return Engines(self.builtin, await self.registration_engine(workspace_id))

    async def postback_credentials(
        self, workspace_id: UUID, *, fresh: bool = False
    ) -> tuple[str, str] | None:
        """The workspace's postback user and password (decrypted), cached for POSTBACK_CACHE_S.

        A cache per process is safe here: a miss or a mismatch reads the database again (`fresh`), so new
        credentials work at once; an old password is accepted at most POSTBACK_CACHE_S after a reconnect.
        """
        now = time.monotonic()
        cached = self._postback_credentials.get(workspace_id)
        if cached is not None and not fresh and now - cached[0] < POSTBACK_CACHE_S:
            return cached[1], cached[2]
        async with self.uow() as uow:
            account = await uow.engine_accounts.get(workspace_id)
        if account is None:
            self._postback_credentials.pop(workspace_id, None)
            return None
        password = self.cipher.decrypt(account.postback_password_enc)
        self._postback_credentials[workspace_id] = (now, account.postback_user, password)
        return account.postback_user, password

    async def record_test_postback(self, workspace_id: UUID) -> None:
        async with self.uow() as uow:
            await uow.engine_accounts.mark_postback_checked(workspace_id, self.clock.now())
            await uow.commit()

    async def request_inbox_drain(self, workspace_id: UUID) -> None:
        """Ask for the workspace's inbox to be processed (one enqueue per DRAIN_DEBOUNCE_S per process).

        The drain job takes every unprocessed row, so one request covers a burst of postbacks; the key's
        time bucket lets a new drain queue while an older one is still running.
        """
        now = time.time()
        bucket = int(now / DRAIN_DEBOUNCE_S)
        if self._drain_requested.get(workspace_id) == bucket:
            return
        self._drain_requested[workspace_id] = bucket
        await self.jobs.enqueue(
            "process_inbox",
            key=f"process_inbox:{workspace_id}:{bucket}",
            retries=8,
            workspace_id=str(workspace_id),
            # Requests later in this bucket skip the enqueue after storing their row; the job looks once
            # more after the bucket ends, so none of those rows waits for the sweeper.
            settle_at=(bucket + 1) * DRAIN_DEBOUNCE_S,
        )

    def postback_url(self, workspace_id: UUID) -> str:
        return f"{self.settings.public_url}/hooks/scorm-cloud/{workspace_id}"

    async def aclose(self) -> None:
        self.render_pool.shutdown()
        if self._scorm_cloud_client is not None:
            await self._scorm_cloud_client.aclose()
            self._scorm_cloud_client = None
        if self._highlevel_client is not None:
            await self._highlevel_client.aclose()
            self._highlevel_client = None

    async def crm_writer(self, workspace_id: UUID) -> CrmWriter:
        """Where a workspace's results are written: HighLevel for its locations, else the contact book."""
        async with self.uow() as uow:
            workspace = await uow.workspaces.get(workspace_id)
        if workspace is None:
            return LocalContactBook(workspace_id)
        return self.crm_for(workspace)

    async def contact_book(self, workspace_id: UUID) -> ContactBook:
        """Where a workspace's learners are looked up and added (HighLevel or the contact book)."""
        return cast(ContactBook, await self.crm_writer(workspace_id))

    def crm_for(self, workspace: Workspace, *, user_id: str | None = None) -> LocalContactBook | HighLevelCrm:
        """The workspace's CRM as contact book and writer. `user_id` attributes notes (HighLevel SSO)."""
        if workspace.crm is not CrmKind.HIGHLEVEL or not workspace.crm_location_id:
            return LocalContactBook(workspace.id)
        limit = RateLimit(
            requests=self.settings.highlevel_rate_limit, per_seconds=self.settings.highlevel_rate_window_s
        )
        return HighLevelCrm(
            self.highlevel_client,
            base_url=self.settings.highlevel_api_url,
            location_id=workspace.crm_location_id,
            tokens=PostgresTokenSource(
                workspace.id,
                oauth=self.highlevel_oauth,
                cipher=self.cipher,
                clock=self.clock,
                connections=self.highlevel_connections,
            ),
            limiter=ThrottleLimiter(self.throttle, workspace.id, limit),
            refs=PostgresRecordRefs(workspace.id, self.clock),
            provision=PostgresProvisionStore(workspace.id),
            rate_limit=limit,
            note_user_id=user_id,
        )

    @property
    def highlevel_client(self) -> httpx.AsyncClient:
        if self._highlevel_client is None:
            self._highlevel_client = build_highlevel_client()
        return self._highlevel_client

    @property
    def highlevel_connections(self) -> HighLevelConnections:
        return HighLevelConnections(self.cipher, self.clock)

    def highlevel_oauth(self) -> HighLevelOAuth:
        settings = self.settings
        if not (settings.highlevel_client_id and settings.highlevel_client_secret):
            raise CrmAuthExpired(
                "HighLevel is not configured on this server (HIGHLEVEL_CLIENT_ID, HIGHLEVEL_CLIENT_SECRET)."
            )
        return HighLevelOAuth(
            self.highlevel_client,
            api_url=settings.highlevel_api_url,
            marketplace_url=settings.highlevel_marketplace_url,
            client_id=settings.highlevel_client_id,
            client_secret=settings.highlevel_client_secret,
        )

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
        cipher=SecretBox(settings.secret_key),
    )


# How long decrypted postback credentials are reused before the database is read again.
POSTBACK_CACHE_S = 30.0
# A burst of postbacks for one workspace queues one inbox drain per this interval (per process). Each
# drain costs a job (enqueue, dequeue, status updates) on top of its rows, and the drain of an interval
# keeps looking for rows until it ends, so a longer interval costs fewer jobs, not later processing.
DRAIN_DEBOUNCE_S = 0.25

# Handlers take `services: ServicesDep`; Litestar injects the one instance registered in create_app().
ServicesDep: TypeAlias = NamedDependency[Services]
