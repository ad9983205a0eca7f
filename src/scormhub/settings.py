"""Configuration from the environment: one frozen dataclass, validated at start-up."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from scormhub.domain.model_billing import PlanCatalog, PlanModelError, parse_plans

DEFAULT_FRAME_ANCESTORS = (
    "'self' https://app.gohighlevel.com https://*.gohighlevel.com https://*.leadconnectorhq.com"
)
MIN_SECRET_KEY_LENGTH = 32
# What the app asks HighLevel for at install (reference §1 Scopes): contacts, tags and notes, the
# Training Record and Company Training Summary objects with their fields and contact associations.
DEFAULT_HIGHLEVEL_SCOPES = " ".join(
    (
        "contacts.readonly",
        "contacts.write",
        "objects/schema.readonly",
        "objects/schema.write",
        "objects/record.readonly",
        "objects/record.write",
        "locations/customFields.readonly",
        "locations/customFields.write",
        "associations.readonly",
        "associations.write",
        "associations/relation.readonly",
        "associations/relation.write",
        "oauth.readonly",
        "oauth.write",
        "workflows.readonly",  # offers our workflow actions and triggers (reference: workflows §0)
        # Usage billing (highlevel-workflows.md §0): charges, the funds check, the installer's plan.
        "charges.write",
        "charges.readonly",
        "marketplace-installer-details.readonly",
    )
)


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable and what it expects."""

    def __init__(self, variable: str, expected: str) -> None:
        super().__init__(f"{variable}: {expected}")
        self.variable = variable
        self.expected = expected


