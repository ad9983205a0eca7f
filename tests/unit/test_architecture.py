"""House rules that code review alone would let slip."""

from __future__ import annotations

import ast
import hashlib
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "scormhub"
STATIC = Path(__file__).resolve().parents[2] / "static"
ADAPTER_LIBRARIES = {
    "litestar",
    "litestar_htmx",
    "litestar_saq",
    "piccolo",
    "httpx",
    "saq",
    "borb",
    "xlsxwriter",
    "asyncpg",
    "psycopg",
    "jinja2",
    "cryptography",
}


def imported_top_level_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_domain_imports_no_framework_or_adapter_library() -> None:
    offenders = {
        str(path.relative_to(SRC)): sorted(imported_top_level_modules(path) & ADAPTER_LIBRARIES)
        for path in (SRC / "domain").rglob("*.py")
    }

    assert {path: libs for path, libs in offenders.items() if libs} == {}


def test_the_domain_does_not_reach_into_adapters_or_routes() -> None:
    for path in (SRC / "domain").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(
                    ("scormhub.integrations", "scormhub.routes", "scormhub.partials", "scormhub.jobs")
                ), f"{path.name} imports {node.module}"


def test_vendored_front_end_files_match_their_recorded_checksums() -> None:
    sums = (STATIC / "vendor" / "SHA256SUMS").read_text().splitlines()

    assert sums, "static/vendor/SHA256SUMS lists the vendored files"
    for line in sums:
        expected, name = line.split(maxsplit=1)
        actual = hashlib.sha256((STATIC / "vendor" / name).read_bytes()).hexdigest()
        assert actual == expected, f"{name} differs from the pinned release (run scripts/vendor-assets)"


def test_vendored_test_tools_match_their_recorded_checksums() -> None:
    vendor = SRC.parents[1] / "tests" / "e2e" / "vendor"
    sums = (vendor / "SHA256SUMS").read_text().splitlines()

    assert sums, "tests/e2e/vendor/SHA256SUMS lists the vendored files (axe-core)"
    for line in sums:
        expected, name = line.split(maxsplit=1)
        actual = hashlib.sha256((vendor / name).read_bytes()).hexdigest()
        assert actual == expected, f"{name} differs from the pinned release (run scripts/vendor-assets)"


# --- the domain's own import graph ---------------------------------------------------------------------

DOMAIN = SRC / "domain"
# What the domain may import besides itself: the standard library and a few pure libraries.
PURE_LIBRARIES = {"msgspec", "yarl", "defusedxml"}


def domain_module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, TYPE_CHECKING blocks included: a cycle of annotations is still a cycle."""
    tree = ast.parse(path.read_text(), filename=str(path))
    name = domain_module_name(path).split(".")
    package = name if path.name == "__init__.py" else name[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = package[: len(package) - node.level + 1] if node.level else []
            base = ".".join([*anchor, *([node.module] if node.module else [])])
            # `from scormhub.domain import courses` imports the module scormhub.domain.courses.
            names.update(f"{base}.{alias.name}" for alias in node.names)
            names.add(base)
    return names


def domain_graph() -> dict[str, set[str]]:
    modules = {domain_module_name(path): path for path in DOMAIN.rglob("*.py")}
    return {
        name: {imported for imported in imported_modules(path) if imported in modules and imported != name}
        for name, path in modules.items()
    }


def test_the_domain_imports_only_itself_the_standard_library_and_pure_libraries() -> None:
    allowed = set(sys.stdlib_module_names) | PURE_LIBRARIES | {"scormhub"}
    offenders = {}
    for path in DOMAIN.rglob("*.py"):
        outside = {name for name in imported_modules(path) if name.split(".")[0] not in allowed}
        outside |= {
            name
            for name in imported_modules(path)
            if name.startswith("scormhub.") and not name.startswith("scormhub.domain")
        }
        if outside:
            offenders[str(path.relative_to(SRC))] = sorted(outside)

    assert offenders == {}


def test_the_domain_has_no_import_cycle() -> None:
    graph = domain_graph()
    cycles: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                cycles.append([*trail[trail.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*trail, imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])

    assert cycles == []


def test_ports_speak_only_in_model_errors_and_scorm_types() -> None:
    graph = domain_graph()
    allowed = (
        "scormhub.domain.model",
        "scormhub.domain.errors",
        "scormhub.domain.scorm",
        "scormhub.domain.ports",  # its modules name each other's Protocols
        # Automation's entities: a model module of their own (domain/model.py is near the size limit),
        # importing only the standard library, as domain.model does.
        "scormhub.domain.automation.model",
    )
    ports = {
        module: imports for module, imports in graph.items() if module.startswith("scormhub.domain.ports")
    }

    assert len(ports) > 1, "the ports package and its modules are found"
    assert {
        module: sorted(m for m in imports if not m.startswith(allowed)) for module, imports in ports.items()
    } == {module: [] for module in ports}


SCORM_MAY_IMPORT = ("scormhub.domain.scorm", "scormhub.domain.errors")


def test_the_scorm_package_depends_on_nothing_else_in_the_domain_but_errors() -> None:
    graph = domain_graph()
    outside = {
        module: sorted(
            m for m in imports if not m.startswith(("scormhub.domain.scorm", "scormhub.domain.errors"))
        )
        for module, imports in graph.items()
        if module.startswith("scormhub.domain.scorm")
    }

    assert {module: imports for module, imports in outside.items() if imports} == {}


# --- the edges: routes, partials and jobs translate; the composition root hands out the adapters ---------

EDGES = ("routes", "partials", "jobs")
MAX_MODULE_LINES = 600


def edge_modules() -> dict[str, Path]:
    return {path.relative_to(SRC).as_posix(): path for edge in EDGES for path in (SRC / edge).rglob("*.py")}


def test_routes_partials_and_jobs_reach_adapters_only_through_the_composition_root() -> None:
    adapters = {
        name: sorted(m for m in imported_modules(path) if m.startswith("scormhub.integrations"))
        for name, path in edge_modules().items()
    }

    assert {name: modules for name, modules in adapters.items() if modules} == {}


def test_routes_and_jobs_do_not_import_each_other() -> None:
    crossing = {
        name: sorted(
            m
            for m in imported_modules(path)
            if m.startswith(
                "scormhub.jobs" if not name.startswith("jobs/") else ("scormhub.routes", "scormhub.partials")
            )
        )
        for name, path in edge_modules().items()
    }

    assert {name: modules for name, modules in crossing.items() if modules} == {}


def test_no_module_outside_migrations_is_longer_than_600_lines() -> None:
    long = {
        path.relative_to(SRC).as_posix(): lines
        for path in SRC.rglob("*.py")
        if "migrations" not in path.parts and (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }

    assert long == {}, "split these by concern"
