"""Launches, sessions and attempts on one SCO: start a session, merge a commit, build the resume data."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import NamedTuple, TypeAlias

from scormhub.domain.scorm.cmi import (
    MAX_TRACKED_SESSIONS,
    CmiNode,
    CmiTree,
    Completion,
    Entry,
    Success,
    format_cmi_timespan,
    format_iso_duration,
)
from scormhub.domain.scorm.commits import CommitResult, RejectedValue
from scormhub.domain.scorm.datamodel import (
    ARRAYS,
    LESSON_STATUS,
    PATHS,
    Paths,
    decimal_text,
)
from scormhub.domain.scorm.package import Standard
from scormhub.domain.scorm.state import ScoState, SessionTrack
from scormhub.domain.scorm.status import (
    map_status,
    mastered_lesson_status,
    merge_status,
    number_at,
    percent_score,
    status_at_finish,
    word_at,
)


class SessionStart(NamedTuple):
    state: ScoState
    entry: Entry
    new_attempt: bool


@dataclass(frozen=True)
class Applied:
    """The commit was merged; rejected values were left out and the rest kept."""

    state: ScoState
    rejected: tuple[RejectedValue, ...] = ()


@dataclass(frozen=True)
class AttemptFinished:
    """The commit belongs to an attempt that is over; nothing was stored (answer "attempt finished")."""

    state: ScoState
    session_id: str


@dataclass(frozen=True)
class SessionEnded:
    """The session already terminated and its attempt is suspended; a late or replayed commit is dropped."""

    state: ScoState
    session_id: str


CommitOutcome: TypeAlias = Applied | AttemptFinished | SessionEnded


def _check_standard(state: ScoState, standard: Standard) -> None:
    if state.standard != standard:
        raise ValueError(f"state is {state.standard}, commit is {standard}")


def _total_seconds(state: ScoState) -> float:
    current = (track.seconds for track in state.sessions.values() if track.attempt == state.attempt)
    return state.carried_seconds + math.fsum(current)


def _next_attempt(state: ScoState) -> ScoState:
    if state.standard == "scorm12":
        # 1.2 has no learner attempts in the data model: the data carries over and the time keeps adding up.
        return replace(
            state,
            attempt=state.attempt + 1,
            attempt_closed=False,
            exit="",
            carried_seconds=state.session_seconds_total,
        )
    # SCORM 2004 begins every new learner attempt with a fresh data model, total_time included.
    return ScoState(
        standard=state.standard,
        attempt=state.attempt + 1,
        sessions=state.sessions,
        first_access_at=state.first_access_at,
        last_access_at=state.last_access_at,
    )


def _believable_seconds(
    state: ScoState, session_id: str, track: SessionTrack, claimed: float, now: datetime | None
) -> float:
    """The session_time a SCO reports is the learner's word: cap it by the time the launch has been open,
    and the SCO's whole time by the time since it was first opened (many launches at once add no more)."""
    if now is None:
        return claimed
    bound = claimed
    if track.opened_at is not None:
        bound = min(bound, (now - track.opened_at).total_seconds())
    if state.first_access_at is not None:
        known = state.sessions.get(session_id)
        own = known.seconds if known is not None and known.attempt == state.attempt else 0.0
        others = _total_seconds(state) - own
        bound = min(bound, (now - state.first_access_at).total_seconds() - others)
    return max(0.0, bound)


def _with_session(state: ScoState, session_id: str, track: SessionTrack) -> ScoState:
    sessions = {**state.sessions, session_id: track}
    carried = state.carried_seconds
    while len(sessions) > MAX_TRACKED_SESSIONS:
        others = [sid for sid in sessions if sid != session_id]
        victim = next((sid for sid in others if sessions[sid].ended), others[0])
        dropped = sessions.pop(victim)
        if dropped.attempt == state.attempt:
            carried += dropped.seconds
    merged = replace(state, sessions=sessions, carried_seconds=carried)
    return replace(merged, session_seconds_total=_total_seconds(merged))


def start_session(
    previous: ScoState | None,
    *,
    standard: Standard,
    session_id: str | None = None,
    now: datetime | None = None,
) -> SessionStart:
    """Decides cmi.entry for a launch and whether it begins a new attempt; binds the session to it.

    Give every launch a new session_id: a known id keeps the attempt it was first seen in."""
    state = previous if previous is not None else ScoState(standard=standard)
    _check_standard(state, standard)
    if state.attempt == 0:
        entry, new_attempt = Entry.AB_INITIO, True
        state = replace(state, attempt=1)
    elif state.attempt_closed:
        # 2004 defines ab-initio as the first access in a learner attempt; 1.2 only for the very first.
        entry = Entry.AB_INITIO if standard == "scorm2004" else Entry.NONE
        new_attempt = True
        state = _next_attempt(state)
    else:
        # An attempt left without a terminate (a closed tab) stays open: losing progress is the worse error.
        entry = Entry.RESUME if state.exit == "suspend" else Entry.NONE
        new_attempt = False
    if session_id is not None and session_id not in state.sessions:
        state = _with_session(state, session_id, SessionTrack(attempt=state.attempt, opened_at=now))
    state = replace(
        state,
        entry=entry,
        session_seconds_total=_total_seconds(state),
        first_access_at=state.first_access_at or now,
        last_access_at=now or state.last_access_at,
    )
    return SessionStart(state, entry, new_attempt)


def _ignored(state: ScoState, session_id: str) -> AttemptFinished | SessionEnded | None:
    track = state.sessions.get(session_id)
    if track is None:
        return None
    if track.attempt != state.attempt:
        return AttemptFinished(state, session_id)
    if track.ended:
        return AttemptFinished(state, session_id) if state.attempt_closed else SessionEnded(state, session_id)
    return None


