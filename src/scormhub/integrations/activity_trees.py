"""Activity trees of built-in courses, read from their extracted imsmanifest.xml and kept in memory.

An imported course's manifest changes only with the course record (a new import or version updates it),
so a tree is cached by course and its `updated_at`; parsing happens once per course and process, not per
request, wherever the content is stored."""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import datetime
from uuid import UUID

import anyio

from scormhub.domain.model import Course
from scormhub.domain.scorm.findings import Findings
from scormhub.domain.scorm.manifest import decode_manifest, parse_manifest
from scormhub.domain.scorm.sequencing.definitions import ActivityTreeDefinition
from scormhub.domain.scorm.sequencing.parse import SequencingManifestError, read_activity_tree
from scormhub.integrations.builtin_engine import BuiltinEngine

log = logging.getLogger(__name__)

_CACHE_SIZE = 64
_cache: OrderedDict[tuple[UUID, datetime], ActivityTreeDefinition | None] = OrderedDict()


def _read(manifest: bytes) -> ActivityTreeDefinition | None:
    findings = Findings()
    root = parse_manifest(decode_manifest(manifest, "cp1252", findings), findings)
    if root is None:
        return None
    try:
        return read_activity_tree(root)
    except SequencingManifestError as problem:
        # The checker reports it at upload; the player then falls back to the plain list of SCOs.
        log.warning("the course's sequencing can't be used (%s): %s", problem.code, problem)
        return None


class ManifestActivityTrees:
    def __init__(self, builtin: BuiltinEngine) -> None:
        self.builtin = builtin

    async def for_course(self, course: Course) -> ActivityTreeDefinition | None:
        if course.standard != "scorm2004":
            return None
        key = (course.id, course.updated_at)
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        reader = await self.builtin.open_content(course.id, "imsmanifest.xml")
        if reader is None:
            return None
        try:
            manifest = b"".join([chunk async for chunk in reader.chunks()])
        finally:
            await reader.aclose()
        tree = await anyio.to_thread.run_sync(_read, manifest)
        _cache[key] = tree
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return tree
