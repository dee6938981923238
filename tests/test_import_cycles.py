"""No import cycles between the project's modules.

The graph is built from the source text with ``ast``: every ``import`` and ``from ... import``
in a module, those inside functions included (an import moved into a function hides a cycle
from the interpreter, not from the design). An edge goes to the module named, or to the
submodule when ``from package import name`` names one. Imports under ``if TYPE_CHECKING:``
never run; they name types for annotations and are left out. A cycle is a strongly connected
component of more than one module; each must be listed in :data:`ALLOWED` with its reason.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["arch", "mappings", "sim", "rtl", "studies"]

#: Known cycles (the set of modules of the component) -> why they are not broken yet.
ALLOWED: dict = {}


def _modules() -> dict:
    mods = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = path
    return mods


def _resolve(name: str, mods) -> str | None:
    """The longest prefix of the dotted ``name`` that is one of our modules."""
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def _targets(node, module: str, is_package: bool, mods):
    if isinstance(node, ast.Import):
        return [_resolve(a.name, mods) for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        pkg = module.split(".") if is_package else module.split(".")[:-1]
        pkg = pkg[:len(pkg) - (node.level - 1)]
        base = ".".join(pkg + ([node.module] if node.module else []))
    return [_resolve(f"{base}.{a.name}" if base else a.name, mods) for a in node.names]


def _runtime_nodes(tree):
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:`` (never executed)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            test = getattr(child, "test", None) if isinstance(child, ast.If) else None
            if test is not None and ast.unparse(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                todo.extend(child.orelse)
                continue
            todo.append(child)


def import_graph() -> dict:
    """Module -> the set of project modules it imports (anywhere in its text)."""
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        out = set()
        for node in _runtime_nodes(tree):
            out.update(_targets(node, name, path.name == "__init__.py", mods))
        graph[name] = out - {None, name}
    return graph


def cycles(graph: dict) -> list:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(frozenset(comp))
    return found


def test_cycle_finder_finds_a_hidden_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_import_inside_a_function_is_an_edge():
    mods = {"mappings.einsum": None, "mappings.analysis": None}
    tree = ast.parse("def f():\n    from mappings.analysis import passes\n")
    edges = [t for n in ast.walk(tree) for t in _targets(n, "mappings.einsum", False, mods)]
    assert edges == ["mappings.analysis"]


def test_type_checking_imports_are_left_out():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\nelse:\n    import b\n")
    names = [a.name for n in _runtime_nodes(tree) if isinstance(n, ast.Import) for a in n.names]
    assert names == ["b"]


def test_no_import_cycles():
    found = set(cycles(import_graph()))
    new = sorted(sorted(c) for c in found - set(ALLOWED))
    assert not new, "import cycles: " + "; ".join(" <-> ".join(c) for c in new)


def test_allowed_cycles_still_exist():
    stale = sorted(sorted(c) for c in set(ALLOWED) - set(cycles(import_graph())))
    assert not stale, f"no longer cycles, remove from ALLOWED: {stale}"
