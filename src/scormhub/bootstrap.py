"""The composition root: every adapter one process shares, typed and built from `Settings`.

`build_deps` wires them into a frozen `Deps`; `scormhub.lifespan.running` starts and stops what needs it
(database pool, queue, HTTP clients, worker). Routes receive `Deps` through Litestar's providers
(`routes/providers.py`), jobs through their context (`jobs/context.py`); tests pass their own `Deps`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias
from uuid import UUID

import httpx
from saq import Queue

from scormhub.domain.errors import CrmAuthExpired
from scormhub.domain.model import CrmKind, RateLimit, Workspace
from scormhub.domain.ports import (
    BrandingStore,
    CertificateRenderer,
    Clock,
    ContactBook,
    ContactDirectory,
    CrmWriter,
    LogoSource,
    RequestLimits,
    ReviewPasses,
)
from scormhub.domain.ports.automation import TaggedContacts, WebhookSender
from scormhub.domain.ports.learners import MailTransport
from scormhub.domain.scorm.package import PackageLimits
from scormhub.integrations.activity_trees import ManifestActivityTrees
from scormhub.integrations.branding import HttpLogoSource, PostgresBrandingStore
from scormhub.integrations.builtin_engine import BuiltinEngine
from scormhub.integrations.certificate_pdf import PooledCertificateRenderer
from scormhub.integrations.clock import SystemClock
from scormhub.integrations.crm_throttle import PostgresThrottle, ThrottleLimiter
from scormhub.integrations.crypto import ReviewPass, SecretBox
from scormhub.integrations.db.database import configured_url, engine
from scormhub.integrations.db.learners import mails_through_crm
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.engines import Engines
from scormhub.integrations.highlevel.billing import HighLevelBilling
from scormhub.integrations.highlevel.client import HighLevelClient
from scormhub.integrations.highlevel.client import build_client as build_highlevel_client
from scormhub.integrations.highlevel.connections import HighLevelConnections
from scormhub.integrations.highlevel.crm import HighLevelCrm
from scormhub.integrations.highlevel.inbound import HighLevelInbound
from scormhub.integrations.highlevel.oauth import HighLevelOAuth
from scormhub.integrations.highlevel.provision_state import PostgresProvisionStore
from scormhub.integrations.highlevel.record_refs import PostgresRecordRefs
from scormhub.integrations.highlevel.tokens import HighLevelAgencyAuth, PostgresTokenSource
from scormhub.integrations.highlevel.workflows import HighLevelTriggers
from scormhub.integrations.inbox import PostbackInbox
from scormhub.integrations.inbox_drains import InboxDrains
from scormhub.integrations.jobqueue import SaqJobQueue, create_queue
from scormhub.integrations.local_crm import LocalContactBook
from scormhub.integrations.mail import (
    CrmMailer,
    CrmMailTransport,
    LogTransport,
    MailRouter,
    SmtpConfig,
    SmtpTransport,
)
from scormhub.integrations.objects import build_object_store
from scormhub.integrations.objects.filesystem import FilesystemObjectStore
from scormhub.integrations.postback_credentials import PostbackCredentials
from scormhub.integrations.preview_pass import PreviewPass
from scormhub.integrations.question_exports import question_csv as question_csv  # routes.questions
from scormhub.integrations.question_exports import question_xlsx as question_xlsx
from scormhub.integrations.render_pool import RenderPool
from scormhub.integrations.report_exports import PostgresReportExports
from scormhub.integrations.request_limits import PostgresRequestLimits
from scormhub.integrations.scorm_cloud.client import build_client as build_scorm_cloud_client
from scormhub.integrations.scorm_cloud.engine import ScormCloudEngine
from scormhub.integrations.scorm_cloud.postbacks import ScormCloudPostbacks
from scormhub.integrations.storage import PackageStore
from scormhub.integrations.tagged_contacts import HighLevelTaggedContacts, LocalTaggedContacts
from scormhub.integrations.vendor_http import RetryPolicy
from scormhub.integrations.webhooks import HttpWebhookSender
from scormhub.settings import Settings
from scormhub.web.sessions import Sessions

# The unit of work routes and jobs get: the adapter's own type, so mypy sees every repository it has.
AppUnitOfWork: TypeAlias = PiccoloUnitOfWork


def new_uow() -> AppUnitOfWork:
    return PiccoloUnitOfWork()


class HttpClients:
    """The process's outbound HTTP clients, one per vendor (connection pooling, explicit timeouts).

    Opened by `running()` before the first request or job and closed when it ends, so no request pays for
    making one and none is left open at exit.
    """

    def __init__(self, settings: Settings) -> None:
        self._timeout_s = settings.scorm_cloud_timeout_s
        self._scorm_cloud: httpx.AsyncClient | None = None
        self._highlevel: httpx.AsyncClient | None = None

    def open(self) -> None:
        if self._scorm_cloud is None:
            self._scorm_cloud = build_scorm_cloud_client(self._timeout_s)
        if self._highlevel is None:
            self._highlevel = build_highlevel_client()

    async def aclose(self) -> None:
        clients, self._scorm_cloud, self._highlevel = (self._scorm_cloud, self._highlevel), None, None
        for client in clients:
            if client is not None:
                await client.aclose()

    @property
    def scorm_cloud(self) -> httpx.AsyncClient:
        if self._scorm_cloud is None:
            raise RuntimeError("HTTP clients are opened by scormhub.lifespan.running()")
        return self._scorm_cloud

    @property
    def highlevel(self) -> httpx.AsyncClient:
        if self._highlevel is None:
            raise RuntimeError("HTTP clients are opened by scormhub.lifespan.running()")
        return self._highlevel


class ScormCloudEngines:
    """SCORM Cloud engines: for credentials being connected, or for a workspace's stored account."""

    def __init__(
        self,
        settings: Settings,
        http: HttpClients,
        storage: PackageStore,
        builtin: BuiltinEngine,
        cipher: SecretBox,
    ) -> None:
        self._settings = settings
        self._http = http
        self._storage = storage
        self._builtin = builtin
        self._cipher = cipher

    def connect(self, app_id: str, secret_key: str) -> ScormCloudEngine:
        return ScormCloudEngine(
            self._http.scorm_cloud,
            app_id=app_id,
            secret_key=secret_key,
            storage=self._storage,
            base_url=self._settings.scorm_cloud_api_url,
            # A page waits on SCORM Cloud for at most its timeout, retries included (jobs retry later).
            retry=RetryPolicy(budget_s=self._settings.scorm_cloud_timeout_s),
        )

    async def for_workspace(self, workspace_id: UUID) -> ScormCloudEngine | None:
        """The workspace's SCORM Cloud engine, or None when it has not connected one."""
        async with new_uow() as uow:
            account = await uow.engine_accounts.get(workspace_id)
        if account is None:
            return None
        return self.connect(account.app_id, self._cipher.decrypt(account.secret_key_enc))

    async def engines_for(self, workspace_id: UUID) -> Engines:
        """The engines a workspace's courses may live in (SCORM Cloud only once it is connected)."""
        return Engines(self._builtin, await self.for_workspace(workspace_id))


