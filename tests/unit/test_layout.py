"""The shape of the code base: areas apart from the HTTP layer, no cycles between areas, names
that shadow nothing, modules a newcomer can read."""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
# The tables (models/) are shared infrastructure like extensions.py, not an area.
AREAS = {path.name for path in DASHBOARD.iterdir() if path.is_dir() and (path / "__init__.py").exists()} - {"web", "models"}
# Modules still over the size a newcomer reads at once; each is to be split along its own sections.
OVERSIZED: set[str] = set()
MAX_LINES = 700


def _modules() -> dict[str, Path]:
    return {".".join(path.relative_to(DASHBOARD.parent).with_suffix("").parts).removesuffix(".__init__"): path
            for path in DASHBOARD.rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """Every dashboard module a file imports, at the top or inside a function."""
    modules = _modules()
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("dashboard"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("dashboard"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
    return found


def _area(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in AREAS else None


def test_only_the_app_factory_imports_the_http_layer():
    offenders = sorted(
        name for name, path in _modules().items()
        if not name.startswith("dashboard.web") and name != "dashboard"
        and any(imported.startswith("dashboard.web") for imported in _imports(path))
    )
    assert offenders == []


def test_areas_do_not_import_each_other_in_a_cycle():
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in _modules().items():
        source = _area(name)
        if source is None:
            continue
        for imported in _imports(path):
            target = _area(imported)
            if target and target != source:
                graph[source].add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in graph[start])

    cycles = sorted(area for area in AREAS if reaches(area, area, {area}))
    assert cycles == [], dict(graph)


def test_no_module_shadows_the_standard_library():
    shadowing = sorted(str(path.relative_to(DASHBOARD)) for path in DASHBOARD.rglob("*.py")
                       if path.stem in sys.stdlib_module_names)
    assert shadowing == []


def test_modules_stay_readable():
    too_long = sorted(
        str(path.relative_to(DASHBOARD)) for path in DASHBOARD.rglob("*.py")
        if len(path.read_text().splitlines()) > MAX_LINES and str(path.relative_to(DASHBOARD)) not in OVERSIZED
    )
    assert too_long == []
    top_level = [path for path in DASHBOARD.glob("*.py")]
    assert len(top_level) <= 16, sorted(path.name for path in top_level)


def test_the_benchmarks_do_not_import_the_tests():
    """bench/ builds its academies with the product's own code (dashboard.synthetic, the snapshot
    importer): the test suite may change its helpers without breaking a benchmark."""
    offenders = []
    for path in sorted((DASHBOARD.parent / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {name}" for name in names if name == "tests" or name.startswith("tests.")]
    assert offenders == []
