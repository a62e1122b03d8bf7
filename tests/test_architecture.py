"""The package's shape: modules import one another without cycles, and stages meet through types."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "amqa"


def imports_of(path: Path) -> set[str]:
    """amqa modules a module imports, at the top or inside functions (``from .x import y``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:  # from . import x
                found.update(alias.name for alias in node.names)
    return found


def test_no_import_cycle():
    graph = {p.stem: imports_of(p) - {"__init__"} for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        for dep in sorted(graph.get(module, ())):
            if dep in path:
                cycles.append(path[path.index(dep):] + [dep])
            elif dep in graph:
                visit(dep, path + [dep])

    for module in graph:
        visit(module, [module])
    assert not cycles, f"import cycles: {cycles[:3]}"


def test_the_library_does_not_import_its_front_ends():
    for path in PACKAGE.glob("*.py"):
        if path.stem not in ("cli", "ui", "__init__"):
            assert not imports_of(path) & {"cli", "ui"}, path.name
