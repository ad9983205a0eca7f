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


class CrmUnavailable(ServiceUnavailable):
    """The CRM cannot be reached right now."""


class CrmRateLimited(RateLimited):
    """The CRM's rate limit was hit."""
