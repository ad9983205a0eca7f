"""House rules that code review alone would let slip."""

from __future__ import annotations

import ast
import hashlib
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
