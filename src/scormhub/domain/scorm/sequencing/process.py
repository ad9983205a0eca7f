"""The overall sequencing process (SN book OP.1): navigation request, termination, sequencing request and
delivery request processes, over one learner's tracking state.

`Sequencer.navigate` works on a copy of the state and keeps it only when the request was valid, so a
refused request (a choice of a disabled activity, a target that doesn't exist) leaves the state as the
last valid one. With `probe=True` the processes only look (used for `adl.nav.request_valid`)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from scormhub.domain.scorm.sequencing.definitions import ActivityDefinition, ActivityTreeDefinition
from scormhub.domain.scorm.sequencing.selection import select_and_randomize
from scormhub.domain.scorm.sequencing.state import ObjectiveState, TreeState
from scormhub.domain.scorm.sequencing.tracking import Tracking

NavigationKind = Literal[
    "start",
    "resumeAll",
    "continue",
    "previous",
    "choice",
    "jump",
    "exit",
    "exitAll",
    "suspendAll",
    "abandon",
    "abandonAll",
]
NAVIGATION_KINDS: frozenset[str] = frozenset(NavigationKind.__args__)  # type: ignore[attr-defined]
Direction = Literal["forward", "backward"]


class SequencingRefused(Exception):
    """A request the SN book's processes refuse; `code` is the book's exception code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Outcome:
    valid: bool
    deliver: str | None = None  # the activity (leaf) to launch now
    ended: bool = False  # the sequencing session ended: the player shows the exit page
    code: str | None = None
    message: str | None = None


_Result = tuple[Literal["deliver", "end", "none"], ActivityDefinition | None]


