"""The documentation builds and its offline examples run, so the docs cannot rot."""

from __future__ import annotations

import collections
import importlib.util
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from .conftest import REPO_ROOT

EXAMPLES = REPO_ROOT / "docs" / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    return module


def test_readme_figure_example(splice_data_dir, minilm, tmp_path):
    pytest.importorskip("matplotlib")
    module = _load("readme_figure")
    concepts = module.run(str(splice_data_dir), tmp_path)
    names = [name for name, _ in concepts]
    weights = [w for _, w in concepts]
    assert weights == sorted(weights, reverse=True) and weights[-1] > 0
    # the parts of "a red sports car parked on a sunny beach" are named
    for word in ("parked", "red", "sunny"):
        assert word in names[:10], names[:10]
    assert any(w in names for w in ("beach", "beaches"))
    assert (tmp_path / "readme_decomposition.png").stat().st_size > 5_000


def _run_example(
    script: Path, args: list[str], cwd: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run an example script as the pages say to, offline, with this checkout's sksplice."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _quoted_outputs() -> list[tuple[str, str, list[str], str]]:
    """The example scripts whose output a page quotes (all of it, or some of its lines)
    right after their command: (page, script, its arguments, the block quoted)."""
    import re

    pattern = re.compile(
        r"```(?:bash)?\npython (docs/examples/\w+\.py)([^\n]*)\n```\n\n```(?:text)?\n(.*?)```",
        re.S,
    )
    found = []
    for page in sorted((REPO_ROOT / "docs").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in pattern.finditer(text):
            found.append((page.name, match[1], match[2].split(), match[3]))
    return found


@pytest.mark.slow
@pytest.mark.parametrize(
    ("page", "script", "args", "quoted"),
    _quoted_outputs(),
    ids=[f"{page}:{script.rsplit('/', 1)[1]}" for page, script, _, _ in _quoted_outputs()],
)
def test_the_output_a_page_quotes_is_what_its_script_prints(
    page, script, args, quoted, splice_data_dir, minilm, tmp_path
):
    # probes.md quoted coefficients the script no longer printed in their 6th decimal
    pytest.importorskip("matplotlib")
    args = [str(tmp_path) if a == "docs/_static" else a for a in args]
    proc = _run_example(REPO_ROOT / script, args, tmp_path, SKSPLICE_DATA=str(splice_data_dir))
    assert proc.returncode == 0, proc.stderr[-3000:]
    # every line quoted is a line printed, in the order printed (a page may quote some)
    printed = iter(proc.stdout.splitlines())
    missing = [line for line in quoted.splitlines() if not any(line == got for got in printed)]
    assert not missing, (page, missing, proc.stdout)


def test_pages_quote_the_output_of_example_scripts():
    # (the test above runs them: a page whose layout it no longer finds is said here)
    assert {(page, script) for page, script, _, _ in _quoted_outputs()} >= {
        ("probes.md", "docs/examples/probes_waterbirds.py"),
        ("transformer.md", "docs/examples/transformer_minilm.py"),
    }


def test_example_image_script_is_deterministic(tmp_path):
    module = _load("make_example_image")
    a, b = module.draw(), module.draw()
    assert a.size == (448, 448) and a.tobytes() == b.tobytes()


#: A page added to the built copy of the docs: a broken reference to sksplice (a
#: private path of a public function) must fail the build, references to other
#: packages (unresolvable offline) must not.
_NITPICK_PROBE = """---
orphan: true
---

# Reference probe

{func}`sksplice.path.splice_path`, {class}`numpy.ndarray`, {class}`pandas.DataFrame`,
{class}`sklearn.base.BaseEstimator`, {class}`torch.Tensor`, {func}`sksplice.splice_path`
"""


def _section(html: str, anchor: str) -> str:
    """The HTML of the object description whose ``<dt>`` has id ``anchor``."""
    start = html.index(f'id="{anchor}"')
    end = html.find('<dt class="sig sig-object py"', start + 1)
    return html[start : end if end != -1 else len(html)]


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    """The docs built as HTML (with a probe page): ``(sphinx's stderr, build folder)``."""
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    pytest.importorskip("numpydoc")
    tmp_path = tmp_path_factory.mktemp("docs-build")
    # autosummary writes its stub pages into the source folder: build a copy, so that
    # the test writes nothing into the working tree.
    source = tmp_path / "docs"
    shutil.copytree(
        REPO_ROOT / "docs", source, ignore=shutil.ignore_patterns("generated", "_build")
    )
    (source / "nitpick_probe.md").write_text(_NITPICK_PROBE, encoding="utf-8")
    shutil.copy(REPO_ROOT / "README.md", tmp_path)  # (the quick start includes its tour)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(source),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=env,
    )
    return proc.stderr, tmp_path


def test_sphinx_build_without_warnings(built_docs):
    stderr, tmp_path = built_docs
    # the only warning is the probe's broken reference: every reference of the docs
    # and of the docstrings to sksplice resolves, and the check is on (nitpicky)
    warnings = [
        line
        for line in stderr.splitlines()
        if any(kind in line for kind in ("WARNING", "ERROR", "CRITICAL", "SEVERE"))
    ]
    assert len(warnings) == 1, stderr[-5000:]
    assert "nitpick_probe.md" in warnings[0], warnings
    assert "reference target not found: sksplice.path.splice_path" in warnings[0], warnings
    html = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert "sksplice" in html
    assert (tmp_path / "html" / "generated" / "sksplice.SpliceTransformer.html").exists()
    # the equations render offline: MathJax is a file of the build, not a CDN's
    concepts = (tmp_path / "html" / "concepts.html").read_text(encoding="utf-8")
    assert 'src="_static/mathjax/tex-chtml.js"' in concepts and "cdn." not in concepts
    assert (tmp_path / "html" / "_static" / "mathjax" / "tex-chtml.js").is_file()
    # long inline code in tables may wrap (Sphinx keeps it on one line: tables scrolled)
    embedders = (tmp_path / "html" / "embedders.html").read_text(encoding="utf-8")
    assert 'href="_static/tables.css' in embedders
    assert "span.pre" in (tmp_path / "html" / "_static" / "tables.css").read_text()
    # ... between the parts of a name (after its dots and underscores), not inside a
    # word: a narrow column read "CLIPEmbe / dder.emb / ed_image / s"
    migrating = (tmp_path / "html" / "migrating.html").read_text(encoding="utf-8")
    assert '<span class="pre">splice.<wbr>available_<wbr>models()</span>' in migrating
    assert "vocabulary_<wbr>size=<wbr>...," in migrating  # (an ellipsis stays whole)
    # (an option or a variable stays whole: "--batch-\nsize", "$SKSPLICE_\nDATA")
    cli_page = (tmp_path / "html" / "cli.html").read_text(encoding="utf-8")
    for whole in ("--batch-size", "$SKSPLICE_DATA"):
        assert (
            f'sksplice-option docutils literal notranslate"><span class="pre">{whole}<' in cli_page
        )
    # (... also among the words of longer code: "--labels CSV" broke after its "--")
    index = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert '<span class="pre sksplice-option">--labels</span> <span class="pre">CSV' in index
    api = (tmp_path / "html" / "api.html").read_text(encoding="utf-8")
    assert "authors_index_to_concept" in api and "<wbr>" not in api  # (API summary: whole)
    # no empty left sidebar narrowing the guide's pages: their table of contents is the
    # index page's and the header's (and the drawer's on a narrow screen)
    transformer = (tmp_path / "html" / "transformer.html").read_text(encoding="utf-8")
    assert "Section Navigation" not in transformer and "bd-docs-nav" not in transformer
    assert 'href="cli.html"' in transformer  # (the header links every page)

    # the API pages document methods (their numpydoc sections), not just their names
    generated = tmp_path / "html" / "generated"
    page = (generated / "sksplice.SpliceTransformer.html").read_text(encoding="utf-8")
    for method in ("fit", "transform", "inverse_transform", "top_concepts", "set_output"):
        assert f'id="sksplice.SpliceTransformer.{method}"' in page, method
    top = _section(page, "sksplice.SpliceTransformer.top_concepts")
    assert "as_frame" in top and "Parameters" in top and "Returns" in top
    # the version notes of methods inherited from scikit-learn say they are its versions
    set_output = _section(page, "sksplice.SpliceTransformer.set_output")
    assert "Added in scikit-learn 1.4" in set_output and "Added in version" not in page
    # ... and the functions and classes of the modules documented as a whole
    page = (generated / "sksplice.distributed.html").read_text(encoding="utf-8")
    for name in ("transform_dask", "embed_images_dask", "write_parquet", "to_zarr"):
        assert f'id="sksplice.distributed.{name}"' in page, name
    assert "chunk_size" in _section(page, "sksplice.distributed.transform_dask")
    page = (generated / "sksplice.report.html").read_text(encoding="utf-8")
    assert 'id="sksplice.report.ImageResult"' in page
    assert "thumbnail" in _section(page, "sksplice.report.ImageResult")
    page = (generated / "sksplice.cli.html").read_text(encoding="utf-8")
    assert 'id="sksplice.cli.main"' in page
    # the warnings and errors, under the name to import them by
    import sksplice.exceptions

    for name in sksplice.exceptions.__all__:
        page = (generated / f"sksplice.exceptions.{name}.html").read_text(encoding="utf-8")
        assert f'id="sksplice.exceptions.{name}"' in page, name


def test_api_pages_fit_the_column_of_text_in_chromium(built_docs):
    # The API pages hold long names without spaces (dotted titles, signatures, numpydoc's
    # "name : type" lines, inline code): none runs past the column of text, on a wide
    # screen (under the page's table of contents) or a phone's, where its end was cut off.
    # So do the pages of the guide, whose display equations ran out of a phone's screen.
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = next(
        (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(p)),
        shutil.which("chromium"),
    )
    if executable is None:
        pytest.skip("no Chromium installed (Debian package chromium)")
    _, build = built_docs
    pages = sorted((build / "html" / "generated").glob("*.html"))
    assert len(pages) > 50
    sphinx_own = {"genindex.html", "search.html", "py-modindex.html"}
    guide = [p for p in sorted((build / "html").glob("*.html")) if p.name not in sphinx_own]
    assert {"analysis.html", "concepts.html"} <= {p.name for p in guide}
    pages += guide
    overflowing = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            for width in (1300, 400):
                page = browser.new_page(viewport={"width": width, "height": 900})
                for path in pages:
                    page.goto(path.as_uri())
                    # (equations take their width once MathJax has typeset them)
                    page.wait_for_function(
                        "() => !document.querySelector('div.math') "
                        "|| document.querySelector('mjx-container')",
                        timeout=20000,
                    )
                    wide = page.evaluate(
                        """() => {
                          const a = document.querySelector('.bd-article');
                          const h = a.querySelector('h1');
                          const toc = document.querySelector('.bd-sidebar-secondary');
                          const out = [];
                          if (h.scrollWidth > h.clientWidth) out.push('title');
                          if (a.scrollWidth > a.clientWidth) out.push('text');
                          if (toc && toc.scrollWidth > toc.clientWidth) out.push('contents');
                          return out;
                        }"""
                    )
                    overflowing += [f"{path.name} at {width} px: {what}" for what in wide]
                    if path.name == "index.html":
                        # (the front page's table of where to start, three columns wider
                        # than a phone, scrolled sideways: there its rows are blocks)
                        wide = page.evaluate(
                            """() => {
                              const t = document.querySelector('#where-to-start table');
                              return t.scrollWidth > t.parentElement.clientWidth;
                            }"""
                        )
                        overflowing += [f"index.html at {width} px: where to start"] * wide
                page.close()
        finally:
            browser.close()
    assert not overflowing, overflowing
    # a class's methods are listed by their own names in the page's table of contents
    page = (build / "html" / "generated" / "sksplice.SpliceTransformer.html").read_text("utf-8")
    toc = page.split('class="bd-sidebar-secondary', 1)[1]
    assert '<span class="pre">transform_with_stats()</span>' in toc
    assert '<span class="pre">SpliceTransformer.transform_with_stats()</span>' not in toc


def _python_sources():
    """The docs' example scripts and the Python blocks of the pages and the README."""
    import re

    for path in sorted(EXAMPLES.glob("*.py")):
        yield path.name, path.read_text(encoding="utf-8")
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for k, block in enumerate(re.findall(r"```python\n(.*?)```", text, flags=re.S)):
            yield f"{page.name} block {k}", block


def _sksplice_callables(tree, known=None):
    """What the names of a script refer to in sksplice: imports and fitted instances.

    Returns ``(imported, modules, instances)``: names bound to sksplice objects by
    ``from sksplice... import``, names bound to sksplice modules (``import
    sksplice.x as y`` and modules imported by ``from``), and names assigned (once)
    an instance of an imported class, ``Class(...)`` or ``Class(...).fit(...)``.
    ``known`` is such a triple from the blocks before (of the same page).
    """
    import ast
    import importlib
    import inspect

    imported, modules, instances = ({**k} for k in known or ({}, {}, {}))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sksplice"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                if hasattr(module, alias.name):
                    imported[alias.asname or alias.name] = getattr(module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sksplice":
                    if alias.asname:
                        modules[alias.asname] = importlib.import_module(alias.name)
                    else:
                        modules["sksplice"] = importlib.import_module("sksplice")
    modules.update({k: v for k, v in imported.items() if inspect.ismodule(v)})

    def made_class(value):
        # Class(...), or Class(...).fit(...) / .set_params(...) / .set_output(...)
        while (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and value.func.attr in ("fit", "set_params", "set_output")
        ):
            value = value.func.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
            target = imported.get(value.func.id)
            return target if inspect.isclass(target) else None
        return None

    assigned = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(made_class(node.value))
    for name, classes in assigned.items():
        if classes[0] is not None and all(c is classes[0] for c in classes):
            instances[name] = classes[0]
        else:
            instances.pop(name, None)  # bound to something else here
    return imported, modules, instances


def test_examples_call_sksplice_with_keywords_it_takes():
    # A renamed or removed keyword fails an example only on the path a test does not
    # take (e.g. embedding the vocabulary instead of being handed its embeddings).
    import ast
    import inspect

    checked, wrong = collections.Counter(), []
    # the blocks of a page tell one story: names bound in one are used in the next
    names = {}
    for where, source in _python_sources():
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue  # a fragment with "..." in it
        page = where.split(" block ")[0]
        names[page] = _sksplice_callables(tree, names.get(page))
        imported, modules, instances = names[page]
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.keywords:
                continue
            func, target, kind = node.func, None, "function"
            if isinstance(func, ast.Name):
                target = imported.get(func.id)
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                owner = func.value.id
                if owner in modules:
                    target = getattr(modules[owner], func.attr, None)
                elif owner in instances:
                    target, kind = getattr(instances[owner], func.attr, None), "method"
            if target is None or not callable(target):
                continue
            try:
                parameters = inspect.signature(target).parameters
            except (TypeError, ValueError):
                continue
            if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
                continue
            for keyword in node.keywords:
                checked[kind] += 1
                if keyword.arg is not None and keyword.arg not in parameters:
                    wrong.append(f"{where}: {ast.unparse(func)}(..., {keyword.arg}=...)")
    # the check sees the calls: of functions and classes, and of methods of instances
    assert checked["function"] > 100 and checked["method"] >= 10, checked
    assert not wrong, wrong


# The warning and error classes users filter or catch: the module defining each.
EXCEPTIONS = {
    "SmallMeanSampleWarning": "sksplice.exceptions",
    "CentreMismatchWarning": "sksplice.exceptions",
    "DictionaryCacheWarning": "sksplice.dictionary",
    "DuplicateConceptWarning": "sksplice.dictionary",
    "RepeatedConceptWarning": "sksplice.vocabulary",
    "TooFewSamplesWarning": "sksplice.analysis",
    "SkippedInputWarning": "sksplice.embedders",
    "SkippedInput": "sksplice.embedders",
    "InconsistentVersionWarning": "sksplice.exceptions",
    "ImageFileWarning": "sksplice.exceptions",
    "TruncatedTextWarning": "sksplice.exceptions",
    "CalibrationStartWarning": "sksplice.exceptions",
    "MixedDecompositionWarning": "sksplice.exceptions",
    "EmptyVocabularyError": "sksplice.vocabulary",
    "DenseCodesWarning": "sksplice.transformer",
    "FigureLayoutWarning": "sksplice.plotting",
    "InvalidImageError": "sksplice.exceptions",
    "InvalidParameterError": "sksplice.exceptions",
    "WeightsUnavailableError": "sksplice.exceptions",
    "CheckpointFormatError": "sksplice.exceptions",
    "DeviceUnavailableError": "sksplice.exceptions",
    "DataFetchError": "sksplice.exceptions",
    "DigestMismatchError": "sksplice.exceptions",
}


# The module raising each class defined in sksplice.exceptions (it imports it).
EXCEPTION_RAISERS = {
    "SmallMeanSampleWarning": "sksplice._means",
    "CentreMismatchWarning": "sksplice._means",
    "InconsistentVersionWarning": "sksplice._persistence",
    "ImageFileWarning": "sksplice._images",
    "TruncatedTextWarning": "sksplice.embedders",
    "CalibrationStartWarning": "sksplice.transformer",
    "MixedDecompositionWarning": "sksplice._provenance",
    "InvalidImageError": "sksplice._images",
    "InvalidParameterError": "sksplice._validation",
    "WeightsUnavailableError": "sksplice._models",
    "CheckpointFormatError": "sksplice._models",
    "DeviceUnavailableError": "sksplice._device",
    "DataFetchError": "sksplice._download",
    "DigestMismatchError": "sksplice._download",
}


def test_exceptions_module_reexports_the_raised_classes():
    import importlib
    import inspect

    import sksplice.exceptions

    assert sorted(sksplice.exceptions.__all__) == sorted(EXCEPTIONS)
    assert set(dir(sksplice.exceptions)) >= set(EXCEPTIONS)
    for name, module in EXCEPTIONS.items():
        # the very class sksplice raises or emits (a copy would not be caught)
        raiser = EXCEPTION_RAISERS.get(name, module)
        assert getattr(sksplice.exceptions, name) is getattr(
            importlib.import_module(raiser), name
        ), name
        # a traceback names a class of a private module by the public name the docs use
        # (it said sksplice._models.WeightsUnavailableError)
        cls = getattr(sksplice.exceptions, name)
        assert cls.__module__ == module, name
        # and the source of each class is where it says it is defined (it was not, for
        # classes of private modules renamed to sksplice.exceptions)
        assert f"class {name}(" in inspect.getsource(cls), name
    from sksplice.exceptions import SkippedInputWarning, SmallMeanSampleWarning

    assert issubclass(SmallMeanSampleWarning, UserWarning)
    assert issubclass(SkippedInputWarning, UserWarning)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchError'"):
        sksplice.exceptions.NoSuchError


def test_exceptions_module_imports_fast():
    # the classes are imported on first use: importing the module imports no torch
    code = (
        "import sys, sksplice.exceptions\n"
        "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("EAGER_IMPORT", None)
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def _user_guide_pages():
    # (architecture.md describes the modules themselves, private ones included)
    return [p for p in sorted((REPO_ROOT / "docs").glob("*.md")) if p.name != "architecture.md"]


def test_every_warning_and_error_the_docs_name_is_in_sksplice_exceptions():
    import ast
    import re

    import sksplice.exceptions

    # the public Warning and Error classes defined in sksplice (not the CLI's own)
    defined = set()
    for path in (REPO_ROOT / "sksplice").rglob("*.py"):
        if "cli" in path.relative_to(REPO_ROOT / "sksplice").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and re.search(r"(Warning|Error)$", node.name):
                defined.add(node.name)
    assert set(EXCEPTIONS) - {"SkippedInput"} <= defined
    named = set()
    for page in [*_user_guide_pages(), REPO_ROOT / "README.md"]:
        named |= set(re.findall(r"\b\w+(?:Warning|Error)\b", page.read_text(encoding="utf-8")))
    assert named & defined, "no sksplice warning or error named in the docs?"
    assert named & defined <= set(sksplice.exceptions.__all__), named & defined
    # and the API reference lists every one under sksplice.exceptions
    api = (REPO_ROOT / "docs" / "api.rst").read_text(encoding="utf-8")
    section = api.split(".. currentmodule:: sksplice.exceptions", 1)[1].split("\n---", 1)[0]
    listed = set(re.findall(r"^   (\w+)$", section, flags=re.M))
    assert listed == set(EXCEPTIONS)


def test_pages_name_public_import_paths_and_no_developer_folders():
    import re

    for page in [*_user_guide_pages(), REPO_ROOT / "README.md"]:
        text = page.read_text(encoding="utf-8")
        # private modules (sksplice._data ...) are no import path for users
        assert not re.search(r"\bsksplice\._\w", text), page.name
    for path in [*_user_guide_pages(), *sorted(EXAMPLES.glob("*.py"))]:
        # a folder of the developers' checkout is no path for users
        assert "shared/data" not in path.read_text(encoding="utf-8"), path.name


def test_readme_lists_every_user_guide_page():
    import re

    index = (REPO_ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    toctree = index.split(":caption: User guide", 1)[1].split("```", 1)[0]
    pages = re.findall(r"^(\w+)$", toctree, flags=re.M)
    assert "concepts" in pages and "transformer" in pages
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    documentation = readme.split("## Documentation", 1)[1].split("\n## ", 1)[0]
    for page in pages:
        assert f"(docs/{page}.md)" in documentation, page


@pytest.mark.parametrize("name", ["transformer_minilm", "migrating_equivalence"])
def test_example_scripts_take_options(name, tmp_path):
    # --help is an option, not the data home (the examples' common --data-home is)
    proc = _run_example(EXAMPLES / f"{name}.py", ["--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "--data-home" in proc.stdout
    assert not any(tmp_path.iterdir())  # no folder named --help


def test_retrieval_page_decomposes_text_queries_with_a_text_transformer():
    # The collection is decomposed as images; the retriever's `splice`, which decomposes
    # the text queries, must centre them as texts (modality="text").
    import ast
    import re

    page = (REPO_ROOT / "docs" / "retrieval.md").read_text(encoding="utf-8")
    tree = ast.parse(re.findall(r"```python\n(.*?)```", page, flags=re.S)[0])
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    retriever = next(c for c in calls if getattr(c.func, "id", None) == "ConceptRetriever")
    splice = next(k.value for k in retriever.keywords if k.arg == "splice")
    assigned = next(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == splice.id for t in node.targets)
    )
    params = {k.arg: ast.literal_eval(k.value) for k in assigned.keywords}
    assert params["modality"] == "text" and params["text_mean"] == "concepts", params
    # fitted, and also used by the example that measures retrieval
    assert f"{splice.id}.fit(" in ast.unparse(tree)
    example = (EXAMPLES / "retrieval_recall.py").read_text(encoding="utf-8")
    assert 'set_params(modality="text", text_mean="concepts")' in example
    assert "ConceptRetriever(splice=text_splice" in example
    assert "WQ = text_splice.transform(Q)" in example


def test_cli_page_lists_the_image_extensions_the_command_reads():
    import re

    from sksplice._image_files import IMAGE_EXTENSIONS

    page = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    match = re.search(r"walked recursively for images \(`([^`]*)`", page)
    assert match, "docs/cli.md no longer lists the image extensions"
    assert set(match.group(1).split()) == set(IMAGE_EXTENSIONS)


def _public_modules() -> list[str]:
    """The package and its public modules, by their dotted names."""
    import pkgutil

    import sksplice

    return ["sksplice"] + [
        f"sksplice.{info.name}"
        for info in pkgutil.iter_modules(sksplice.__path__)
        if not info.name.startswith("_")
    ]


def _api_reference_entries():
    """``(module, entry)`` for every entry of the autosummary lists of docs/api.rst."""
    import re

    api = (REPO_ROOT / "docs" / "api.rst").read_text(encoding="utf-8")
    module = "sksplice"
    for line in api.splitlines():
        current = re.match(r"\.\. (?:currentmodule|py:module):: ([\w.]+)$", line)
        if current:
            module = current.group(1)
        elif re.match(r"^   [A-Za-z_][\w.]*$", line):
            yield module, line.strip()


def _split_reference(dotted: str):
    """``sksplice.a.b.NAME.attr`` -> (the module ``sksplice.a.b``, ``NAME``), or None."""
    import importlib

    parts = dotted.split(".")
    module, k = importlib.import_module(parts[0]), 1
    while k < len(parts):
        try:
            module = importlib.import_module(".".join(parts[: k + 1]))
        except ImportError:
            break
        k += 1
    return None if k == len(parts) else (module, parts[k])


def test_names_the_docs_give_are_in_their_modules_all():
    # `sksplice.analysis.ALL_GROUP` in a page, or `analysis.ALL_GROUP` in the API
    # reference, is a public name: its module exports it (`from ... import *`, the
    # type stubs and the module pages of the reference follow __all__).
    import re

    found, missing = set(), []
    for page in [*_user_guide_pages(), REPO_ROOT / "README.md"]:
        for match in re.finditer(r"\bsksplice((?:\.[A-Za-z]\w*)+)", page.read_text("utf-8")):
            found.add((f"sksplice{match.group(1)}", page.name))
    found |= {(f"{module}.{entry}", "api.rst") for module, entry in _api_reference_entries()}
    assert len(found) > 100, len(found)
    for dotted, where in sorted(found):
        split = _split_reference(dotted)
        if split is None:
            continue  # a module
        module, name = split
        assert hasattr(module, name), f"{where}: {dotted} does not exist"
        if name not in getattr(module, "__all__", ()):
            missing.append(f"{where}: {dotted} is not in {module.__name__}.__all__")
    assert not missing, missing


def test_every_exported_name_is_documented():
    # Each name in the __all__ of a public module is named in the user guide or the API
    # reference (a module listed there gets a page of everything it exports).
    import importlib
    import re

    texts = [p.read_text("utf-8") for p in [*_user_guide_pages(), REPO_ROOT / "README.md"]]
    text = "\n".join([*texts, (REPO_ROOT / "docs" / "api.rst").read_text("utf-8")])
    module_pages = set()
    for module, entry in _api_reference_entries():
        if _split_reference(f"{module}.{entry}") is None:
            module_pages.add(f"{module}.{entry}")
    assert {"sksplice.distributed", "sksplice.cli"} <= module_pages
    modules = _public_modules()
    undocumented = []
    for name in modules:
        if name in module_pages:
            continue
        for exported in importlib.import_module(name).__all__:
            if not exported.startswith("__") and not re.search(rf"\b{exported}\b", text):
                undocumented.append(f"{name}.{exported}")
    assert not undocumented, undocumented


def test_every_exported_name_has_an_api_reference_entry():
    # Named in a page is not enough: a reader looks a function or a constant up in the
    # API reference. Each name of a public module's __all__ has an entry there (a class
    # or function re-exported elsewhere, under any of its names; a constant under its
    # own module), unless its module has a page of its own.
    import importlib
    import inspect

    entries, objects, module_pages = set(), set(), set()
    for module, entry in _api_reference_entries():
        split = _split_reference(f"{module}.{entry}")
        if split is None:
            module_pages.add(f"{module}.{entry}")
            continue
        entries.add((split[0].__name__, split[1]))
        objects.add(id(getattr(*split)))
    modules = _public_modules()
    missing = []
    for name in modules:
        if name in module_pages:
            continue
        module = importlib.import_module(name)
        for exported in module.__all__:
            if exported.startswith("__"):
                continue
            value = getattr(module, exported)
            if inspect.isclass(value) or inspect.isroutine(value):
                found = id(value) in objects
            else:
                found = (name, exported) in entries
            if not found:
                missing.append(f"{name}.{exported}")
    assert not missing, f"not in docs/api.rst: {missing}"


def test_pages_give_the_analysis_functions_concept_names():
    # The weights `transform` returns name no concept, so concept_profiles(W, y) as a
    # page writes it (in a sentence, a table or a block) is a ValueError: every call of
    # the analysis functions on weights says where the names come from.
    import ast
    import inspect
    import re

    import sksplice

    functions = ("concept_profiles", "rank_concepts", "rank_each_class", "compare_datasets")
    slots = {}
    for name in functions:
        parameters = list(inspect.signature(getattr(sksplice, name)).parameters.values())
        concepts = next(p for p in parameters if p.name == "concepts")
        positional = concepts.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        slots[name] = parameters.index(concepts) if positional else None
    pages = [REPO_ROOT / "README.md", *_user_guide_pages(), *sorted(EXAMPLES.glob("*.py"))]
    nameless, calls = [], 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(rf"\b({'|'.join(functions)})\(", text):
            depth, end = 0, match.end() - 1
            for end in range(match.end() - 1, len(text)):
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                if depth == 0:
                    break
            call = text[match.start() : end + 1]
            try:
                node = ast.parse(" ".join(call.split()), mode="eval").body
            except SyntaxError:
                continue  # a signature (`*`, `...`), not a call
            if not isinstance(node, ast.Call) or not node.args:
                continue  # a parameter named (`rank_concepts(positive=...)`)
            calls += 1
            slot = slots[match.group(1)]
            named = any(k.arg in ("concepts", None) for k in node.keywords)
            if not named and (slot is None or len(node.args) <= slot):
                line = text[: match.start()].count("\n") + 1
                nameless.append(f"{page.name}:{line}: {call}")
    assert calls > 10, calls
    assert not nameless, nameless


#: Scripts that decompose text embeddings as images on purpose: the authors' image
#: path reproduced on text stand-ins and compared with their code, and a collection
#: of captions standing in for images searched with text queries decomposed as texts.
_TEXT_AS_IMAGES = {"migrating_equivalence.py", "retrieval_recall.py"}


def _text_fits(tree):
    """The ``fit`` calls of a script on text embeddings and the ``SpliceTransformer(...)``
    call of each, or ``None`` where the fitted object is not one built there.

    Text embeddings are an ``embed_text(...)`` call, a name assigned one (also through
    ``.astype``) or an item of a dict of them (``X = {k: embed_text(...) ...}``,
    ``X["A"]``). The transformer is a ``SpliceTransformer(...)`` call, a name assigned
    one, a call of a function of the script that returns one, or the first step of a
    ``make_pipeline`` of those.
    """
    import ast

    def is_call(node, name):
        if not isinstance(node, ast.Call):
            return False
        func = node.func
        return getattr(func, "id", None) == name or getattr(func, "attr", None) == name

    def texts_call(node):
        while is_call(node, "astype"):
            node = node.func.value
        return is_call(node, "embed_text")

    texts, dicts, made, factories = set(), set(), {}, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for ret in ast.walk(node):
                if isinstance(ret, ast.Return) and is_call(ret.value, "SpliceTransformer"):
                    factories[node.name] = ret.value
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign):
            continue
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if texts_call(node.value):
            texts.update(names)
        elif isinstance(node.value, ast.DictComp) and texts_call(node.value.value):
            dicts.update(names)

    def transformer(node):
        if isinstance(node, ast.Name):
            return made.get(node.id)
        if is_call(node, "SpliceTransformer"):
            return node
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in factories:
            return factories[node.func.id]
        if is_call(node, "make_pipeline") and node.args:
            return transformer(node.args[0])
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and transformer(node.value) is not None:
            made.update(
                {t.id: transformer(node.value) for t in node.targets if isinstance(t, ast.Name)}
            )

    def holds_texts(node):
        if texts_call(node):
            return True
        if isinstance(node, ast.Name):
            return node.id in texts
        return isinstance(node, ast.Subscript) and getattr(node.value, "id", None) in dicts

    for node in ast.walk(tree):
        if (
            is_call(node, "fit")
            and isinstance(node.func, ast.Attribute)
            and node.args
            and holds_texts(node.args[0])
        ):
            yield node, transformer(node.func.value)


def test_pages_decompose_text_embeddings_as_texts():
    # A SpliceTransformer fitted on embed_text(...) holds texts: it centres them as texts
    # (modality="text"); with the default "image" its messages name image_mean, and a
    # centre of images (or one learned as if they were images) is not the text centre.
    import ast

    fitted_on_text = []
    for where, source in _python_sources():
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for fit, call in _text_fits(tree):
            if call is not None:
                modality = {k.arg: k.value for k in call.keywords}.get("modality")
                value = ast.literal_eval(modality) if modality else None
                fitted_on_text.append((f"{where}:{fit.lineno}", value))
    pages = {where.split(":")[0] for where, _ in fitted_on_text}
    assert any(w.startswith("embedders.md") for w in pages), pages
    # the worked examples that fit on captions, through a name, a dict, a pipeline
    assert {
        "readme_figure.py",
        "editing_remove_dog.py",
        "zero_shot_edit.py",
        "shift_snow.py",
        "probes_waterbirds.py",
        "sparsity_tradeoff.py",
        "analysis_spurious.py",
    } <= pages, pages
    wrong = [
        where
        for where, modality in fitted_on_text
        if modality != "text" and where.split(":")[0] not in _TEXT_AS_IMAGES
    ]
    assert not wrong, wrong


def test_architecture_names_the_module_defining_each_exception():
    import re

    text = (REPO_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    raisers = re.search(r"raised by modules that\s+import them from it: ([^)]*)\)", text)
    defining = re.search(r"re-exports those of public modules\s+\(defined in: ([^)]*)\)", text)
    assert raisers and defining, "docs/architecture.md no longer lists the exceptions' modules"
    listed = set(re.findall(r"`(\w+)`", raisers.group(1)))
    assert listed == {module.rpartition(".")[2] for module in EXCEPTION_RAISERS.values()}
    listed = set(re.findall(r"`(\w+)`", defining.group(1)))
    public = {m for m in EXCEPTIONS.values() if m != "sksplice.exceptions"}
    assert listed == {module.rpartition(".")[2] for module in public}


def test_every_parameter_of_a_public_callable_is_documented_in_order():
    # Each parameter of a public function or class is in its numpydoc Parameters section
    # (a named tuple's fields may be its Attributes instead), in the signature's order
    # (numpydoc's PR03: SpliceTransformer documented concepts_centered 5th, its 14th).
    import inspect

    docscrape = pytest.importorskip("numpydoc.docscrape")
    seen, undocumented, disordered = 0, [], []
    for dotted, obj in _public_callables(methods=False):
        seen += 1
        parsed = _signature_and_doc(obj, docscrape)
        if parsed is None:
            continue
        signature, doc = parsed
        sections = ["Parameters"] + (["Attributes"] if inspect.isclass(obj) else [])
        documented = {
            part.strip().lstrip("*")
            for section in sections
            for entry in doc[section]
            for part in entry.name.split(",")
        }
        for parameter in signature.parameters.values():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            if parameter.name != "self" and parameter.name not in documented:
                undocumented.append(f"{dotted}: {parameter.name}")
        entries = doc["Parameters"]
        listed = [part.strip().lstrip("*") for entry in entries for part in entry.name.split(",")]
        in_signature = [p for p in signature.parameters if p in listed]
        if [p for p in listed if p in in_signature] != in_signature:
            disordered.append(dotted)
    assert seen > 50, seen
    assert not undocumented, undocumented
    assert not disordered, disordered


IGNORED = "Not used, present here for API consistency by convention."


def _signature_and_doc(obj, docscrape):
    """The signature of the function or class ``obj`` and its numpydoc docstring, parsed
    (by the module ``numpydoc.docscrape``); None where it has no signature."""
    import inspect

    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpydoc's notes on unknown sections
        kind = docscrape.ClassDoc if inspect.isclass(obj) else docscrape.FunctionDoc
        return signature, kind(obj)


def _public_callables(methods: bool = True):
    """``(dotted name, function or class)`` of each callable in the __all__ of a public
    module (exceptions left out), then, with ``methods``, of each public method that
    sksplice defines on such a class (its own or a mixin's; not one scikit-learn's base
    classes bring)."""
    import importlib
    import inspect

    seen = set()
    for module_name in _public_modules():
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if id(obj) in seen or not callable(obj):
                continue
            seen.add(id(obj))
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue
            yield f"{module_name}.{name}", obj
            if not methods or not inspect.isclass(obj):
                continue
            for attribute in dir(obj):
                method = inspect.getattr_static(obj, attribute)
                method = getattr(method, "__func__", method)  # a static or class method
                if (
                    not attribute.startswith("_")
                    and inspect.isfunction(method)
                    and method.__module__.startswith("sksplice")
                ):
                    yield f"{module_name}.{name}.{attribute}", method


def _default_documented_as(text: str, default, namespace) -> bool:
    """Whether ``default=TEXT`` of a numpydoc type names the signature's ``default``:
    a literal (a string quoted or not, None, True, 0.5, 1e-6, nan, a tuple or list for
    a tuple) or a dotted name such as ``np.nan`` or ``np.float32``."""
    import ast
    import math

    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = namespace.get(text.split(".")[0], ast)
        if text in ("nan", "inf"):
            value = float(text)
        elif value is ast:
            return isinstance(default, str) and text == default  # an unquoted string
        for part in text.split(".")[1:]:
            value = getattr(value, part, ast)
    if isinstance(default, tuple) and isinstance(value, list):
        value = tuple(value)
    if isinstance(default, float) and isinstance(value, float) and math.isnan(default):
        return math.isnan(value)
    if isinstance(default, bool) or isinstance(value, bool) or default is None:
        return value is default
    if isinstance(default, (int, float)) and isinstance(value, (int, float)):
        return value == default
    return type(value) is type(default) and value == default


def _parameters_not_read(function) -> set[str]:
    """The parameters that ``function``'s body never reads (none for a stub: a body of
    a docstring and ``...``, as a Protocol's methods have)."""
    import ast
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    body = [
        statement
        for statement in tree.body
        if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))
    ]
    if not body:
        return set()
    read = {
        node.id
        for node in ast.walk(ast.Module(body=body, type_ignores=[]))
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
    if read & {"locals", "vars"}:
        return set()
    arguments = tree.args
    names = {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}
    return names - read - {"self", "cls"}


def test_documented_parameter_types_and_defaults_follow_the_signature():
    # scikit-learn's conventions, in every Parameters section (the public callables and
    # their public methods): a ``default=X`` is the signature's default; a parameter
    # whose default is None says None in its type (``int or None, default=None``, not
    # numpydoc's older ``int, optional``, which hid the default); and a parameter a
    # method never reads (``fit``'s ``y`` in a transformer) reads ``y : Ignored``, "Not
    # used, present here for API consistency by convention." (before this test, 16
    # ``optional``, some 80 types without their None and ``y : None`` had crept in).
    import inspect
    import re

    docscrape = pytest.importorskip("numpydoc.docscrape")
    problems, checked = [], 0
    for dotted, obj in _public_callables():
        parsed = _signature_and_doc(obj, docscrape)
        if parsed is None:
            continue
        signature, doc = parsed
        namespace = getattr(obj, "__globals__", None) or vars(inspect.getmodule(obj))
        not_read = set() if inspect.isclass(obj) else _parameters_not_read(obj)
        for entry in doc["Parameters"]:
            kind_, description = entry.type.strip(), " ".join(entry.desc)
            for name in (part.strip().lstrip("*") for part in entry.name.split(",")):
                parameter = signature.parameters.get(name)
                if parameter is None:
                    continue
                checked += 1
                where = f"{dotted}: {name} : {kind_}"
                if re.search(r"\boptional\b", kind_):
                    problems.append(f"{where} (write the default, not 'optional')")
                documented = re.search(r"(?:^|, )default=(.+)$", kind_)
                if documented and parameter.default is parameter.empty:
                    problems.append(f"{where} (the parameter has no default)")
                elif documented and not _default_documented_as(
                    documented.group(1).strip(), parameter.default, namespace
                ):
                    problems.append(f"{where} (the default is {parameter.default!r})")
                own_type = kind_[: documented.start()] if documented else kind_
                if (
                    parameter.default is None
                    and kind_
                    and kind_.lower() != "ignored"
                    and "None" not in own_type
                    and (documented or "None" not in description)
                ):
                    problems.append(f"{where} (the default is None: say 'or None')")
                unused = name in not_read or re.fullmatch(r"(?i)ignored|none", kind_)
                if unused and (kind_ != "Ignored" or not description.startswith(IGNORED)):
                    problems.append(f"{where} (not read: 'Ignored' and {IGNORED!r})")
    assert checked > 300, checked
    assert not problems, "\n".join(problems)


def test_transformer_page_names_the_dictionary_cache_file_as_written(tmp_path):
    import re

    from sksplice.dictionary import dictionary_cache_path, vocabulary_hash

    page = (REPO_ROOT / "docs" / "transformer.md").read_text(encoding="utf-8")
    assert "`<cache folder>/dictionaries/<name>-<size>-<digest>.npz`" in page
    example = re.search(r"\(e\.g\.\s+`([^`]*)_\.\.\.`\)", page).group(1)
    concepts = ["dog", "cat", "car"]
    path = dictionary_cache_path("open_clip/ViT-B-32/laion2b_s34b_b79k", concepts, tmp_path)
    name, size, digest = path.stem.rsplit("-", 2)
    assert path.parent == tmp_path / "dictionaries" and path.suffix == ".npz"
    assert name.startswith(example) and size == "3"
    assert re.fullmatch(r"[0-9a-f]{20}", digest)
    # other characters become "_", the name is cut to 48; the digest tells keys apart
    long_key = "sentence-transformers/" + "ü/" * 10 + "x" * 60
    a = dictionary_cache_path(long_key + "a", concepts, tmp_path)
    b = dictionary_cache_path(long_key + "b", concepts, tmp_path)
    assert a.stem.rsplit("-", 2)[0] == b.stem.rsplit("-", 2)[0]
    assert len(a.stem.rsplit("-", 2)[0]) == 48 and a != b
    assert re.fullmatch(r"[A-Za-z0-9._-]+", a.name)
    assert len(vocabulary_hash(concepts)) == 64


def _names_read_and_bound(source: str) -> tuple[set[str], set[str], set[str]]:
    """The names a Python block reads, those it binds, and the words of its comments."""
    import ast
    import io
    import re
    import tokenize

    tree = ast.parse(source)
    read, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    comments = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments |= set(re.findall(r"\w+", token.string))
    return read, bound, comments


#: Every page of the guide, docs/*.md.
_GUIDE_PAGES = sorted(path.stem for path in (REPO_ROOT / "docs").glob("*.md"))


def test_guide_pages_are_found():
    assert {"transformer", "analysis", "migrating", "scaling"} <= set(_GUIDE_PAGES)


@pytest.mark.parametrize("page", _GUIDE_PAGES)
def test_snippets_define_or_describe_every_name_they_use(page):
    # A reader copies a page's blocks in order: every name a block reads is imported or
    # assigned there or in an earlier block, or is data the reader brings (X and y, or
    # the names a comment describes, "# X_a, X_b: CLIP image embeddings ...").
    import builtins
    import re
    import textwrap

    text = (REPO_ROOT / "docs" / f"{page}.md").read_text(encoding="utf-8")
    # Python fenced under another name ("py", "{code-block} python") would not be checked
    fences = [i.split() for i in re.findall(r"^[ \t]*```+[ \t]*(\S.*)$", text, flags=re.M)]
    languages = [f[1] if f[0] in {"{code}", "{code-block}"} and f[1:] else f[0] for f in fences]
    hidden = [
        f
        for f, language in zip(fences, languages)
        if f != ["python"] and language in {"python", "python3", "py", "pycon", "ipython"}
    ]
    assert not hidden, f"{page}.md: fence Python blocks as ```python: {hidden}"
    known = set(dir(builtins)) | {"X", "y"}
    undefined = []
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    for k, block in enumerate(blocks):
        read, bound, comments = _names_read_and_bound(textwrap.dedent(block))
        known |= bound | comments
        undefined += [f"{page}.md block {k}: {name}" for name in sorted(read - known)]
    assert not undefined, undefined


def test_log_odds_counterexamples_have_the_sign_of_each_page():
    # analysis.md: positive class minus negative class; shift.md: B relative to A. The
    # pages quote the ratio with 0.5 added to every cell and the shrunk one computed.
    import math

    import numpy as np

    from sksplice.analysis import rank_concepts
    from sksplice.shift import compare_datasets

    def half(x, n):  # log odds with 0.5 added to each cell
        return math.log((x + 0.5) / (n - x + 0.5))

    def shrunk(x1, n1, x2, n2):  # (rank_concepts, compare_datasets) of group 1 vs 2
        W = np.zeros((n1 + n2, 1))
        W[:x1, 0] = 1
        W[n1 : n1 + x2, 0] = 1
        y = np.array(["first"] * n1 + ["second"] * n2)
        ranked = rank_concepts(W, y, positive="first", concepts=["c"])
        compared = compare_datasets(W[:n1], W[n1:], concepts=["c"])
        return ranked["log_odds_ratio"].iloc[0], compared["log_odds_ratio"].iloc[0]

    analysis, shift = (
        " ".join((REPO_ROOT / "docs" / f"{page}.md").read_text(encoding="utf-8").split())
        for page in ("analysis", "shift")
    )
    assert round(half(4, 4) - half(50, 50), 2) == -2.42
    assert shrunk(4, 4, 50, 50) == (0.0, 0.0)
    assert "50 of 50: $\\ln 9 - \\ln 101 = -2.42$, where the shrunk ratio is 0" in analysis
    assert "B 50 of 50: 2.42, where the shrunk ratio is 0" in shift
    # 0 of 4 against 1 of 50: the plain ratio has the sign of the difference reversed
    assert round(half(0, 4) - half(1, 50), 2) == 1.30
    ranked, compared = shrunk(0, 4, 1, 50)
    assert (round(ranked, 2), round(compared, 2)) == (-1.70, 1.70)
    assert "$\\ln \\frac{1}{9} - \\ln \\frac{1}{33} = +1.30$" in analysis
    assert "the shrunk ratio is $-1.70$" in analysis
    assert "B 1 of 50: -1.30; the shrunk ratio is 1.70" in shift


def test_vocabularies_page_ranks_the_words_of_laion_bigrams_in_laion(splice_data_dir):
    from sksplice.vocabulary import load_vocabulary

    laion = load_vocabulary("laion", size=None, data_home=splice_data_dir)
    bigrams = load_vocabulary("laion_bigrams", size=None, data_home=splice_data_dir)
    rank = {word: i + 1 for i, word in enumerate(laion)}  # 1 for the most frequent
    words = [concept for concept in bigrams if " " not in concept]
    assert len(words) == 9_999 and all(word in rank for word in words)
    last = max(words, key=rank.__getitem__)
    page = (REPO_ROOT / "docs" / "vocabularies.md").read_text(encoding="utf-8")
    among = sum(rank[word] <= 10_000 for word in words)
    assert f"{among:,} of its words are among the 10,000 most frequent of `laion`" in page
    assert f'the least frequent there, "{last}", {rank[last]:,}th)' in page


def test_speed_page_quotes_the_recorded_transform_memory():
    import json

    results = json.loads(
        (REPO_ROOT / "benchmarks" / "results" / "transform_memory.json").read_text()
    )
    page = " ".join((REPO_ROOT / "docs" / "speed.md").read_text(encoding="utf-8").split())
    before, after = results["before"], results["after"]
    assert after["result"]["nnz"] == before["result"]["nnz"]
    assert f"{after['result']['nnz']:,} non-zero weights" in page
    assert f"a {after['result']['csr_bytes'] / 1e6:.1f} MB CSR result" in page
    assert f"on commit {after['commit'][:7]}" in page
    assert f"peak {after['result']['tracemalloc_peak_above_before_mb']} MB above" in page
    assert f"({before['result']['tracemalloc_peak_above_before_mb']} MB at commit" in page
    assert f"grows by {after['result']['peak_rss_above_before_mb']} MB at most" in page
    assert f"({before['result']['peak_rss_above_before_mb']} MB at" in page
    assert f"at commit {before['commit'][:7]}" in page


def test_install_commands_of_the_pages_are_the_readmes():
    # sksplice is installed from a checkout with constraints.txt (README.md, Set-up); the
    # pages name the extras the same way, and the extras exist.
    import re

    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = pyproject.split("[project.optional-dependencies]\n", 1)[1].split("\n[", 1)[0]
    extras = set(re.findall(r"^(\w+) = \[", section, flags=re.M))
    assert {"plot", "dask", "test"} <= extras
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    index = (REPO_ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    install = index.split("## Installation", 1)[1].split("```{toctree}", 1)[0]
    for command in (
        "pip install -c constraints.txt .",
        "sksplice decompose docs/_static/example.jpg",
    ):
        assert command in readme and command in install, command
    assert 'pip install -q -c constraints.txt -e ".[test]" && pytest' in readme
    assert 'pip install -c constraints.txt -e ".[test]" && pytest' in install
    extra = r'pip install -c constraints\.txt (?:-e )?"\.\[([\w,]+)\]"'
    assert set(re.findall(extra, install)) == extras
    for page in _user_guide_pages():
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"pip install \S*sksplice\[", text), page.name
        for named in re.findall(extra, text):
            assert set(named.split(",")) <= extras, (page.name, named)


def test_speed_pages_quote_the_recorded_rankings_of_many_classes():
    import json

    benchmarks = (REPO_ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    page = (REPO_ROOT / "docs" / "speed.md").read_text(encoding="utf-8")
    for tag in ("", "_again"):
        name = f"concept_space_rank_each_class{tag}.json"
        result = json.loads((REPO_ROOT / "benchmarks" / "results" / name).read_text())
        entry = result["rank_each_class"]
        assert entry["same_result"] is True
        assert entry["now_s"] == min(entry["all_times"]["now_s"])
        row = f"{entry['before_s']!r} | {entry['now_s']!r} | {entry['speedup']!r}x |"
        assert f"| `results/{name}` | {row}" in benchmarks
        assert f"| `{name}` | {row}" in page
        command = result["command"]
        assert f"    {command}\n" in benchmarks
        machine = result["machine"]
        loads = f"{machine['load_average_start'][0]!r} / {machine['load_average_end'][0]!r} |"
        assert loads in benchmarks
    first = json.loads(
        (REPO_ROOT / "benchmarks" / "results" / "concept_space_rank_each_class.json").read_text()
    )
    assert f"    {first['command']}\n" in page


def test_benchmarks_readme_quotes_the_recorded_inverse_transform_breakdown():
    import json

    benchmarks = (REPO_ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    for tag in ("", "_again"):
        name = f"concept_space_inverse_transform{tag}.json"
        result = json.loads((REPO_ROOT / "benchmarks" / "results" / name).read_text())
        entry = result["inverse_transform"]
        (run,) = entry["runs"]
        assert entry["same_result"] is True
        assert f"    {result['command']}\n" in benchmarks
        machine = result["machine"]
        loads = f"{machine['load_average_start'][0]!r} / {machine['load_average_end'][0]!r}"
        cells = [
            f"{run['inverse_transform_s']!r} ({run['inverse_transform_cpu_s']!r})",
            f"{run['steps_total_s']!r} ({run['steps_cpu_s']!r})",
            *(f"{run['steps_s'][k]!r} ({run['steps_cpu_s_each'][k]!r})" for k in run["steps_s"]),
            f"{run['fill_fresh_result_cpu_s']!r} / {run['fill_again_cpu_s']!r}",
        ]
        assert f"| `results/{name}` ({loads}) | " + " | ".join(cells) + " |" in benchmarks
    assert f"a result of\n{entry['result_bytes']} bytes)" in benchmarks
