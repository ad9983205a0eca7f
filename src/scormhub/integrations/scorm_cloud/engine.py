"""SCORM Cloud (REST API v2) behind the engine ports: imports, registrations, progress and postbacks.

ScormCloudEngine composes one application's client (auth, retries, errors) with its courses,
registrations and connection settings; each lives in its own module of this package.
Reference: shared/reference/scorm-cloud-api.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import httpx

from scormhub.domain.model import Answer, Course, ImportStatus, Learner, PostbackTarget, RegistrationProgress
from scormhub.integrations.scorm_cloud.client import ScormCloudClient
from scormhub.integrations.scorm_cloud.connection import ScormCloudConnection
from scormhub.integrations.scorm_cloud.courses import ScormCloudCourses
from scormhub.integrations.scorm_cloud.interactions import ScormCloudInteractions
from scormhub.integrations.scorm_cloud.registrations import ScormCloudRegistrations
from scormhub.integrations.storage import PackageStore
from scormhub.integrations.vendor_http import RetryPolicy


class ScormCloudEngine:
    """One SCORM Cloud application (App ID + Secret Key), as DeliveryEngine, RegistrationEngine and
    EngineConnection."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        app_id: str,
        secret_key: str,
        storage: PackageStore,
        base_url: str,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._api = ScormCloudClient(
            client, app_id=app_id, secret_key=secret_key, base_url=base_url, retry=retry
        )
        self._connection = ScormCloudConnection(self._api)
        self._courses = ScormCloudCourses(self._api, storage)
        self._registrations = ScormCloudRegistrations(self._api)
        self._interactions = ScormCloudInteractions(self._api)

    def __repr__(self) -> str:
        return f"ScormCloudEngine(app_id={self._api.app_id!r}, base_url={self._api.base_url!r})"

    # --- EngineConnection ---------------------------------------------------------------------------------

    async def ping(self) -> None:
        await self._connection.ping()

    async def configure_postback(self, target: PostbackTarget) -> None:
        await self._connection.configure_postback(target)

    async def remove_postback(self) -> None:
        await self._connection.remove_postback()

    async def send_test_postback(self, target: PostbackTarget) -> None:
        await self._connection.send_test_postback(target)

    # --- DeliveryEngine -----------------------------------------------------------------------------------

    async def start_import(self, course: Course) -> str:
        return await self._courses.start_import(course)

    async def poll_import(self, handle: str) -> ImportStatus:
        return await self._courses.poll_import(handle)

    async def delete_course(self, course: Course) -> None:
        await self._courses.delete_course(course)

    async def preview_link(self, course_id: str, *, redirect_on_exit_url: str, expiry_s: int = 120) -> str:
        return await self._courses.preview_link(
            course_id, redirect_on_exit_url=redirect_on_exit_url, expiry_s=expiry_s
        )

    # --- RegistrationEngine -------------------------------------------------------------------------------

    async def create_registration(
        self, *, registration_id: str, course_id: str, learner: Learner, postback: PostbackTarget | None
    ) -> None:
        await self._registrations.create_registration(
            registration_id=registration_id, course_id=course_id, learner=learner, postback=postback
        )

    async def delete_registration(self, registration_id: str) -> None:
        await self._registrations.delete_registration(registration_id)

    async def launch_link(
        self, registration_id: str, *, redirect_on_exit_url: str, expiry_s: int = 120
    ) -> str:
        return await self._registrations.launch_link(
            registration_id, redirect_on_exit_url=redirect_on_exit_url, expiry_s=expiry_s
        )

    async def reset_progress(self, registration_id: str) -> None:
        await self._registrations.reset_progress(registration_id)

    async def get_progress(self, registration_id: str) -> RegistrationProgress:
        return await self._registrations.get_progress(registration_id)

    def registrations_changed_since(self, since: datetime) -> AsyncIterator[RegistrationProgress]:
        return self._registrations.registrations_changed_since(since)

    # --- InteractionSource (the question report) ---------------------------------------------------------

    async def interactions_of(self, registration_ids: Sequence[str]) -> dict[str, list[Answer] | None]:
        return await self._interactions.interactions_of(registration_ids)


if TYPE_CHECKING:
    from scormhub.domain.ports import DeliveryEngine, EngineConnection, RegistrationEngine

    def _satisfies_the_ports(engine: ScormCloudEngine) -> None:
        delivery: DeliveryEngine = engine
        registrations: RegistrationEngine = engine
        connection: EngineConnection = engine
        del delivery, registrations, connection
