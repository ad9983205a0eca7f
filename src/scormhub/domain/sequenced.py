"""The built-in player on a sequenced (SCORM 2004) course: which activity to open, the navigation
requests of the player and of the content, and what the contents, buttons and progress show.

The sequencing state lives on the server, one row per enrollment, read under a row lock and saved with
a version check, so two tabs never interleave: each request sees the last valid state."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scormhub.domain.enrollments import find_launch, roll_up_enrollment
from scormhub.domain.errors import DomainError
from scormhub.domain.scorm.sequencing.definitions import ActivityTreeDefinition
from scormhub.domain.scorm.sequencing.process import NAVIGATION_KINDS, Sequencer
from scormhub.domain.scorm.sequencing.runtime import (
    TocEntry,
    flow_valid,
    looking,
    root_result,
    table_of_contents,
)
from scormhub.domain.sequencing_commits import load_tree_state, save_tree_state

if TYPE_CHECKING:
    from scormhub.domain.model import Course, Enrollment
    from scormhub.domain.ports import Clock, UnitOfWork
    from scormhub.domain.ports.sequencing import ActivityTrees

_TARGETED = re.compile(r"^\{target=([^{}]+)\}(choice|jump)$")


@dataclass(frozen=True)
class NavigationView:
    """What the player chrome shows after a request: contents, valid buttons, progress."""

    toc: tuple[TocEntry, ...]
    current: str | None
    continue_valid: bool
    previous_valid: bool
    choice: Mapping[str, bool]
    progress: float | None
    hide: frozenset[str] = field(default_factory=frozenset)  # adlnav:presentation of the current item

    def to_json(self) -> dict[str, object]:
        return {
            "current": self.current,
            "continue": self.continue_valid and "continue" not in self.hide,
            "previous": self.previous_valid and "previous" not in self.hide,
            "choice": dict(self.choice),
            "progress": self.progress,
            "hide": sorted(self.hide),
            "toc": [
                {
                    "id": e.identifier,
                    "title": e.title,
                    "depth": e.depth,
                    "leaf": e.leaf,
                    "status": e.status,
                    "current": e.current,
                    "hidden": e.hidden,
                    "enabled": e.enabled,
                }
                for e in self.toc
            ],
        }


@dataclass(frozen=True)
class Navigated:
    valid: bool
    deliver: str | None
    ended: bool
    message: str | None
    view: NavigationView
    changed: Enrollment | None = None  # the enrollment, when its status, result or score changed


def parse_request(value: str, target: str | None = None) -> tuple[str, str | None] | None:
    """`adl.nav.request` values ("continue", "{target=X}choice", …) or a request and target; None if
    it is not a navigation request (the answer names what is accepted)."""
    value = (value or "").strip()
    matched = _TARGETED.match(value)
    if matched:
        return matched.group(2), matched.group(1)
    if value in NAVIGATION_KINDS:
        return value, (target or None) if value in {"choice", "jump"} else None
    return None


def view_of(sequencer: Sequencer) -> NavigationView:
    toc = tuple(table_of_contents(sequencer))
    current = sequencer.current()
    probe = looking(sequencer)
    return NavigationView(
        toc=toc,
        current=current.identifier if current is not None else None,
        continue_valid=flow_valid(probe, "continue"),
        previous_valid=flow_valid(probe, "previous"),
        choice={e.identifier: e.enabled for e in toc},
        progress=root_result(sequencer).progress,
        hide=current.hide_lms_ui if current is not None else frozenset(),
    )


class NotSequenced(DomainError):
    """The course plays its SCOs from a plain list: there are no navigation requests to process."""


async def _tree(course: Course, trees: ActivityTrees) -> ActivityTreeDefinition:
    tree = await trees.for_course(course)
    if tree is None:
        raise NotSequenced(
            "This course has no SCORM 2004 sequencing: open its lessons from the list in the player."
        )
    return tree


async def open_course(
    launch_token: str,
    *,
    uow: UnitOfWork,
    clock: Clock,
    trees: ActivityTrees,
    rng: random.Random | None = None,
) -> tuple[str | None, NavigationView] | None:
    """The activity to open when the player page loads: the one under way (a closed tab reopens where
    it was), else the suspended one (resume all), else a new start. None: the course isn't sequenced."""
    enrollment, course = await find_launch(launch_token, uow=uow)
    tree = await trees.for_course(course)
    if tree is None:
        return None
    async with uow:
        state, version = await load_tree_state(uow, enrollment.id)
        sequencer = Sequencer(tree, state, rng=rng)
        current = sequencer.current()
        if current is not None and current.is_leaf:
            activity = sequencer.of(current)
            if activity.active:
                return current.identifier, view_of(sequencer)  # the tab closed mid-way: reopen it
            if activity.suspended:
                # The SCO suspended itself (cmi.exit) as the tab closed: resume it where it was.
                sequencer.reenter(current)
                await save_tree_state(uow, enrollment.id, sequencer, version)
                await uow.commit()
                return current.identifier, view_of(sequencer)
            # The SCO ended without a request: the learner picks what is next (SN: the LMS waits).
            return None, view_of(sequencer)
        kind = "resumeAll" if state.suspended is not None else "start"
        outcome = sequencer.navigate(kind)
        if outcome.valid:
            await save_tree_state(uow, enrollment.id, sequencer, version)
            await roll_up_enrollment(uow, enrollment, course, clock.now())
            await uow.commit()
        return outcome.deliver, view_of(sequencer)


async def navigate(
    launch_token: str,
    kind: str,
    target: str | None,
    *,
    uow: UnitOfWork,
    clock: Clock,
    trees: ActivityTrees,
    rng: random.Random | None = None,
) -> Navigated:
    """Process one navigation request on the learner's activity tree (SN OP.1) and save the result."""
    enrollment, course = await find_launch(launch_token, uow=uow)
    tree = await _tree(course, trees)
    async with uow:
        state, version = await load_tree_state(uow, enrollment.id)
        sequencer = Sequencer(tree, state, rng=rng)
        outcome = sequencer.navigate(kind, target)
        changed = None
        if outcome.valid:
            await save_tree_state(uow, enrollment.id, sequencer, version)
            updated = await roll_up_enrollment(uow, enrollment, course, clock.now())
            await uow.commit()
            visible = (updated.completion, updated.success, updated.score_percent)
            if visible != (enrollment.completion, enrollment.success, enrollment.score_percent):
                changed = updated
        return Navigated(
            changed=changed,
            valid=outcome.valid,
            deliver=outcome.deliver,
            ended=outcome.ended,
            message=outcome.message,
            view=view_of(sequencer),
        )


async def current_view(launch_token: str, *, uow: UnitOfWork, trees: ActivityTrees) -> NavigationView:
    enrollment, course = await find_launch(launch_token, uow=uow)
    tree = await _tree(course, trees)
    async with uow:
        state, _ = await load_tree_state(uow, enrollment.id)
    return view_of(Sequencer(tree, state))


__all__ = ["Navigated", "NavigationView", "current_view", "navigate", "open_course", "parse_request"]
