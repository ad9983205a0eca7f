"""Read a SCORM 2004 manifest's default organization into an activity tree with sequencing definitions.

Reads the parsed (defusedxml) manifest element; sequencing collections are resolved by `IDRef`, local
elements overriding the referenced ones element by element (CAM 3.4 / SN 5.1). Problems that make the
sequencing unusable raise `SequencingManifestError` with a message for the course's admin."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from xml.etree.ElementTree import Element

from scormhub.domain.scorm.findings import Findings
from scormhub.domain.scorm.manifest import (
    NS_ADLCP2004,
    NS_ADLNAV,
    NS_ADLSEQ,
    NS_IMSSS,
    XML_BASE,
    element_text,
    split_tag,
)
from scormhub.domain.scorm.paths import append_parameters
from scormhub.domain.scorm.sequencing.definitions import (
    DEFAULT_SEQUENCING,
    EXIT_ACTIONS,
    POST_ACTIONS,
    PRE_ACTIONS,
    ActivityDefinition,
    ActivityTreeDefinition,
    ObjectiveDefinition,
    ObjectiveMap,
    RollupCondition,
    RollupRule,
    RuleCondition,
    SequencingDefinition,
    SequencingRule,
)

_MAX_DEPTH = 100
_SS = f"{{{NS_IMSSS}}}"
_SEQ = f"{{{NS_ADLSEQ}}}"
_NAV = f"{{{NS_ADLNAV}}}"
_CP = f"{{{NS_ADLCP2004}}}"


class SequencingManifestError(ValueError):
    """The manifest's sequencing can't be used; `code` names the rule, the message says what to fix."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _bool(element: Element, name: str, default: bool) -> bool:
    value = (element.get(name) or "").strip().lower()
    if value in {"true", "1"}:
        return True
    if value in {"false", "0"}:
        return False
    return default


def _float(element: Element, name: str, default: float) -> float:
    try:
        return float((element.get(name) or "").strip())
    except ValueError:
        return default


def _int(element: Element, name: str, default: int) -> int:
    try:
        return int((element.get(name) or "").strip())
    except ValueError:
        return default


def check_sequencing(manifest: Element, findings: Findings) -> None:
    """The checker's view: sequencing the player could not use is an error the admin can fix."""
    try:
        read_activity_tree(manifest)
    except SequencingManifestError as problem:
        # The organization reader already names an item's unknown IDRef (P4); one error is enough.
        named = problem.code == "S2-idref-unknown" and any(
            e.code == "P4-unresolved-sequencing-idref" for e in findings.errors
        )
        if not named:
            findings.error(problem.code, str(problem))


def read_activity_tree(manifest: Element) -> ActivityTreeDefinition:
    """The default organization as an activity tree; raises SequencingManifestError on unusable input."""
    cp = split_tag(manifest.tag)[0]
    q = f"{{{cp}}}"
    organizations = manifest.find(f"{q}organizations")
    if organizations is None:
        raise SequencingManifestError("S1-no-organization", "The manifest has no <organizations>.")
    all_orgs = organizations.findall(f"{q}organization")
    default_id = organizations.get("default", "")
    organization = next((o for o in all_orgs if o.get("identifier") == default_id), None)
    if organization is None and all_orgs:
        organization = all_orgs[0]
    if organization is None:
        raise SequencingManifestError("S1-no-organization", "The manifest has no <organization>.")
    collection = _collection(manifest)
    hrefs = _resource_hrefs(manifest, q)
    root = _activity(organization, q, collection, hrefs, depth=0)
    return ActivityTreeDefinition.build(root)


def _collection(manifest: Element) -> dict[str, Element]:
    found: dict[str, Element] = {}
    for holder in manifest.iter(f"{_SS}sequencingCollection"):
        for sequencing in holder.findall(f"{_SS}sequencing"):
            identifier = sequencing.get("ID")
            if identifier:
                found[identifier] = sequencing
    return found


