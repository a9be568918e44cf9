"""The package's import graph: no cycles, and no import of mriseq hidden inside a function.

Every ``import`` statement of ``workflow/mriseq`` counts, wherever it stands (at the top of a
module or inside a function), so moving an import into a function cannot hide a cycle. Importing
``mriseq.a.b`` also runs ``mriseq/a/__init__.py``, so a module depends on the packages above it
too. Only TensorFlow and Keras may be imported inside functions (workflow parse time and the jobs
that never train must not load them); every import of mriseq stands at module level.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "workflow" / "mriseq"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def imported(node: ast.AST) -> list[str]:
    """The mriseq modules an import statement loads (a ``from a import b`` loads ``a.b`` where
    that is a module, else ``a``), with the packages above them."""
    names = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES
                 else node.module for alias in node.names]
    out = []
    for name in names:
        if name.split(".")[0] == "mriseq" and name in MODULES:
            out += [*parents(name), name]
    return out


def graph() -> dict[str, set[str]]:
    edges = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        targets = {t for node in ast.walk(tree) for t in imported(node)}
        edges[name] = targets - {name} - set(parents(name))
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_mriseq_is_imported_at_module_level_only():
    hidden = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if imported(node):
                    hidden.append(f"{name}:{node.lineno}")
    assert not hidden, f"imports of mriseq inside functions: {hidden}"