@dataclass(frozen=True)
class Settings:
    """Everything the process reads from its environment (see the README's table)."""

    data_dir: Path
    secret_key: str = field(repr=False)
    env: Literal["development", "production"] = "development"
    database_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    in_process_worker: bool = True
    worker_concurrency: int = 10
    db_pool_size: int = 10
    max_package_mb: int = 50
    frame_ancestors: str = DEFAULT_FRAME_ANCESTORS
    log_level: str = "INFO"
    # How many proxies in front of us append to X-Forwarded-For (Heroku's router: 1). 0: trust none.
    trusted_proxy_hops: int = 0
    scorm_cloud_api_url: str = "https://cloud.scorm.com/api/v2"
    # The longest one call to SCORM Cloud may take, retries included (uploads get longer to send).
    scorm_cloud_timeout_s: float = 20.0
    # How soon work left behind by a crashed process is taken up again: a running job whose worker sent no
    # heartbeat for this long counts as abandoned, the recovery crons run this often, and the slower
    # thresholds are multiples of it (below). Lowered by the fault tests; the default suits production.
    recovery_interval_s: int = 60
    highlevel_api_url: str = "https://services.leadconnectorhq.com"
    highlevel_marketplace_url: str = "https://marketplace.gohighlevel.com"
    highlevel_client_id: str | None = None
    highlevel_client_secret: str | None = field(default=None, repr=False)
    highlevel_sso_key: str | None = field(default=None, repr=False)
    # PEM public keys for install/uninstall webhooks; None means the vendor's published keys.
    highlevel_webhook_ed25519_key: str | None = None
    highlevel_webhook_rsa_key: str | None = None
    highlevel_rate_limit: int = 100  # requests per location per highlevel_rate_window_s
    highlevel_rate_window_s: int = 10
    highlevel_scopes: str = DEFAULT_HIGHLEVEL_SCOPES
    # Where the player and package files are served (SCORMHUB_CONTENT_URL); None: derived from public_url
    # (see `content_origin`). Never the app's host: course scripts must not run beside the admin cookie.
    content_url: str | None = None
    # Where packages and extracted content live: file://… (default: the data dir) or s3://bucket/prefix.
    storage_url: str | None = None
    # The most unpacked course content one workspace may keep (SCORMHUB_STORAGE_QUOTA_MB).
    storage_quota_mb: int = 2048
    # The static header HighLevel sends on workflow action/trigger calls (X-ScormHub-Action-Key).
    highlevel_workflow_key: str | None = field(default=None, repr=False)
    # The marketplace plans by HighLevel planId: trial limit, or live with a free monthly allowance and a
    # per-registration price on a usage meter (HIGHLEVEL_PLANS, see domain.model_billing.parse_plans).
    highlevel_plans: PlanCatalog = field(default_factory=PlanCatalog)
    # Issue 23: outgoing mail. Unset: messages go to the log and the delivery log page (development).
    smtp_url: str | None = field(default=None, repr=False)
    mail_from: str = "SCORM Hub <no-reply@localhost>"

    @property
    def highlevel_app_id(self) -> str | None:
        """HighLevel's client ids look like "<appId>-<suffix>"; webhooks carry the appId alone."""
        return self.highlevel_client_id.split("-", 1)[0] if self.highlevel_client_id else None

    @property
    def highlevel_configured(self) -> bool:
        return bool(self.highlevel_client_id and self.highlevel_client_secret)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def uses_https(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def content_origin(self) -> str:
        """The player's origin. Unset (development, tests), a sibling of the app's host that shares no
        cookie with it: 127.0.0.1 <-> localhost, anything else gets a `content.` subdomain."""
        return self.content_url or derived_content_url(self.public_url)

    @property
    def storage_quota_bytes(self) -> int:
        return self.storage_quota_mb * 1024 * 1024

    @property
    def max_package_bytes(self) -> int:
        return self.max_package_mb * 1024 * 1024

    @property
    def stuck_import_after_s(self) -> int:
        """A course Processing this long without a change is re-queued (5 min by default)."""
        return 5 * self.recovery_interval_s

    @property
    def inbox_sweep_after_s(self) -> int:
        """A stored postback unprocessed this long is queued again (2 min by default)."""
        return 2 * self.recovery_interval_s

    @property
    def outbox_lease_s(self) -> int:
        """How long a pusher holds the CRM writes it claimed; a crashed pusher's come back after it."""
        return 5 * self.recovery_interval_s

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        mode = reader.choice("SCORMHUB_ENV", ("development", "production"), "development")
        data_dir = Path(reader.text("SCORMHUB_DATA_DIR", "./.scormhub")).expanduser().resolve()
        port = reader.integer("PORT", 8000, minimum=1, maximum=65535)
        database_url = reader.optional("DATABASE_URL")
        if database_url is not None:
            database_url = _check_database_url(database_url)
        elif mode == "production":
            raise ConfigError("DATABASE_URL", "required in production (postgresql://user:pass@host/db)")
        public_url = reader.url("SCORMHUB_PUBLIC_URL", f"http://127.0.0.1:{port}")
        content_url = reader.optional("SCORMHUB_CONTENT_URL")
        if content_url is not None:
            content_url = _check_content_url(reader.url("SCORMHUB_CONTENT_URL", ""), public_url)
        elif mode == "production":
            raise ConfigError(
                "SCORMHUB_CONTENT_URL",
                "required in production: the https URL of a host other than SCORMHUB_PUBLIC_URL's "
                "(best a separate domain) from which course content is served",
            )
        return cls(
            env=mode,  # type: ignore[arg-type]
            data_dir=data_dir,
            secret_key=_secret_key(reader, mode, data_dir),
            database_url=database_url,
            public_url=public_url,
            content_url=content_url,
            storage_url=_check_storage_url(reader.optional("SCORMHUB_STORAGE_URL")),
            storage_quota_mb=reader.integer("SCORMHUB_STORAGE_QUOTA_MB", 2048, minimum=1, maximum=10_000_000),
            host=reader.text("SCORMHUB_HOST", "0.0.0.0" if mode == "production" else "127.0.0.1"),  # noqa: S104 - a server listens on all interfaces in production by design
            port=port,
            in_process_worker=reader.boolean("SCORMHUB_IN_PROCESS_WORKER", True),
            worker_concurrency=reader.integer("SCORMHUB_WORKER_CONCURRENCY", 10, minimum=1, maximum=200),
            db_pool_size=reader.integer("SCORMHUB_DB_POOL_SIZE", 10, minimum=2, maximum=200),
            max_package_mb=reader.integer("SCORMHUB_MAX_PACKAGE_MB", 50, minimum=1, maximum=2048),
            frame_ancestors=reader.text("SCORMHUB_FRAME_ANCESTORS", DEFAULT_FRAME_ANCESTORS),
            trusted_proxy_hops=reader.integer("SCORMHUB_TRUSTED_PROXY_HOPS", 0, minimum=0, maximum=10),
            log_level=reader.choice(
                "SCORMHUB_LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO", upper=True
            ),
            scorm_cloud_api_url=reader.url("SCORM_CLOUD_API_URL", "https://cloud.scorm.com/api/v2"),
            scorm_cloud_timeout_s=reader.integer("SCORM_CLOUD_TIMEOUT_S", 20, minimum=1, maximum=300),
            recovery_interval_s=reader.integer("SCORMHUB_RECOVERY_INTERVAL_S", 60, minimum=1, maximum=3600),
            highlevel_api_url=reader.url("HIGHLEVEL_API_URL", "https://services.leadconnectorhq.com"),
            highlevel_marketplace_url=reader.url(
                "HIGHLEVEL_MARKETPLACE_URL", "https://marketplace.gohighlevel.com"
            ),
            highlevel_client_id=reader.optional("HIGHLEVEL_CLIENT_ID"),
            highlevel_client_secret=reader.optional("HIGHLEVEL_CLIENT_SECRET"),
            highlevel_sso_key=reader.optional("HIGHLEVEL_SSO_KEY"),
            highlevel_webhook_ed25519_key=reader.optional("HIGHLEVEL_WEBHOOK_ED25519_KEY"),
            highlevel_webhook_rsa_key=reader.optional("HIGHLEVEL_WEBHOOK_RSA_KEY"),
            highlevel_rate_limit=reader.integer("HIGHLEVEL_RATE_LIMIT", 100, minimum=1, maximum=10_000),
            highlevel_rate_window_s=reader.integer("HIGHLEVEL_RATE_WINDOW_S", 10, minimum=1, maximum=3600),
            highlevel_scopes=reader.text("HIGHLEVEL_SCOPES", DEFAULT_HIGHLEVEL_SCOPES),
            highlevel_workflow_key=reader.optional("HIGHLEVEL_WORKFLOW_KEY"),
            highlevel_plans=_plans(reader),
            smtp_url=_check_smtp_url(reader.optional("SCORMHUB_SMTP_URL")),
            mail_from=reader.text("SCORMHUB_MAIL_FROM", "SCORM Hub <no-reply@localhost>"),
        )


class _Reader:
    """Reads typed values and turns every malformed one into a ConfigError naming the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def optional(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(name, f"a whole number from {minimum} to {maximum}, got {raw!r}") from None
        if not minimum <= value <= maximum:
            raise ConfigError(name, f"a whole number from {minimum} to {maximum}, got {value}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.optional(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(name, f"true or false, got {raw!r}")

    def choice(self, name: str, options: tuple[str, ...], default: str, *, upper: bool = False) -> str:
        raw = self.optional(name)
        if raw is None:
            return default
        value = raw.upper() if upper else raw.lower()
        if value not in options:
            raise ConfigError(name, f"one of {', '.join(options)}, got {raw!r}")
        return value

    def url(self, name: str, default: str) -> str:
        raw = self.optional(name)
        if raw is None:
            return default
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(name, f"an absolute http(s) URL such as https://example.com, got {raw!r}")
        return raw.rstrip("/")


def derived_content_url(public_url: str) -> str:
    parts = urlsplit(public_url)
    host = parts.hostname or "localhost"
    swapped = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(host, f"content.{host}")
    netloc = f"{swapped}:{parts.port}" if parts.port else swapped
    return f"{parts.scheme}://{netloc}"


def _check_content_url(url: str, public_url: str) -> str:
    # Cookies ignore ports: only another host name keeps the admin's session cookie out of content.
    if urlsplit(url).hostname == urlsplit(public_url).hostname:
        raise ConfigError(
            "SCORMHUB_CONTENT_URL",
            f"a host other than SCORMHUB_PUBLIC_URL's ({urlsplit(public_url).hostname}); a different port "
            "is not enough, browsers send cookies to every port of a host",
        )
    if urlsplit(url).path not in ("", "/"):
        raise ConfigError(
            "SCORMHUB_CONTENT_URL",
            f"an origin without a path, such as https://content.example.com, got {url!r}",
        )
    return url


def _check_smtp_url(url: str | None) -> str | None:
    parts = urlsplit(url) if url else None
    if parts is not None and (parts.scheme not in ("smtp", "smtps") or not parts.hostname):
        # The value is not echoed: it may hold a password.
        raise ConfigError(
            "SCORMHUB_SMTP_URL", "an smtp:// (STARTTLS) or smtps:// (TLS) URL, e.g. smtp://user:pass@host:587"
        )
    return url


def _check_storage_url(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.path:
        return url
    if parts.scheme == "s3" and parts.netloc:
        return url
    raise ConfigError(
        "SCORMHUB_STORAGE_URL", f"file:///absolute/folder or s3://bucket/optional/prefix, got {url!r}"
    )


def _plans(reader: _Reader) -> PlanCatalog:
    try:
        return parse_plans(reader.optional("HIGHLEVEL_PLANS"))
    except PlanModelError as exc:
        raise ConfigError("HIGHLEVEL_PLANS", str(exc)) from None


def _check_database_url(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme == "postgres":
        # Heroku still hands out postgres:// URLs; psycopg and SAQ only accept the long scheme.
        return "postgresql" + url[len("postgres") :]
    if scheme != "postgresql":
        raise ConfigError("DATABASE_URL", f"a postgresql:// URL, got scheme {scheme or 'none'!r}")
    return url


def _secret_key(reader: _Reader, mode: str, data_dir: Path) -> str:
    key = reader.optional("SCORMHUB_SECRET_KEY")
    if key is not None:
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                "SCORMHUB_SECRET_KEY",
                f"at least {MIN_SECRET_KEY_LENGTH} characters (python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')",
            )
        return key
    if mode == "production":
        raise ConfigError("SCORMHUB_SECRET_KEY", "required in production (at least 32 random characters)")
    return _development_secret(data_dir)


def _development_secret(data_dir: Path) -> str:
    """Generate the key once and keep it, so sessions and encrypted rows survive a restart."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
