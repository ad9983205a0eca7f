"""Activity trees of built-in courses, read from their extracted imsmanifest.xml and kept in memory.

The manifest of an imported course never changes in place (a new version is a new folder), so a tree is
cached by file and modification time; parsing happens once per course and process, not per request."""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

import anyio

from scormhub.domain.model import Course
from scormhub.domain.scorm.findings import Findings
from scormhub.domain.scorm.manifest import decode_manifest, parse_manifest
from scormhub.domain.scorm.sequencing.definitions import ActivityTreeDefinition
from scormhub.domain.scorm.sequencing.parse import SequencingManifestError, read_activity_tree
from scormhub.integrations.builtin_engine import BuiltinEngine

log = logging.getLogger(__name__)

_CACHE_SIZE = 64
_cache: OrderedDict[tuple[Path, int], ActivityTreeDefinition | None] = OrderedDict()


def _read(path: Path) -> ActivityTreeDefinition | None:
    findings = Findings()
    root = parse_manifest(decode_manifest(path.read_bytes(), "cp1252", findings), findings)
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
        path = self.builtin.content_file(course.id, "imsmanifest.xml")
        if path is None:
            return None
        key = (path, path.stat().st_mtime_ns)
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        tree = await anyio.to_thread.run_sync(_read, path)
        _cache[key] = tree
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return tree
