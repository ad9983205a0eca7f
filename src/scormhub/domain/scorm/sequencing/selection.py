"""Selection and randomization of children (SN book SR.1, SR.2), once per new attempt as defined."""

from __future__ import annotations

import random

from scormhub.domain.scorm.sequencing.definitions import ActivityDefinition
from scormhub.domain.scorm.sequencing.tracking import Tracking


def select_and_randomize(tracking: Tracking, activity: ActivityDefinition, rng: random.Random) -> None:
    """SR.1/SR.2: select and reorder the children once per new attempt, as the definition says."""
    sequencing = activity.sequencing
    if sequencing.selection_timing == "never" and sequencing.randomization_timing == "never":
        return
    state = tracking.of(activity)
    attempt = state.attempt_count + (0 if state.active or state.suspended else 1)
    if state.shuffled_for_attempt == attempt:
        return
    first = state.shuffled_for_attempt < 0
    children = [c.identifier for c in activity.children]
    if state.children is not None:
        children = list(state.children)
    select = sequencing.selection_timing == "onEachNewAttempt" or (
        sequencing.selection_timing == "once" and first
    )
    if (
        select
        and sequencing.select_count is not None
        and 0 < sequencing.select_count < len(activity.children)
    ):
        everyone = [c.identifier for c in activity.children]
        picked = set(rng.sample(everyone, sequencing.select_count))
        children = [i for i in everyone if i in picked]
    reorder = sequencing.reorder_children and (
        sequencing.randomization_timing == "onEachNewAttempt"
        or (sequencing.randomization_timing == "once" and first)
    )
    if reorder:
        rng.shuffle(children)
    state.children, state.shuffled_for_attempt = children, attempt
