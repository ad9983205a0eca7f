"""A commit of a SCORM 2004 SCO, applied to the learner's activity tree in the commit's transaction."""

from __future__ import annotations

from uuid import UUID

from scormhub.domain.errors import DomainError
from scormhub.domain.ports import UnitOfWork
from scormhub.domain.scorm.sequencing.course import remember_result, report_from
from scormhub.domain.scorm.sequencing.definitions import ActivityTreeDefinition
from scormhub.domain.scorm.sequencing.process import Sequencer
from scormhub.domain.scorm.sequencing.runtime import apply_report
from scormhub.domain.scorm.sequencing.state import TreeState
from scormhub.domain.scorm.state import ScoState


class SequencingConflict(DomainError):
    """Another tab saved the activity tree in between; the stored state is kept as it is."""


async def load_tree_state(uow: UnitOfWork, enrollment_id: UUID) -> tuple[TreeState, int]:
    stored = await uow.sequencing_states.get_for_update(enrollment_id)
    return stored if stored is not None else (TreeState(), 0)


async def save_tree_state(uow: UnitOfWork, enrollment_id: UUID, sequencer: Sequencer, version: int) -> None:
    remember_result(sequencer)
    if not await uow.sequencing_states.save(enrollment_id, sequencer.state, version):
        raise SequencingConflict("The course was changed in another window. Reload this page to continue.")


async def apply_sco_commit(
    uow: UnitOfWork,
    enrollment_id: UUID,
    tree: ActivityTreeDefinition,
    sco_id: str,
    sco_state: ScoState,
    *,
    is_final: bool,
) -> None:
    """Map what the SCO reported onto its activity and roll up the tree (SN 4.2, RB.1.5)."""
    state, version = await load_tree_state(uow, enrollment_id)
    sequencer = Sequencer(tree, state)
    if apply_report(sequencer, sco_id, report_from(sco_state), final=is_final):
        await save_tree_state(uow, enrollment_id, sequencer, version)
