"""Validating one commit from a SCO against the data model: what is accepted and what is rejected."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from scormhub.domain.scorm.cmi import (
    MAX_ARRAY_ITEMS,
    MAX_RECORD_DEPTH,
    MAX_RECORD_TEXT,
    AcceptedValue,
    CmiTree,
    InvalidValue,
    RejectionKind,
    Validator,
)
from scormhub.domain.scorm.datamodel import (
    NUL_REASON,
    Model,
    decimal_text,
    model_for,
    to_float,
)
from scormhub.domain.scorm.package import Standard

_PREVIEW_CHARS: Final = 200


@dataclass(frozen=True)
class RejectedValue:
    element: str
    value: object
    reason: str
    kind: RejectionKind = RejectionKind.INVALID


@dataclass(frozen=True)
class CommitResult:
    """What survived validation (normalised: decimals as float, session time as seconds) and what did not."""

    accepted: dict[str, AcceptedValue]
    rejected: list[RejectedValue]

    @property
    def problems(self) -> list[RejectedValue]:
        """Rejections worth a log line: read-only echoes are in every full commit and mean nothing."""
        return [r for r in self.rejected if r.kind is not RejectionKind.READ_ONLY]


_ARRAY_INDEX = re.compile(r"[0-9]{1,4}")
_RECORD_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}|[0-9]{1,4}")


def _preview(value: object) -> object:
    """Keeps rejections small and printable: a 5 MB suspend_data or a 10**5000 must not reach a log."""
    if isinstance(value, str) and len(value) > _PREVIEW_CHARS:
        return value[:_PREVIEW_CHARS] + f"… ({len(value)} characters)"
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if abs(value) < 10**18 else "<integer too large to show>"
    if isinstance(value, Mapping | list):
        return f"<{type(value).__name__} with {len(value)} entries>"
    return value if isinstance(value, str) else f"<{type(value).__name__}>"


def _cmi_root(payload: object) -> object:
    """The cmi object itself, whether we got it bare, as {"cmi": ...}, or in the common commit fields."""
    if isinstance(payload, Mapping):
        runtime_data = payload.get("runtimeData")
        if isinstance(runtime_data, Mapping):
            payload = runtime_data
    if isinstance(payload, Mapping) and isinstance(payload.get("cmi"), Mapping):
        return payload["cmi"]
    return payload


def validate_commit(
    standard: Standard, cmi: Mapping[str, Any], *, suspend_data_limit: int | None = None
) -> CommitResult:
    """Checks every value of one scorm-again json commit against the data model; never raises on input."""
    model = model_for(standard, suspend_data_limit)
    result = CommitResult(accepted={}, rejected=[])
    root = _cmi_root(cmi)
    if isinstance(root, Mapping):
        _walk(root, "cmi", model, result)
    else:
        result.rejected.append(RejectedValue("cmi", _preview(root), "expected an object"))
    return result


def _walk(node: Mapping[Any, Any], path: str, model: Model, result: CommitResult) -> None:
    for key, value in node.items():
        if not isinstance(key, str) or not key or "." in key:
            shown = key if isinstance(key, str) else f"<{type(key).__name__}>"
            result.rejected.append(
                RejectedValue(
                    f"{path}.{shown}", _preview(value), "not a data model name", RejectionKind.INVALID
                )
            )
            continue
        element = f"{path}.{key}"
        if key.startswith("_") or element in model.read_only:
            # LMS-owned (or a keyword like _children): scorm-again echoes them in every full commit.
            result.rejected.append(
                RejectedValue(element, _preview(value), "read-only", RejectionKind.READ_ONLY)
            )
        elif element in model.arrays:
            _walk_array(element, value, result)
        elif element in model.leaves:
            _check_leaf(element, value, model.leaves[element], result)
        elif element in model.containers and isinstance(value, Mapping):
            _walk(value, element, model, result)
        elif element in model.containers:
            result.rejected.append(RejectedValue(element, _preview(value), "expected an object"))
        else:
            reason = f"not in the SCORM {model.label} data model"
            result.rejected.append(
                RejectedValue(element, _preview(value), reason, RejectionKind.UNKNOWN_ELEMENT)
            )


def _check_leaf(element: str, value: object, check: Validator, result: CommitResult) -> None:
    try:
        normalised = check(element, value)
    except InvalidValue as error:
        result.rejected.append(RejectedValue(element, _preview(value), error.reason))
        return
    if normalised is not None:
        result.accepted[element] = normalised


def _walk_array(element: str, value: object, result: CommitResult) -> None:
    """Interactions, objectives and comments are kept for resume and checked only for shape and size."""
    items: Iterable[tuple[object, object]]
    if isinstance(value, list):
        items = enumerate(value)
    elif isinstance(value, Mapping):
        items = value.items()
    else:
        result.rejected.append(RejectedValue(element, _preview(value), "expected a list of records"))
        return
    if len(value) > MAX_ARRAY_ITEMS:
        reason = f"{len(value)} records, over the limit of {MAX_ARRAY_ITEMS}"
        result.rejected.append(RejectedValue(element, _preview(value), reason))
        return
    records: CmiTree = {}
    for index, item in items:
        text_index = str(index) if isinstance(index, int) else index
        if not isinstance(text_index, str) or not _ARRAY_INDEX.fullmatch(text_index):
            shown = text_index if isinstance(text_index, str) else f"<{type(text_index).__name__}>"
            result.rejected.append(RejectedValue(f"{element}.{shown}", _preview(item), "not an array index"))
            continue
        item_element = f"{element}.{int(text_index)}"
        if int(text_index) >= MAX_ARRAY_ITEMS:
            result.rejected.append(RejectedValue(item_element, _preview(item), "index past the record limit"))
            continue
        try:
            records[str(int(text_index))] = _record(item_element, item, depth=1)
        except InvalidValue as error:
            where = "" if error.element == item_element else f" at {error.element}"
            result.rejected.append(RejectedValue(item_element, _preview(item), f"{error.reason}{where}"))
    result.accepted[element] = records


def _record(element: str, value: object, *, depth: int) -> CmiTree:
    if isinstance(value, list):
        value = dict(enumerate(value))
    if not isinstance(value, Mapping):
        raise InvalidValue(element, value, "expected a record")
    if depth > MAX_RECORD_DEPTH or len(value) > MAX_ARRAY_ITEMS:
        raise InvalidValue(element, value, "record too deep or too large")
    record: CmiTree = {}
    for key, child in value.items():
        name = str(key) if isinstance(key, int) and not isinstance(key, bool) and 0 <= key < 10**4 else key
        if not isinstance(name, str) or not _RECORD_KEY.fullmatch(name):
            raise InvalidValue(element, value, "record has a name that is not a data model name")
        if child is None:
            continue
        child_element = f"{element}.{name}"
        if isinstance(child, Mapping | list):
            record[name] = _record(child_element, child, depth=depth + 1)
        else:
            record[name] = _record_text(child_element, child)
    # scorm-again needs id and type set before the other fields of an interaction when it loads them.
    return {key: record[key] for key in sorted(record, key=lambda k: (k not in ("id", "type"), k != "id"))}


def _record_text(element: str, value: object) -> str:
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidValue(element, value, NUL_REASON)
        if len(value) > MAX_RECORD_TEXT:
            raise InvalidValue(element, value, f"longer than {MAX_RECORD_TEXT} characters")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(element, value, "expected text or a number")
    number = to_float(element, value)
    return "" if number is None else decimal_text(number)
