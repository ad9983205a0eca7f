"""Reading the default organization's `<item>` tree into the manifest model (organization.py).

Every item is kept, launchable or not: SCORM 1.2 parent items that carry an identifierref (eXeLearning
exports) launch their resource like a leaf, and asset items launch too (they just never report).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol
from xml.etree.ElementTree import Element, tostring

from scormhub.domain.scorm.findings import Findings, Outline, show
from scormhub.domain.scorm.manifest import (
    ADLCP_NAMESPACES,
    NS_ADLCP2004,
    NS_ADLNAV,
    NS_IMSSS,
    element_text,
    split_tag,
)
from scormhub.domain.scorm.organization import CompletionThreshold, Item, Objective, Organization, ScormType
from scormhub.domain.scorm.paths import append_parameters


class ManifestReader(Protocol):
    """What reading items needs from the manifest checker (outline.ManifestReader)."""

    @property
    def root(self) -> Element: ...

    @property
    def findings(self) -> Findings: ...

    @property
    def outline(self) -> Outline: ...

    @property
    def resources(self) -> Mapping[str, Element]: ...

    def q(self, local: str) -> str: ...

    def launch_ref(self, resource: Element) -> str | None: ...

    def scorm_type(self, resource: Element) -> ScormType: ...

    def in_range(
        self, text: str, bounds: tuple[float, float], what: str, consequence: str = ...
    ) -> float | None: ...


MAX_ITEM_DEPTH = 100
_SS = f"{{{NS_IMSSS}}}"
_TRUE = frozenset({"true", "1"})
_THRESHOLD_CONSEQUENCE = "Completion may not be reported as the author intended."


class TooDeep(Exception):
    """The outline nests beyond MAX_ITEM_DEPTH; reported once, reading stops."""


def read_organization(reader: ManifestReader, organization: Element) -> Organization:
    collection = {
        shared.get("ID", ""): tostring(shared, encoding="unicode")
        for shared in reader.root.iterfind(f"{_SS}sequencingCollection/{_SS}sequencing")
        if shared.get("ID")
    }
    items: list[Item] = []
    try:
        for element in organization.findall(reader.q("item")):
            items.append(_read_item(reader, element, 1))
    except TooDeep:
        reader.findings.error(
            "P4-outline-too-deep",
            f"The course outline nests items more than {MAX_ITEM_DEPTH} levels deep. "
            "Check the manifest; no real course needs that.",
        )
    own = organization.find(f"{_SS}sequencing")
    return Organization(
        identifier=organization.get("identifier", ""),
        title=element_text(organization.find(reader.q("title"))),
        items=tuple(items),
        sequencing_xml=None if own is None else tostring(own, encoding="unicode"),
        sequencing_collection=collection,
    )


def _read_item(reader: ManifestReader, element: Element, depth: int) -> Item:
    if depth > MAX_ITEM_DEPTH:
        raise TooDeep
    identifier = element.get("identifier", "")
    title = element_text(element.find(reader.q("title")))
    children = tuple(_read_item(reader, child, depth + 1) for child in element.findall(reader.q("item")))
    if not title:
        reader.findings.warn(
            "P4-missing-item-title",
            f"Item {show(identifier)} has no <title>; learners will see its identifier instead.",
        )
    shown_title = title or identifier
    reference = element.get("identifierref")
    if children and reference is not None and reader.outline.standard == "scorm2004":
        reader.findings.error(
            "P4-parent-item-launches",
            f"Item {show(identifier)} has sub-items and also launches a resource; SCORM 2004 lets only "
            "items without sub-items launch content. Fix the outline and export again.",
        )
    if not children and reference is None:
        reader.findings.warn(
            "P4-item-without-resource",
            f"Item {show(shown_title)} has no sub-items and launches nothing; learners will see an empty "
            "entry in the outline.",
        )
    parameters = (element.get("parameters") or "").strip()
    resource = reader.resources.get(reference) if reference is not None else None
    launch: str | None = None
    if resource is not None:
        href = reader.launch_ref(resource)
        launch = append_parameters(href, parameters) if href is not None else None
    sequencing = element.find(f"{_SS}sequencing")
    idref = sequencing.get("IDRef") if sequencing is not None else None
    if idref and idref not in _collection_ids(reader):
        reader.findings.error(
            "P4-unresolved-sequencing-idref",
            f"Item {show(shown_title)} uses the shared sequencing {show(idref)}, which the manifest's "
            "<imsss:sequencingCollection> doesn't define. Fix the IDRef or export the course again.",
        )
    adlcp = _adlcp_values(element)
    mastery = None
    if "masteryscore" in adlcp and reader.outline.standard == "scorm12":
        mastery = reader.in_range(
            adlcp["masteryscore"],
            (0, 100),
            f"adlcp:masteryscore of {show(shown_title)}",
            "SCORM Hub ignores it, so the lesson decides pass/fail on its own.",
        )
    return Item(
        identifier=identifier,
        title=shown_title,
        visible=element.get("isvisible", "true").strip().lower() not in {"false", "0"},
        parameters=parameters,
        resource=reference,
        launch=launch,
        scorm_type=reader.scorm_type(resource) if resource is not None else None,
        data_from_lms=adlcp.get("datafromlms", ""),
        mastery_score=mastery,
        max_time_allowed=adlcp.get("maxtimeallowed", "") or _duration_limit(reader, sequencing),
        time_limit_action=adlcp.get("timelimitaction", ""),
        completion_threshold=_completion_threshold(reader, element, shown_title),
        objectives=_objectives(reader, sequencing, shown_title),
        hide_lms_ui=tuple(
            element_text(hide)
            for hide in element.iterfind(
                f"{{{NS_ADLNAV}}}presentation/{{{NS_ADLNAV}}}navigationInterface/{{{NS_ADLNAV}}}hideLMSUI"
            )
            if element_text(hide)
        ),
        sequencing_idref=idref or None,
        sequencing_xml=None if sequencing is None else tostring(sequencing, encoding="unicode"),
        children=children,
    )


def _collection_ids(reader: ManifestReader) -> set[str]:
    return {
        shared.get("ID", "") for shared in reader.root.iterfind(f"{_SS}sequencingCollection/{_SS}sequencing")
    }


def _adlcp_values(element: Element) -> dict[str, str]:
    """The item's adlcp:* children by case-folded name: 1.2 writes datafromlms, 2004 dataFromLMS."""
    values: dict[str, str] = {}
    for child in element:
        namespace, local = split_tag(child.tag)
        if namespace in ADLCP_NAMESPACES and local != "completionThreshold":
            values.setdefault(local.casefold(), element_text(child))
    return values


