"""The custom objects SCORM Hub writes in HighLevel (§6), and provisioning them in a location.

What exists is read from listings (`GET /objects/`, `GET /custom-fields/object-key/{key}`,
`GET /associations/`), never inferred from the status of a lookup of something missing: the reference lists
no 404 for `GET /objects/{key}`, and a strict server answers 400.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, Protocol

from scormhub.domain.errors import CrmRejected
from scormhub.integrations.highlevel.shapes import ALREADY_EXISTS as _ALREADY_EXISTS
from scormhub.integrations.highlevel.shapes import as_object as _object
from scormhub.integrations.highlevel.shapes import id_of as _id_of
from scormhub.integrations.highlevel.shapes import moment_of as _moment
from scormhub.integrations.highlevel.shapes import require_list as _require_list
from scormhub.integrations.highlevel.shapes import required_str as _required_str
from scormhub.integrations.highlevel.shapes import unexpected as _unexpected
from scormhub.integrations.vendor_http import segment as _segment

log = logging.getLogger("scormhub.highlevel")

_ISO_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
OBJECTS: Final = "/objects/"
CUSTOM_FIELDS: Final = "/custom-fields/"
CUSTOM_FIELDS_OF_OBJECT: Final = "/custom-fields/object-key/{object_key}"
CUSTOM_FIELD_FOLDER: Final = "/custom-fields/folder"
ASSOCIATIONS: Final = "/associations/"
# GET /associations/ pages (skip and limit are required); a location has a handful, so a few pages at most.
ASSOCIATION_PAGE: Final = 100
MAX_ASSOCIATION_PAGES: Final = 20


# --- the custom objects SCORM Hub writes (§6) -------------------------------------------------------------

TEXT: Final = "TEXT"
NUMERICAL: Final = "NUMERICAL"
DATE: Final = "DATE"


@dataclass(frozen=True)
class FieldSpec:
    key: str  # without the `custom_objects.<obj>.` prefix: what record `properties` use
    name: str
    data_type: str


@dataclass(frozen=True)
class ObjectSpec:
    key: str
    singular: str
    plural: str
    description: str
    primary: FieldSpec  # created with the schema (primaryDisplayPropertyDetails), never on its own
    fields: tuple[FieldSpec, ...]

    def data_types(self) -> dict[str, str]:
        return {spec.key: spec.data_type for spec in (self.primary, *self.fields)}


# The keys are exactly those of domain.sync.training_record(). Status and result are TEXT, not
# SINGLE_OPTIONS: option lists cannot lose options later (§6 PUT /custom-fields), and a new enum value
# would be refused. learner_email is TEXT: a HighLevel contact may have no email, and what the EMAIL type
# accepts is not documented.
TRAINING_RECORDS: Final = ObjectSpec(
    key="custom_objects.training_records",
    singular="Training Record",
    plural="Training Records",
    description="Course results written by SCORM Hub: one record per enrollment.",
    primary=FieldSpec("course_name", "Course", TEXT),
    fields=(
        FieldSpec("course_id", "Course ID", TEXT),
        FieldSpec("enrollment_id", "Enrollment ID", TEXT),
        FieldSpec("learner_email", "Learner email", TEXT),
        FieldSpec("status", "Status", TEXT),
        FieldSpec("result", "Result", TEXT),
        FieldSpec("score_percent", "Score (%)", NUMERICAL),
        FieldSpec("time_spent_seconds", "Time spent (seconds)", NUMERICAL),
        FieldSpec("attempts", "Attempts", NUMERICAL),
        FieldSpec("enrolled_on", "Enrolled on", DATE),
        FieldSpec("first_access_on", "First access on", DATE),
        FieldSpec("last_access_on", "Last access on", DATE),
        FieldSpec("completed_on", "Completed on", DATE),
    ),
)

# Company option (b) of §6: a custom object keyed by our company key, not custom fields on `business`.
# Option (a) writes to /objects/business/records/{businessId}: it needs a HighLevel business id, which
# we do not have (a learner's company is the contact's companyName), and the sources disagree on whether
# the records API accepts `business` at all. The keys are those of the enrollment repository's
# company_summary().
COMPANY_SUMMARIES: Final = ObjectSpec(
    key="custom_objects.company_training_summaries",
    singular="Company Training Summary",
    plural="Company Training Summaries",
    description="Training totals per company, kept up to date by SCORM Hub.",
    primary=FieldSpec("company", "Company", TEXT),
    fields=(
        FieldSpec("learners", "Learners", NUMERICAL),
        FieldSpec("enrollments", "Enrollments", NUMERICAL),
        FieldSpec("completions", "Completions", NUMERICAL),
        FieldSpec("passed", "Passed", NUMERICAL),
        FieldSpec("completion_rate", "Completion rate (%)", NUMERICAL),
        FieldSpec("average_score", "Average score (%)", NUMERICAL),
    ),
)
OBJECT_SPECS: Final = (TRAINING_RECORDS, COMPANY_SUMMARIES)
ASSOCIATION_KEY: Final = "training_record_contact"
FOLDER_NAME: Final = "SCORM Hub"
# Bump when the specs above gain a field: stores saved by an older version then re-provision.
PROVISION_VERSION: Final = 1


class ProvisionStore(Protocol):
    """Ids of the provisioned schemas, fields and association (a JSON dict persisted by the caller)."""

    async def load(self) -> dict[str, Any]: ...

    async def save(self, data: dict[str, Any]) -> None: ...


class Request(Protocol):
    """HighLevelClient.request: one call with the limiter, token refresh and error mapping."""

    async def __call__(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        missing: str = "contact",
    ) -> Any: ...


class SchemaProvisioner:
    """Finds, and creates what is missing of, the objects, fields and association of one location."""

    def __init__(self, request: Request, *, location_id: str, provision: ProvisionStore) -> None:
        self._request = request
        self._location_id = location_id
        self._provision = provision

    async def provisioned(self) -> bool:
        """Whether every object, field and the association exist (stored ids, else the listings)."""
        if complete(await self._provision.load()):
            return True
        return await self.run(create=False) is not None

    async def setup(self) -> dict[str, Any]:
        """The provisioned ids the writes need; provisions first if they were never stored."""
        data = await self._provision.load()
        if complete(data):
            return data
        provisioned = await self.run(create=True)
        assert provisioned is not None  # create=True either provisions everything or raises
        return provisioned

    async def run(self, *, create: bool) -> dict[str, Any] | None:
        """Find (and with `create`, make) every schema, field and the association; save their ids.

        Returns what was saved, or None when something is missing and `create` is off. Always reads
        before it writes, so running it twice creates nothing the second time.
        """
        # What exists is read from listings, never inferred from the status of a lookup of something
        # missing: the reference lists no 404 for GET /objects/{key}, and a strict server answers 400.
        stored = await self._provision.load()
        listed = await self.list_objects()
        data: dict[str, Any] = {"objects": {}, "fields": {}, "folders": {}}
        for spec in OBJECT_SPECS:
            found = listed_key(listed, stored_object_key(stored, spec) or spec.key)
            if found is None:
                if not create:
                    return None
                found = await self._create_object(spec)
            object_id, object_key = found
            data["objects"][spec.key] = {"id": object_id, "key": object_key}
            field_ids, folder_id = await self._fields_and_folder(object_key)
            wanted = [f for f in spec.fields if f"{object_key}.{f.key}" not in field_ids]
            if wanted:
                if not create:
                    return None
                if folder_id is None:
                    folder_id = await self._create_folder(object_key)
                for spec_field in wanted:
                    full_key = f"{object_key}.{spec_field.key}"
                    field_ids[full_key] = await self._create_field(object_key, spec_field, folder_id)
            ours = {f"{object_key}.{f.key}" for f in (spec.primary, *spec.fields)}
            data["fields"].update({key: value for key, value in field_ids.items() if key in ours})
            if folder_id is not None:
                data["folders"][spec.key] = folder_id
        association_id = await self._find_association()
        if association_id is None:
            if not create:
                return None
            association_id = await self._create_association(data["objects"][TRAINING_RECORDS.key]["key"])
        data["association"] = {"id": association_id, "key": ASSOCIATION_KEY}
        data["version"] = PROVISION_VERSION
        await self._provision.save(data)
        return data

    async def list_objects(self) -> dict[str, str]:
        """key → id of every schema of the location (§6 `GET /objects/?locationId=` → `{objects[]}`)."""
        params = {"locationId": self._location_id}
        data = await self._request("GET", OBJECTS, params=params, missing="location")
        _require_list(data, "objects")
        found: dict[str, str] = {}
        for item in data["objects"]:
            key, object_id = (item.get("key"), _id_of(item)) if isinstance(item, dict) else (None, None)
            if isinstance(key, str) and key and object_id:
                found[key] = object_id
        return found

    async def _create_object(self, spec: ObjectSpec) -> tuple[str, str]:
        body = {
            "labels": {"singular": spec.singular, "plural": spec.plural},
            "key": spec.key,
            "description": spec.description,
            "locationId": self._location_id,
            "primaryDisplayPropertyDetails": {
                "key": f"{spec.key}.{spec.primary.key}",
                "name": spec.primary.name,
                "dataType": spec.primary.data_type,
            },
        }
        data = _object(await self._request("POST", OBJECTS, body=body, missing="location"))
        schema = _object(data.get("object"))
        # Later calls use the key HighLevel answers with: the spec's own examples disagree on its form.
        return _required_str(schema, "id"), _required_str(schema, "key")

    async def _fields_and_folder(self, object_key: str) -> tuple[dict[str, str], str | None]:
        # Whether a field may omit its folder (parentId) is unconfirmed: use the object's first folder.
        data = _object(
            await self._request(
                "GET",
                CUSTOM_FIELDS_OF_OBJECT.format(object_key=_segment(object_key)),
                params={"locationId": self._location_id},
                missing="custom object",
            )
        )
        folders = data.get("folders") or []
        if not isinstance(folders, list):
            _unexpected()
        folder_id = next((_id_of(item) for item in folders if isinstance(item, dict) and _id_of(item)), None)
        return _field_ids(data.get("fields")), folder_id

    async def _create_folder(self, object_key: str) -> str:
        data = _object(
            await self._request(
                "POST",
                CUSTOM_FIELD_FOLDER,
                body={"objectKey": object_key, "name": FOLDER_NAME, "locationId": self._location_id},
                missing="custom object",
            )
        )
        # The answer's shape is undocumented: the folder itself, or wrapped in `folder`.
        folder = data.get("folder")
        found = _id_of(folder if isinstance(folder, dict) else data)
        if found is None:
            _unexpected()
        return found

    async def _create_field(self, object_key: str, spec: FieldSpec, folder_id: str) -> str:
        body = {
            "locationId": self._location_id,
            "objectKey": object_key,
            "fieldKey": f"{object_key}.{spec.key}",
            "name": spec.name,
            "dataType": spec.data_type,
            # Results are written by SCORM Hub, not collected from people: keep them out of form builders.
            "showInForms": False,
            "parentId": folder_id,
        }
        try:
            data = _object(await self._request("POST", CUSTOM_FIELDS, body=body, missing="custom object"))
        except CrmRejected as exc:
            # A field the listings did not show (their field shape is undocumented) but that exists.
            if not _ALREADY_EXISTS.search(exc.detail):
                raise
            return ""
        created = data.get("field")
        return _required_str(created if isinstance(created, dict) else data, "id")

    async def _find_association(self) -> str | None:
        """Our association's id, from the listing of the location's (`GET /associations/`)."""
        skip = 0
        for _ in range(MAX_ASSOCIATION_PAGES):
            params = {"locationId": self._location_id, "skip": str(skip), "limit": str(ASSOCIATION_PAGE)}
            page = _associations(await self._request("GET", ASSOCIATIONS, params=params, missing="location"))
            ours = (item for item in page if item.get("key") == ASSOCIATION_KEY and _id_of(item))
            found = next(ours, None)
            if found is not None:
                return _id_of(found)
            if len(page) < ASSOCIATION_PAGE:
                return None
            skip += len(page)
        return None

    async def _create_association(self, training_key: str) -> str:
        body = {
            "locationId": self._location_id,
            "key": ASSOCIATION_KEY,
            "firstObjectKey": training_key,
            "firstObjectLabel": TRAINING_RECORDS.singular,
            "secondObjectKey": "contact",
            "secondObjectLabel": "Learner",
        }
        data = _object(await self._request("POST", ASSOCIATIONS, body=body, missing="location"))
        found = _id_of(data)
        if found is None:
            _unexpected()
        return found


def _field_ids(value: Any) -> dict[str, str]:
    """fieldKey → id of a field listing (`fields[]`); the item shape is undocumented, so read both keys."""
    if value is None:
        return {}
    if not isinstance(value, list):
        _unexpected()
    found: dict[str, str] = {}
    for item in value:
        if not isinstance(item, dict):
            continue
        key = item.get("fieldKey") or item.get("key")
        if isinstance(key, str) and key:
            found[key] = _id_of(item) or ""
    return found


def listed_key(listed: Mapping[str, str], wanted: str) -> tuple[str, str] | None:
    """(id, key) of the listed schema `wanted` names. The spec's examples disagree on the prefix
    (`custom_object.pet` vs `custom_objects.pet`), so the name after it decides when the key differs."""
    if wanted in listed:
        return listed[wanted], wanted
    name = wanted.partition(".")[2]
    for key, object_id in listed.items():
        if key.startswith("custom_object") and key.partition(".")[2] == name:
            return object_id, key
    return None


def _associations(data: Any) -> list[dict[str, Any]]:
    """The items of an association listing. Its shape is undocumented (the spec gives a single
    association): accept a list, `{associations: [...]}`, or one association."""
    if isinstance(data, dict) and "associations" in data:
        data = data["associations"]
    elif isinstance(data, dict) and ("key" in data or not data):
        data = [data] if data else []
    if not isinstance(data, list):
        _unexpected()
    return [item for item in data if isinstance(item, dict)]


def stored_object_key(stored: Mapping[str, Any], spec: ObjectSpec) -> str | None:
    objects = stored.get("objects")
    entry = objects.get(spec.key) if isinstance(objects, dict) else None
    key = entry.get("key") if isinstance(entry, dict) else None
    return key if isinstance(key, str) and key else None


def object_key_of(setup: Mapping[str, Any], spec: ObjectSpec) -> str:
    return stored_object_key(setup, spec) or spec.key


def complete(data: Mapping[str, Any]) -> bool:
    if data.get("version") != PROVISION_VERSION:
        return False
    association = data.get("association")
    if not isinstance(association, dict) or not association.get("id"):
        return False
    return all(stored_object_key(data, spec) for spec in OBJECT_SPECS)


def record_properties(spec: ObjectSpec, properties: Mapping[str, Any]) -> dict[str, Any]:
    """Properties as §6 wants them: only the object's field keys, numbers as numbers, dates as YYYY-MM-DD.

    None is left out: the reference documents no way to clear a value, and strict bodies refuse what
    they do not expect.
    """
    types = spec.data_types()
    values: dict[str, Any] = {}
    for key, value in properties.items():
        data_type = types.get(key)
        if data_type is None:
            log.warning("HighLevel %s has no field %r; not sent", spec.plural, key)
            continue
        if value is None:
            continue
        formatted = _format_value(key, value, data_type)
        if formatted is not None:
            values[key] = formatted
    return values


def _format_value(key: str, value: Any, data_type: str) -> Any:
    if data_type == NUMERICAL:
        number: float | int
        if isinstance(value, bool):
            raise _unwritable(key, value)
        if isinstance(value, int | float):
            number = value
        else:
            try:
                number = float(str(value))
            except ValueError:
                raise _unwritable(key, value) from None
        return number if math.isfinite(number) else None
    if data_type == DATE:
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
            return moment.astimezone(UTC).date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        text = str(value).strip()
        if _ISO_DAY.fullmatch(text):
            return text
        parsed = _moment(text)
        if parsed is None:
            raise _unwritable(key, value)
        return parsed.date().isoformat()
    return value if isinstance(value, str) else str(value)


def _unwritable(key: str, value: Any) -> CrmRejected:
    return CrmRejected(
        f"SCORM Hub could not write {key} = {value!r} to HighLevel.", detail=f"{key}: {value!r}"
    )
