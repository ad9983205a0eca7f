"""The activity tree state on the server: versioned saves keep the last valid state (two tabs)."""

from __future__ import annotations

from uuid import uuid4

import pytest
from fakes.uow import FakeStore, FakeUnitOfWork

from scormhub.domain.scorm.sequencing.definitions import (
    ActivityDefinition,
    ActivityTreeDefinition,
    SequencingDefinition,
)
from scormhub.domain.scorm.sequencing.process import Sequencer
from scormhub.domain.scorm.sequencing.state import TreeState
from scormhub.domain.sequenced import parse_request
from scormhub.domain.sequencing_commits import SequencingConflict, load_tree_state, save_tree_state


def tree() -> ActivityTreeDefinition:
    root = ActivityDefinition(
        "course",
        "Course",
        sequencing=SequencingDefinition(flow=True),
        children=[ActivityDefinition("a", "A", resource="r")],
    )
    return ActivityTreeDefinition.build(root)


async def test_a_save_from_a_stale_tab_is_refused_and_the_stored_state_kept() -> None:
    store = FakeStore()
    enrollment = uuid4()
    async with FakeUnitOfWork(store) as first_tab:
        state, version = await load_tree_state(first_tab, enrollment)
        started = Sequencer(tree(), state)
        started.navigate("start")
        await save_tree_state(first_tab, enrollment, started, version)
        await first_tab.commit()

    async with FakeUnitOfWork(store) as stale_tab:
        stale = Sequencer(tree(), TreeState())  # it read before the first tab saved
        stale.navigate("start")
        with pytest.raises(SequencingConflict, match="another window"):
            await save_tree_state(stale_tab, enrollment, stale, 0)

    async with FakeUnitOfWork(store) as reader:
        stored, stored_version = await load_tree_state(reader, enrollment)
    assert stored_version == 1
    assert stored.current == "a"
    assert stored.result is not None  # the root's rollup travels with the state for the course record


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("continue", ("continue", None)),
        ("{target=intro_2}choice", ("choice", "intro_2")),
        ("{target=x}jump", ("jump", "x")),
        ("suspendAll", ("suspendAll", None)),
        ("_none_", None),
        ("{target=}choice", None),
        ("Continue", None),
    ],
)
def test_adl_nav_request_values(value: str, expected: tuple[str, str | None] | None) -> None:
    assert parse_request(value) == expected
