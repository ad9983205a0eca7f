"""Which delivery engine plays a course: the registry over the built-in engine and SCORM Cloud."""

from __future__ import annotations

from scormhub.domain.errors import EngineUnavailable
from scormhub.domain.model import EngineKind
from scormhub.domain.ports import DeliveryEngine
from scormhub.integrations.builtin_engine import BuiltinEngine


class Engines:
    """EngineRegistry: the built-in engine always; SCORM Cloud when the workspace has connected it."""

    def __init__(self, builtin: BuiltinEngine, scorm_cloud: DeliveryEngine | None = None) -> None:
        self.builtin = builtin
        self.scorm_cloud = scorm_cloud

    def for_kind(self, kind: EngineKind) -> DeliveryEngine:
        if kind is EngineKind.BUILTIN:
            return self.builtin
        if self.scorm_cloud is not None:
            return self.scorm_cloud
        raise EngineUnavailable("SCORM Cloud is not connected. Connect it again in Settings → SCORM Cloud")