def _resource_hrefs(manifest: Element, q: str) -> dict[str, str]:
    base = manifest.get(XML_BASE, "")
    resources = manifest.find(f"{q}resources")
    hrefs: dict[str, str] = {}
    if resources is None:
        return hrefs
    base += resources.get(XML_BASE, "")
    for resource in resources.findall(f"{q}resource"):
        href = resource.get("href")
        identifier = resource.get("identifier")
        if href and identifier:
            hrefs[identifier] = base + resource.get(XML_BASE, "") + href
    return hrefs


def _activity(
    element: Element, q: str, collection: dict[str, Element], hrefs: dict[str, str], depth: int
) -> ActivityDefinition:
    if depth > _MAX_DEPTH:
        raise SequencingManifestError(
            "S1-too-deep", f"The course outline nests items more than {_MAX_DEPTH} levels deep."
        )
    identifier = element.get("identifier", "")
    resource = element.get("identifierref") or None
    href = hrefs.get(resource) if resource else None
    if href is not None:
        href = append_parameters(href, element.get("parameters") or "")
    activity = ActivityDefinition(
        identifier=identifier,
        title=element_text(element.find(f"{q}title")) or identifier,
        resource=resource,
        href=href,
        visible=_bool(element, "isvisible", True),
        children=[_activity(item, q, collection, hrefs, depth + 1) for item in element.findall(f"{q}item")],
    )
    sequencing = element.find(f"{_SS}sequencing")
    definition = DEFAULT_SEQUENCING
    if sequencing is not None:
        definition = _sequencing(_merged(sequencing, collection, identifier))
    threshold = element.find(f"{_CP}completionThreshold")
    if threshold is not None:
        definition = replace(
            definition,
            completed_by_measure=_bool(threshold, "completedByMeasure", False),
            min_progress_measure=_float(threshold, "minProgressMeasure", 1.0),
            progress_weight=_float(threshold, "progressWeight", 1.0),
        )
    activity.sequencing = definition
    hidden = element.findall(f"{_NAV}presentation/{_NAV}navigationInterface/{_NAV}hideLMSUI")
    activity.hide_lms_ui = frozenset(element_text(h) for h in hidden if element_text(h))
    return activity


def _merged(sequencing: Element, collection: dict[str, Element], owner: str) -> list[Element]:
    """The sequencing's child elements, with those of the IDRef'd collection entry it doesn't override."""
    children = list(sequencing)
    seen: list[str] = []
    current = sequencing
    while (reference := current.get("IDRef")) is not None:
        if reference in seen:
            chain = " → ".join([*seen, reference])
            raise SequencingManifestError(
                "S2-idref-cycle",
                f"The sequencing of item '{owner}' refers to sequencing collections in a cycle ({chain}). "
                "Make each IDRef name a <imsss:sequencing ID=…> that doesn't refer back, and export again.",
            )
        seen.append(reference)
        target = collection.get(reference)
        if target is None:
            raise SequencingManifestError(
                "S2-idref-unknown",
                f"The sequencing of item '{owner}' refers to IDRef=\"{reference}\", but the manifest's "
                "<imsss:sequencingCollection> has no <imsss:sequencing> with that ID. Add it, or remove "
                "the IDRef, and export again.",
            )
        local_tags = {child.tag for child in children}
        children.extend(child for child in target if child.tag not in local_tags)
        current = target
    return children


