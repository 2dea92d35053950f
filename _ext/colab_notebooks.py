"""Make the Colab launch button open a real notebook.

Colab opens ``.ipynb`` files from GitHub, but the chapters are MyST-markdown
notebooks, so sphinx-book-theme's Colab link (``.../blob/main/chapters/X.md``)
would open nothing. This extension writes every chapter as an ``.ipynb`` into the
built site (``_notebooks/``) and points the Colab button there, on the branch the
site is published from (``colab_notebooks_branch``, default ``gh-pages``).
"""

from pathlib import Path

import jupytext

NOTEBOOKS_DIR = "_notebooks"


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
                head, _, _ = button["url"].partition("/blob/")
                branch = app.config.colab_notebooks_branch
                button["url"] = f"{head}/blob/{branch}/{NOTEBOOKS_DIR}/{pagename}.ipynb"


def _write_notebooks(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for pagename in app.env.found_docs:
        if _is_notebook_page(app, pagename):
            target = Path(app.outdir, NOTEBOOKS_DIR, f"{pagename}.ipynb")
            target.parent.mkdir(parents=True, exist_ok=True)
            jupytext.write(jupytext.read(app.env.doc2path(pagename)), target, fmt="ipynb")


def setup(app):
    app.add_config_value("colab_notebooks_branch", "gh-pages", "html")
    app.connect("html-page-context", _point_colab_at_ipynb, priority=600)
    app.connect("build-finished", _write_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