class Crms:
    """Each workspace's CRM, built per use: HighLevel for a connected location, else the contact book."""

    def __init__(
        self,
        settings: Settings,
        http: HttpClients,
        cipher: SecretBox,
        clock: Clock,
        throttle: PostgresThrottle,
        connections: HighLevelConnections,
    ) -> None:
        self._settings = settings
        self._http = http
        self._cipher = cipher
        self._clock = clock
        self._throttle = throttle
        self._connections = connections

    def for_workspace(
        self, workspace: Workspace, *, user_id: str | None = None
    ) -> LocalContactBook | HighLevelCrm:
        """The workspace's CRM as contact book and writer. `user_id` attributes notes (HighLevel SSO)."""
        if workspace.crm is not CrmKind.HIGHLEVEL or not workspace.crm_location_id:
            return LocalContactBook(workspace.id)
        limit = self._rate_limit()
        return HighLevelCrm(
            self._http.highlevel,
            base_url=self._settings.highlevel_api_url,
            location_id=workspace.crm_location_id,
            tokens=self._tokens(workspace),
            limiter=ThrottleLimiter(self._throttle, workspace.id, limit),
            refs=PostgresRecordRefs(workspace.id, self._clock),
            provision=PostgresProvisionStore(workspace.id),
            rate_limit=limit,
            note_user_id=user_id,
        )

    def contact_directory(self, workspace_id: UUID) -> ContactDirectory:
        """A standalone workspace's own contact book (HighLevel keeps its contacts itself)."""
        return LocalContactBook(workspace_id)

    async def writer(self, workspace_id: UUID) -> CrmWriter:
        """Where a workspace's results are written: HighLevel for its locations, else the contact book."""
        return await self._for_id(workspace_id)

    async def contact_book(self, workspace_id: UUID) -> ContactBook:
        """Where a workspace's learners are looked up and added (HighLevel or the contact book)."""
        return await self._for_id(workspace_id)

    async def _for_id(self, workspace_id: UUID) -> LocalContactBook | HighLevelCrm:
        async with new_uow() as uow:
            workspace = await uow.workspaces.get(workspace_id)
        if workspace is None:
            return LocalContactBook(workspace_id)
        return self.for_workspace(workspace)

    async def tagged_contacts(self, workspace_id: UUID) -> TaggedContacts:
        """Contacts by tag: HighLevel's search for its locations, else the contact book."""
        workspace = await self._workspace(workspace_id)
        if workspace is None or workspace.crm is not CrmKind.HIGHLEVEL or not workspace.crm_location_id:
            return LocalTaggedContacts(workspace_id)
        return HighLevelTaggedContacts(self._api(workspace), location_id=workspace.crm_location_id)

    async def trigger_sender(self, workspace_id: UUID) -> HighLevelTriggers | None:
        """Who fires a workspace's workflow triggers: its HighLevel location, or None when it has none."""
        workspace = await self._workspace(workspace_id)
        if workspace is None or workspace.crm is not CrmKind.HIGHLEVEL or not workspace.crm_location_id:
            return None
        settings = self._settings
        return HighLevelTriggers(
            self._http.highlevel,
            tokens=self._tokens(workspace),
            limiter=ThrottleLimiter(self._throttle, workspace.id, self._rate_limit()),
            public_url=settings.public_url,
            window_s=settings.highlevel_rate_window_s,
        )

    async def billing_for(self, workspace_id: UUID) -> HighLevelBilling | None:
        """The location's marketplace billing (usage charges); None outside HighLevel or unconfigured."""
        workspace = (await self._workspace(workspace_id)) if self._settings.highlevel_app_id else None
        if workspace is None or workspace.crm is not CrmKind.HIGHLEVEL or not workspace.crm_location_id:
            return None
        connection = await self._connections.get(workspace_id)
        return HighLevelBilling(
            self._api(workspace),
            app_id=self._settings.highlevel_app_id or "",
            location_id=workspace.crm_location_id,
            company_id=connection.company_id if connection else None,
        )

    async def _workspace(self, workspace_id: UUID) -> Workspace | None:
        async with new_uow() as uow:
            return await uow.workspaces.get(workspace_id)

    def _rate_limit(self) -> RateLimit:
        settings = self._settings
        return RateLimit(requests=settings.highlevel_rate_limit, per_seconds=settings.highlevel_rate_window_s)

    def _tokens(self, workspace: Workspace) -> PostgresTokenSource:
        return PostgresTokenSource(
            workspace.id,
            oauth=self.oauth,
            cipher=self._cipher,
            clock=self._clock,
            connections=self._connections,
        )

    def _api(self, workspace: Workspace) -> HighLevelClient:
        """HighLevel's API for one location: its tokens, under its share of the rate limit."""
        limit = self._rate_limit()
        return HighLevelClient(
            self._http.highlevel,
            base_url=self._settings.highlevel_api_url,
            tokens=self._tokens(workspace),
            limiter=ThrottleLimiter(self._throttle, workspace.id, limit),
            rate_limit=limit,
        )

    def agency_auth(self) -> HighLevelAgencyAuth:
        """Agency installs' side of HighLevel's OAuth (fails with CrmAuthExpired when used unconfigured)."""
        return HighLevelAgencyAuth(self.oauth, self._cipher, self._clock)

    def oauth(self) -> HighLevelOAuth:
        settings = self._settings
        if not (settings.highlevel_client_id and settings.highlevel_client_secret):
            raise CrmAuthExpired(
                "HighLevel is not configured on this server (HIGHLEVEL_CLIENT_ID, HIGHLEVEL_CLIENT_SECRET)."
            )
        return HighLevelOAuth(
            self._http.highlevel,
            api_url=settings.highlevel_api_url,
            marketplace_url=settings.highlevel_marketplace_url,
            client_id=settings.highlevel_client_id,
            client_secret=settings.highlevel_client_secret,
        )


