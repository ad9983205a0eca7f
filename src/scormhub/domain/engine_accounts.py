"""Connecting a workspace's own SCORM Cloud account (and disconnecting it)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.contacts import InvalidInput
from scormhub.domain.errors import DomainError, InvalidCredentials, NotFound, ServiceUnavailable
from scormhub.domain.model import EngineAccount, EngineKind, PostbackTarget
from scormhub.domain.ports import EngineConnection

if TYPE_CHECKING:
    from scormhub.domain.ports import Clock, SecretCipher, UnitOfWork


@dataclass(frozen=True)
class ConnectResult:
    account: EngineAccount
    notes: tuple[str, ...]
    # None when SCORM Cloud's test postback reached SCORM Hub and was recognised; else what to check.
    postback_problem: str | None = None


# Marks the test postback's URL: the endpoint records that it arrived instead of storing dummy data as a
# learner's result. It is the real postback URL otherwise, so the test proves that one is reachable.
TEST_POSTBACK_QUERY = "check=test-postback"


def _trimmed(raw: str, field: str, label: str, notes: list[str]) -> str:
    value = raw.strip()
    if not value:
        raise InvalidInput(field, f"Enter the {label} from your SCORM Cloud account (Apps → your app).")
    if value != raw:
        notes.append(f"The {label} had spaces before or after it; SCORM Hub removed them.")
    if any(ch.isspace() for ch in value):
        raise InvalidInput(field, f"The {label} contains spaces. Copy it again from SCORM Cloud.")
    return value


async def connect_scorm_cloud(
    workspace_id: UUID,
    *,
    app_id: str,
    secret_key: str,
    uow: UnitOfWork,
    connect: Callable[[str, str], EngineConnection],
    cipher: SecretCipher,
    postback_url: str,
    clock: Clock,
) -> ConnectResult:
    """Verify the credentials with SCORM Cloud, point its postbacks at us, save them, then ask SCORM Cloud
    for a test postback and report whether it arrived.

    Nothing is saved when verifying or configuring fails, so a failed Connect leaves the previous state as
    it was. The credentials are saved before the test postback is asked for: only then can the postback
    endpoint recognise it. A test postback that does not arrive does not undo the connection (results are
    also fetched by the reconciler); `postback_problem` says what to check.
    """
    notes: list[str] = []
    app = _trimmed(app_id, "app_id", "App ID", notes)
    secret = _trimmed(secret_key, "secret_key", "Secret Key", notes)
    connection = connect(app, secret)
    await connection.ping()  # InvalidCredentials / EngineUnavailable say what is wrong
    target = PostbackTarget(
        url=postback_url, username=f"scormhub-{secrets.token_hex(6)}", password=secrets.token_urlsafe(32)
    )
    await connection.configure_postback(target)
    account = EngineAccount(
        workspace_id=workspace_id,
        app_id=app,
        secret_key_enc=cipher.encrypt(secret),
        postback_user=target.username,
        postback_password_enc=cipher.encrypt(target.password),
        connected_at=clock.now(),
    )
    async with uow:
        workspace = await uow.workspaces.lock(workspace_id)
        if workspace is None:
            raise NotFound("workspace")
        await uow.engine_accounts.save(account)
        await uow.workspaces.save(replace(workspace, engine=EngineKind.SCORM_CLOUD))
        await uow.commit()
    account, problem = await _test_postback(connection, target, account, uow=uow)
    return ConnectResult(account=account, notes=tuple(notes), postback_problem=problem)


async def _test_postback(
    connection: EngineConnection, target: PostbackTarget, account: EngineAccount, *, uow: UnitOfWork
) -> tuple[EngineAccount, str | None]:
    """SCORM Cloud sends its test postback while we wait for its answer (it bypasses its queue); the
    endpoint records its arrival on the account, which is read back here."""
    reason = ""
    try:
        await connection.send_test_postback(replace(target, url=f"{target.url}?{TEST_POSTBACK_QUERY}"))
    except DomainError as exc:  # the account works; only this check could not be made
        reason = f" ({exc})"
    async with uow:
        account = await uow.engine_accounts.get(account.workspace_id) or account
    if account.postback_checked_at is not None:
        return account, None
    return account, (
        f"SCORM Cloud's test postback did not reach SCORM Hub at {target.url}{reason}. Learners' results "
        "are still collected by the periodic check, but late. Make sure that address is reachable from "
        "the internet over HTTPS without a redirect (set SCORMHUB_PUBLIC_URL to SCORM Hub's public "
        "address), then connect again."
    )


async def disconnect_scorm_cloud(
    workspace_id: UUID,
    *,
    uow: UnitOfWork,
    connect: Callable[[str, str], EngineConnection],
    cipher: SecretCipher,
) -> None:
    """Stop postbacks (best effort: the account may already be gone) and forget the credentials.

    Courses already in SCORM Cloud keep their engine in our records; new courses use the built-in player.
    """
    async with uow:
        account = await uow.engine_accounts.get(workspace_id)
    if account is not None:
        # Revoked credentials or an unreachable SCORM Cloud must not keep an admin from disconnecting.
        with contextlib.suppress(ServiceUnavailable, NotFound, InvalidCredentials):
            await connect(account.app_id, cipher.decrypt(account.secret_key_enc)).remove_postback()
    async with uow:
        workspace = await uow.workspaces.lock(workspace_id)
        if workspace is None:
            raise NotFound("workspace")
        await uow.engine_accounts.delete(workspace_id)
        await uow.workspaces.save(replace(workspace, engine=EngineKind.BUILTIN))
        await uow.commit()
