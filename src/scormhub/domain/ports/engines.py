"""Course delivery: package storage, the delivery engines and SCORM Cloud's registrations and postbacks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from scormhub.domain.model import (
    Course,
    EngineKind,
    ImportStatus,
    Learner,
    PostbackTarget,
    RegistrationProgress,
)
from scormhub.domain.scorm.package import PackageLimits, PackageReport

if TYPE_CHECKING:
    pass


class IncomingPackage(Protocol):
    """An upload being received: its bytes, and the file name once the upload has said it."""

    @property
    def file_name(self) -> str | None: ...

    def chunks(self) -> AsyncIterator[bytes]: ...


class PackageStorage(Protocol):
    """Uploaded packages, addressed by keys we generate (never the user's file name)."""

    async def write(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> tuple[str, int]:
        """Store a stream; past `max_bytes` stop reading, discard it and raise PackageTooLarge.

        Returns (key, size in bytes).
        """
        ...

    async def inspect(self, key: str, limits: PackageLimits) -> PackageReport:
        """Validate a stored package (off the event loop: it reads the whole zip)."""
        ...

    async def settle(
        self, key: str, report: PackageReport, limits: PackageLimits
    ) -> tuple[PackageReport, int]:
        """Make a valid stored package hold exactly what `report` accepted, under the names it saw.

        A course zipped inside its folder is rewritten with that folder's contents at the root (junk
        left out), so every engine receives the layout validation approved. Returns the report for the
        stored bytes (`root_prefix` "") and their size.
        """
        ...

    async def delete(self, key: str) -> None:
        """Remove a package; a missing key is fine (deletes are retried)."""
        ...

    async def unpacked_bytes(self, key: str, report: PackageReport, limits: PackageLimits) -> int:
        """What a validated package takes once unpacked (the entries validation accepted)."""
        ...

    async def stored_course_bytes(self, course_ids: list[UUID]) -> int:
        """What these courses' unpacked content takes in storage now (the quota's usage)."""
        ...


class DeliveryEngine(Protocol):
    """Where courses are imported and played: SCORM Cloud, or the built-in player."""

    async def start_import(self, course: Course) -> str:
        """Start importing the course's package; return a handle for poll_import. Idempotent per course."""
        ...

    async def poll_import(self, handle: str) -> ImportStatus: ...

    async def delete_course(self, course: Course) -> None:
        """Remove the course and its content; raise NotFound when the engine has no such course."""
        ...


class RegistrationEngine(Protocol):
    """The registration side of a delivery engine (SCORM Cloud; the built-in player keeps its own)."""

    async def create_registration(
        self, *, registration_id: str, course_id: str, learner: Learner, postback: PostbackTarget | None
    ) -> None:
        """Create it, or do nothing if it exists already (our ids make this idempotent)."""
        ...

    async def delete_registration(self, registration_id: str) -> None: ...

    async def launch_link(
        self, registration_id: str, *, redirect_on_exit_url: str, expiry_s: int = 120
    ) -> str:
        """A fresh launch URL (never stored: they expire)."""
        ...

    async def preview_link(self, course_id: str, *, redirect_on_exit_url: str, expiry_s: int = 120) -> str:
        """A fresh URL that plays the course with nothing tracked."""
        ...

    async def get_progress(self, registration_id: str) -> RegistrationProgress: ...

    def registrations_changed_since(self, since: datetime) -> AsyncIterator[RegistrationProgress]:
        """Every registration updated since then, following the engine's paging to the end."""
        ...


class RegistrationEngines(Protocol):
    """Each workspace's registration engine: SCORM Cloud once the workspace has connected it."""

    async def for_workspace(self, workspace_id: UUID) -> RegistrationEngine | None: ...


class PostbackReader(Protocol):
    """Which registration a stored postback names; the wire formats are the adapter's to read."""

    def registration_id(self, content_type: str, body: str) -> str | None:
        """None when the body names no registration (unreadable, or not a registration at all)."""
        ...


class EngineConnection(Protocol):
    """An engine account as a whole: checking credentials and the account-wide postback configuration."""

    async def ping(self) -> None:
        """Raise InvalidCredentials or EngineUnavailable; return when the credentials work."""
        ...

    async def configure_postback(self, target: PostbackTarget) -> None: ...

    async def remove_postback(self) -> None: ...

    async def send_test_postback(self, target: PostbackTarget) -> None: ...


class EngineRegistry(Protocol):
    """The engine holding a course: a workspace may move to SCORM Cloud; old courses stay where they are."""

    def for_kind(self, kind: EngineKind) -> DeliveryEngine: ...