def _flatten(tree: Mapping[str, CmiNode], prefix: str = "cmi") -> dict[str, CmiNode]:
    flat: dict[str, CmiNode] = {}
    for key, node in tree.items():
        path = f"{prefix}.{key}"
        if isinstance(node, dict) and path not in ARRAYS:
            flat.update(_flatten(node, path))
        else:
            flat[path] = copy.deepcopy(node)
    return flat


def _unflatten(flat: Mapping[str, CmiNode]) -> CmiTree:
    tree: CmiTree = {}
    for path, node in flat.items():
        *parents, leaf = path.split(".")[1:]
        branch = tree
        for name in parents:
            child = branch.setdefault(name, {})
            if not isinstance(child, dict):
                child = branch[name] = {}
            branch = child
        branch[leaf] = node
    return tree


def _deep_merge(old: CmiNode | None, new: CmiTree) -> CmiTree:
    merged: CmiTree = copy.deepcopy(old) if isinstance(old, dict) else {}
    for key, node in new.items():
        merged[key] = _deep_merge(merged.get(key), node) if isinstance(node, dict) else node
    return merged


def _merged_values(
    state: ScoState, commit: CommitResult, paths: Paths, mastery: float | None
) -> dict[str, CmiNode]:
    values = _flatten(state.cmi)
    incoming = {p: v for p, v in commit.accepted.items() if p not in paths.transient}
    for path, value in incoming.items():
        if isinstance(value, dict):
            values[path] = _deep_merge(values.get(path), value)
        elif isinstance(value, float):
            values[path] = decimal_text(value)
        elif path not in paths.status:
            values[path] = value
    for path in paths.status:
        new = incoming.get(path)
        if isinstance(new, str):
            if path == LESSON_STATUS:
                new = mastered_lesson_status(new, number_at(values, paths.raw), mastery) or new
            old = values.get(path)
            values[path] = merge_status(path, old if isinstance(old, str) else None, new)
    return values


def apply_commit(
    previous: ScoState | None,
    commit: CommitResult,
    *,
    standard: Standard,
    session_id: str,
    is_final: bool,
    mastery_score: float | None,
    now: datetime | None = None,
) -> CommitOutcome:
    """Merges one validated commit into the SCO's state, counting each session's time once."""
    state = previous if previous is not None else ScoState(standard=standard)
    _check_standard(state, standard)
    if (ignored := _ignored(state, session_id)) is not None:
        return ignored
    if state.attempt == 0:  # a commit without a launch we saw: treat it as the first launch
        state = start_session(state, standard=standard).state
    paths = PATHS[standard]
    values = _merged_values(state, commit, paths, mastery_score)
    if is_final and standard == "scorm12" and values.get(LESSON_STATUS) in (None, "not attempted"):
        # The SCO finished without a status: the LMS decides it (1.2 RTE), as scorm-again does client-side.
        values[LESSON_STATUS] = status_at_finish(number_at(values, paths.raw), mastery_score)
    completion, success = map_status(standard, values, mastery_score=mastery_score)
    if standard == "scorm12" and completion is Completion.COMPLETED and success is not Success.UNKNOWN:
        values[LESSON_STATUS] = success.value  # the LMS's mastery decision is what the SCO reads back
    # A session id we never handed out is first seen now, so a forged one has been open for no time.
    track = state.sessions.get(session_id) or SessionTrack(attempt=state.attempt, opened_at=now)
    session_time = commit.accepted.get(paths.session_time)
    if isinstance(session_time, float):
        # The largest value, not the last to arrive: autocommits can land out of order.
        believable = _believable_seconds(state, session_id, track, session_time, now)
        track = replace(track, seconds=max(track.seconds, believable))
    if is_final and standard == "scorm12" and track.seconds == 0 and track.opened_at and now:
        # A SCO that never reports session_time (the 1.2 minimum-calls kind) would add nothing to the
        # course's time: count the time its launch was open instead, bounded like any reported time.
        opened = (now - track.opened_at).total_seconds()
        track = replace(track, seconds=_believable_seconds(state, session_id, track, opened, now))
    exit_value = commit.accepted.get(paths.exit)
    exit_text = exit_value if isinstance(exit_value, str) else state.exit
    if is_final:
        track = replace(track, ended=True)
    if session_id in state.sessions:
        # Ids we never handed out are not tracked: made up by the hundred, they would push out real ones.
        state = _with_session(state, session_id, track)
    raw, mn, mx, scaled = (number_at(values, p) for p in (paths.raw, paths.min, paths.max, paths.scaled))
    state = replace(
        state,
        cmi=_unflatten(values),
        completion=completion,
        success=success,
        score_raw=raw,
        score_min=mn,
        score_max=mx,
        score_scaled=scaled,
        score_percent=percent_score(scaled, raw, mn, mx, standard),
        progress_measure=number_at(values, paths.progress),
        location=word_at(values, paths.location) or "",
        suspend_data=word_at(values, paths.suspend_data) or "",
        exit=exit_text,
        attempt_closed=(exit_text != "suspend") if is_final else state.attempt_closed,
        first_access_at=state.first_access_at or now,
        last_access_at=now or state.last_access_at,
        completed_at=state.completed_at or (now if completion is Completion.COMPLETED else None),
    )
    return Applied(state, tuple(commit.rejected))


def resume_cmi(state: ScoState) -> CmiTree:
    """The tree to hand scorm-again's loadFromJSON before Initialize: stored values plus entry and total."""
    paths = PATHS[state.standard]
    flat = _flatten(state.cmi)
    flat[paths.entry] = state.entry.value
    total = state.session_seconds_total
    flat[paths.total_time] = (
        format_cmi_timespan(total) if state.standard == "scorm12" else format_iso_duration(total)
    )
    return _unflatten(flat)
