"""The notebooks use only the public API, and are committed executed, with their outputs.

Read, never run (nbmake runs them): each notebook's code cells are parsed with ``ast`` (IPython
magics and shell lines dropped) and every import of a project module must name a module that
the "Public modules" table of ``docs/api.md`` lists. Every code cell must carry the outputs of
an in-order run: an execution count, at least one output, no error or stderr, no warning and no
absolute path of the machine that ran it. Each notebook shows at least one picture.
"""

import ast
import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: The project's import packages (DESIGN: the folders are the layers).
PROJECT = {"arch", "mappings", "sim", "rtl", "studies"}
#: Text that marks an absolute path of the machine that ran a notebook.
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:home|root|tmp|work|Users|usr|var|opt)/")


def public_modules(text: str) -> set:
    """The modules named in the first column of the "Public modules" table of docs/api.md."""
    section = text.split("\n## Public modules\n", 1)
    assert len(section) == 2, "docs/api.md has no '## Public modules' section"
    body = section[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Za-z_][\w.]*)` \|", body, flags=re.M))


PUBLIC = public_modules((ROOT / "docs" / "api.md").read_text())


def code_cells(nb: dict) -> list:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def source(cell) -> str:
    text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines())


def is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def refused_imports(code: str) -> list:
    """Project modules ``code`` imports that are not public, and dynamic imports of any kind.

    ``from P import x`` is the import of module ``P.x`` when that is a module (so ``from
    studies import fusemax`` is the study's internal module, not the API), else of ``P``.
    """
    bad = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                bad.append(f"relative import from {'.' * node.level}{node.module or ''}")
                continue
            names = [f"{node.module}.{a.name}" if is_module(f"{node.module}.{a.name}") else node.module
                     for a in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
                "import_module", "__import__"):
            bad.append("a dynamic import")
            continue
        else:
            continue
        bad += [n for n in names if n.split(".")[0] in PROJECT and n not in PUBLIC]
    return bad


def test_public_modules_table_lists_importable_modules():
    assert {"studies", "studies.plots", "mappings.library"} <= PUBLIC
    missing = [m for m in sorted(PUBLIC) if not is_module(m)]
    assert not missing, f"docs/api.md lists modules that do not exist: {missing}"


@pytest.mark.parametrize("code, bad", [
    ("from studies import explore, to_records", []),
    ("from mappings import library\nimport numpy as np", []),
    ("from studies import fusemax as study", ["studies.fusemax"]),
    ("from sim.cascade import lower", ["sim.cascade"]),
    ("import studies.sweep", ["studies.sweep"]),
    ("from studies.families import spgemm", ["studies.families.spgemm"]),
    ("import importlib\nm = importlib.import_module('sim.des')", ["a dynamic import"]),
])
def test_import_rule(code, bad):
    assert refused_imports(code) == bad


def test_the_three_notebooks_are_checked():
    assert {p.stem for p in NOTEBOOKS} >= {"fusemax", "smash", "mmfree"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_imports_only_public_modules(path):
    nb = json.loads(path.read_text())
    bad = [f"cell {i}: {name}" for i, cell in enumerate(code_cells(nb)) for name in refused_imports(source(cell))]
    assert not bad, f"{path.name} imports modules docs/api.md does not list as public:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_with_clean_outputs(path):
    cells = code_cells(json.loads(path.read_text()))
    problems = []
    for i, cell in enumerate(cells):
        outputs = cell.get("outputs", [])
        if cell.get("execution_count") != i + 1:
            problems.append(f"code cell {i}: execution count {cell.get('execution_count')}, not {i + 1}")
        if not outputs:
            problems.append(f"code cell {i}: no outputs")
        for out in outputs:
            if out["output_type"] == "error" or out.get("name") == "stderr":
                problems.append(f"code cell {i}: {out['output_type']} {out.get('name', out.get('ename', ''))}")
            texts = [out.get("text", "")] + [v for k, v in out.get("data", {}).items() if k.startswith("text/")]
            text = "".join("".join(t) if isinstance(t, list) else t for t in texts)
            if "Warning" in text or MACHINE_PATH.search(text):
                problems.append(f"code cell {i}: a warning or a machine path in {text[:120]!r}")
    pictures = sum("image/png" in out.get("data", {}) for cell in cells for out in cell.get("outputs", []))
    if not pictures:
        problems.append("no picture among the outputs")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)
