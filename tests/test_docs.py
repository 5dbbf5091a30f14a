"""The repository cites only files it contains: every markdown file, docs/ path, markdown link and ../ path named
in a tracked text file exists; code that cites "docs/algorithms.md item N" names an item that describes it; the
README stays short and links only to docs pages that exist, and every docs page is linked from an index."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEXT = re.compile(r"(\.(md|py|ya?ml|toml|sh|cfg|txt)|(^|/)Makefile)$")
URL = re.compile(r"[a-z]+://\S+")
LINK = re.compile(r"\]\(([^)\s]+)\)")
MARKDOWN = re.compile(r"(?<![\w/.-])((?:\.\.?/)*[\w*./-]*[\w*-]\.md)\b")
DOCS = re.compile(r"(?<![\w/.-])(?<!--out )(docs/[\w*./-]*[\w*-])")  # not where a command writes
PARENT = re.compile(r"(?<![\w/.])(\.\./[\w*./-]*[\w*-])")
# markdown files that svdd and its scripts write into a run or output folder: names, not citations
WRITTEN = {"report.md": "svdd_cli/report.py", "results.md": "scripts/compare_samplers.py",
           "frontier.md": "scripts/frontier.py", "pmo.md": "scripts/bench_pmo.py",
           "docking.md": "scripts/bench_docking.py"}
ALGORITHMS_ITEMS = re.compile(r"docs/algorithms\.md,? items? (\d+(?:, ?\d+|-\d+)*)")
ITEM = re.compile(r"^(\d+)\. \*\*", re.MULTILINE)
SELF = "tests/test_docs.py"  # plants bad citations on purpose


def tracked() -> list[str]:
    """Files git tracks, and new files it does not ignore (a page being written counts)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\n")
    return sorted({name for name in listed if name and (ROOT / name).is_file()})


def citations(name: str, text: str) -> list[tuple[int, str, bool]]:
    """(line, cited path, is a markdown link) of every file a text cites: markdown link targets, *.md names,
    docs/ paths and ../ paths; URLs are not citations."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        line = URL.sub(" ", line)
        if name.endswith(".md"):
            found += [(number, target.split("#")[0], True) for target in LINK.findall(line)
                      if target.split("#")[0] and not target.startswith(("mailto:", "#"))]
        for pattern in (MARKDOWN, DOCS, PARENT):
            found += [(number, cited, False) for cited in pattern.findall(line)]
    first = {}
    for number, cited, link in found:  # a link's target is also a named path: the link's reading wins
        first.setdefault((number, cited), link)
    return [(number, cited, link) for (number, cited), link in first.items()]


def exists(cited: str, citing: str, files: set[str], link: bool) -> bool:
    """A link resolves from its file's folder; a named path from the root or the file's folder (globs allowed); a
    bare file name is any tracked file's name or a file svdd writes."""
    here = (ROOT / citing).parent
    bases = [here] if link else [ROOT, here]
    for base in bases:
        path = (base / cited).resolve()
        if not path.is_relative_to(ROOT):
            continue
        relative = path.relative_to(ROOT).as_posix()
        if "*" in relative and any(Path(f).match(relative) for f in files):
            return True
        if relative in files or any(f.startswith(relative + "/") for f in files):
            return True
    return not link and "/" not in cited and (cited in WRITTEN or any(Path(f).name == cited for f in files))


def missing(files: set[str], texts: dict[str, str]) -> list[str]:
    return [f"{name}:{line}: {cited}" for name, text in texts.items()
            for line, cited, link in citations(name, text) if not exists(cited, name, files, link)]


@pytest.fixture(scope="module")
def files() -> set[str]:
    return set(tracked())


def read(files: set[str]) -> dict[str, str]:
    return {name: (ROOT / name).read_text(errors="replace") for name in sorted(files)
            if TEXT.search(name) and name != SELF}


def test_every_cited_file_exists(files):
    texts = read(files)
    assert len(texts) > 100 and "README.md" in texts and "svdd_cli/core.py" in texts
    assert missing(files, texts) == []


def test_a_citation_of_a_file_that_is_not_there_is_found(files):
    planted = {"svdd_cli/core.py": '"""The contract (DESIGN.md, ../shared/ALGORITHMS.md item 3)."""\n',
               "docs/x.md": "See [the design](design.md), [gone](gone.md) and docs/nothing.png.\n",
               "configs/x.yaml": "# see README.md and checkpoints/*/MODEL_CARD.md and results.md\n",
               "README.md": "The [results](results.md) are in docs/, [these](docs/results.md) are.\n"}
    assert missing(files, planted) == ["svdd_cli/core.py:1: DESIGN.md", "svdd_cli/core.py:1: ../shared/ALGORITHMS.md",
                                       "docs/x.md:1: gone.md", "docs/x.md:1: docs/nothing.png",
                                       "README.md:1: results.md"]


def test_the_names_of_written_files_are_the_files_svdd_writes():
    for name, writer in WRITTEN.items():
        assert f'"{name}"' in (ROOT / writer).read_text(), (name, writer)


def test_the_readme_is_short_and_its_docs_links_exist(files):
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    linked = {target.split("#")[0] for target in LINK.findall(readme) if target.startswith("docs/")}
    assert {"docs/README.md", "docs/design.md", "docs/algorithms.md", "docs/results.md"} <= linked
    assert sorted(linked - files) == []


def test_every_docs_page_is_linked_from_the_readme_or_the_docs_index(files):
    index = {target for name in ("README.md", "docs/README.md")
             for target in LINK.findall((ROOT / name).read_text())}
    reachable = {str(Path("docs", target).as_posix()) for target in index} | index
    pages = {f for f in files if f.startswith("docs/") and f.endswith(".md") and f != "docs/README.md"}
    assert sorted(pages - reachable) == []


def test_code_citing_an_algorithm_item_is_described_by_it(files):
    """'docs/algorithms.md item(s) N' names items that exist, and one of them names the citing module."""
    page = (ROOT / "docs" / "algorithms.md").read_text()
    starts = [(int(m[1]), m.start()) for m in ITEM.finditer(page)]
    assert [n for n, _ in starts] == list(range(1, len(starts) + 1)) and len(starts) >= 15  # numbered in order
    items = {n: page[start:end] for (n, start), (_, end) in zip(starts, [*starts[1:], (0, len(page))])}
    cited_by = {}
    for name, text in read({f for f in files if f.startswith("svdd_cli/")}).items():
        for numbers in ALGORITHMS_ITEMS.findall(text):
            cited = set()
            for part in numbers.replace(" ", "").split(","):
                low, _, high = part.partition("-")
                cited |= set(range(int(low), int(high or low) + 1))
            cited_by[name] = cited_by.get(name, set()) | cited
    assert len(cited_by) >= 15
    wrong = [f"{name}: items {sorted(cited)}" for name, cited in cited_by.items()
             if not cited <= set(items) or not any(f"`{named}" in items[n] for n in cited for named in names(name))]
    assert wrong == []


def names(module: str) -> list[str]:
    """How an algorithms item names a module: `samplers/smc.py`, or its package `svdd_cli/value/`."""
    path = Path(module).relative_to("svdd_cli")
    return [path.as_posix(), f"svdd_cli/{path.parent.as_posix()}/"]