class Sequencer(Tracking):
    def __init__(
        self,
        tree: ActivityTreeDefinition,
        state: TreeState,
        *,
        rng: random.Random | None = None,
        probe: bool = False,
    ) -> None:
        super().__init__(tree, state)
        self.rng = rng or random.Random()  # noqa: S311 - shuffling lessons, not secrets
        self.probe = probe

    # --- OP.1 -------------------------------------------------------------------------------------

    def navigate(self, kind: str, target: str | None = None) -> Outcome:
        """Process one navigation request; on success the new state replaces `self.state`."""
        work = Sequencer(self.tree, self.state.clone(), rng=self.rng)
        try:
            outcome = work._overall(kind, target)
        except SequencingRefused as refused:
            return Outcome(valid=False, code=refused.code, message=str(refused))
        self.state = work.state
        return outcome

    def _overall(self, kind: str, target: str | None) -> Outcome:
        termination, request, request_target = self._navigation_request(kind, target)
        if termination is not None:
            replacement = self._termination(termination)
            if replacement is not None:
                request, request_target = replacement, None
        if request is None:
            return Outcome(valid=True)
        result, activity = self._sequencing_request(request, request_target)
        if result == "end":
            self._end_session()
            return Outcome(valid=True, ended=True)
        if result == "deliver" and activity is not None:
            self._delivery_request(activity)
            self._content_delivery(activity)
            return Outcome(valid=True, deliver=activity.identifier)
        return Outcome(valid=True)

    def reenter(self, activity: ActivityDefinition) -> None:
        """Deliver the current, suspended leaf again (a relaunch after the tab closed on it)."""
        self._content_delivery(activity)

    def _end_session(self) -> None:
        for activity in self.tree.preorder:
            state = self.state.activities.get(activity.identifier)
            if state is not None and state.active:
                self.end_attempt(activity)
        self.state.current = None
        self.state.ended = True

    # --- helpers ----------------------------------------------------------------------------------

    def current(self) -> ActivityDefinition | None:
        return self.tree.by_id.get(self.state.current) if self.state.current else None

    def target(self, identifier: str | None) -> ActivityDefinition:
        found = self.tree.by_id.get(identifier or "")
        if found is None:
            raise SequencingRefused(
                "NB.2.1-11", f"There is no activity '{identifier}' in this course to go to."
            )
        return found

    @staticmethod
    def path_to_root(activity: ActivityDefinition) -> list[ActivityDefinition]:
        return activity.path  # built with the tree; callers only read it

    def common_ancestor(self, a: ActivityDefinition, b: ActivityDefinition) -> ActivityDefinition:
        if a.depth > b.depth:
            a, b = b, a
        a_path, b_path = a.path, b.path
        offset = len(b_path) - len(a_path)
        for index, node in enumerate(a_path):
            if b_path[index + offset] is node:
                return node
        return self.tree.root

    # --- NB.2.1 -----------------------------------------------------------------------------------

    def _navigation_request(self, kind: str, target: str | None) -> tuple[str | None, str | None, str | None]:
        current = self.current()
        active = current is not None and self.of(current).active
        if kind == "start":
            if current is not None:
                raise SequencingRefused("NB.2.1-1", "The course has already started.")
            return None, "start", None
        if kind == "resumeAll":
            if current is not None:
                raise SequencingRefused("NB.2.1-1", "The course has already started.")
            if self.state.suspended is None:
                raise SequencingRefused("NB.2.1-3", "There is no suspended attempt to resume.")
            return None, "resumeAll", None
        if kind in {"continue", "previous"}:
            if current is None:
                raise SequencingRefused("NB.2.1-2", "The course hasn't started yet.")
            parent = current.parent
            if parent is None or not parent.sequencing.flow:
                raise SequencingRefused(
                    "NB.2.1-4", "This part of the course can't be moved through in order."
                )
            if kind == "previous" and parent.sequencing.forward_only:
                raise SequencingRefused("NB.2.1-5", "This part of the course only goes forward.")
            return ("exit" if active else None), kind, None
        if kind in {"choice", "jump"}:
            chosen = self.target(target)
            if kind == "choice":
                if chosen.parent is not None and not chosen.parent.sequencing.choice:
                    raise SequencingRefused(
                        "NB.2.1-10", f"'{chosen.title}' can't be chosen from the contents here."
                    )
                if current is not None:
                    ancestor = self.common_ancestor(current, chosen)
                    for node in self.path_to_root(current):
                        if node is ancestor:
                            break
                        if self.of(node).active and not node.sequencing.choice_exit:
                            raise SequencingRefused(
                                "NB.2.1-8",
                                f"'{node.title}' must be finished before choosing another activity.",
                            )
            return ("exit" if active else None), kind, chosen.identifier
        if kind in {"exit", "abandon"}:
            if current is None or not active:
                raise SequencingRefused("NB.2.1-12", "There is no activity running to leave.")
            return kind, "exit", None
        if kind in {"exitAll", "abandonAll", "suspendAll"}:
            if current is None:
                raise SequencingRefused("NB.2.1-2", "The course hasn't started yet.")
            return kind, "exit", None
        raise SequencingRefused("NB.2.1-13", f"'{kind}' is not a navigation request.")

    # --- TB.2.3 -----------------------------------------------------------------------------------

    def _termination(self, request: str) -> str | None:
        current = self.current()
        if current is None:
            raise SequencingRefused("TB.2.3-1", "There is no activity to end.")
        if request == "exit":
            self.end_attempt(current)
            self._exit_action_rules()
            while True:
                current = self.current()
                assert current is not None
                termination, sequencing = self._post_condition_rules(current)
                if termination == "exitAll":
                    return self._exit_all()
                if termination == "exitParent":
                    if current.parent is None:
                        raise SequencingRefused("TB.2.3-4", "There is no parent activity to leave.")
                    self.state.current = current.parent.identifier
                    self.end_attempt(current.parent)
                    continue
                if current.parent is None and sequencing != "retry":
                    return "exit"
                return sequencing
        if request == "exitAll":
            return self._exit_all()
        if request == "suspendAll":
            state = self.of(current)
            if state.active or state.suspended:
                self.overall_rollup(current)
                suspended = current
            elif current.parent is not None:
                suspended = current.parent
            else:
                raise SequencingRefused("TB.2.3-3", "There is nothing to suspend.")
            self.state.suspended = suspended.identifier
            for node in self.path_to_root(suspended):
                node_state = self.of(node)
                node_state.active, node_state.suspended = False, True
            self.state.current = self.tree.root.identifier
            return "exit"
        if request == "abandon":
            self.of(current).active = False
            return None
        if request == "abandonAll":
            for node in self.path_to_root(current):
                self.of(node).active = False
            self.state.current = self.tree.root.identifier
            return "exit"
        raise SequencingRefused("TB.2.3-7", f"'{request}' is not a termination request.")

    def _exit_all(self) -> str:
        current = self.current()
        if current is not None and self.of(current).active:
            self.end_attempt(current)
        self.terminate_descendants(self.tree.root)
        self.end_attempt(self.tree.root)
        self.state.current = self.tree.root.identifier
        return "exit"

    def _exit_action_rules(self) -> None:
        """TB.2.1: an exit rule on an ancestor ends the attempts below it."""
        current = self.current()
        if current is None:
            return
        for node in reversed(self.path_to_root(current)[1:]):
            if self.rules_check(node, node.sequencing.exit_rules, {"exit"}):
                self.terminate_descendants(node)
                self.end_attempt(node)
                self.state.current = node.identifier
                return

    def _post_condition_rules(self, activity: ActivityDefinition) -> tuple[str | None, str | None]:
        """TB.2.2: (termination request, sequencing request)."""
        if self.of(activity).suspended:
            return None, None
        action = self.rules_check(
            activity,
            activity.sequencing.post_rules,
            {"exitParent", "exitAll", "retry", "retryAll", "continue", "previous"},
        )
        if action in {"retry", "continue", "previous"}:
            return None, action
        if action in {"exitParent", "exitAll"}:
            return action, None
        if action == "retryAll":
            self._exit_all()
            return None, "retry"
        return None, None

    # --- UP.3, UP.4 -------------------------------------------------------------------------------

    def end_attempt(self, activity: ActivityDefinition) -> None:
        if self.probe:
            return
        state = self.of(activity)
        sequencing = activity.sequencing
        if activity.is_leaf:
            if sequencing.tracked and not state.suspended:
                if not sequencing.completion_set_by_content and not state.attempt_progress_status:
                    state.attempt_progress_status, state.attempt_completed = True, True
                if not sequencing.objective_set_by_content:
                    primary = self.objective(activity, sequencing.primary)
                    if not primary.progress_status:
                        primary.progress_status, primary.satisfied = True, True
        else:
            state.suspended = any(self.of(c).suspended for c in activity.children)
        state.active = False
        self.overall_rollup(activity)

    def terminate_descendants(self, activity: ActivityDefinition) -> None:
        """UP.3: end the attempts from the current activity up to (not including) `activity`."""
        current = self.current()
        if current is None or self.probe:
            return
        ancestor = self.common_ancestor(current, activity)
        for node in self.path_to_root(current):
            if node is ancestor:
                break
            if self.of(node).active:
                self.end_attempt(node)

    # --- SB.2.12 ----------------------------------------------------------------------------------

    def _sequencing_request(self, request: str, target: str | None) -> _Result:
        current = self.current()
        if request == "start":
            if current is not None:
                raise SequencingRefused("SB.2.5-1", "The course has already started.")
            root = self.tree.root
            if root.is_leaf:
                return "deliver", root
            return self._flow(root, "forward", consider_children=True)
        if request == "resumeAll":
            suspended = self.tree.by_id.get(self.state.suspended or "")
            if current is not None or suspended is None:
                raise SequencingRefused("SB.2.6-1", "There is no suspended attempt to resume.")
            return "deliver", suspended
        if request == "exit":
            if current is None:
                raise SequencingRefused("SB.2.11-1", "There is no activity to exit.")
            if self.of(current).active:
                raise SequencingRefused("SB.2.11-2", "The activity is still running.")
            if current.parent is None:
                return "end", None
            return "none", None
        if request == "retry":
            if current is None:
                raise SequencingRefused("SB.2.10-1", "There is no activity to retry.")
            state = self.of(current)
            if state.active or state.suspended:
                raise SequencingRefused("SB.2.10-2", "The activity is still running.")
            if current.is_leaf:
                return "deliver", current
            self.prepare_children(current)
            found, problem = self._flow_activity(current, "forward")
            if found is None:
                raise SequencingRefused("SB.2.10-3", problem or "Nothing in this activity can be retried.")
            return "deliver", found
        if request in {"continue", "previous"}:
            if current is None:
                raise SequencingRefused("SB.2.7-1", "The course hasn't started yet.")
            if current.parent is not None and not current.parent.sequencing.flow:
                raise SequencingRefused(
                    "SB.2.7-2", "This part of the course can't be moved through in order."
                )
            direction: Direction = "forward" if request == "continue" else "backward"
            return self._flow(current, direction, consider_children=False)
        if request == "jump":
            return "deliver", self.target(target)
        if request == "choice":
            return "deliver", self.choice(self.target(target))
        raise SequencingRefused("SB.2.12-1", f"'{request}' is not a sequencing request.")

    # --- flow (SB.2.1 - SB.2.3) -------------------------------------------------------------------

    def prepare_children(self, activity: ActivityDefinition) -> None:
        if not self.probe:
            select_and_randomize(self, activity, self.rng)

    def _flow(self, start: ActivityDefinition, direction: Direction, *, consider_children: bool) -> _Result:
        candidate, problem = self._traverse(start, direction, consider_children)
        if candidate is None:
            if problem == "end":
                return "end", None
            raise SequencingRefused(
                "SB.2.3-1",
                "This is the first activity of the course." if problem == "beginning" else (problem or ""),
            )
        found, problem = self._flow_activity(candidate, direction)
        if found is None:
            raise SequencingRefused("SB.2.3-2", problem or "Nothing further can be delivered.")
        return "deliver", found

    def _siblings(self, activity: ActivityDefinition) -> list[ActivityDefinition]:
        return self.available_children(activity.parent) if activity.parent is not None else [activity]

    def _traverse(
        self, activity: ActivityDefinition, direction: Direction, consider_children: bool
    ) -> tuple[ActivityDefinition | None, str | None]:
        """SB.2.1 (without the forwardOnly reversal): the next activity in a preorder walk."""
        if direction == "forward":
            if activity.parent is None and not consider_children:
                self.terminate_descendants(self.tree.root)
                return None, "end"
            if activity.is_leaf or not consider_children:
                siblings = self._siblings(activity)
                index = siblings.index(activity) if activity in siblings else len(siblings) - 1
                if index + 1 >= len(siblings):
                    assert activity.parent is not None
                    return self._traverse(activity.parent, "forward", False)
                return siblings[index + 1], None
            self.prepare_children(activity)
            children = self.available_children(activity)
            return (
                (children[0], None) if children else (None, "SB.2.1-2: this activity has nothing to deliver.")
            )
        if activity.parent is None:
            return None, "beginning"
        if activity.is_leaf or not consider_children:
            siblings = self._siblings(activity)
            index = siblings.index(activity) if activity in siblings else 0
            if index == 0:
                return self._traverse(activity.parent, "backward", False)
            return siblings[index - 1], None
        self.prepare_children(activity)
        children = self.available_children(activity)
        if not children:
            return None, "SB.2.1-2: this activity has nothing to deliver."
        return (children[0] if activity.sequencing.forward_only else children[-1]), None

    def _flow_activity(
        self, activity: ActivityDefinition, direction: Direction
    ) -> tuple[ActivityDefinition | None, str | None]:
        """SB.2.2: skip what the rules skip, refuse what is disabled, descend into clusters."""
        parent = activity.parent
        if parent is not None and not parent.sequencing.flow:
            return None, f"'{parent.title}' can't be moved through in order."
        if self.pre_check(activity, "skip"):
            following, problem = self._traverse(activity, direction, False)
            if following is None:
                return None, ("You are at the end of the course." if problem == "end" else problem)
            return self._flow_activity(following, direction)
        if self.check_activity(activity):
            return None, f"'{activity.title}' is not available yet."
        if activity.is_leaf:
            return activity, None
        following, problem = self._traverse(activity, direction, True)
        if following is None:
            return None, problem
        return self._flow_activity(following, direction)

    # --- SB.2.9 choice ----------------------------------------------------------------------------

    def choice(self, target: ActivityDefinition) -> ActivityDefinition:
        """The activity a choice of `target` delivers, or SequencingRefused saying why not."""
        path = list(reversed(self.path_to_root(target)))
        for node in path[1:]:
            if self.pre_check(node, "hiddenFromChoice"):
                raise SequencingRefused("SB.2.9-3", f"'{node.title}' is not available to choose.")
        if target.parent is not None and not target.parent.sequencing.choice:
            raise SequencingRefused("SB.2.9-4", f"'{target.title}' can't be chosen from the contents here.")
        current = self.current()
        ancestor = self.common_ancestor(current, target) if current is not None else self.tree.root
        if current is not None and current is not target:
            if current.parent is target.parent:  # case 2: a sibling
                siblings = self._siblings(current)
                start, end = siblings.index(current), siblings.index(target) if target in siblings else -1
                direction: Direction = "forward" if end > start else "backward"
                between = siblings[start + 1 : end + 1] if end > start else siblings[end:start]
                for node in between if direction == "forward" else reversed(between):
                    self._choice_traversal(node, direction)
            elif ancestor is current:  # case 3: below the current activity
                for node in path[path.index(ancestor) + 1 :]:
                    self._choice_traversal(node, "forward")
            elif ancestor is target:  # case 4: an ancestor of the current activity
                for node in self.path_to_root(current)[:-1]:
                    if node is target:
                        break
                    if self.of(node).active and not node.sequencing.choice_exit:
                        raise SequencingRefused("SB.2.9-7", f"'{node.title}' must be finished first.")
            else:  # case 5: elsewhere in the tree
                for node in self.path_to_root(current):
                    if node is ancestor:
                        break
                    if self.of(node).active and not node.sequencing.choice_exit:
                        raise SequencingRefused("SB.2.9-7", f"'{node.title}' must be finished first.")
                forward = target.order > current.order
                for node in path[path.index(ancestor) + 1 :]:
                    if forward:
                        self._choice_traversal(node, "forward")
                    elif node.sequencing.prevent_activation and not self.of(node).active:
                        raise SequencingRefused("SB.2.9-6", f"'{node.title}' can't be started from here.")
        elif current is None:
            for node in path[1:]:
                self._choice_traversal(node, "forward")
        if target.is_leaf:
            return target
        found, problem = self._flow_activity_from_cluster(target)
        if found is None:
            raise SequencingRefused("SB.2.9-9", problem or f"'{target.title}' has nothing to deliver.")
        return found

    def _flow_activity_from_cluster(
        self, target: ActivityDefinition
    ) -> tuple[ActivityDefinition | None, str | None]:
        if self.check_activity(target):
            return None, f"'{target.title}' is not available yet."
        if not target.sequencing.flow:
            return None, f"Choose one of the activities inside '{target.title}'."
        first, problem = self._traverse(target, "forward", True)
        if first is None:
            return None, problem
        return self._flow_activity(first, "forward")

    def _choice_traversal(self, activity: ActivityDefinition, direction: Direction) -> None:
        """SB.2.4: stopForwardTraversal and forwardOnly bound a choice."""
        if direction == "forward":
            if self.pre_check(activity, "stopForwardTraversal"):
                raise SequencingRefused("SB.2.4-1", f"'{activity.title}' can't be passed yet.")
            if self.check_activity(activity):
                raise SequencingRefused("SB.2.4-1", f"'{activity.title}' is not available yet.")
            return
        if activity.parent is not None and activity.parent.sequencing.forward_only:
            raise SequencingRefused("SB.2.4-2", "This part of the course only goes forward.")

    # --- DB.1.1, DB.2 -----------------------------------------------------------------------------

    def _delivery_request(self, activity: ActivityDefinition) -> None:
        if not activity.is_leaf:
            raise SequencingRefused("DB.1.1-1", f"'{activity.title}' has no content of its own to launch.")
        for node in reversed(self.path_to_root(activity)):
            if self.check_activity(node):
                raise SequencingRefused("DB.1.1-3", f"'{node.title}' is not available yet.")

    def _content_delivery(self, activity: ActivityDefinition) -> None:
        if self.state.suspended is not None and self.state.suspended != activity.identifier:
            self._clear_suspended(activity)
        current = self.current()
        if current is not None:
            ancestor = self.common_ancestor(current, activity)
            for node in self.path_to_root(current):
                if node is ancestor:
                    break
                if self.of(node).active:
                    self.end_attempt(node)
        for node in reversed(self.path_to_root(activity)):
            state = self.of(node)
            if state.active:
                continue
            if node.sequencing.tracked:
                if state.suspended:
                    state.suspended = False
                else:
                    state.attempt_count += 1
                    if state.attempt_count == 1:
                        state.progress_status = True
                    self._new_attempt(node)
            state.active = True
        self.state.current = activity.identifier
        if self.state.suspended == activity.identifier:
            self.state.suspended = None
        self.state.ended = False

    def _new_attempt(self, activity: ActivityDefinition) -> None:
        """Attempt progress starts over; with useCurrentAttempt*Info, so do the descendants' records."""
        state = self.of(activity)
        state.attempt_progress_status = False
        state.completion_amount_status = False
        if activity.is_leaf:
            state.objectives = {k: ObjectiveState() for k in state.objectives}
            return
        if state.attempt_count <= 1:
            return
        sequencing = activity.sequencing
        stack = list(activity.children)
        while stack:
            node = stack.pop()
            stack.extend(node.children)
            node_state = self.of(node)
            if sequencing.use_current_attempt_objective_info:
                node_state.objectives = {k: ObjectiveState() for k in node_state.objectives}
            if sequencing.use_current_attempt_progress_info:
                node_state.attempt_progress_status = False
                node_state.completion_amount_status = False

    def _clear_suspended(self, activity: ActivityDefinition) -> None:
        suspended = self.tree.by_id.get(self.state.suspended or "")
        if suspended is not None:
            ancestor = self.common_ancestor(activity, suspended)
            for node in self.path_to_root(suspended):
                state = self.of(node)
                if node.is_leaf or not any(self.of(c).suspended for c in node.children):
                    state.suspended = False
                if node is ancestor:
                    break
        self.state.suspended = None
