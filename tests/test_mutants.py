"""The mutation script's mutants still apply to the current source.

``tools/mutants.py`` replaces pieces of source text by deliberate bugs; when the
source changes, a mutant whose text is gone would silently test nothing. Running
the mutants takes minutes (``python tools/mutants.py``); this only checks that each
one applies and names tests that exist.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("mutants", REPO_ROOT / "tools" / "mutants.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MUTANTS = _load().MUTANTS


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_mutant_applies_to_the_current_source(mutant):
    mutated = _load().check_applies(mutant)
    assert mutated != (REPO_ROOT / mutant.path).read_text(encoding="utf-8")
    ast.parse(mutated)  # the mutant is still valid Python
    for test in mutant.tests:
        filename, _, function = test.partition("::")
        assert (REPO_ROOT / filename).is_file(), test
        if function:
            tree = ast.parse((REPO_ROOT / filename).read_text(encoding="utf-8"))
            assert function in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_mutant_ids_are_unique_and_the_named_survivors_are_listed():
    ids = [m.id for m in MUTANTS]
    assert len(ids) == len(set(ids))
    # The two mutants that once survived the suite stay in the list.
    assert {"admm-accepts-without-gap", "admm-rho-reversed"} <= set(ids)


def test_check_applies_refuses_missing_or_repeated_text(tmp_path):
    module = _load()
    (tmp_path / "m.py").write_text("a = 1\na = 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="occurs 2 times"):
        module.check_applies(module.Mutant("x", "m.py", "a = 1", "a = 2", (), ""), tmp_path)
    with pytest.raises(ValueError, match="occurs 0 times"):
        module.check_applies(module.Mutant("x", "m.py", "b = 1", "b = 2", (), ""), tmp_path)