def _duration_limit(reader: ManifestReader, sequencing: Element | None) -> str:
    """2004 cmi.max_time_allowed comes from limitConditions@attemptAbsoluteDurationLimit."""
    for source in _sequencing_sources(reader, sequencing):
        limits = source.find(f"{_SS}limitConditions")
        if limits is not None and limits.get("attemptAbsoluteDurationLimit"):
            return limits.get("attemptAbsoluteDurationLimit", "").strip()
    return ""


def _sequencing_sources(reader: ManifestReader, sequencing: Element | None) -> list[Element]:
    """The item's own sequencing first, then the shared one its IDRef names: own elements win."""
    if sequencing is None:
        return []
    sources = [sequencing]
    idref = sequencing.get("IDRef")
    if idref:
        for shared in reader.root.iterfind(f"{_SS}sequencingCollection/{_SS}sequencing"):
            if shared.get("ID") == idref:
                sources.append(shared)
                break
    return sources


def _objectives(reader: ManifestReader, sequencing: Element | None, title: str) -> tuple[Objective, ...]:
    for source in _sequencing_sources(reader, sequencing):
        objectives = source.find(f"{_SS}objectives")
        if objectives is None:
            continue
        found: list[Objective] = []
        for objective in objectives:
            namespace, local = split_tag(objective.tag)
            if namespace != NS_IMSSS or local not in {"primaryObjective", "objective"}:
                continue
            measure_el = objective.find(f"{_SS}minNormalizedMeasure")
            by_measure = objective.get("satisfiedByMeasure", "").strip() in _TRUE
            measure = None
            if measure_el is not None:
                measure = reader.in_range(
                    element_text(measure_el), (-1, 1), f"imsss:minNormalizedMeasure of {show(title)}"
                )
                # An unusable measure is ignored as a whole: the SCO decides satisfaction itself, rather
                # than being judged against the default 1.0 the author never meant.
                by_measure = by_measure and measure is not None
            found.append(
                Objective(
                    identifier=(objective.get("objectiveID") or "").strip(),
                    primary=local == "primaryObjective",
                    satisfied_by_measure=by_measure,
                    min_normalized_measure=measure,
                )
            )
        return tuple(found)
    return ()


def _completion_threshold(reader: ManifestReader, element: Element, title: str) -> CompletionThreshold | None:
    threshold = element.find(f"{{{NS_ADLCP2004}}}completionThreshold")
    if threshold is None:
        return None

    def value(text: str, name: str) -> float | None:
        if not text.strip():
            return None
        return reader.in_range(text.strip(), (0, 1), f"adlcp:{name} of {show(title)}", _THRESHOLD_CONSEQUENCE)

    # 3rd Edition: the element's value is the threshold; 4th Edition: minProgressMeasure says it.
    element_value = value(element_text(threshold), "completionThreshold")
    attribute_value = value(threshold.get("minProgressMeasure", ""), "minProgressMeasure")
    by_measure = threshold.get("completedByMeasure", "").strip() in _TRUE
    return CompletionThreshold(
        completed_by_measure=by_measure or (element_value is not None),
        min_progress_measure=attribute_value if attribute_value is not None else element_value,
        progress_weight=value(threshold.get("progressWeight", ""), "progressWeight"),
    )
