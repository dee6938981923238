"""Sources live inside the repository.

Every published figure is listed in ``docs/sources.md`` under an anchor (``<a id="...">``);
code, presets, tests and docs cite it as ``docs/sources.md#anchor`` (``sources.md#anchor``
from the other docs pages). These tests fail when a tracked file cites the notes file the
Markdown file the repository does not carry (a notes file kept elsewhere), when a citation
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
#: A Markdown file named in prose or code by its upper-case name (``README.md``, ``SOURCES.md``).
CITED_MD = re.compile(r"\b[A-Z][A-Z0-9_]*\.md\b")


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


def missing_md(text: str, present: set) -> list:
    """Upper-case Markdown file names ``text`` cites that are not among ``present``."""
    return [name for name in CITED_MD.findall(text) if name not in present]


@pytest.mark.parametrize("text, bad", [
    ("# figures from NOTES.md section 1", True),
    ("see tests/data/matrices/SOURCES.md", False),
    ("see docs/sources.md#fusemax-arch", False),
])
def test_cited_markdown_rule(text, bad):
    assert bool(missing_md(text, {"README.md", "SOURCES.md"})) is bad


def test_nothing_cites_a_markdown_file_the_repository_lacks():
    files = tracked_files()
    present = {path.name for path, _ in files}
    me = Path(__file__).resolve()  # its examples of the rule name a file on purpose
    bad = [f"{path.relative_to(ROOT)}:{n}: {name}"
           for path, text in files if path.resolve() != me
           for n, line in enumerate(text.splitlines(), 1) for name in missing_md(line, present)]
    assert not bad, "citations of Markdown files outside the repository:\n" + "\n".join(bad)


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