def _sequencing(children: Iterable[Element]) -> SequencingDefinition:
    values: dict[str, object] = {}
    adl_objectives: Element | None = None
    for child in children:
        tag = child.tag
        if tag == f"{_SS}controlMode":
            values.update(
                choice=_bool(child, "choice", True),
                choice_exit=_bool(child, "choiceExit", True),
                flow=_bool(child, "flow", False),
                forward_only=_bool(child, "forwardOnly", False),
                use_current_attempt_objective_info=_bool(child, "useCurrentAttemptObjectiveInfo", True),
                use_current_attempt_progress_info=_bool(child, "useCurrentAttemptProgressInfo", True),
            )
        elif tag == f"{_SS}sequencingRules":
            values.update(
                pre_rules=_rules(child, "preConditionRule", PRE_ACTIONS),
                exit_rules=_rules(child, "exitConditionRule", EXIT_ACTIONS),
                post_rules=_rules(child, "postConditionRule", POST_ACTIONS),
            )
        elif tag == f"{_SS}limitConditions":
            values["attempt_limit"] = max(0, _int(child, "attemptLimit", 0))
        elif tag == f"{_SS}rollupRules":
            values.update(
                rollup_objective_satisfied=_bool(child, "rollupObjectiveSatisfied", True),
                rollup_progress_completion=_bool(child, "rollupProgressCompletion", True),
                objective_measure_weight=_float(child, "objectiveMeasureWeight", 1.0),
                rollup_rules=tuple(_rollup_rule(rule) for rule in child.findall(f"{_SS}rollupRule")),
            )
        elif tag == f"{_SS}objectives":
            values["objectives"] = child
        elif tag == f"{_SEQ}objectives":
            adl_objectives = child
        elif tag == f"{_SS}randomizationControls":
            select = child.get("selectCount")
            values.update(
                selection_timing=_timing(child.get("selectionTiming")),
                select_count=_int(child, "selectCount", 0) if select is not None else None,
                randomization_timing=_timing(child.get("randomizationTiming")),
                reorder_children=_bool(child, "reorderChildren", False),
            )
        elif tag == f"{_SS}deliveryControls":
            values.update(
                tracked=_bool(child, "tracked", True),
                completion_set_by_content=_bool(child, "completionSetByContent", False),
                objective_set_by_content=_bool(child, "objectiveSetByContent", False),
            )
        elif tag == f"{_SEQ}constrainedChoiceConsiderations":
            values.update(
                constrain_choice=_bool(child, "constrainChoice", False),
                prevent_activation=_bool(child, "preventActivation", False),
            )
        elif tag == f"{_SEQ}rollupConsiderations":
            values.update(
                required_for_satisfied=_consideration(child.get("requiredForSatisfied")),
                required_for_not_satisfied=_consideration(child.get("requiredForNotSatisfied")),
                required_for_completed=_consideration(child.get("requiredForCompleted")),
                required_for_incomplete=_consideration(child.get("requiredForIncomplete")),
                measure_satisfaction_if_active=_bool(child, "measureSatisfactionIfActive", True),
            )
    objectives = values.pop("objectives", None)
    values["objectives"] = _objectives(
        objectives if isinstance(objectives, Element) else None, adl_objectives
    )
    return SequencingDefinition(**values)  # type: ignore[arg-type]


def _timing(value: str | None) -> str:
    value = (value or "").strip()
    return value if value in {"never", "once", "onEachNewAttempt"} else "never"


def _consideration(value: str | None) -> str:
    value = (value or "").strip()
    return value if value in {"always", "ifAttempted", "ifNotSkipped", "ifNotSuspended"} else "always"


def _rules(holder: Element, name: str, allowed: frozenset[str]) -> tuple[SequencingRule, ...]:
    rules = []
    for rule in holder.findall(f"{_SS}{name}"):
        action_el = rule.find(f"{_SS}ruleAction")
        action = (action_el.get("action") or "").strip() if action_el is not None else ""
        if action not in allowed:
            continue  # an action this kind of rule can't take is ignored, as the SN book's processes do
        conditions_el = rule.find(f"{_SS}ruleConditions")
        conditions = []
        combination = "all"
        if conditions_el is not None:
            combination = "any" if conditions_el.get("conditionCombination") == "any" else "all"
            for condition in conditions_el.findall(f"{_SS}ruleCondition"):
                conditions.append(_condition(condition))
        rules.append(SequencingRule(action=action, conditions=tuple(conditions), combination=combination))  # type: ignore[arg-type]
    return tuple(rules)


