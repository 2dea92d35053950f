"""Links from feedback to the book: a `(label)=` target on a chapter's heading, as a URL.

A label's page is the chapter whose source defines it (`chapters/NAME.md` renders to
`chapters/NAME.html`; `optimlab.review.book_labels` finds them, as for the midterm review);
its anchor is the id Sphinx gives the section, docutils' `make_id` of the label. The URL is
joined to the book's published address when `_config.yml` sets one (`html.baseurl`, or
Sphinx's `html_baseurl`); without one it is a relative link to the locally built book
(`_build/html`), from the folder of the page that links to it.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from . import paths

CONFIG = paths.REPO / "_config.yml"
BUILT_BOOK = paths.DEFAULT_ROOT / "html"


@dataclass(frozen=True)
class Target:
    page: str  # relative to the book's root, e.g. chapters/04_momentum.html
    anchor: str
    title: str  # the heading the label is on, and its chapter's: "In PyTorch (Nesterov momentum)"


@functools.cache
def targets(book_root: Path = paths.REPO) -> dict[str, Target]:
    """Every `(label)=` target in the book's chapters (those `_toc.yml` lists), with the heading it is on."""
    from docutils.nodes import make_id

    from optimlab.review import book_labels

    return {
        label: Target(
            f"{where['doc']}.html", make_id(label), f"{where['title']} ({_chapter_title(book_root, where['doc'])})"
        )
        for label, where in book_labels(book_root).items()
    }


@functools.cache
def _chapter_title(book_root: Path, doc: str) -> str:
    """The chapter's own heading (its first `# ` line), so that two sections called "In PyTorch" differ."""
    text = (Path(book_root) / f"{doc}.md").read_text(encoding="utf-8")
    return next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), doc)


@functools.cache
def published_url(config: Path = CONFIG) -> str:
    """The book's published address from `_config.yml` ('' when none is set)."""
    import yaml

    if not config.exists():
        return ""
    settings = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    html = settings.get("html") or {}
    sphinx = (settings.get("sphinx") or {}).get("config") or {}
    return str(html.get("baseurl") or sphinx.get("html_baseurl") or "").rstrip("/")


def target(label: str) -> Target:
    try:
        return targets()[label]
    except KeyError:
        raise LookupError(f"no chapter listed in _toc.yml has a `({label})=` target") from None


def url(label: str, from_folder: Path) -> str:
    """Where `label`'s section is, for a page written in `from_folder`."""
    section = target(label)
    base = published_url()
    if base:
        return f"{base}/{section.page}#{section.anchor}"
    relative = os.path.relpath(BUILT_BOOK / section.page, from_folder.resolve())
    return f"{Path(relative).as_posix()}#{section.anchor}"
