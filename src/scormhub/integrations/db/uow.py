"""The Piccolo unit of work: one transaction around the repositories of every aggregate (one module each)."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from scormhub.integrations.db.automation import PiccoloAutomationRepository
from scormhub.integrations.db.billing import PiccoloBillingRepository
from scormhub.integrations.db.bulk import PiccoloBulkRepository
from scormhub.integrations.db.certificates import PiccoloCertificateRepository
from scormhub.integrations.db.courses import PiccoloCourseRepository
from scormhub.integrations.db.crm_sync import (
    PiccoloOutboxRepository,
    PiccoloSyncRunRepository,
    PiccoloSyncStateRepository,
)
from scormhub.integrations.db.database import engine
from scormhub.integrations.db.engine_accounts import PiccoloEngineAccountRepository
from scormhub.integrations.db.enrollments import PiccoloEnrollmentRepository, PiccoloScoStateRepository
from scormhub.integrations.db.inbox import PiccoloInboxRepository
from scormhub.integrations.db.learners import PiccoloLearnerStore
from scormhub.integrations.db.listings import PiccoloListings
from scormhub.integrations.db.login_tokens import PiccoloLoginTokenRepository
from scormhub.integrations.db.mail import PiccoloMailOutbox
from scormhub.integrations.db.overrides import PiccoloResultOverrideRepository
from scormhub.integrations.db.questions import PiccoloQuestionAnswerRepository
from scormhub.integrations.db.sequencing import PiccoloSequencingStateRepository
from scormhub.integrations.db.versions import PiccoloCourseVersionRepository
from scormhub.integrations.db.workspaces import PiccoloWorkspaceRepository


class PiccoloUnitOfWork:
    """A Piccolo transaction: queries inside the block share it through Piccolo's contextvar."""

    def __init__(self) -> None:
        self.workspaces = PiccoloWorkspaceRepository()
        self.login_tokens = PiccoloLoginTokenRepository()
        self.courses = PiccoloCourseRepository()
        self.enrollments = PiccoloEnrollmentRepository()
        self.sco_states = PiccoloScoStateRepository()
        self.outbox = PiccoloOutboxRepository()
        self.sync_states = PiccoloSyncStateRepository()
        self.sync_runs = PiccoloSyncRunRepository()
        self.engine_accounts = PiccoloEngineAccountRepository()
        self.inbox = PiccoloInboxRepository()
        self.certificates = PiccoloCertificateRepository()
        self.sequencing_states = PiccoloSequencingStateRepository()
        self.automation = PiccoloAutomationRepository()
        self.bulk = PiccoloBulkRepository()
        self.billing = PiccoloBillingRepository()
        self.listings = PiccoloListings()  # the long lists' searched, sorted, paged read side
        self.result_overrides = PiccoloResultOverrideRepository()
        self.question_answers = PiccoloQuestionAnswerRepository()
        self.course_versions = PiccoloCourseVersionRepository()
        self.mail = PiccoloMailOutbox()  # issue 23: the mail outbox
        self.learners = PiccoloLearnerStore()  # issue 23: portal, due dates, reminders, recertification
        self._transaction: Any = None
        self._committed = False

    async def __aenter__(self) -> Self:
        # allow_nested=False: a use case owns its transaction; nesting would hide a commit.
        self._transaction = engine().transaction(allow_nested=False)
        await self._transaction.__aenter__()
        self._committed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        transaction, self._transaction = self._transaction, None
        if not self._committed and exc is None and not transaction._rolled_back:
            # Nothing is kept unless the use case said commit.
            await transaction.rollback()
        await transaction.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        await self._transaction.commit()
        self._committed = True

    async def rollback(self) -> None:
        await self._transaction.rollback()
