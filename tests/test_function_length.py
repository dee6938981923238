"""No function of the project is longer than :data:`MAX_LINES` lines.

Length is counted with ``ast`` from the ``def`` line to the function's last line, docstring
included. Every exception is listed in :data:`ALLOWED` with the reason it is not split yet;
an entry that no longer exceeds the limit must be removed.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["arch", "mappings", "sim", "rtl", "studies"]
MAX_LINES = 80

#: "path::qualified name" -> why it is longer than MAX_LINES today.
ALLOWED = {}


def long_functions() -> dict:
    """``"path::Qual.name"`` -> length in lines, for every function over MAX_LINES."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            rel = path.relative_to(ROOT).as_posix()
            out.update(_walk(tree, rel, ""))
    return out


def _walk(node, rel: str, prefix: str) -> dict:
    out = {}
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}{child.name}"
            if not isinstance(child, ast.ClassDef):
                length = child.end_lineno - child.lineno + 1
                if length > MAX_LINES:
                    out[f"{rel}::{name}"] = length
            out.update(_walk(child, rel, name + "."))
        else:
            out.update(_walk(child, rel, prefix))
    return out


def test_counter_measures_def_to_last_line():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))  # def + 80 lines = 81
    tree = ast.parse(f"class C:\n  def f():\n{body}\n  def g():\n    pass\n")
    assert _walk(tree, "m.py", "") == {"m.py::C.f": MAX_LINES + 1}


def test_no_function_over_the_limit():
    found = long_functions()
    new = {k: v for k, v in found.items() if k not in ALLOWED}
    assert not new, "functions over %d lines: %s" % (MAX_LINES, new)


def test_allowlist_is_current():
    stale = sorted(set(ALLOWED) - set(long_functions()))
    assert not stale, f"within the limit now, remove from ALLOWED: {stale}"
