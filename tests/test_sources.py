"""Sources live inside the repository.

Every published figure is listed in ``docs/sources.md`` under an anchor (``<a id="...">``);
code, presets, tests and docs cite it as ``docs/sources.md#anchor`` (``sources.md#anchor``
from the other docs pages). These tests fail when a tracked file cites the notes file the
project does not carry (``REFERENCE.md``) or a path outside the repository, when a citation
names an anchor that ``docs/sources.md`` lacks, and when a Markdown link points outside the
repository or to a file that does not exist.
"""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "docs" / "sources.md"
CITATION = re.compile(r"sources\.md#([A-Za-z0-9_-]+)")
ANCHOR = re.compile(r'<a id="([A-Za-z0-9_-]+)"></a>')
LINK = re.compile(r"\]\(([^)\s]+)\)")
#: Text that names a file outside the repository: the notes file and the folders around it.
OUTSIDE = [re.compile(p) for p in (r"REFERENCE\.md", r"\.\./shared\b", r"/work/(shared|briefs|main)\b")]


def tracked_files() -> list:
    """Text files under version control (every file under the root when git is unavailable)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        paths = [ROOT / p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in ROOT.rglob("*") if ".git" not in p.parts]
    texts = []
    for path in paths:
        if not path.is_file():
            continue
        try:
            texts.append((path, path.read_text()))
        except UnicodeDecodeError:
            continue
    return texts


def anchors() -> set:
    return set(ANCHOR.findall(SOURCES.read_text()))


def test_sources_page_has_anchors():
    found = anchors()
    assert {"fusemax-arch", "fusemax-energy", "scalesim-examples", "horowitz-45nm"} <= found
    assert len(ANCHOR.findall(SOURCES.read_text())) == len(found), "an anchor is defined twice"


@pytest.mark.parametrize("text, bad", [
    ("# figures from REFERENCE.md section 1", True),
    ("see ../shared/data/matrices", True),
    ("see docs/sources.md#fusemax-arch", False),
])
def test_outside_pattern(text, bad):
    assert any(p.search(text) for p in OUTSIDE) is bad


def test_nothing_cites_a_file_outside_the_repository():
    me = Path(__file__).resolve()
    bad = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
           for path, text in tracked_files() if path.resolve() != me
           for n, line in enumerate(text.splitlines(), 1) if any(p.search(line) for p in OUTSIDE)]
    assert not bad, "citations of files outside the repository:\n" + "\n".join(bad)


def test_every_cited_anchor_exists():
    known = anchors()
    me = Path(__file__).resolve()
    bad = [f"{path.relative_to(ROOT)}: #{a}" for path, text in tracked_files() if path.resolve() != me
           for a in CITATION.findall(text) if a not in known]
    assert not bad, "cited anchors missing from docs/sources.md:\n" + "\n".join(bad)


def test_markdown_links_stay_inside_and_exist():
    bad = []
    for path, text in tracked_files():
        if path.suffix != ".md":
            continue
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            dest = (path.parent / target.split("#")[0]).resolve()
            if ROOT not in dest.parents and dest != ROOT:
                bad.append(f"{path.relative_to(ROOT)}: {target} is outside the repository")
            elif not dest.exists():
                bad.append(f"{path.relative_to(ROOT)}: {target} does not exist")
    assert not bad, "\n".join(bad)
