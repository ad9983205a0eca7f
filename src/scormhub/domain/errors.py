"""Domain errors: adapters translate vendor failures into these at the boundary."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain knows how to explain to a person."""


class NotFound(DomainError):
    """The thing does not exist in this workspace (other workspaces' rows are not found either)."""


class InvalidCredentials(DomainError):
    """A remote service rejected the credentials we hold for it."""


class ServiceUnavailable(DomainError):
    """A remote service is down, slow or answering nonsense; safe operations may be retried."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(ServiceUnavailable):
    """A remote service asked us to slow down, possibly saying for how long."""


class EngineUnavailable(ServiceUnavailable):
    """The delivery engine cannot be reached right now."""


class EngineRateLimited(RateLimited):
    """The delivery engine asked us to slow down."""


class EngineRefused(DomainError):
    """The engine understood the request and said no (a 400 with its reason): not worth retrying."""


class EngineAccountLimit(EngineRefused):
    """The admin's own engine account is full (e.g. SCORM Cloud's trial: 10 registrations, 100 MB).

    Distinct from SCORM Hub's own trial limit: the fix is in the engine account, not here.
    """


class CrmUnavailable(ServiceUnavailable):
    """The CRM cannot be reached right now."""


class CrmRateLimited(RateLimited):
    """The CRM's rate limit was hit."""


class CrmAuthExpired(DomainError):
    """The CRM no longer accepts our authorization (revoked, uninstalled, refresh token spent).

    Retrying cannot help: a person has to reconnect (or reinstall) the app.
    """

    def __init__(
        self, message: str = "HighLevel needs reconnecting: reconnect it in Settings to resume syncing."
    ) -> None:
        super().__init__(message)


class CrmRejected(DomainError):
    """The CRM understood the request and refused it (a 400 or 422 with its reason): not worth retrying.

    `detail` is the CRM's own reason, kept apart from the sentence a person reads.
    """

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = message if detail is None else detail


class LogoRefused(DomainError, ValueError):
    """A logo we will not store; the message says why and what to do instead."""


class StorageUnavailable(ServiceUnavailable):
    """Object storage did not answer, or answered with an error of its own: nothing was changed."""
