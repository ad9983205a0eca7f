"""The sequencing definition model of SCORM 2004 (IMS SS + ADL extensions), as read from a manifest.

Immutable: one `ActivityDefinition` tree per course, shared by every learner's tracking state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

RuleAction = Literal[
    "skip",
    "disabled",
    "hiddenFromChoice",
    "stopForwardTraversal",
    "exit",
    "exitParent",
    "exitAll",
    "retry",
    "retryAll",
    "continue",
    "previous",
]
RollupAction = Literal["satisfied", "notSatisfied", "completed", "incomplete"]
ChildActivitySet = Literal["all", "any", "none", "atLeastCount", "atLeastPercent"]
Consideration = Literal["always", "ifAttempted", "ifNotSkipped", "ifNotSuspended"]
Timing = Literal["never", "once", "onEachNewAttempt"]

PRE_ACTIONS = frozenset({"skip", "disabled", "hiddenFromChoice", "stopForwardTraversal"})
EXIT_ACTIONS = frozenset({"exit"})
POST_ACTIONS = frozenset({"exitParent", "exitAll", "retry", "retryAll", "continue", "previous"})


@dataclass(frozen=True, slots=True)
class RuleCondition:
    condition: str  # satisfied, objectiveStatusKnown, completed, attempted, always, ...
    negate: bool = False
    objective: str | None = None  # referencedObjective; None: the primary objective
    threshold: float = 0.0  # measureThreshold for objectiveMeasureGreaterThan / LessThan


@dataclass(frozen=True, slots=True)
class SequencingRule:
    action: RuleAction
    conditions: tuple[RuleCondition, ...]
    combination: Literal["all", "any"] = "all"


@dataclass(frozen=True, slots=True)
class RollupCondition:
    condition: str
    negate: bool = False


@dataclass(frozen=True, slots=True)
class RollupRule:
    action: RollupAction
    conditions: tuple[RollupCondition, ...]
    child_set: ChildActivitySet = "all"
    combination: Literal["all", "any"] = "any"
    minimum_count: int = 0
    minimum_percent: float = 0.0


@dataclass(frozen=True, slots=True)
class ObjectiveMap:
    """One mapInfo (imsss) merged with its adlseq:mapInfo (4th Ed: completion, progress, scores)."""

    target: str
    read_satisfied: bool = True
    read_measure: bool = True
    write_satisfied: bool = False
    write_measure: bool = False
    read_completion: bool = False
    write_completion: bool = False
    read_progress: bool = False
    write_progress: bool = False


@dataclass(frozen=True, slots=True)
class ObjectiveDefinition:
    identifier: str
    primary: bool = False
    satisfied_by_measure: bool = False
    min_measure: float = 1.0
    maps: tuple[ObjectiveMap, ...] = ()


@dataclass(frozen=True, slots=True)
class SequencingDefinition:
    # control modes
    choice: bool = True
    choice_exit: bool = True
    flow: bool = False
    forward_only: bool = False
    use_current_attempt_objective_info: bool = True
    use_current_attempt_progress_info: bool = True
    # rules
    pre_rules: tuple[SequencingRule, ...] = ()
    exit_rules: tuple[SequencingRule, ...] = ()
    post_rules: tuple[SequencingRule, ...] = ()
    attempt_limit: int = 0  # 0: unlimited
    # rollup
    rollup_rules: tuple[RollupRule, ...] = ()
    rollup_objective_satisfied: bool = True
    rollup_progress_completion: bool = True
    objective_measure_weight: float = 1.0
    required_for_satisfied: Consideration = "always"
    required_for_not_satisfied: Consideration = "always"
    required_for_completed: Consideration = "always"
    required_for_incomplete: Consideration = "always"
    measure_satisfaction_if_active: bool = True
    # objectives (the primary first; one is always there)
    objectives: tuple[ObjectiveDefinition, ...] = (ObjectiveDefinition("", primary=True),)
    # selection and randomization
    selection_timing: Timing = "never"
    select_count: int | None = None
    randomization_timing: Timing = "never"
    reorder_children: bool = False
    # delivery controls
    tracked: bool = True
    completion_set_by_content: bool = False
    objective_set_by_content: bool = False
    # constrained choice
    constrain_choice: bool = False
    prevent_activation: bool = False
    # adlcp:completionThreshold (4th Ed)
    completed_by_measure: bool = False
    min_progress_measure: float = 1.0
    progress_weight: float = 1.0

    @property
    def primary(self) -> ObjectiveDefinition:
        return self.objectives[0]


DEFAULT_SEQUENCING = SequencingDefinition()


@dataclass(slots=True)
class ActivityDefinition:
    identifier: str
    title: str
    resource: str | None = None  # identifierref: a leaf delivers this resource
    href: str | None = None  # the launch URL relative to the package root (xml:base and parameters applied)
    visible: bool = True
    sequencing: SequencingDefinition = DEFAULT_SEQUENCING
    hide_lms_ui: frozenset[str] = frozenset()
    children: list[ActivityDefinition] = field(default_factory=list)
    parent: ActivityDefinition | None = field(default=None, repr=False, compare=False)
    depth: int = 0
    order: int = 0  # position in a preorder walk of the whole tree
    path: list[ActivityDefinition] = field(default_factory=list, repr=False, compare=False)  # self → root

    @property
    def is_leaf(self) -> bool:
        return not self.children


@dataclass(slots=True)
class ActivityTreeDefinition:
    """The organization as an activity tree: `root` is the organization itself."""

    root: ActivityDefinition
    by_id: dict[str, ActivityDefinition]
    preorder: list[ActivityDefinition]

    @classmethod
    def build(cls, root: ActivityDefinition) -> ActivityTreeDefinition:
        by_id: dict[str, ActivityDefinition] = {}
        preorder: list[ActivityDefinition] = []
        stack: list[tuple[ActivityDefinition, ActivityDefinition | None, int]] = [(root, None, 0)]
        while stack:
            node, parent, depth = stack.pop()
            node.parent, node.depth, node.order = parent, depth, len(preorder)
            node.path = [node, *(parent.path if parent is not None else [])]
            preorder.append(node)
            by_id[node.identifier] = node
            stack.extend((child, node, depth + 1) for child in reversed(node.children))
        return cls(root=root, by_id=by_id, preorder=preorder)

    def leaves(self) -> list[ActivityDefinition]:
        return [a for a in self.preorder if a.is_leaf]
