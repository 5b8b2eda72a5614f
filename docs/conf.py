"""Sphinx configuration for the sksplice documentation."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sksplice import __version__  # noqa: E402

project = "sksplice"
author = "The sksplice developers"
copyright = "2026, The sksplice developers"
version = release = __version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    # MathJax from the docs' own _static folder, not a CDN: the equations render offline
    "sphinx-mathjax-offline",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_templates", "examples/*.py", "README.md"]
templates_path = ["_templates"]
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

autosummary_generate = True
# module pages list what the module's __all__ names (also names it imports)
autosummary_ignore_module_all = False
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "scipy": ("https://docs.scipy.org/doc/scipy/", None),
    "sklearn": ("https://scikit-learn.org/stable/", None),
    "torch": ("https://pytorch.org/docs/stable/", None),
}
# Offline builds (CI) cannot fetch inventories; intersphinx then only warns, so it is
# switched off unless asked for.
intersphinx = os.environ.get("SKSPLICE_DOCS_INTERSPHINX") == "1"
if not intersphinx:
    extensions.remove("sphinx.ext.intersphinx")

# Every cross-reference to sksplice must resolve (a renamed or private target fails
# the build); those to other packages resolve only through intersphinx, so offline
# they are let through. Built-in types resolve without it.
nitpicky = True
_THIRD_PARTY = (
    "numpy", "scipy", "pandas", "sklearn", "torch", "open_clip", "sentence_transformers",
    "joblib", "dask", "distributed", "zarr", "pyarrow", "PIL", "matplotlib", "huggingface_hub",
    "pathlib", "pickle", "os", "typing", "collections",
)  # fmt: skip
nitpick_ignore_regex = [(r"py:.*", rf"(?:{'|'.join(_THIRD_PARTY)})(?:\..*)?")]

html_theme = "pydata_sphinx_theme"
html_title = f"sksplice {version}"
html_static_path = ["_static"]
# (long inline code in table cells wraps: the parameter tables fit the page; so do
# the long dotted names that title the API pages)
html_css_files = ["tables.css", "names.css"]
# The page's table of contents lists a class's methods as "fit()", not
# "SpliceTransformer.fit()": the page is the class's, and the sidebar is narrow.
toc_object_entries_show_parents = "hide"
# Two guide pages in the header, the rest under "More": with more, their long titles
# wrapped the header onto three lines (136 px), which hid a heading jumped to by its link.
html_theme_options = {"navigation_with_keys": False, "header_links_before_dropdown": 2}
# The user guide's table of contents is the index page's and the header's: the left
# sidebar ("Section Navigation") would stay empty on every page and narrow the article.
html_sidebars = {"**": []}


# -- API pages ---------------------------------------------------------------
# Class pages document every public method and attribute (the templates in
# _templates/autosummary), those inherited from scikit-learn included.

_SPHINX_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^`>]*>)?`")


def _plain_foreign_roles(app, what, name, obj, options, lines):
    """Cross-references to scikit-learn's guide, in methods inherited from it, as text.

    Without intersphinx (offline builds) their labels and glossary terms do not
    resolve; the text of a titled reference is kept, a bare label is named as
    scikit-learn's documentation.
    """
    if intersphinx:
        return
    module = getattr(obj, "__module__", None) or ""
    if not module.startswith("sklearn."):
        return

    def text(match: re.Match) -> str:
        title = match.group(1).strip()
        if match.group(0).startswith(":term:") or "<" in match.group(0):
            return f"*{title}*"
        return "scikit-learn's documentation"

    lines[:] = [_SPHINX_ROLE.sub(text, line) for line in lines]


_DEFAULT_ROLE = re.compile(r"(?<![`:\w])`([^`]+)`(?![`_\w])")
_VERSION_NOTE = re.compile(r"^(\s*)\.\. version(added|changed):: *(\S+)\s*$")


def _foreign_version_notes(app, what, name, obj, options, lines):
    """A method inherited from scikit-learn says its version notes are scikit-learn's,
    and shows its single-backquoted names as code, as scikit-learn's pages do.

    Its docstring's ``.. versionadded:: 1.4`` would read "Added in version 1.4" on a
    page of sksplice, whose own versions are numbered otherwise; the note becomes
    "Added in scikit-learn 1.4: ..." with the note's text.
    """
    module = getattr(obj, "__module__", None) or ""
    if not module.startswith("sklearn."):
        return
    kept: list[str] = []
    i = 0
    while i < len(lines):
        match = _VERSION_NOTE.match(lines[i])
        i += 1
        if match is None:
            kept.append(lines[i - 1])
            continue
        indent, kind, number = match.groups()
        body = []
        # (the note's text: the lines indented under it, up to a blank line)
        while i < len(lines) and lines[i].strip() and lines[i].startswith(indent + " "):
            body.append(lines[i].strip())
            i += 1
        word = "Added" if kind == "added" else "Changed"
        text = f": {' '.join(body)}" if body else "."
        kept.append(f"{indent}*{word} in scikit-learn {number}*{text}")
    # (scikit-learn's documentation reads `x` as code, its default role; here as code too)
    lines[:] = [_DEFAULT_ROLE.sub(r"``\1``", line) for line in kept]


#: Characters of inline code in a table after which a line may break.
#: (a dot between two word characters: not in an ellipsis, nor in ``.pt``)
_CODE_BREAKS = re.compile(r"([_(,=/]|(?<=\w)\.(?=\w))(?=[^<>\s)])")
_TABLE = re.compile(r"<table\b.*?</table>", re.S)
_OPTION = re.compile(r"--?\w[\w-]*|\$\w+")  # (an option, or an environment variable)
_CODE = re.compile(r"(<code\b[^>]*>)(.*?)(</code>)", re.S)
_TEXT = re.compile(r"(?<=>)([^<]+)(?=<)")
_PRE_OPTION = re.compile(r'<span class="pre">(--?[A-Za-z][\w-]*|\$\w+)</span>')


def _code_break_points(html: str) -> str:
    """``<wbr>`` after the dots, underscores, brackets, commas, equals signs and slashes
    of inline code in tables, and a command-line option (``--batch-size``) kept whole.

    A narrow column then breaks ``CLIPEmbedder.embed_images(on_error="raise")``
    between its parts rather than inside a word (tables.css breaks a word only where
    a part is still too wide); copying the code copies no extra character.
    """

    def code(match: re.Match) -> str:
        if _OPTION.fullmatch(re.sub(r"<[^>]*>", "", match.group(2))):
            # (a command-line option or variable stays whole: "--batch-size" broke at its
            # hyphens, "$SKSPLICE_DATA" at its underscore)
            start = match.group(1).replace('class="', 'class="sksplice-option ', 1)
            return start + match.group(2) + match.group(3)

        def part(t: re.Match) -> str:
            # (an option among the words of longer code, "--labels CSV", stays whole too:
            # it broke after its "--")
            if _OPTION.fullmatch(t.group(1)) and t.string[: t.start()].endswith('class="pre">'):
                return t.group(1)
            return _CODE_BREAKS.sub(r"\1<wbr>", t.group(1))

        inner = _TEXT.sub(part, f">{match.group(2)}<")
        inner = _PRE_OPTION.sub(r'<span class="pre sksplice-option">\1</span>', inner)
        return match.group(1) + inner[1:-1] + match.group(3)

    def table(match: re.Match) -> str:
        found = match.group(0)
        # (an API summary keeps each name whole, tables.css)
        return found if "autosummary" in found[: found.index(">")] else _CODE.sub(code, found)

    return _TABLE.sub(table, html)


def _break_points_in_tables(app, pagename, templatename, context, doctree):
    if "body" in context:
        context["body"] = _code_break_points(context["body"])


def _skip_tuple_members(app, what, name, obj, skip, options):
    """A named tuple's field accessors and ``count``/``index`` are not documented.

    The class's own Parameters or Attributes section describes the fields.
    """
    if what not in ("class", "exception"):
        return None
    if obj is tuple.count or obj is tuple.index:
        return True
    if (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return True
    return None


def _comment_of_reexported_data(app, what, name, obj, options, lines):
    """A constant re-exported from a private module gets its ``#:`` comment from there.

    autodoc looks for the comment in the public module only, and otherwise shows
    the docstring of the value's type (``int([x]) -> integer ...``).
    """
    if what != "data" or not name.startswith("sksplice."):
        return
    from sphinx.pycode import ModuleAnalyzer

    def comment(module_name: str, attribute: str) -> list[str] | None:
        try:
            return ModuleAnalyzer.for_module(module_name).find_attr_docs().get(("", attribute))
        except Exception:  # (no source to read)
            return None

    public, _, attribute = name.rpartition(".")
    if comment(public, attribute):
        return  # autodoc found it
    for module_name, module in sorted(sys.modules.items()):
        if module_name.startswith("sksplice.") and getattr(module, attribute, None) is obj:
            found = comment(module_name, attribute)
            if found:
                lines[:] = list(found)
                return


def setup(app):
    app.connect("autodoc-process-docstring", _plain_foreign_roles)
    app.connect("autodoc-process-docstring", _foreign_version_notes)
    app.connect("html-page-context", _break_points_in_tables)
    app.connect("autodoc-process-docstring", _comment_of_reexported_data)
    app.connect("autodoc-skip-member", _skip_tuple_members)
