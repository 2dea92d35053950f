"""Drop repeated <script> entries from each page.

sphinx-thebe and sphinx-togglebutton register inline scripts (``const THEBE_JS_URL =
...``) while the HTML builder is already running; the builder then holds each one
twice, once with filename ``None`` and once, re-read from the registry, with ``''``.
Every page then declares the constant twice and the browser logs "Identifier
'THEBE_JS_URL' has already been declared". Keeping the first copy of each script,
compared by what it renders to, fixes it without patching the packages.
"""


def _rendered_as(script):
    attributes = getattr(script, "attributes", {})
    return (getattr(script, "filename", script) or "", tuple(sorted(attributes.items())))


def _unique_scripts(app, pagename, templatename, context, doctree):
    unique = {}
    for script in context.get("script_files", []):
        unique.setdefault(_rendered_as(script), script)
    context["script_files"] = list(unique.values())


def setup(app):
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
