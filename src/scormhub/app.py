"""The web app: routes, middleware, error pages and providers on the `Deps` of `scormhub.bootstrap`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException
from litestar.middleware import DefineMiddleware
from litestar.plugins import PluginProtocol
from litestar.plugins.htmx import HTMXDetails, HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.template.config import TemplateConfig
from litestar_saq.config import TaskQueues
from litestar_saq.controllers import build_controller
from saq import Queue
from saq.job import Job
from saq.types import QueueInfo

from scormhub.bootstrap import Deps, build_deps
from scormhub.domain.errors import NotFound
from scormhub.integrations.db.database import is_unavailable
from scormhub.lifespan import running
from scormhub.partials.courses import CourseStatusPartial
from scormhub.partials.settings import ScormCloudStatusPartial
from scormhub.paths import STATIC_DIR, TEMPLATES_DIR
from scormhub.routes.auth import AuthController, root
from scormhub.routes.brand import BrandController, CertificateBrandController
from scormhub.routes.bulk import BulkEnrollmentController
from scormhub.routes.certificates import (
    CertificateAdminController,
    CourseCertificateRuleController,
    LearnerCertificateController,
    verify_certificate,
)
from scormhub.routes.courses import CourseController
from scormhub.routes.enrollments import ContactController, EnrollmentController
from scormhub.routes.exports import ExportsController
from scormhub.routes.health import healthz
from scormhub.routes.highlevel import HighLevelController
from scormhub.routes.hooks import scorm_cloud_postback
from scormhub.routes.learn import EnrollController, PlayerController
from scormhub.routes.learner_admin import LearnerAdminController
from scormhub.routes.overrides import OverrideController
from scormhub.routes.portal import PortalController
from scormhub.routes.providers import PROVIDERS
from scormhub.routes.questions import QuestionReportController
from scormhub.routes.reports import ReportsController
from scormhub.routes.sequencing import NavigationController
from scormhub.routes.settings.billing import BillingController
from scormhub.routes.settings.branding import BrandingController
from scormhub.routes.settings.general import SettingsController
from scormhub.routes.settings.scorm_cloud import EngineSettingsController
from scormhub.routes.settings.webhooks import WebhookSettingsController
from scormhub.routes.sync import SyncController
from scormhub.routes.versions import AdoptVersionController, VersionController
from scormhub.routes.workflows import WorkflowController
from scormhub.settings import Settings
from scormhub.web.content_origin import ContentOriginMiddleware
from scormhub.web.csrf import SessionAwareCSRFMiddleware
from scormhub.web.flash import FlashClearingMiddleware
from scormhub.web.guards import operator_guard
from scormhub.web.middleware import (
    InputGuardMiddleware,
    RequestLogMiddleware,
    SecurityHeadersMiddleware,
    TrustedProxyMiddleware,
    UnusableInput,
)

log = logging.getLogger(__name__)

SAQ_STATIC = __import__("saq.web.common", fromlist=["STATIC_PATH"]).STATIC_PATH


class _Litestar(Litestar):
    """Litestar without the pydantic and attrs plugins it adds whenever those libraries are importable.

    We have no pydantic or attrs models (handlers and DTOs use dataclasses and msgspec), yet the default
    plugins would import pydantic into the web process: ~9 MB resident. Litestar has no setting for this,
    so the (static, pinned-version) hook that picks the defaults keeps only the msgspec one.
    """

    @staticmethod
    def _get_default_plugins(plugins: list[PluginProtocol]) -> list[PluginProtocol]:
        from litestar.plugins.core import MsgspecDIPlugin

        return [*plugins, MsgspecDIPlugin()]


def create_app(settings: Settings, deps: Deps | None = None) -> Litestar:
    """Build the web app on `deps` (by default every real adapter, from `settings`).

    The database must already be configured (`integrations.db.database.configure`).
    """
    deps = deps or build_deps(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with running(deps, worker=settings.in_process_worker) as started:
            app.state.worker = started.worker
            yield

    jobs_ui = build_controller(url_base="/app/jobs", controller_guards=[operator_guard])

    app = _Litestar(
        route_handlers=[
            root,
            healthz,
            scorm_cloud_postback,
            AuthController,
            SettingsController,
            BillingController,
            CourseController,
            EnrollmentController,
            ContactController,
            PlayerController,
            NavigationController,
            EnrollController,
            SyncController,
            EngineSettingsController,
            ReportsController,
            ExportsController,
            BrandingController,
            CertificateAdminController,
            CourseCertificateRuleController,
            LearnerCertificateController,
            OverrideController,
            QuestionReportController,
            VersionController,
            AdoptVersionController,
            verify_certificate,
            BrandController,  # learner pages' colours and logo
            CertificateBrandController,
            HighLevelController,
            WorkflowController,
            WebhookSettingsController,
            BulkEnrollmentController,
            PortalController,
            LearnerAdminController,
            # htmx fragments with a URL of their own (pages compose the rest by calling partials/).
            CourseStatusPartial,
            ScormCloudStatusPartial,
            jobs_ui,
            create_static_files_router(path="/static", directories=[STATIC_DIR], name="static"),
            create_static_files_router(
                path="/app/jobs/static", directories=[SAQ_STATIC], guards=[operator_guard], name="jobs-static"
            ),
        ],
        dependencies={
            **PROVIDERS,
            "task_queues": Provide(lambda: TaskQueues(queues={"scormhub": deps.queue}), sync_to_thread=False),
        },
        # litestar-saq's controller annotates with strings; Litestar resolves them in this namespace.
        signature_namespace={"TaskQueues": TaskQueues, "Queue": Queue, "Job": Job, "QueueInfo": QueueInfo},
        state=State({"deps": deps, "worker": None}),
        lifespan=[lifespan],
        template_config=TemplateConfig(directory=TEMPLATES_DIR, engine=JinjaTemplateEngine),
        # Makes every request an HTMXRequest (`request.htmx`: the htmx headers, read by web.htmx).
        plugins=[HTMXPlugin()],
        middleware=[
            InputGuardMiddleware,
            FlashClearingMiddleware,
            DefineMiddleware(SessionAwareCSRFMiddleware, config=csrf_config(settings)),
        ],
        exception_handlers={
            UnusableInput: _unusable_input,
            NotAuthorizedException: _signed_out,
            NotFoundException: _not_found,
            NotFound: _not_found,
            HTTP_500_INTERNAL_SERVER_ERROR: _server_error,
        },
        # Logging is configured once by the CLI (scormhub.logs); Litestar must not add its own handlers.
        logging_config=None,
        debug=False,
    )
    # Around the whole app, not per route: answers that no route produced (an unknown address, a method
    # the route lacks) are logged and get the security headers too.
    app.asgi_handler = TrustedProxyMiddleware(
        RequestLogMiddleware(
            SecurityHeadersMiddleware(ContentOriginMiddleware(app.asgi_handler, settings), settings=settings)
        ),
        hops=settings.trusted_proxy_hops,
    )
    return app


def csrf_config(settings: Settings) -> CSRFConfig:
    return CSRFConfig(
        secret=settings.secret_key,
        cookie_secure=settings.uses_https,
        cookie_httponly=True,
        cookie_samesite="lax",
        # Machine-to-machine endpoints authenticate by signature or credentials instead; the SSO
        # exchange is authenticated by its encrypted payload (and has no CSRF cookie in an iframe yet).
        # Anchored: Litestar searches the whole path, so "/healthz" would also exempt "/enroll/healthz".
        exclude=["^/hooks/", "^/healthz$", "^/sso/"],
    )


def _signed_out(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    # Exception handlers are typed for any Request; the details are read the same way HTMXRequest does.
    if HTMXDetails(request):
        # A partial cannot show a sign-in page in place; make htmx load the page itself.
        return Response(content="", status_code=401, headers={"HX-Redirect": "/signed-out"})
    if request.url.path.startswith("/app"):
        return Redirect(path="/signed-out", status_code=303)
    return _error_page(request, 401, "Not signed in", str(exc.detail))


def _not_found(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return _error_page(request, 404, "Not found", "There is nothing here. Check the link, or go back.")


def _unusable_input(request: Request[Any, Any, Any], exc: UnusableInput) -> Response[Any]:
    return _error_page(request, 400, "That address cannot be used", str(exc.detail))


def _server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        return _error_page(request, exc.status_code, "That did not work", str(exc.detail))
    if is_unavailable(exc):
        # An outage, not a bug: no traceback per request, and the pool reconnects once PostgreSQL is back.
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return _error_page(
            request,
            503,
            "The database is not answering",
            "SCORM Hub cannot reach its database right now. Nothing was changed; try again in a minute.",
            headers={"Retry-After": "30"},
        )
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error_page(
        request, 500, "Something went wrong", "We could not finish that. Try again in a moment."
    )


def _error_page(
    request: Request[Any, Any, Any],
    status: int,
    title: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    if request.headers.get("accept", "").startswith("application/json"):
        return Response(content={"error": title, "detail": message}, status_code=status, headers=headers)
    return Template(
        template_name="pages/error.html",
        context={"title": title, "message": message, "status": status},
        status_code=status,
        headers=headers,
    )
