"""The manifest model: the default organization's tree of items, as the checker and the player read it.

Plain values only (no XML elements), so a course can keep its tree as JSON. Sequencing is kept raw: each
item's `<imsss:sequencing>` element as XML text and the `IDRef` it names, and the manifest's
`<imsss:sequencingCollection>` by ID, for the sequencer to interpret.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ScormType = Literal["sco", "asset"]


@dataclass(frozen=True)
class Objective:
    """One `imsss:primaryObjective` or `imsss:objective` of an item's sequencing."""

    identifier: str  # objectiveID; "" for a primary objective that names none
    primary: bool
    satisfied_by_measure: bool = False
    min_normalized_measure: float | None = None  # -1..1; the SN default 1.0 applies when absent


@dataclass(frozen=True)
class CompletionThreshold:
    """`adlcp:completionThreshold`: a 3rd Edition element value, or the 4th Edition's attributes."""

    completed_by_measure: bool = False
    min_progress_measure: float | None = None  # 0..1
    progress_weight: float | None = None  # 0..1


@dataclass(frozen=True)
class Item:
    """One `<item>` and its children. `launch` is set when the item launches something: the xml:base
    chain (manifest, resources, resource) + href + the item's parameters, relative to the package root."""

    identifier: str
    title: str
    visible: bool = True
    parameters: str = ""
    resource: str | None = None  # the identifierref
    launch: str | None = None
    scorm_type: ScormType | None = None
    data_from_lms: str = ""
    mastery_score: float | None = None  # SCORM 1.2 adlcp:masteryscore, 0..100
    max_time_allowed: str = ""  # 1.2 adlcp:maxtimeallowed, or 2004 attemptAbsoluteDurationLimit
    time_limit_action: str = ""
    completion_threshold: CompletionThreshold | None = None
    objectives: tuple[Objective, ...] = ()
    hide_lms_ui: tuple[str, ...] = ()
    sequencing_idref: str | None = None
    sequencing_xml: str | None = None
    children: tuple[Item, ...] = ()

    @property
    def launchable(self) -> bool:
        return self.launch is not None

    @property
    def primary_objective(self) -> Objective | None:
        return next((o for o in self.objectives if o.primary), None)

    @property
    def scaled_passing_score(self) -> float | None:
        """2004 cmi.scaled_passing_score: the primary objective's measure when it is satisfied by it."""
        primary = self.primary_objective
        if primary is None or not primary.satisfied_by_measure:
            return None
        return 1.0 if primary.min_normalized_measure is None else primary.min_normalized_measure

    def walk(self) -> Iterator[Item]:
        """This item and every item below it, in outline order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def to_json_dict(self) -> dict[str, Any]:
        threshold = self.completion_threshold
        return {
            "identifier": self.identifier,
            "title": self.title,
            "visible": self.visible,
            "parameters": self.parameters,
            "resource": self.resource,
            "launch": self.launch,
            "type": self.scorm_type,
            "data_from_lms": self.data_from_lms,
            "mastery_score": self.mastery_score,
            "max_time_allowed": self.max_time_allowed,
            "time_limit_action": self.time_limit_action,
            "completion_threshold": None
            if threshold is None
            else {
                "completed_by_measure": threshold.completed_by_measure,
                "min_progress_measure": threshold.min_progress_measure,
                "progress_weight": threshold.progress_weight,
            },
            "objectives": [
                {
                    "id": o.identifier,
                    "primary": o.primary,
                    "satisfied_by_measure": o.satisfied_by_measure,
                    "min_normalized_measure": o.min_normalized_measure,
                }
                for o in self.objectives
            ],
            "hide_lms_ui": list(self.hide_lms_ui),
            "sequencing_idref": self.sequencing_idref,
            "sequencing": self.sequencing_xml,
            "children": [child.to_json_dict() for child in self.children],
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> Item:
        """The inverse of to_json_dict, for a course's stored tree."""
        threshold = data.get("completion_threshold")
        scorm_type = data.get("type")
        return cls(
            identifier=str(data["identifier"]),
            title=str(data["title"]),
            visible=bool(data.get("visible", True)),
            parameters=str(data.get("parameters", "")),
            resource=data.get("resource"),
            launch=data.get("launch"),
            scorm_type="sco" if scorm_type == "sco" else "asset" if scorm_type == "asset" else None,
            data_from_lms=str(data.get("data_from_lms", "")),
            mastery_score=data.get("mastery_score"),
            max_time_allowed=str(data.get("max_time_allowed", "")),
            time_limit_action=str(data.get("time_limit_action", "")),
            completion_threshold=None
            if not isinstance(threshold, Mapping)
            else CompletionThreshold(
                completed_by_measure=bool(threshold.get("completed_by_measure")),
                min_progress_measure=threshold.get("min_progress_measure"),
                progress_weight=threshold.get("progress_weight"),
            ),
            objectives=tuple(
                Objective(
                    identifier=str(o.get("id", "")),
                    primary=bool(o.get("primary")),
                    satisfied_by_measure=bool(o.get("satisfied_by_measure")),
                    min_normalized_measure=o.get("min_normalized_measure"),
                )
                for o in data.get("objectives", ())
            ),
            hide_lms_ui=tuple(str(v) for v in data.get("hide_lms_ui", ())),
            sequencing_idref=data.get("sequencing_idref"),
            sequencing_xml=data.get("sequencing"),
            children=tuple(cls.from_json_dict(child) for child in data.get("children", ())),
        )


@dataclass(frozen=True)
class Organization:
    identifier: str
    title: str
    items: tuple[Item, ...] = ()
    sequencing_xml: str | None = None
    sequencing_collection: Mapping[str, str] = field(default_factory=dict)

    def walk(self) -> Iterator[Item]:
        for item in self.items:
            yield from item.walk()

    def launchables(self) -> tuple[Item, ...]:
        return tuple(item for item in self.walk() if item.launchable)

    def find(self, identifier: str) -> Item | None:
        return next((item for item in self.walk() if item.identifier == identifier), None)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "title": self.title,
            "items": [item.to_json_dict() for item in self.items],
            "sequencing": self.sequencing_xml,
            "sequencing_collection": dict(self.sequencing_collection),
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> Organization:
        return cls(
            identifier=str(data["identifier"]),
            title=str(data.get("title", "")),
            items=tuple(Item.from_json_dict(item) for item in data.get("items", ())),
            sequencing_xml=data.get("sequencing"),
            sequencing_collection={str(k): str(v) for k, v in data.get("sequencing_collection", {}).items()},
        )