@dataclass(frozen=True)
class Deps:
    """Every dependency of routes, partials and jobs in one process. Built once, by `build_deps`."""

    settings: Settings
    clock: Clock
    sessions: Sessions
    queue: Queue
    jobs: SaqJobQueue
    storage: PackageStore
    builtin: BuiltinEngine
    package_limits: PackageLimits
    throttle: PostgresThrottle
    cipher: SecretBox
    http: HttpClients
    scorm_cloud: ScormCloudEngines
    crm: Crms
    highlevel_connections: HighLevelConnections
    highlevel_inbound: HighLevelInbound
    postback_credentials: PostbackCredentials
    inbox_drains: InboxDrains
    postback_inbox: PostbackInbox = field(default_factory=PostbackInbox)
    postbacks: ScormCloudPostbacks = field(default_factory=ScormCloudPostbacks)
    render_pool: RenderPool = field(default_factory=RenderPool)
    brandings: BrandingStore = field(default_factory=PostgresBrandingStore)
    logos: LogoSource = field(default_factory=HttpLogoSource)
    request_limits: RequestLimits = field(default_factory=PostgresRequestLimits)
    webhooks: WebhookSender = field(default_factory=HttpWebhookSender)

    def uow(self) -> AppUnitOfWork:
        """A new unit of work (one transaction when entered)."""
        return new_uow()

    async def ping_database(self) -> None:
        """One round trip to PostgreSQL (the health check)."""
        await engine().run_ddl("SELECT 1")

    def review_passes(self) -> ReviewPasses:
        return ReviewPass(self.settings.secret_key)

    def preview_passes(self) -> PreviewPass:
        """Expiring review links for an admin's preview (it plays on the content origin, sessionless)."""
        return PreviewPass(self.settings.secret_key, self.clock)

    def certificate_renderer(self) -> CertificateRenderer:
        return PooledCertificateRenderer(self.render_pool)

    def report_exports(self) -> PostgresReportExports:
        """Reports (the dashboard's store, direct downloads, exports written by a job) for one use."""
        return PostgresReportExports(self.settings.data_dir, self.render_pool)

    def activity_trees(self) -> ManifestActivityTrees:
        """SCORM 2004 activity trees of built-in courses (cached per process by the adapter)."""
        return ManifestActivityTrees(self.builtin)

    def postback_url(self, workspace_id: UUID) -> str:
        return f"{self.settings.public_url}/hooks/scorm-cloud/{workspace_id}"

    def mail_transport(self) -> MailTransport:
        """Issue 23: through the CRM where a HighLevel location granted it, else SMTP, else the log."""
        fallback: SmtpTransport | LogTransport = LogTransport()
        if self.settings.smtp_url:
            fallback = SmtpTransport(SmtpConfig.parse(self.settings.smtp_url), self.settings.mail_from)

        async def mailer_for(workspace_id: UUID) -> CrmMailer | None:
            crm = await self.crm.writer(workspace_id)
            return crm if isinstance(crm, HighLevelCrm) else None

        return MailRouter(fallback, CrmMailTransport(mailer_for), mails_through_crm)