def _condition(element: Element) -> RuleCondition:
    return RuleCondition(
        condition=(element.get("condition") or "").strip(),
        negate=(element.get("operator") or "").strip() == "not",
        objective=(element.get("referencedObjective") or "").strip() or None,
        threshold=_float(element, "measureThreshold", 0.0),
    )


def _rollup_rule(element: Element) -> RollupRule:
    conditions_el = element.find(f"{_SS}rollupConditions")
    conditions: list[RollupCondition] = []
    combination = "any"
    if conditions_el is not None:
        combination = "all" if conditions_el.get("conditionCombination") == "all" else "any"
        conditions = [
            RollupCondition(
                condition=(c.get("condition") or "").strip(),
                negate=(c.get("operator") or "").strip() == "not",
            )
            for c in conditions_el.findall(f"{_SS}rollupCondition")
        ]
    action_el = element.find(f"{_SS}rollupAction")
    action = (action_el.get("action") or "").strip() if action_el is not None else ""
    child_set = (element.get("childActivitySet") or "all").strip()
    return RollupRule(
        action=action if action in {"satisfied", "notSatisfied", "completed", "incomplete"} else "satisfied",  # type: ignore[arg-type]
        conditions=tuple(conditions),
        child_set=child_set
        if child_set in {"all", "any", "none", "atLeastCount", "atLeastPercent"}
        else "all",  # type: ignore[arg-type]
        combination=combination,  # type: ignore[arg-type]
        minimum_count=_int(element, "minimumCount", 0),
        minimum_percent=_float(element, "minimumPercent", 0.0),
    )


def _objectives(imsss: Element | None, adlseq: Element | None) -> tuple[ObjectiveDefinition, ...]:
    adl_maps: dict[str, list[Element]] = {}
    if adlseq is not None:
        for objective in adlseq.findall(f"{_SEQ}objective"):
            adl_maps.setdefault(objective.get("objectiveID", ""), []).extend(
                objective.findall(f"{_SEQ}mapInfo")
            )
    primary = ObjectiveDefinition("", primary=True)
    others: list[ObjectiveDefinition] = []
    if imsss is not None:
        for element in imsss:
            if element.tag not in {f"{_SS}primaryObjective", f"{_SS}objective"}:
                continue
            identifier = element.get("objectiveID", "")
            measure = element.find(f"{_SS}minNormalizedMeasure")
            try:
                min_measure = float(element_text(measure)) if measure is not None else 1.0
            except ValueError:
                min_measure = 1.0
            maps = [_map(m) for m in element.findall(f"{_SS}mapInfo")]
            maps.extend(_adl_map(m) for m in adl_maps.get(identifier, []) if identifier)
            definition = ObjectiveDefinition(
                identifier=identifier,
                primary=element.tag == f"{_SS}primaryObjective",
                satisfied_by_measure=_bool(element, "satisfiedByMeasure", False),
                min_measure=min_measure,
                maps=tuple(maps),
            )
            if definition.primary:
                primary = definition
            else:
                others.append(definition)
    return (primary, *others)


def _map(element: Element) -> ObjectiveMap:
    return ObjectiveMap(
        target=(element.get("targetObjectiveID") or "").strip(),
        read_satisfied=_bool(element, "readSatisfiedStatus", True),
        read_measure=_bool(element, "readNormalizedMeasure", True),
        write_satisfied=_bool(element, "writeSatisfiedStatus", False),
        write_measure=_bool(element, "writeNormalizedMeasure", False),
    )


def _adl_map(element: Element) -> ObjectiveMap:
    """adlseq:mapInfo (4th Ed) reads/writes completion and progress, not satisfaction or measure."""
    return ObjectiveMap(
        target=(element.get("targetObjectiveID") or "").strip(),
        read_satisfied=False,
        read_measure=False,
        read_completion=_bool(element, "readCompletionStatus", True),
        write_completion=_bool(element, "writeCompletionStatus", False),
        read_progress=_bool(element, "readProgressMeasure", True),
        write_progress=_bool(element, "writeProgressMeasure", False),
    )
