"""Ports: what the domain needs from the outside world, declared as Protocols, all in this package.

They speak in the entities of `domain.model` and the SCORM value types of `domain.scorm` only, so the
use cases import them without a cycle. One module per side of the world (persistence, system, engines,
crm, documents); this module is their one import point. Adapters live in `scormhub.integrations`;
in-memory fakes for unit tests live in `tests/unit/fakes/`.
"""

from scormhub.domain.ports.billing import BillingRepository, UsageBilling
from scormhub.domain.ports.crm import (
    ContactBook,
    ContactDirectory,
    CrmAgencyAuth,
    CrmInstallations,
    CrmWriter,
)
from scormhub.domain.ports.documents import BrandingStore, CertificateRenderer, LogoSource
from scormhub.domain.ports.engines import (
    DeliveryEngine,
    EngineConnection,
    EngineRegistry,
    IncomingPackage,
    PackageStorage,
    PostbackReader,
    RegistrationEngine,
    RegistrationEngines,
)
from scormhub.domain.ports.persistence import (
    CertificateRepository,
    CertificateUnitOfWork,
    CourseRepository,
    EngineAccountRepository,
    EnrollmentRepository,
    InboxRepository,
    LoginTokenRepository,
    OutboxRepository,
    ScoStateRepository,
    SyncRunRepository,
    SyncStateRepository,
    UnitOfWork,
    WorkspaceRepository,
)
from scormhub.domain.ports.storage import ObjectReader, ObjectStore, StoredObject
from scormhub.domain.ports.system import Clock, JobQueue, RequestLimits, ReviewPasses, SecretCipher, Throttle

__all__ = [
    "BillingRepository",
    "BrandingStore",
    "CertificateRenderer",
    "CertificateRepository",
    "CertificateUnitOfWork",
    "Clock",
    "ContactBook",
    "ContactDirectory",
    "CourseRepository",
    "CrmAgencyAuth",
    "CrmInstallations",
    "CrmWriter",
    "DeliveryEngine",
    "EngineAccountRepository",
    "EngineConnection",
    "EngineRegistry",
    "EnrollmentRepository",
    "InboxRepository",
    "IncomingPackage",
    "JobQueue",
    "LoginTokenRepository",
    "LogoSource",
    "ObjectReader",
    "ObjectStore",
    "OutboxRepository",
    "PackageStorage",
    "PostbackReader",
    "RegistrationEngine",
    "RegistrationEngines",
    "RequestLimits",
    "ReviewPasses",
    "ScoStateRepository",
    "SecretCipher",
    "StoredObject",
    "SyncRunRepository",
    "SyncStateRepository",
    "Throttle",
    "UnitOfWork",
    "UsageBilling",
    "WorkspaceRepository",
]
