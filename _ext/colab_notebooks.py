"""Publish real notebooks inside the built site and point Colab at them.

Colab opens ``.ipynb`` files from GitHub, but the chapters are MyST-markdown
notebooks, so sphinx-book-theme's Colab link (``.../blob/main/chapters/X.md``)
would open nothing. This extension

- writes every chapter as an ``.ipynb`` into the built site (``_notebooks/``) and
  points the chapter's Colab button there;
- copies the student notebooks of the exercises (``python -m autograder build``
  makes them; ``make book`` runs it before the HTML) into the site
  (``exercises/``), and gives chapters an ``exercise-links`` directive: "Open in
  Colab", a download link and the JupyterHub (nbgrader) line for one exercise.

Colab links go to the branch the site is published from (``colab_notebooks_branch``,
default ``gh-pages``) of the repository in ``_config.yml``'s ``repository.url``, so the
links work wherever the book is hosted.
"""

import shutil
from pathlib import Path

import jupytext
from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from autograder.paths import discover_exercises, student_notebook

NOTEBOOKS_DIR = "_notebooks"
EXERCISES_DIR = "exercises"
logger = logging.getLogger(__name__)


def _build_root(app) -> Path:
    return Path(app.srcdir) / "_build"


def _colab_url(app, path_in_site: str) -> str:
    """Colab's address of ``path_in_site`` on the published branch of the book's repository."""
    options = app.config.html_theme_options
    colab = options["launch_buttons"]["colab_url"].rstrip("/")
    repository = options["repository_url"].rstrip("/").removeprefix("https://github.com/")
    return f"{colab}/github/{repository}/blob/{app.config.colab_notebooks_branch}/{path_in_site}"


def _is_notebook_page(app, pagename):
    source = app.env.doc2path(pagename)
    return Path(source).suffix == ".md" and "kernelspec" in Path(source).read_text(encoding="utf-8")[:2000]


def _point_colab_at_ipynb(app, pagename, templatename, context, doctree):
    if not _is_notebook_page(app, pagename):
        return
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group["buttons"]:
            if button.get("text") == "Colab":
                button["url"] = _colab_url(app, f"{NOTEBOOKS_DIR}/{pagename}.ipynb")


class ExerciseLinks(nodes.General, nodes.Element):
    """Placeholder for the links to one exercise, filled in per page when the HTML is written."""


class ExerciseLinksDirective(SphinxDirective):
    """``exercise-links`` EXERCISE: where a student opens the exercise's notebook."""

    required_arguments = 1

    def run(self):
        exercise = self.arguments[0]
        if exercise not in discover_exercises():
            raise self.error(f"no exercise named {exercise!r} in exercises/")
        if not student_notebook(_build_root(self.env.app), exercise).exists():
            logger.warning(
                f"the student notebook of {exercise} is not built: run `python -m autograder build` "
                "(make book does) before building the book",
                location=self.get_location(),
            )
        return [ExerciseLinks(exercise=exercise)]


def _link(text: str, url: str) -> nodes.reference:
    return nodes.reference(text, text, refuri=url)


def _fill_exercise_links(app, doctree, docname):
    for placeholder in doctree.findall(ExerciseLinks):
        exercise = placeholder["exercise"]
        path_in_site = f"{EXERCISES_DIR}/{exercise}.ipynb"
        relative = "../" * docname.count("/") + path_in_site
        colab = nodes.paragraph("", "", _link("Open in Colab", _colab_url(app, path_in_site)))
        download = nodes.paragraph("", "", _link(f"Download {exercise}.ipynb", relative))
        download += nodes.Text(", to open in Jupyter on your own machine.")
        hub = nodes.paragraph(
            "",
            "On your course's JupyterHub: the Assignments tab fetches it, or in a terminal ",
            nodes.literal("", f"nbgrader fetch_assignment {exercise}"),
        )
        links = nodes.bullet_list("", *(nodes.list_item("", item) for item in (colab, download, hub)))
        links["classes"].append("exercise-links")
        placeholder.replace_self(links)


def _write_notebooks(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for pagename in app.env.found_docs:
        if _is_notebook_page(app, pagename):
            target = Path(app.outdir, NOTEBOOKS_DIR, f"{pagename}.ipynb")
            target.parent.mkdir(parents=True, exist_ok=True)
            jupytext.write(jupytext.read(app.env.doc2path(pagename)), target, fmt="ipynb")
    for exercise in discover_exercises():
        built = student_notebook(_build_root(app), exercise)
        if built.exists():
            target = Path(app.outdir, EXERCISES_DIR, built.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(built, target)


def setup(app):
    app.add_config_value("colab_notebooks_branch", "gh-pages", "html")
    app.add_node(ExerciseLinks)
    app.add_directive("exercise-links", ExerciseLinksDirective)
    app.connect("doctree-resolved", _fill_exercise_links)
    app.connect("html-page-context", _point_colab_at_ipynb, priority=600)
    app.connect("build-finished", _write_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
