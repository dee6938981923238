"""The folders are the layers: imports point downward only.

studies -> sim -> mappings -> arch; rtl may use sim (its golden models) and below; nothing
imports studies. Checked on the source text of every module, imports inside functions too.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["arch", "mappings", "sim", "rtl", "studies"]
ALLOWED = {
    "arch": {"arch"},
    "mappings": {"arch", "mappings"},
    "sim": {"arch", "mappings", "sim"},
    "rtl": {"arch", "mappings", "sim", "rtl"},
    "studies": {"arch", "mappings", "sim", "rtl", "studies"},
}


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_point_downward(layer):
    bad = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for line, top in _imports(path):
            if top in LAYERS and top not in ALLOWED[layer]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {top}")
    assert not bad, "imports pointing upward:\n" + "\n".join(bad)
