"""The learner portal: a one-time sign-in link by email (no account, no password), then "my courses".

The answer to "send me a link" never says whether the address is known: a link is only minted and
emailed for an address enrolled in the workspace, and every request gets the same page. Each address gets
at most LINKS_PER_ADDRESS_PER_HOUR emails, so a flood of requests cannot flood its inbox.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from scormhub.domain.mail import sign_in_message
from scormhub.domain.model_learners import LearnerLink, PortalCourse

if TYPE_CHECKING:
    from collections.abc import Callable

    from scormhub.domain.model import Branding
    from scormhub.domain.ports.learners import LearnerUnitOfWork
    from scormhub.domain.ports.system import Clock, RequestLimits

LINK_LIFETIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
LINKS_PER_ADDRESS_PER_HOUR = 5
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


class LinkProblem(enum.StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    OTHER_WORKSPACE = "other_workspace"

    @property
    def message(self) -> str:
        return {
            "unknown": "This sign-in link is not valid. Ask for a new one below.",
            "used": "This sign-in link was already used; each link works once. Ask for a new one below.",
            "expired": "This sign-in link has expired (links work for 15 minutes). Ask for a new one below.",
            "other_workspace": "This sign-in link belongs to another organisation's courses. Open the "
            "link from the email in full, or ask for a new one below.",
        }[self.value]


def normalise_email(raw: str) -> str | None:
    """The address as stored on enrollments (lower-cased), or None when it cannot be one."""
    email = raw.strip().lower()
    return email if _EMAIL.match(email) else None


def hash_token(token: str) -> str:
    # Only a digest is stored: a leaked table cannot be turned into sign-ins.
    return hashlib.sha256(token.encode()).hexdigest()


async def request_link(
    workspace_id: UUID,
    email: str,
    *,
    uow: Callable[[], LearnerUnitOfWork],
    limits: RequestLimits,
    clock: Clock,
    branding: Branding,
    link_url: Callable[[str], str],
    next_path: str | None = None,
) -> bool:
    """Email a sign-in link when `email` is enrolled here and within its budget; True when one was queued.

    Callers answer the same whatever this returns."""
    now = clock.now()
    if not await limits.allow(
        f"portal:link:{workspace_id}:{email}"[:200], limit=LINKS_PER_ADDRESS_PER_HOUR, window_s=3600, now=now
    ):
        return False
    token = secrets.token_urlsafe(32)
    token_hash = hash_token(token)
    async with uow() as tx:
        if not await tx.learners.has_enrollments(workspace_id, email):
            return False
        await tx.learners.add_link(
            LearnerLink(token_hash, workspace_id, email, now + LINK_LIFETIME, next_path=next_path), now
        )
        message = sign_in_message(
            branding, to=email, url=link_url(token), minutes=int(LINK_LIFETIME.total_seconds() // 60)
        )
        await tx.mail.queue(workspace_id, "sign_in_link", f"sign_in:{token_hash}", message, now)
        await tx.commit()
    return True


async def redeem_link(
    workspace_id: UUID, token: str, *, uow: Callable[[], LearnerUnitOfWork], clock: Clock
) -> tuple[str, LearnerLink] | LinkProblem:
    """Spend a link once: a new session token (for the cookie) and the link, or why it cannot be used."""
    if not TOKEN_SHAPE.match(token):
        return LinkProblem.UNKNOWN
    now = clock.now()
    async with uow() as tx:
        link = await tx.learners.link_for_update(hash_token(token))
        if link is None:
            return LinkProblem.UNKNOWN
        if link.workspace_id != workspace_id:
            return LinkProblem.OTHER_WORKSPACE
        if link.used_at is not None:
            return LinkProblem.USED
        if now >= link.expires_at:
            return LinkProblem.EXPIRED
        await tx.learners.mark_link_used(link.token_hash, now)
        session = secrets.token_urlsafe(32)
        await tx.learners.add_session(hash_token(session), workspace_id, link.email, now + SESSION_LIFETIME)
        await tx.commit()
    return session, link


async def signed_in_courses(
    workspace_id: UUID, session: str | None, *, uow: Callable[[], LearnerUnitOfWork], clock: Clock
) -> tuple[str, list[PortalCourse]] | None:
    """The signed-in learner's email and courses in one transaction (the portal's home page), or None."""
    if not session or not TOKEN_SHAPE.match(session):
        return None
    async with uow() as tx:
        found = await tx.learners.session(hash_token(session), clock.now())
        if found is None or found[0] != workspace_id:
            return None
        return found[1], await tx.learners.portal_courses(workspace_id, found[1])
