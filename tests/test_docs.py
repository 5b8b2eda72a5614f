"""The documentation builds and its offline examples run, so the docs cannot rot."""

from __future__ import annotations

import collections
import importlib.util
import os
import shutil
import subprocess
import sys

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


def test_example_image_script_is_deterministic(tmp_path):
    module = _load("make_example_image")
    a, b = module.draw(), module.draw()
    assert a.size == (448, 448) and a.tobytes() == b.tobytes()


def test_sphinx_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    pytest.importorskip("numpydoc")
    # autosummary writes its stub pages into the source folder: build a copy, so that
    # the test writes nothing into the working tree.
    source = tmp_path / "docs"
    shutil.copytree(
        REPO_ROOT / "docs", source, ignore=shutil.ignore_patterns("generated", "_build")
    )
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
    assert proc.returncode == 0, proc.stderr[-5000:]
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
