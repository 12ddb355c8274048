"""One-way imports: geo and warehouse at the bottom, analyses above them, geopanel on top; no import cycles.

The module import graph of geopanel/, warehouse/, geo/ and analyses/ is read with `ast` (imports inside
functions included, and `importlib.import_module("…")` with a literal name), so a lazy import cannot hide
an upward edge or a cycle. Imports under `if TYPE_CHECKING:` are left out: they never run, and they are
how a module names a type of the module that renders it. `python tests/unit/test_layers.py` prints the
edges that break the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("geo", "warehouse", "analyses", "geopanel")
# a package may import packages of its own rank or below; geo is below warehouse (it never needs storage)
RANK = {"geo": 0, "warehouse": 1, "analyses": 2, "geopanel": 3}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the four packages, by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "sql" in path.relative_to(ROOT).parts:
                continue
            found[_module_name(path)] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module that `name` (a module or a module.attribute) lies in."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _nodes(tree: ast.AST):
    """Every node, except the bodies of `if TYPE_CHECKING:` (their `else` branches do run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if _is_type_checking(node):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, int]]:
    """(dotted name, line) of everything a module imports, wherever the import statement is."""
    names = []
    for node in _nodes(tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__")))):
            names.append((node.args[0].value, node.lineno))
    return sorted(names, key=lambda item: item[1])


def import_graph() -> dict[str, dict[str, int]]:
    """module → {imported module: line of the first import}, within the four packages."""
    known = modules()
    graph: dict[str, dict[str, int]] = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: dict[str, int] = {}
        for name, line in _imported_names(tree, module, path.name == "__init__.py"):
            target = _resolve(name, known)
            if target is not None and target != module:
                edges.setdefault(target, line)
        graph[module] = edges
    return graph


def upward_edges(graph: dict[str, dict[str, int]]) -> list[str]:
    """Imports of a higher layer by a lower one, as 'path:line: a imports b'."""
    known = modules()
    found = []
    for source, edges in graph.items():
        for target, line in edges.items():
            if RANK[target.split(".")[0]] > RANK[source.split(".")[0]]:
                where = known[source].relative_to(ROOT)
                found.append(f"{where}:{line}: {source} imports {target} (a higher layer)")
    return sorted(found)


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle through each strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for t in graph.get(v, {}):
            if t not in index:
                visit(t)
                low[v] = min(low[v], low[t])
            elif t in on_stack:
                low[v] = min(low[v], index[t])
        if low[v] == index[v]:
            component = []
            while True:
                t = stack.pop()
                on_stack.discard(t)
                component.append(t)
                if t == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_a_cycle(graph, set(c), c[0]) for c in sorted(components)]


def _a_cycle(graph: dict[str, dict[str, int]], members: set[str], start: str) -> list[str]:
    """A shortest path from `start` back to itself inside one component (breadth first)."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for t in sorted(graph[v]):
                if t not in members:
                    continue
                if t == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if t not in parents:
                    parents[t] = v
                    nxt.append(t)
        frontier = nxt
    return [start]


def test_no_lower_layer_imports_a_higher_one():
    assert upward_edges(import_graph()) == []


def test_no_two_modules_import_each_other():
    found = cycles(import_graph())
    assert found == [], "import cycles: " + "; ".join(" → ".join(c) for c in found)


def test_the_graph_sees_function_level_imports():
    # analyses.esda imports the warehouse's panel reader; the command layer imports every capability
    graph = import_graph()
    assert "warehouse.panel_data" in graph["analyses.esda"]
    assert {"geopanel.commands.esda", "geopanel.commands.did"} <= set(graph["geopanel.cli"])


if __name__ == "__main__":
    g = import_graph()
    for edge in upward_edges(g):
        print("upward:", edge)
    for cycle in cycles(g):
        print("cycle:", " → ".join(cycle))
