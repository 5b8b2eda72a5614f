"""The Examples sections of the docstrings run, and print what they say, without warnings."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re
import sys
import warnings

import pytest

import sksplice

# Public names that are not estimators or functions a user calls: the two embedder
# protocols (what an object must offer) and the result of splice_path (shown in its
# example) need no example of their own.
_NO_EXAMPLE = {"ImageEmbedder", "TextEmbedder", "SplicePath", "__version__"}


def _modules() -> list[str]:
    names = ["sksplice"]
    for info in pkgutil.walk_packages(sksplice.__path__, "sksplice."):
        if info.name.split(".")[-1] != "__main__":  # (importing it runs the command line)
            names.append(info.name)
    return sorted(names)


def _doctests() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = []
    for name in _modules():
        found.extend(t for t in finder.find(importlib.import_module(name)) if t.examples)
    return sorted(found, key=lambda t: t.name)


DOCTESTS = _doctests()


def test_the_package_has_docstring_examples():
    # (a collection that found nothing would pass every test below)
    names = {t.name for t in DOCTESTS}
    assert len(DOCTESTS) >= 20
    assert "sksplice.transformer.SpliceTransformer" in names
    assert "sksplice.path.splice_path" in names


@pytest.mark.parametrize("test", DOCTESTS, ids=[t.name for t in DOCTESTS])
def test_docstring_example_runs_as_written(test, monkeypatch, tmp_path):
    for example in test.examples:  # an example of an optional package needs it installed
        match = re.match(r"(?:import|from) (\w+)", example.source)
        if match and match.group(1) not in sys.stdlib_module_names:
            pytest.importorskip(match.group(1))
    # (examples that write files write them under this test's folder)
    monkeypatch.setenv("SKSPLICE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SKSPLICE_DATA", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    output: list[str] = []
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    with warnings.catch_warnings():
        # A warning a reader of the example would see but the example does not show.
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="open_clip.*")
        warnings.filterwarnings("ignore", category=FutureWarning, module="open_clip.*")
        result = runner.run(test, out=output.append, clear_globs=True)
    assert result.failed == 0, "".join(output)
    assert result.attempted > 0


def test_every_public_estimator_and_function_has_an_example():
    missing = []
    for name in sksplice.__all__:
        obj = getattr(sksplice, name)
        if name in _NO_EXAMPLE or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if "Examples\n--------" not in (inspect.getdoc(obj) or ""):
            missing.append(name)
    assert not missing, f"no Examples section in the docstrings of {missing}"
