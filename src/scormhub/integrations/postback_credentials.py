"""The SCORM Cloud postback credentials of each workspace, decrypted and cached per process."""

from __future__ import annotations

import time
from collections.abc import Callable
from uuid import UUID

from scormhub.domain.ports import Clock
from scormhub.integrations.crypto import SecretBox
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.scorm_cloud.postbacks import credentials_match, read_credentials

# How long decrypted postback credentials are reused before the database is read again.
POSTBACK_CACHE_S = 30.0


class PostbackCredentials:
    """Each workspace's postback user and password, read from its engine account.

    A cache per process is safe here: a miss or a mismatch reads the database again (`fresh`), so new
    credentials work at once; an old password is accepted at most POSTBACK_CACHE_S after a reconnect.
    """

    def __init__(self, uow: Callable[[], PiccoloUnitOfWork], cipher: SecretBox, clock: Clock) -> None:
        self._uow = uow
        self._cipher = cipher
        self._clock = clock
        self._cached: dict[UUID, tuple[float, str, str]] = {}

    async def get(self, workspace_id: UUID, *, fresh: bool = False) -> tuple[str, str] | None:
        """The workspace's postback user and password, or None when it has no SCORM Cloud account."""
        now = time.monotonic()
        cached = self._cached.get(workspace_id)
        if cached is not None and not fresh and now - cached[0] < POSTBACK_CACHE_S:
            return cached[1], cached[2]
        async with self._uow() as uow:
            account = await uow.engine_accounts.get(workspace_id)
        if account is None:
            self._cached.pop(workspace_id, None)
            return None
        password = self._cipher.decrypt(account.postback_password_enc)
        self._cached[workspace_id] = (now, account.postback_user, password)
        return account.postback_user, password

    async def check(
        self, workspace_id: UUID, content_type: str, body: bytes, authorization: str | None
    ) -> bool | None:
        """Whether a postback carries the workspace's credentials; None when the workspace has no SCORM
        Cloud account (the endpoint answers 404, not 401)."""
        credentials = await self.get(workspace_id)
        if credentials is None:
            return None
        sent = read_credentials(content_type, body, authorization)
        if credentials_match(sent, *credentials):
            return True
        # Maybe the account was reconnected with new credentials since they were cached: look again.
        credentials = await self.get(workspace_id, fresh=True)
        return credentials is not None and credentials_match(sent, *credentials)

    async def record_test_postback(self, workspace_id: UUID) -> None:
        """SCORM Cloud reached us with the workspace's credentials (connect's check)."""
        async with self._uow() as uow:
            await uow.engine_accounts.mark_postback_checked(workspace_id, self._clock.now())
            await uow.commit()
