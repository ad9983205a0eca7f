"""SCORM Cloud (REST API v2) behind the engine ports: imports, registrations, progress and postbacks.

Every vendor failure is translated here into a domain error; no httpx exception leaves this module.
Reference: shared/reference/scorm-cloud-api.md (the section numbers in comments point into it).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, NoReturn
from urllib.parse import quote

import anyio
import httpx

from scormhub.domain.courses import ImportFailed
from scormhub.domain.errors import (
    DomainError,
    EngineAccountLimit,
    EngineRateLimited,
    EngineRefused,
    EngineUnavailable,
    InvalidCredentials,
    NotFound,
    ServiceUnavailable,
)
from scormhub.domain.model import (
    Course,
    ImportState,
    ImportStatus,
    Learner,
    PostbackTarget,
    RegistrationProgress,
)
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.domain.scorm.package import Problem
from scormhub.integrations.storage import FilesystemPackageStorage

log = logging.getLogger("scormhub.scorm_cloud")

# --- endpoints (relative to the configured base URL) ----------------------------------------------------
PING: Final = "ping"
IMPORT_UPLOAD: Final = "courses/importJobs/upload"
IMPORT_JOB: Final = "courses/importJobs/{job_id}"
COURSE: Final = "courses/{course_id}"
REGISTRATIONS: Final = "registrations"
REGISTRATION: Final = "registrations/{registration_id}"
LAUNCH_LINK: Final = "registrations/{registration_id}/launchLink"
PREVIEW_LINK: Final = "courses/{course_id}/preview"
POSTBACK_TEST: Final = "registrations/postBackTest"
APP_CONFIGURATION: Final = "appManagement/configuration"
APP_SETTING: Final = "appManagement/configuration/{setting_id}"

# Postback settings (§4). Setting values are lower case as in the postback guide; the enum fields of the
# JSON PostBackSchema are upper case, as its generated model declares them (`HTTPBASIC`, `COURSE`).
SETTING_URL: Final = "ApiRollupRegistrationPostBackUrl"
SETTING_AUTH_TYPE: Final = "ApiRollupRegistrationAuthType"
SETTING_AUTH_USER: Final = "ApiRollupRegistrationAuthUser"
SETTING_AUTH_PASSWORD: Final = "ApiRollupRegistrationAuthPassword"  # noqa: S105 (a setting name)
SETTING_FORMAT: Final = "ApiRollupRegistrationFormat"
POSTBACK_SETTINGS: Final = (
    SETTING_URL,
    SETTING_AUTH_TYPE,
    SETTING_AUTH_USER,
    SETTING_AUTH_PASSWORD,
    SETTING_FORMAT,
)
SETTING_AUTH_TYPE_VALUE: Final = "httpbasic"
SETTING_FORMAT_VALUE: Final = "course"
POSTBACK_AUTH_TYPE: Final = "HTTPBASIC"
POSTBACK_RESULTS_FORMAT: Final = "COURSE"

# Launch links live 10 to 300 s (§3 Launch link); anything outside is a 400 from SCORM Cloud.
MIN_LINK_EXPIRY_S: Final = 10
MAX_LINK_EXPIRY_S: Final = 300

CREDENTIALS_MESSAGE: Final = "SCORM Cloud rejected this App ID / Secret Key."
UNREADABLE_MESSAGE: Final = "SCORM Cloud sent a response SCORM Hub could not read"
ACCOUNT_LIMIT_MESSAGE: Final = (
    "Your SCORM Cloud account has reached a limit of its SCORM Cloud plan (SCORM Cloud said: {detail}). "
    "This is your own SCORM Cloud plan, not SCORM Hub's trial. Delete finished registrations or unused "
    "courses in SCORM Cloud, or upgrade your SCORM Cloud plan, then try again."
)
# The wording of SCORM Cloud's plan-limit refusals is not documented: match what such a message must say.
_ACCOUNT_LIMIT_PATTERNS: Final = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"registration\s+(limit|cap|quota)",
        r"(maximum|max)\s+(number\s+of\s+)?registrations",
        r"\d+\s*mb\b",
        r"\bmb\s+(limit|of\s+storage)",
        r"\bstorage\b",
        r"\bquota\b",
        r"\bupgrade\b",
        r"\b(plan|account|subscription|trial)\b.*\blimit",
        r"\blimit\b.*\b(plan|account|subscription|trial)\b",
    )
)
_MAX_VENDOR_TEXT: Final = 300


# --- the shared client ------------------------------------------------------------------------------------


def build_client(timeout_s: float = 20.0) -> httpx.AsyncClient:
    """The one AsyncClient for SCORM Cloud, made once per process (credentials go on each request).

    `timeout_s` (SCORM_CLOUD_TIMEOUT_S) bounds the wait for an answer; connecting gets at most 5 s of it.
    """
    return httpx.AsyncClient(
        # Writes may carry a 50 MB package; everything else should answer quickly.
        timeout=httpx.Timeout(connect=min(5.0, timeout_s), read=timeout_s, write=120.0, pool=5.0),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30.0),
        headers={"Accept": "application/json", "User-Agent": "SCORM Hub"},
        follow_redirects=False,
    )


@dataclass(frozen=True)
class RetryPolicy:
    """How safe calls retry transient failures inside the adapter (no retry library is installed).

    `attempts` counts the first try. A Retry-After longer than `max_retry_after_s` is not waited out here:
    the error goes up with its retry_after so the job layer can reschedule.

    `budget_s` bounds one call, retries included: no retry is made that would start after it. A timeout
    spends the budget, so a page waits out SCORM Cloud's silence once, not three times over; a job that
    fails is retried later by the queue, with backoff.
    """

    attempts: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_retry_after_s: float = 30.0
    budget_s: float | None = None
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    jitter: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, retry: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number `retry` (0-based), or None to give up now."""
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after_s else None
        backoff = min(self.max_delay_s, self.base_delay_s * 2.0**retry)
        return backoff * (0.5 + self.jitter() / 2)


