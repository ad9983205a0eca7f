"""Fakes of where courses go: package storage, delivery engines, registrations, an engine account's
connection, and the postbacks it sends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.courses import ImportFailed, PackageTooLarge
from scormhub.domain.errors import EngineUnavailable, NotFound, ServiceUnavailable
from scormhub.domain.model import (
    Course,
    EngineKind,
    ImportState,
    ImportStatus,
    Learner,
    PostbackTarget,
    RegistrationProgress,
)
from scormhub.domain.scorm.package import PackageLimits, PackageReport, Problem, Sco

if TYPE_CHECKING:
    from scormhub.domain.ports import (
        DeliveryEngine,
        EngineConnection,
        EngineRegistry,
        PackageStorage,
        PostbackReader,
        RegistrationEngine,
        RegistrationEngines,
    )

VALID_REPORT = PackageReport(
    valid=True,
    standard="scorm12",
    edition=None,
    title="Golf Explained",
    scos=(Sco(identifier="sco-1", title="Lesson 1", launch="index.html"),),
    mastery_score=80.0,
    warnings=(Problem(code="P9-missing-file", message="A listed file is missing."),),
    errors=(),
)


class FakeStorage:
    """Keeps packages in memory; `report` is what inspecting any package returns."""

    def __init__(self, report: PackageReport = VALID_REPORT) -> None:
        self.blobs: dict[str, bytes] = {}
        self.report = report
        self.settled: list[str] = []
        self.unpacked: dict[str, int] = {}
        self.course_bytes: dict[UUID, int] = {}

    async def write(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> tuple[str, int]:
        data = bytearray()
        async for chunk in chunks:
            data += chunk
            if len(data) > max_bytes:
                raise PackageTooLarge(max_bytes)
        key = f"key{len(self.blobs) + 1}"
        self.blobs[key] = bytes(data)
        return key, len(data)

    async def inspect(self, key: str, limits: PackageLimits) -> PackageReport:
        return self.report

    async def settle(
        self, key: str, report: PackageReport, limits: PackageLimits
    ) -> tuple[PackageReport, int]:
        self.settled.append(key)
        return replace(report, root_prefix=""), len(self.blobs[key])

    async def delete(self, key: str) -> None:
        self.blobs.pop(key, None)

    async def unpacked_bytes(self, key: str, report: PackageReport, limits: PackageLimits) -> int:
        return self.unpacked.get(key, len(self.blobs[key]))

    async def stored_course_bytes(self, course_ids: list[UUID]) -> int:
        return sum(self.course_bytes.get(course_id, 0) for course_id in course_ids)


class FakeEngine:
    """An engine whose imports finish after `polls_until_done` polls, or fail as told."""

    def __init__(
        self, *, polls_until_done: int = 0, fail_with: str | None = None, down: bool = False
    ) -> None:
        self.started: list[UUID] = []
        self.deleted: list[UUID] = []
        self.polls_until_done = polls_until_done
        self.fail_with = fail_with
        self.down = down

    async def start_import(self, course: Course) -> str:
        if self.down:
            raise EngineUnavailable("connection refused")
        if self.fail_with:
            raise ImportFailed(self.fail_with)
        self.started.append(course.id)
        return f"handle-{course.id}"

    async def poll_import(self, handle: str) -> ImportStatus:
        if self.polls_until_done > 0:
            self.polls_until_done -= 1
            return ImportStatus(state=ImportState.RUNNING)
        return ImportStatus(state=ImportState.COMPLETE, title="Golf Explained (engine)")

    async def delete_course(self, course: Course) -> None:
        if course.id in self.deleted:
            raise NotFound("course")
        self.deleted.append(course.id)


class FakeEngines:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine

    def for_kind(self, kind: EngineKind) -> FakeEngine:
        return self.engine


class FakeEngineConnection:
    """One engine account as SCORM Cloud holds it: the credentials it accepts and its postback setting.

    Each step raises what it is told to. `on_test_postback` plays the postback endpoint receiving the test
    postback (it runs while send_test_postback waits, as SCORM Cloud's does); without it nothing arrives.
    """

    def __init__(
        self,
        app_id: str,
        secret_key: str,
        *,
        ping_error: Exception | None = None,
        configure_error: Exception | None = None,
        test_error: Exception | None = None,
        remove_error: Exception | None = None,
        on_test_postback: Callable[[PostbackTarget], Awaitable[None]] | None = None,
    ) -> None:
        self.app_id = app_id
        self.secret_key = secret_key
        self.ping_error = ping_error
        self.configure_error = configure_error
        self.test_error = test_error
        self.remove_error = remove_error
        self.on_test_postback = on_test_postback
        self.pinged = 0
        self.postback: PostbackTarget | None = None  # what the account posts to now
        self.test_postbacks: list[PostbackTarget] = []

    async def ping(self) -> None:
        self.pinged += 1
        if self.ping_error is not None:
            raise self.ping_error

    async def configure_postback(self, target: PostbackTarget) -> None:
        if self.configure_error is not None:
            raise self.configure_error
        self.postback = target

    async def remove_postback(self) -> None:
        if self.remove_error is not None:
            raise self.remove_error
        self.postback = None

    async def send_test_postback(self, target: PostbackTarget) -> None:
        self.test_postbacks.append(target)
        if self.test_error is not None:
            raise self.test_error
        if self.on_test_postback is not None:
            await self.on_test_postback(target)


class FakeRegistrationEngine:
    """SCORM Cloud's registrations: `progress` holds each one's state; `down` makes every read fail."""

    def __init__(self, *, down: bool = False) -> None:
        self.progress: dict[str, RegistrationProgress] = {}
        self.down = down
        self.reads: list[str] = []

    async def create_registration(
        self, *, registration_id: str, course_id: str, learner: Learner, postback: PostbackTarget | None
    ) -> None:
        return None

    async def delete_registration(self, registration_id: str) -> None:
        self.progress.pop(registration_id, None)

    async def launch_link(
        self, registration_id: str, *, redirect_on_exit_url: str, expiry_s: int = 120
    ) -> str:
        return f"https://engine.example/launch/{registration_id}"

    async def preview_link(self, course_id: str, *, redirect_on_exit_url: str, expiry_s: int = 120) -> str:
        return f"https://engine.example/preview/{course_id}"

    async def get_progress(self, registration_id: str) -> RegistrationProgress:
        self.reads.append(registration_id)
        if self.down:
            raise ServiceUnavailable("SCORM Cloud is not answering")
        if registration_id not in self.progress:
            raise NotFound("registration")
        return self.progress[registration_id]

    async def registrations_changed_since(self, since: datetime) -> AsyncIterator[RegistrationProgress]:
        for progress in list(self.progress.values()):
            if progress.updated_at >= since:
                yield progress


class FakeRegistrationEngines:
    """The workspaces that have connected SCORM Cloud, and its registrations for each."""

    def __init__(self, connected: dict[UUID, FakeRegistrationEngine] | None = None) -> None:
        self.connected = connected or {}

    async def for_workspace(self, workspace_id: UUID) -> FakeRegistrationEngine | None:
        return self.connected.get(workspace_id)


class FakePostbackReader:
    """Postbacks in one simple format: the registration JSON as the body."""

    def registration_id(self, content_type: str, body: str) -> str | None:
        try:
            data = json.loads(body)
        except ValueError:
            return None
        value = data.get("id") if isinstance(data, dict) else None
        return value if isinstance(value, str) and value else None


if TYPE_CHECKING:
    _storage: PackageStorage = FakeStorage()
    _engine: DeliveryEngine = FakeEngine()
    _engines: EngineRegistry = FakeEngines(FakeEngine())
    _connection: EngineConnection = FakeEngineConnection("app", "secret")
    _registration_engine: RegistrationEngine = FakeRegistrationEngine()
    _registration_engines: RegistrationEngines = FakeRegistrationEngines()
    _postback_reader: PostbackReader = FakePostbackReader()
