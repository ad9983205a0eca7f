"""A SCORM Cloud application's connection: the credentials check, and the postback settings (§4)."""

from __future__ import annotations

from contextlib import suppress
from typing import Any, Final

from scormhub.domain.errors import NotFound
from scormhub.domain.model import PostbackTarget
from scormhub.integrations.scorm_cloud.client import ScormCloudClient
from scormhub.integrations.vendor_http import segment

PING: Final = "ping"
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


class ScormCloudConnection:
    """EngineConnection for one application."""

    def __init__(self, api: ScormCloudClient) -> None:
        self._api = api

    async def ping(self) -> None:
        response = await self._api.send("GET", PING, idempotent=True, missing="SCORM Cloud's ping endpoint")
        self._api.json_object(response)  # a 200 that is not SCORM Cloud's JSON is not a working connection

    async def configure_postback(self, target: PostbackTarget) -> None:
        settings = [
            {"settingId": SETTING_URL, "value": target.url},
            {"settingId": SETTING_AUTH_TYPE, "value": SETTING_AUTH_TYPE_VALUE},
            {"settingId": SETTING_AUTH_USER, "value": target.username},
            {"settingId": SETTING_AUTH_PASSWORD, "value": target.password},
            {"settingId": SETTING_FORMAT, "value": SETTING_FORMAT_VALUE},
        ]
        await self._api.send(
            "POST",
            APP_CONFIGURATION,
            json={"settings": settings},
            idempotent=True,  # setting the same values twice leaves the same configuration
            sensitive=(target.password,),
        )

    async def remove_postback(self) -> None:
        for setting_id in POSTBACK_SETTINGS:
            with suppress(NotFound):  # never set, or already cleared
                await self._api.send(
                    "DELETE", APP_SETTING.format(setting_id=segment(setting_id)), idempotent=True
                )

    async def send_test_postback(self, target: PostbackTarget) -> None:
        await self._api.send(
            "POST",
            POSTBACK_TEST,
            json=postback_schema(target),
            idempotent=True,  # a second dummy postback harms nobody
            sensitive=(target.password,),
        )


def postback_schema(target: PostbackTarget) -> dict[str, Any]:
    """A PostBackSchema: where SCORM Cloud posts one registration's results, with Basic credentials."""
    return {
        "url": target.url,
        "authType": POSTBACK_AUTH_TYPE,
        "userName": target.username,
        "password": target.password,
        "resultsFormat": POSTBACK_RESULTS_FORMAT,
    }
