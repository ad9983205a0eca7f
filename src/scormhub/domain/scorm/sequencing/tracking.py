"""Reading and writing tracking status through objective maps, sequencing rule checks, and the rollup
process (SN book UP.2, RB.1.1-RB.1.5), over one learner's `TreeState`."""

from __future__ import annotations

from scormhub.domain.scorm.sequencing.definitions import (
    ActivityDefinition,
    ActivityTreeDefinition,
    ObjectiveDefinition,
    RollupCondition,
    RollupRule,
    RuleCondition,
    SequencingRule,
)
from scormhub.domain.scorm.sequencing.state import ActivityState, ObjectiveState, TreeState

Tri = bool | None  # True, False, or unknown

_DEFAULT_SATISFACTION = (
    RollupRule("notSatisfied", (RollupCondition("objectiveStatusKnown"),), "all"),
    RollupRule("satisfied", (RollupCondition("satisfied"),), "all"),
)
_DEFAULT_COMPLETION = (
    RollupRule("incomplete", (RollupCondition("activityProgressKnown"),), "all"),
    RollupRule("completed", (RollupCondition("completed"),), "all"),
)


class Tracking:
    """The definition tree and one learner's state, with the status reads every process shares."""

    def __init__(self, tree: ActivityTreeDefinition, state: TreeState) -> None:
        self.tree = tree
        self.state = state
        # Rule results by activity, for probes that only look (the contents ask about every activity
        # at once, over a state that doesn't change meanwhile). None: no memo, the state may change.
        self.memo: dict[tuple[str, tuple[str, ...]], bool] | None = None

    # --- state access ---------------------------------------------------------------------------

    def of(self, activity: ActivityDefinition) -> ActivityState:
        return self.state.activity(activity.identifier)

    def objective(self, activity: ActivityDefinition, objective: ObjectiveDefinition) -> ObjectiveState:
        state = self.of(activity)
        found = state.objectives.get(objective.identifier if not objective.primary else "")
        if found is None:
            found = state.objectives[objective.identifier if not objective.primary else ""] = ObjectiveState()
        return found

    def find_objective(self, activity: ActivityDefinition, identifier: str | None) -> ObjectiveDefinition:
        objectives = activity.sequencing.objectives
        if identifier:
            for objective in objectives:
                if objective.identifier == identifier:
                    return objective
        return objectives[0]

    def available_children(self, activity: ActivityDefinition) -> list[ActivityDefinition]:
        order = self.of(activity).children
        if order is None:
            return activity.children
        by_id = {child.identifier: child for child in activity.children}
        return [by_id[i] for i in order if i in by_id]

    # --- reads through objective maps (SN 4.2.1: a read map's known value wins) --------------------

    def satisfaction(self, activity: ActivityDefinition, objective: ObjectiveDefinition) -> Tri:
        if objective.satisfied_by_measure:
            measure = self.measure(activity, objective)
            if measure is None:
                return None
            return measure >= objective.min_measure
        for mapping in objective.maps:
            if mapping.read_satisfied:
                shared = self.state.globals.get(mapping.target)
                if shared is not None and shared.progress_status:
                    return shared.satisfied
        local = self.objective(activity, objective)
        return local.satisfied if local.progress_status else None

    def measure(self, activity: ActivityDefinition, objective: ObjectiveDefinition) -> float | None:
        for mapping in objective.maps:
            if mapping.read_measure:
                shared = self.state.globals.get(mapping.target)
                if shared is not None and shared.measure_status:
                    return shared.measure
        local = self.objective(activity, objective)
        return local.measure if local.measure_status else None

    def completion(self, activity: ActivityDefinition, objective: ObjectiveDefinition | None = None) -> Tri:
        """The activity's attempt completion (objective None or primary), or a 4th Ed objective's."""
        target = objective or activity.sequencing.primary
        for mapping in target.maps:
            if mapping.read_completion:
                shared = self.state.globals.get(mapping.target)
                if shared is not None and shared.completion_status:
                    return shared.completed
        if target.primary:
            state = self.of(activity)
            return state.attempt_completed if state.attempt_progress_status else None
        local = self.objective(activity, target)
        return local.completed if local.completion_status else None

    def write_maps(self, activity: ActivityDefinition) -> None:
        """Copy known local status to the global objectives this activity's objectives write."""
        state = self.of(activity)
        for objective in activity.sequencing.objectives:
            local = self.objective(activity, objective)
            for mapping in objective.maps:
                shared = None
                if mapping.write_satisfied and local.progress_status:
                    shared = self.state.globals.setdefault(mapping.target, ObjectiveState())
                    shared.progress_status, shared.satisfied = True, local.satisfied
                if mapping.write_measure and local.measure_status:
                    shared = self.state.globals.setdefault(mapping.target, ObjectiveState())
                    shared.measure_status, shared.measure = True, local.measure
                if mapping.write_completion:
                    known, done = (
                        (state.attempt_progress_status, state.attempt_completed)
                        if objective.primary
                        else (local.completion_status, local.completed)
                    )
                    if known:
                        shared = self.state.globals.setdefault(mapping.target, ObjectiveState())
                        shared.completion_status, shared.completed = True, done
                if mapping.write_progress and state.completion_amount_status and objective.primary:
                    shared = self.state.globals.setdefault(mapping.target, ObjectiveState())
                    shared.progress_measure_status = True
                    shared.progress_measure = state.completion_amount

    # --- sequencing rules (UP.2) ------------------------------------------------------------------

    def limit_exceeded(self, activity: ActivityDefinition) -> bool:
        limit = activity.sequencing.attempt_limit
        state = self.of(activity)
        return bool(limit) and state.progress_status and state.attempt_count >= limit

    def _rule_condition(self, activity: ActivityDefinition, condition: RuleCondition) -> Tri:
        name = condition.condition
        objective = self.find_objective(activity, condition.objective)
        state = self.of(activity)
        value: Tri
        if name == "always":
            value = True
        elif name == "satisfied":
            value = self.satisfaction(activity, objective)
        elif name == "objectiveStatusKnown":
            value = self.satisfaction(activity, objective) is not None
        elif name == "objectiveMeasureKnown":
            value = self.measure(activity, objective) is not None
        elif name in {"objectiveMeasureGreaterThan", "objectiveMeasureLessThan"}:
            measure = self.measure(activity, objective)
            if measure is None:
                value = None
            else:
                above = measure > condition.threshold
                value = above if name == "objectiveMeasureGreaterThan" else measure < condition.threshold
        elif name == "completed":
            value = self.completion(activity, objective if condition.objective else None)
        elif name == "activityProgressKnown":
            value = self.completion(activity, objective if condition.objective else None) is not None
        elif name == "attempted":
            value = state.progress_status and state.attempt_count > 0
        elif name == "attemptLimitExceeded":
            value = self.limit_exceeded(activity)
        else:  # timeLimitExceeded, outsideAvailableTimeRange: no time limits are enforced
            value = False
        if condition.negate and value is not None:
            return not value
        return value

    def rule_fires(self, activity: ActivityDefinition, rule: SequencingRule) -> bool:
        values = [self._rule_condition(activity, c) for c in rule.conditions]
        if not values:
            return False
        if rule.combination == "any":
            return any(v is True for v in values)
        return all(v is True for v in values)

    def rules_check(
        self, activity: ActivityDefinition, rules: tuple[SequencingRule, ...], actions: set[str]
    ) -> str | None:
        """The action of the first rule (of `actions`) whose conditions hold, or None (UP.2)."""
        for rule in rules:
            if rule.action in actions and self.rule_fires(activity, rule):
                return rule.action
        return None

    def pre_check(self, activity: ActivityDefinition, *actions: str) -> bool:
        if not activity.sequencing.pre_rules:
            return False
        if self.memo is None:
            return self.rules_check(activity, activity.sequencing.pre_rules, set(actions)) is not None
        key = (activity.identifier, actions)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = (
                self.rules_check(activity, activity.sequencing.pre_rules, set(actions)) is not None
            )
        return found

    def check_activity(self, activity: ActivityDefinition) -> bool:
        """UP.5: True when the activity may not be delivered (disabled, or its attempt limit is used)."""
        if self.pre_check(activity, "disabled"):
            return True
        if not activity.sequencing.attempt_limit:
            return False
        state = self.of(activity)
        # UP.1: an attempt under way (active or suspended) is never cut off by its limit.
        return not (state.active or state.suspended) and self.limit_exceeded(activity)

    # --- rollup (RB.1) ----------------------------------------------------------------------------

    def overall_rollup(self, activity: ActivityDefinition) -> None:
        """RB.1.5: from the activity up to the root, then write the global objectives on the path."""
        node: ActivityDefinition | None = activity
        while node is not None:
            if not node.is_leaf:
                self._measure_rollup(node)
                self._completion_measure_rollup(node)
                self._objective_rollup(node)
                self._progress_rollup(node)
            self.write_maps(node)
            node = node.parent

    def _tracked_children(self, activity: ActivityDefinition) -> list[ActivityDefinition]:
        return [c for c in self.available_children(activity) if c.sequencing.tracked]

    def _measure_rollup(self, activity: ActivityDefinition) -> None:
        total = counted = 0.0
        valid = False
        for child in self._tracked_children(activity):
            weight = child.sequencing.objective_measure_weight
            counted += weight
            measure = self.measure(child, child.sequencing.primary)
            if measure is not None:
                valid = True
                total += measure * weight
        primary = self.objective(activity, activity.sequencing.primary)
        if not valid or counted <= 0:
            primary.measure_status = False
        else:
            primary.measure_status, primary.measure = True, total / counted

    def _completion_measure_rollup(self, activity: ActivityDefinition) -> None:
        total = counted = 0.0
        valid = False
        for child in self._tracked_children(activity):
            weight = child.sequencing.progress_weight
            counted += weight
            child_state = self.of(child)
            if child_state.completion_amount_status:
                valid = True
                total += child_state.completion_amount * weight
            elif self.completion(child) is True:
                valid = True
                total += weight
        state = self.of(activity)
        if valid and counted > 0:
            state.completion_amount_status, state.completion_amount = True, total / counted
        else:
            state.completion_amount_status = False

    def _objective_rollup(self, activity: ActivityDefinition) -> None:
        primary_def = activity.sequencing.primary
        primary = self.objective(activity, primary_def)
        if primary_def.satisfied_by_measure:  # RB.1.2.a
            measure = self.measure(activity, primary_def)
            active = self.of(activity).active
            if measure is None or (active and not activity.sequencing.measure_satisfaction_if_active):
                primary.progress_status = False
            else:
                primary.progress_status, primary.satisfied = True, measure >= primary_def.min_measure
            return
        rules = [r for r in activity.sequencing.rollup_rules if r.action in {"satisfied", "notSatisfied"}]
        ordered = rules or list(_DEFAULT_SATISFACTION)
        primary.progress_status = False  # RB.1.2.b
        if self._rollup_fires(activity, [r for r in ordered if r.action == "notSatisfied"]):
            primary.progress_status, primary.satisfied = True, False
        if self._rollup_fires(activity, [r for r in ordered if r.action == "satisfied"]):
            primary.progress_status, primary.satisfied = True, True

    def _progress_rollup(self, activity: ActivityDefinition) -> None:
        state = self.of(activity)
        sequencing = activity.sequencing
        if sequencing.completed_by_measure:
            if state.completion_amount_status:
                state.attempt_progress_status = True
                state.attempt_completed = state.completion_amount >= sequencing.min_progress_measure
            else:
                state.attempt_progress_status = False
            return
        rules = [r for r in sequencing.rollup_rules if r.action in {"completed", "incomplete"}]
        ordered = rules or list(_DEFAULT_COMPLETION)
        state.attempt_progress_status = False  # RB.1.3
        if self._rollup_fires(activity, [r for r in ordered if r.action == "incomplete"]):
            state.attempt_progress_status, state.attempt_completed = True, False
        if self._rollup_fires(activity, [r for r in ordered if r.action == "completed"]):
            state.attempt_progress_status, state.attempt_completed = True, True

    def _contributes(self, child: ActivityDefinition, action: str) -> bool:
        """RB.1.4.2: does the child count for a rule with this action?"""
        sequencing = child.sequencing
        if action in {"satisfied", "notSatisfied"}:
            if not sequencing.rollup_objective_satisfied:
                return False
            required = (
                sequencing.required_for_satisfied
                if action == "satisfied"
                else sequencing.required_for_not_satisfied
            )
        else:
            if not sequencing.rollup_progress_completion:
                return False
            required = (
                sequencing.required_for_completed
                if action == "completed"
                else sequencing.required_for_incomplete
            )
        state = self.of(child)
        if required == "ifAttempted":
            return state.progress_status and state.attempt_count > 0
        if required == "ifNotSkipped":
            return not self.pre_check(child, "skip")
        if required == "ifNotSuspended":
            return not (state.attempt_count > 0 and state.suspended)
        return True

    def _rollup_condition(self, child: ActivityDefinition, condition: RollupCondition) -> Tri:
        name = condition.condition
        state = self.of(child)
        primary = child.sequencing.primary
        value: Tri
        if name == "satisfied":
            value = self.satisfaction(child, primary)
        elif name == "objectiveStatusKnown":
            value = self.satisfaction(child, primary) is not None
        elif name == "objectiveMeasureKnown":
            value = self.measure(child, primary) is not None
        elif name == "completed":
            value = self.completion(child)
        elif name == "activityProgressKnown":
            value = self.completion(child) is not None
        elif name == "attempted":
            value = state.progress_status and state.attempt_count > 0
        elif name == "attemptLimitExceeded":
            value = self.limit_exceeded(child)
        elif name == "never":
            value = False
        else:
            value = False
        if condition.negate and value is not None:
            return not value
        return value

    def _rollup_fires(self, activity: ActivityDefinition, rules: list[RollupRule]) -> bool:
        """RB.1.4: does any of these rules (all of one action) hold over the contributing children?"""
        for rule in rules:
            children = [c for c in self._tracked_children(activity) if self._contributes(c, rule.action)]
            if not children:
                continue
            results: list[Tri] = []
            for child in children:
                values = [self._rollup_condition(child, c) for c in rule.conditions]
                if not values:
                    results.append(None)
                elif rule.combination == "all":
                    results.append(
                        True
                        if all(v is True for v in values)
                        else (False if any(v is False for v in values) else None)
                    )
                else:
                    results.append(
                        True
                        if any(v is True for v in values)
                        else (False if all(v is False for v in values) else None)
                    )
            trues = sum(1 for r in results if r is True)
            if rule.child_set == "all":
                fired = trues == len(results)
            elif rule.child_set == "any":
                fired = trues > 0
            elif rule.child_set == "none":
                fired = all(r is False for r in results)
            elif rule.child_set == "atLeastCount":
                fired = trues >= rule.minimum_count
            else:
                fired = trues / len(results) >= rule.minimum_percent
            if fired:
                return True
        return False