class _Secret:
    """Holds the secret key so that no repr, log line or traceback local can show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'********'"


# --- the adapter ------------------------------------------------------------------------------------------


class ScormCloudEngine:
    """One SCORM Cloud application (App ID + Secret Key), as DeliveryEngine, RegistrationEngine and
    EngineConnection."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        app_id: str,
        secret_key: str,
        storage: FilesystemPackageStorage,
        base_url: str,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._client = client
        self._app_id = app_id
        self._secret = _Secret(secret_key)
        self._auth = httpx.BasicAuth(app_id, secret_key)
        self._storage = storage
        self._base_url = base_url.rstrip("/")
        self._retry = retry or RetryPolicy()

    def __repr__(self) -> str:
        return f"ScormCloudEngine(app_id={self._app_id!r}, base_url={self._base_url!r})"

    # --- EngineConnection ---------------------------------------------------------------------------------

    async def ping(self) -> None:
        response = await self._send("GET", PING, idempotent=True, missing="SCORM Cloud's ping endpoint")
        self._json_object(response)  # a 200 that is not SCORM Cloud's JSON is not a working connection

    async def configure_postback(self, target: PostbackTarget) -> None:
        settings = [
            {"settingId": SETTING_URL, "value": target.url},
            {"settingId": SETTING_AUTH_TYPE, "value": SETTING_AUTH_TYPE_VALUE},
            {"settingId": SETTING_AUTH_USER, "value": target.username},
            {"settingId": SETTING_AUTH_PASSWORD, "value": target.password},
            {"settingId": SETTING_FORMAT, "value": SETTING_FORMAT_VALUE},
        ]
        await self._send(
            "POST",
            APP_CONFIGURATION,
            json={"settings": settings},
            idempotent=True,  # setting the same values twice leaves the same configuration
            sensitive=(target.password,),
        )

    async def remove_postback(self) -> None:
        for setting_id in POSTBACK_SETTINGS:
            with suppress(NotFound):  # never set, or already cleared
                await self._send(
                    "DELETE", APP_SETTING.format(setting_id=_segment(setting_id)), idempotent=True
                )

    async def send_test_postback(self, target: PostbackTarget) -> None:
        await self._send(
            "POST",
            POSTBACK_TEST,
            json=_postback_schema(target),
            idempotent=True,  # a second dummy postback harms nobody
            sensitive=(target.password,),
        )

    # --- DeliveryEngine -----------------------------------------------------------------------------------

    async def start_import(self, course: Course) -> str:
        try:
            path = self._storage.path(course.package_key)
            package = await anyio.open_file(path, "rb")
        except (OSError, ValueError) as exc:
            raise ImportFailed(
                "The uploaded package is no longer stored. Delete this course and upload the package again."
            ) from exc
        try:
            # httpx streams the open file in chunks (sized up front, so no chunked encoding); the 50 MB
            # package is never held in memory. Never retried here: the import job retries the whole step.
            response = await self._send(
                "POST",
                IMPORT_UPLOAD,
                params={"courseId": str(course.id), "mayCreateNewVersion": "true"},
                files={"file": (f"{course.id}.zip", package.wrapped, "application/zip")},
                idempotent=False,
            )
        finally:
            await package.aclose()
        return _required_str(self._json_object(response), "result")

    async def poll_import(self, handle: str) -> ImportStatus:
        response = await self._send(
            "GET",
            IMPORT_JOB.format(job_id=_segment(handle)),
            idempotent=True,
            missing="this import job (SCORM Cloud keeps them for a week); upload the package again",
        )
        return _import_status(self._json_object(response))

    async def delete_course(self, course: Course) -> None:
        await self._send(
            "DELETE",
            COURSE.format(course_id=_segment(str(course.id))),
            idempotent=True,  # a repeat after a lost answer is a 404, which callers read as "already gone"
            missing=f"course {course.id}",
        )

    # --- RegistrationEngine -------------------------------------------------------------------------------

    async def create_registration(
        self, *, registration_id: str, course_id: str, learner: Learner, postback: PostbackTarget | None
    ) -> None:
        body: dict[str, Any] = {
            "courseId": course_id,
            "registrationId": registration_id,
            "learner": _omit_empty(
                {
                    "id": learner.id,
                    "firstName": learner.first_name,
                    "lastName": learner.last_name,
                    "email": learner.email,
                }
            ),
        }
        if postback is not None:
            body["postBack"] = _postback_schema(postback)
        try:
            # Not retried here: a POST that timed out may have created it; the job's retry will find it.
            await self._send(
                "POST",
                REGISTRATIONS,
                json=body,
                idempotent=False,
                missing=f"course {course_id}",
                sensitive=(postback.password,) if postback else (),
            )
        except EngineRefused as refused:
            # The duplicate-id answer is undocumented (expected: a 400 with some message), so any refusal
            # is checked against what SCORM Cloud holds: if the registration exists, we are done.
            if await self._registration_exists(registration_id):
                return
            raise refused from None

    async def delete_registration(self, registration_id: str) -> None:
        await self._send(
            "DELETE",
            REGISTRATION.format(registration_id=_segment(registration_id)),
            idempotent=True,
            missing=f"registration {registration_id}",
        )

    async def launch_link(
        self, registration_id: str, *, redirect_on_exit_url: str, expiry_s: int = 120
    ) -> str:
        expiry = max(MIN_LINK_EXPIRY_S, min(MAX_LINK_EXPIRY_S, int(expiry_s)))
        response = await self._send(
            "POST",
            LAUNCH_LINK.format(registration_id=_segment(registration_id)),
            json={"redirectOnExitUrl": redirect_on_exit_url, "expiry": expiry},
            idempotent=True,  # each call only builds a fresh link
            missing=f"registration {registration_id}",
        )
        return _required_str(self._json_object(response), "launchLink")

    async def preview_link(self, course_id: str, *, redirect_on_exit_url: str, expiry_s: int = 120) -> str:
        expiry = max(MIN_LINK_EXPIRY_S, min(MAX_LINK_EXPIRY_S, int(expiry_s)))
        response = await self._send(
            "POST",
            PREVIEW_LINK.format(course_id=_segment(course_id)),
            json={"redirectOnExitUrl": redirect_on_exit_url, "expiry": expiry},
            idempotent=True,  # builds a link; nothing is tracked
            missing=f"course {course_id}",
        )
        return _required_str(self._json_object(response), "launchLink")

    async def get_progress(self, registration_id: str) -> RegistrationProgress:
        response = await self._send(
            "GET",
            REGISTRATION.format(registration_id=_segment(registration_id)),
            idempotent=True,
            missing=f"registration {registration_id}",
        )
        return registration_progress(self._json_object(response))

    async def registrations_changed_since(self, since: datetime) -> AsyncIterator[RegistrationProgress]:
        params: dict[str, str] = {"since": _iso_z(since), "datetimeFilter": "updated"}
        seen: set[str] = set()
        while True:
            response = await self._send("GET", REGISTRATIONS, params=params, idempotent=True)
            page = self._json_object(response)
            registrations = page.get("registrations") or []
            if not isinstance(registrations, list):
                _unreadable()
            for item in registrations:
                yield registration_progress(_as_object(item))
            more = page.get("more")
            if not more:
                return
            if not isinstance(more, str) or more in seen:
                _unreadable()  # a token that repeats would page forever
            seen.add(more)
            # The original filters persist server-side; SCORM Cloud refuses them next to `more`.
            params = {"more": more}

    # --- plumbing -----------------------------------------------------------------------------------------

    async def _registration_exists(self, registration_id: str) -> bool:
        try:
            await self._send(
                "HEAD", REGISTRATION.format(registration_id=_segment(registration_id)), idempotent=True
            )
        except NotFound:
            return False
        return True

    def _url(self, path: str) -> str:
        return f"{self._base_url}/{path}"

    async def _send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        files: Mapping[str, Any] | None = None,
        missing: str = "such item",
        sensitive: tuple[str, ...] = (),
    ) -> httpx.Response:
        """One call with Basic auth; safe calls retry transient failures, with backoff and jitter."""
        secrets = (self._secret.reveal(), *sensitive)
        retry = 0
        started = time.monotonic()
        while True:
            cause: Exception | None = None
            try:
                response = await self._client.request(
                    method, self._url(path), params=params, json=json, files=files, auth=self._auth
                )
            except httpx.TimeoutException as exc:
                error: DomainError = EngineUnavailable(
                    f"SCORM Cloud did not answer in time ({type(exc).__name__})."
                )
                cause = exc
            except httpx.TransportError as exc:
                error = EngineUnavailable(f"SCORM Cloud could not be reached ({type(exc).__name__}).")
                cause = exc
            except httpx.HTTPError as exc:
                error = EngineUnavailable(f"The call to SCORM Cloud failed ({type(exc).__name__}).")
                cause = exc
            else:
                if response.is_success:
                    return response
                error = _error_for(response, missing=missing, secrets=secrets)
            last_try = not idempotent or retry + 1 >= self._retry.attempts
            if last_try or not isinstance(error, ServiceUnavailable):
                raise error from cause
            delay = self._retry.delay(retry, error.retry_after)
            budget = self._retry.budget_s
            if delay is None or (budget is not None and time.monotonic() - started + delay >= budget):
                raise error from cause
            log.warning(
                "SCORM Cloud %s %s failed (%s); retry %d in %.1fs", method, path, error, retry + 1, delay
            )
            await self._retry.sleep(delay)
            retry += 1

    @staticmethod
    def _json_object(response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            _unreadable()
        return _as_object(data)


if TYPE_CHECKING:
    from scormhub.domain.ports import DeliveryEngine, EngineConnection, RegistrationEngine

    def _satisfies_the_ports(engine: ScormCloudEngine) -> None:
        delivery: DeliveryEngine = engine
        registrations: RegistrationEngine = engine
        connection: EngineConnection = engine
        del delivery, registrations, connection


# --- errors at the boundary ---------------------------------------------------------------------------------


def _error_for(response: httpx.Response, *, missing: str, secrets: tuple[str, ...]) -> DomainError:
    status = response.status_code
    if status == 401:
        return InvalidCredentials(CREDENTIALS_MESSAGE)
    if status == 404:
        return NotFound(f"SCORM Cloud has no {missing}.")
    if status == 429:
        return EngineRateLimited(
            "SCORM Cloud asked SCORM Hub to slow down.", retry_after=retry_after_seconds(response)
        )
    if status >= 500:
        return EngineUnavailable(
            f"SCORM Cloud answered with a server error (HTTP {status}).",
            retry_after=retry_after_seconds(response),
        )
    if 400 <= status < 500:
        detail = _scrub(vendor_message(response) or f"HTTP {status}", secrets)
        if status in (400, 403, 413) and any(p.search(detail) for p in _ACCOUNT_LIMIT_PATTERNS):
            return EngineAccountLimit(ACCOUNT_LIMIT_MESSAGE.format(detail=detail))
        return EngineRefused(f"SCORM Cloud refused the request: {detail}")
    # 1xx/3xx: redirects are not followed (a moved API is a configuration problem, not data).
    return EngineUnavailable(f"{UNREADABLE_MESSAGE} (HTTP {status}).")


def vendor_message(response: httpx.Response) -> str:
    """SCORM Cloud's own words: `message` (MessageSchema), else `error` (the gateway), else the text."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict):
        for key in ("message", "error"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:_MAX_VENDOR_TEXT]
    try:
        text = response.text
    except UnicodeDecodeError:
        return ""
    return " ".join(text.split())[:_MAX_VENDOR_TEXT]


def retry_after_seconds(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP-date); None when absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def _unreadable() -> NoReturn:
    raise EngineUnavailable(UNREADABLE_MESSAGE)


# --- mapping SCORM Cloud's JSON to the domain -------------------------------------------------------------


def _import_status(job: dict[str, Any]) -> ImportStatus:
    status = job.get("status")
    state = status.upper() if isinstance(status, str) else None
    if state == "RUNNING":
        return ImportStatus(state=ImportState.RUNNING)
    if state == "ERROR":
        message = job.get("message")
        return ImportStatus(
            state=ImportState.ERROR,
            message=message.strip()
            if isinstance(message, str) and message.strip()
            else "SCORM Cloud could not import this package.",
        )
    if state != "COMPLETE":
        _unreadable()
    result = _as_object(job.get("importResult") or {})
    course = _as_object(result.get("course") or {})
    title = course.get("title")
    warnings = result.get("parserWarnings") or []
    if not isinstance(warnings, list):
        _unreadable()
    return ImportStatus(
        state=ImportState.COMPLETE,
        title=title.strip() or None if isinstance(title, str) else None,
        warnings=tuple(
            Problem(code="cloud-parser-warning", message=w.strip())
            for w in warnings
            if isinstance(w, str) and w.strip()
        ),
    )


def registration_progress(data: dict[str, Any]) -> RegistrationProgress:
    """A RegistrationSchema (a GET, a list page or a postback body) as the domain's RegistrationProgress."""
    first_access = _datetime(data.get("firstAccessDate"))
    last_access = _datetime(data.get("lastAccessDate"))
    total_seconds = max(0.0, _number(data.get("totalSecondsTracked")) or 0.0)
    completion_value = _enum_text(data.get("registrationCompletion"))
    # INCOMPLETE is only ever reported after content ran, so it counts as an access too.
    accessed = bool(first_access or last_access or total_seconds > 0 or completion_value == "INCOMPLETE")
    if completion_value == "COMPLETED":
        completion = Completion.COMPLETED
    elif accessed:
        completion = Completion.IN_PROGRESS
    else:
        completion = Completion.NOT_STARTED
    success = {"PASSED": Success.PASSED, "FAILED": Success.FAILED}.get(
        _enum_text(data.get("registrationSuccess")), Success.UNKNOWN
    )

    score = data.get("score")
    scaled = _number(_as_object(score).get("scaled")) if score is not None else None
    # score.scaled is a percentage (0 to 100), not SCORM's -1..1 scaled score.
    score_percent = None if scaled is None else max(0.0, min(100.0, scaled))

    details = data.get("activityDetails")
    details = _as_object(details) if details is not None else {}
    attempts_value = _number(details.get("attempts"))
    attempts = int(attempts_value) if attempts_value is not None else (1 if accessed else 0)
    runtime = details.get("runtime")
    score_raw = _number(_as_object(runtime).get("scoreRaw")) if runtime is not None else None

    updated_at = _datetime(data.get("updated")) or last_access or _datetime(data.get("createdDate"))
    if updated_at is None:
        _unreadable()  # nothing to order two views of this registration by
    instance = _number(data.get("instance"))
    registration_id = data.get("id")
    return RegistrationProgress(
        updated_at=updated_at,
        completion=completion,
        success=success,
        score_percent=score_percent,
        score_raw=score_raw,
        total_seconds=total_seconds,
        attempts=max(0, attempts),
        first_access_at=first_access,
        last_access_at=last_access,
        completed_at=_datetime(data.get("completedDate")),
        registration_id=registration_id if isinstance(registration_id, str) else None,
        instance=int(instance) if instance is not None else 0,
    )


def _postback_schema(target: PostbackTarget) -> dict[str, Any]:
    return {
        "url": target.url,
        "authType": POSTBACK_AUTH_TYPE,
        "userName": target.username,
        "password": target.password,
        "resultsFormat": POSTBACK_RESULTS_FORMAT,
    }


def _omit_empty(values: dict[str, str]) -> dict[str, str]:
    # The official client omits None fields; an empty name or email is no better than none.
    return {key: value for key, value in values.items() if value}


def _segment(value: str) -> str:
    return quote(value, safe="")


def _iso_z(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # naive datetimes in this app are UTC
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _as_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        _unreadable()
    return value


def _required_str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        _unreadable()
    return value


def _enum_text(value: Any) -> str:
    return value.strip().upper() if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    if not isinstance(value, int | float | str):
        _unreadable()
    try:
        number = float(value)
    except ValueError:
        _unreadable()
    return number if math.isfinite(number) else None


def _datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        _unreadable()
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        _unreadable()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