def package_store(settings: Settings) -> PackageStore:
    """Packages where SCORMHUB_STORAGE_URL says; received and validated in the data dir first."""
    if settings.storage_url is None:
        return PackageStore(FilesystemObjectStore(settings.data_dir), settings.data_dir / "packages")
    return PackageStore(build_object_store(settings), settings.data_dir / "uploads")


def build_deps(
    settings: Settings,
    *,
    clock: Clock | None = None,
    queue: Queue | None = None,
    render_pool: RenderPool | None = None,
) -> Deps:
    """Every adapter of one process, from settings. The database must be configured already
    (`integrations.db.database.configure`); nothing connects until `running()`."""
    clock = clock or SystemClock()
    queue = queue or create_queue(
        configured_url(), pool_size=max(4, settings.db_pool_size), heartbeat_s=settings.recovery_interval_s
    )
    limits = PackageLimits(max_compressed_bytes=settings.max_package_bytes)
    storage = package_store(settings)
    builtin = BuiltinEngine(settings.data_dir / "content", storage, limits)
    cipher = SecretBox(settings.secret_key)
    throttle = PostgresThrottle()
    jobs = SaqJobQueue(queue)
    http = HttpClients(settings)
    connections = HighLevelConnections(cipher, clock)
    return Deps(
        settings=settings,
        clock=clock,
        sessions=Sessions(settings),
        queue=queue,
        jobs=jobs,
        storage=storage,
        builtin=builtin,
        package_limits=limits,
        throttle=throttle,
        cipher=cipher,
        http=http,
        scorm_cloud=ScormCloudEngines(settings, http, storage, builtin, cipher),
        crm=Crms(settings, http, cipher, clock, throttle, connections),
        highlevel_connections=connections,
        highlevel_inbound=HighLevelInbound(settings, clock),
        postback_credentials=PostbackCredentials(new_uow, cipher, clock),
        inbox_drains=InboxDrains(jobs),
        render_pool=render_pool or RenderPool(),
    )
