"""The README and the documentation pages point at files that exist.

``mkdocs build --strict`` (in scripts/test.sh) checks the links between pages in docs/. It cannot
check the two kinds of link it does not build: the README's (relative, for GitHub and a clone),
and the pages' links to repository files outside docs/, which are absolute URLs under the
repository's address (a relative link out of docs/ would fail the strict build). A file that
moves breaks those silently; these tests catch it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def repo_url() -> str:
    match = re.search(r"^repo_url:\s*(\S+)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert match, "mkdocs.yml has no repo_url"
    return match.group(1).rstrip("/")


def links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # not inside code blocks
    return LINK.findall(text)


def test_the_site_points_at_the_projects_repository() -> None:
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert all(url.startswith(repo_url()) for url in urls.values()), urls


def test_the_readme_links_to_files_that_exist() -> None:
    targets = [link for link in links(README) if "://" not in link and not link.startswith("#")]
    assert targets, "the README links to no file"
    missing = [link for link in targets if not (ROOT / link.split("#")[0]).exists()]
    assert missing == []


def test_the_readme_links_to_every_page() -> None:
    linked = {Path(link.split("#")[0]).name for link in links(README) if link.startswith("docs/")}
    pages = {page.name for page in DOCS.glob("*.md")}
    assert pages - linked == set()


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda page: page.name)
def test_repository_links_in_the_docs_name_files_that_exist(page: Path) -> None:
    base = repo_url()
    missing = []
    for link in links(page):
        if not link.startswith(base + "/"):
            continue
        match = re.fullmatch(r"/(?:blob|tree)/main/([^#?]+)(?:#.*)?", link[len(base) :])
        if match is None or not (ROOT / match.group(1)).exists():
            missing.append(link)
    assert missing == []


def test_the_readme_stays_a_quick_start() -> None:
    # The reference belongs in docs/: a README that grows with every feature is not read.
    assert len(README.read_text().splitlines()) < 150


def test_the_pypi_page_is_short_and_links_into_the_repository() -> None:
    # README.pypi.md is the wheel's description: it is in the METADATA that pytest-metadata
    # parses in every pytest run of every project with the plugin installed (pyproject.toml says
    # why), and PyPI resolves no relative link.
    page = ROOT / "README.pypi.md"
    assert len(page.read_text().splitlines()) <= 25
    base = repo_url()
    targets = links(page)
    assert targets, "the PyPI page links to neither the README nor the docs"
    assert [link for link in targets if not re.match(rf"{re.escape(base)}(/|#|$)", link)] == []
    files = [re.fullmatch(r"/blob/main/([^#?]+)", link[len(base) :]) for link in targets]
    assert [
        link
        for link, file in zip(targets, files, strict=True)
        if file and not (ROOT / file.group(1)).exists()
    ] == []
