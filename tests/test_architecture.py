"""The package's shape (docs/architecture.md): no import cycle, and each stage imports only the stages
below it. Writers never import an index; retrieval sees only the backend protocol; front ends go
through the service layer."""
import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "amqa"
BASE = {"amqa._version", "amqa.types", "amqa.errors", "amqa.settings", "amqa.text", "amqa.threads"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py") if not {"eval", "seeds"} & set(p.relative_to(PACKAGE).parts)}


def imports_of(module: str) -> set[str]:
    """The amqa modules ``module`` imports, at the top, under TYPE_CHECKING or inside functions."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "amqa")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "amqa":
                continue
            # "from amqa.index import planner" imports the module amqa.index.planner
            subs = {f"{target}.{a.name}" for a in node.names} & MODULES.keys()
            found |= subs or {target}
    return (found & MODULES.keys()) - {module}


GRAPH = {m: imports_of(m) for m in MODULES}


def under(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_the_modules_are_found_and_read():
    assert {"amqa.index.protocol", "amqa.index.local.store", "amqa.writers.extractive", "amqa.service.engine",
            "amqa.frontends.ui"} <= MODULES.keys()
    assert "amqa.index.protocol" in GRAPH["amqa.retrieval.search"]  # the parser sees absolute imports
    assert "amqa.index.planner" in GRAPH["amqa.index.local.store"]  # and "from package import module"


def test_no_import_cycle():
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        for dep in sorted(GRAPH[module]):
            if dep in path:
                cycles.append(path[path.index(dep):] + [dep])
            elif len(cycles) < 3:
                visit(dep, path + [dep])

    for module in GRAPH:
        visit(module, [module])
        if cycles:
            break
    assert not cycles, f"import cycles: {cycles[:3]}"


# Each layer and what it may import (besides itself and the base modules).
LAYERS = [
    (("amqa.embedders",), ()),
    (("amqa.ingest",), ()),
    (("amqa.index",), ("amqa.ingest", "amqa.embedders")),
    (("amqa.retrieval",), ("amqa.index.protocol", "amqa.embedders")),
    (("amqa.writers",), ("amqa.embedders",)),
    (("amqa.service",), ("amqa.ingest", "amqa.embedders", "amqa.index", "amqa.retrieval", "amqa.writers")),
    (("amqa.evaluation",), ("amqa.ingest", "amqa.service", "amqa.retrieval", "amqa.writers")),
    (("amqa.frontends",), ("amqa.ingest", "amqa.service", "amqa.evaluation")),
]


@pytest.mark.parametrize("layer, allowed", LAYERS, ids=[layer[0] for layer, _ in LAYERS])
def test_each_layer_imports_only_the_layers_below_it(layer, allowed):
    wrong = {m: sorted(d for d in deps if not (d in BASE or under(d, *layer, *allowed)))
             for m, deps in GRAPH.items() if under(m, *layer)}
    assert not {m: d for m, d in wrong.items() if d}


def test_the_base_modules_import_no_stage():
    assert {m: sorted(GRAPH[m] - BASE) for m in BASE if GRAPH[m] - BASE} == {}


def test_writers_never_import_an_index_and_front_ends_only_the_service():
    """The two rules the layers exist for, said plainly (the table above implies them)."""
    for module, deps in GRAPH.items():
        if under(module, "amqa.writers", "amqa.retrieval"):
            assert not {d for d in deps if under(d, "amqa.index.local", "amqa.index.memory", "amqa.index.factory")}, module
        if under(module, "amqa.frontends"):
            assert not {d for d in deps if under(d, "amqa.index", "amqa.retrieval", "amqa.writers")}, module
    importers = {m for m, deps in GRAPH.items() if any(under(d, "amqa.frontends") for d in deps)}
    assert all(under(m, "amqa.frontends") for m in importers), importers  # the library never imports its front ends


def loaded_with(module: str) -> set[str]:
    """Every amqa module importing ``module`` loads: its imports, theirs, and the packages above each
    (``import amqa.index.protocol`` runs ``amqa/index/__init__.py`` first)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        m = todo.pop()
        parents = {".".join(m.split(".")[:i]) for i in range(2, m.count(".") + 1)}
        for dep in (GRAPH.get(m, set()) | parents) & MODULES.keys():
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen - {module}


def test_retrieval_and_writers_load_no_backend_even_indirectly():
    backends = ("amqa.index.local", "amqa.index.memory", "amqa.index.factory")
    for module in MODULES:
        if under(module, "amqa.retrieval", "amqa.writers"):
            assert not {d for d in loaded_with(module) if under(d, *backends)}, module


def test_modules_are_imported_by_name_only():
    """No importlib.import_module or __import__ in the package: every dependency is an import
    statement the layer tests see."""
    for module, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        assert "import_module(" not in text and "__import__(" not in text, module
