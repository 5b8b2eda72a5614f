"""The package's public names: listed once in the stub, imported on first use."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sksplice

from .conftest import REPO_ROOT


def _stub_names() -> dict[str, str]:
    """Public name -> module, from ``sksplice/__init__.pyi``."""
    stub = ast.parse(Path(sksplice.__file__).with_suffix(".pyi").read_text(encoding="utf-8"))
    names = {}
    for node in stub.body:
        assert isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
        for alias in node.names:
            assert alias.asname == alias.name  # re-exported for type checkers
            names[alias.name] = f"sksplice.{node.module}"
    return names


def _fresh_python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter that imports this checkout (lazily, as users do)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("EAGER_IMPORT", None)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


def test_import_loads_neither_torch_nor_the_estimators():
    code = (
        "import sys, sksplice\n"
        "heavy = ('torch', 'open_clip', 'sklearn', 'pandas', 'sksplice.transformer')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    assert _fresh_python(code).stdout.strip() == "[]"


def test_every_public_name_is_in_the_stub_and_resolves():
    names = _stub_names()
    assert sorted(sksplice.__all__) == sorted(names)
    assert "__version__" in names and "SpliceTransformer" in names
    assert set(dir(sksplice)) >= set(names)
    for name, module in names.items():
        assert getattr(sksplice, name) is getattr(importlib.import_module(module), name)
    with pytest.raises(AttributeError):
        sksplice.no_such_name


def test_solver_names_agree_with_the_registered_methods():
    from sksplice import solvers
    from sksplice.solvers import _names, _registry

    assert _names.SOLVERS == ("auto", *_registry.METHODS) == solvers.SOLVERS
    assert solvers.NonNegLasso.__module__ == "sksplice.solvers._lasso"
    assert {"NonNegLasso", "SparseCodes", "SOLVERS"} <= set(dir(solvers))
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        solvers.no_such_name


def test_the_command_line_refuses_an_unknown_solver_before_importing_torch(tmp_path):
    image = tmp_path / "a.png"
    image.write_bytes(b"")  # (never opened: the options are refused first)
    code = (
        "import sys\n"
        "from sksplice.cli import main\n"
        f"code = main(['decompose', '--solver', 'fista', {str(image)!r}])\n"
        "print(code, 'torch' in sys.modules)\n"
    )
    result = _fresh_python(code)
    assert result.stdout.split() == ["2", "False"]
    assert "--solver 'fista' is not a solver" in result.stderr


def test_the_wheel_ships_the_type_information_and_the_report_templates(tmp_path):
    """Without ``py.typed`` a user's type checker reads no annotation of sksplice
    (mypy: 'module is installed, but missing library stubs or py.typed marker')."""
    setuptools = pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    if int(setuptools.__version__.split(".")[0]) < 68:
        pytest.skip(f"building needs setuptools>=68, not {setuptools.__version__}")
    import shutil
    import zipfile

    source = tmp_path / "src"  # (a copy: the build leaves build/ and *.egg-info behind)
    source.mkdir()
    for name in ("pyproject.toml", "setup.cfg", "README.md", "LICENSE"):
        shutil.copy(REPO_ROOT / name, source / name)
    shutil.copytree(
        REPO_ROOT / "sksplice", source / "sksplice", ignore=shutil.ignore_patterns("__pycache__")
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "dist"), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("sksplice-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "sksplice/py.typed",
        "sksplice/__init__.pyi",
        *(f"sksplice/{p.relative_to(REPO_ROOT / 'sksplice').as_posix()}"
          for p in (REPO_ROOT / "sksplice").rglob("*")
          if p.suffix in {".py", ".j2", ".css", ".js"} and "__pycache__" not in p.parts),
    }  # fmt: skip
    assert expected <= names, sorted(expected - names)


def test_the_package_type_checks(tmp_path):
    """``mypy`` (configured in pyproject.toml) finds no error in the package: the
    annotations say what the code accepts and returns."""
    pytest.importorskip("mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert result.stdout.startswith("Success: no issues found")


def test_no_feature_of_python_newer_than_requires_python_is_used():
    """vermin finds no module, function, keyword or syntax newer than the oldest Python
    pyproject.toml declares (the suite runs on one Python: ``datetime.UTC`` or
    ``tomllib``, of 3.11, would pass it and fail on 3.10)."""
    import re

    pytest.importorskip("vermin")
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    oldest = re.fullmatch(r">=\s*(3\.\d+)", project["project"]["requires-python"])
    assert oldest is not None, project["project"]["requires-python"]
    run = "import sys; from vermin import main; sys.argv[0] = 'vermin'; sys.exit(main())"
    options = ["--no-tips", "--violations", "--eval-annotations"]
    options += ["--backport", "typing_extensions", f"-t={oldest.group(1)}-"]
    result = subprocess.run(
        [sys.executable, "-c", run, *options, "sksplice", "tests", "benchmarks", "tools", "docs"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"Minimum required versions: {oldest.group(1)}" in result.stdout, result.stdout


def test_the_source_distribution_holds_what_its_tests_and_readme_need(tmp_path):
    """An sdist without the tests' helpers, ``tests/data`` or ``constraints.txt`` could not
    run its own tests or the README's commands (MANIFEST.in)."""
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 68:
        pytest.skip(f"building needs setuptools>=68, not {setuptools.__version__}")
    import shutil
    import tarfile

    tracked = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-files", "-z"], capture_output=True, text=True, check=False
    ).stdout.split("\0")
    tracked = [name for name in tracked if name]
    if not tracked:
        pytest.skip("not a git checkout")
    source = tmp_path / "src"
    for name in tracked:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / name, source / name)
    (source / "tests" / "__pycache__").mkdir(exist_ok=True)
    (source / "tests" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"")
    code = "from setuptools import build_meta; print(build_meta.build_sdist('dist'))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=source, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    name = out.stdout.split()[-1]
    with tarfile.open(source / "dist" / name) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    parts = ("sksplice/", "tests/", "docs/", "benchmarks/", "tools/")
    wanted = {n for n in tracked if n.startswith(parts)}
    wanted |= {"constraints.txt", "README.md", "LICENSE", "pyproject.toml", "DEVELOPERS.md"}
    wanted |= {".ci/run", ".ci/run-lower-bounds", ".ci/lower-bounds.txt"}
    assert not wanted - names, sorted(wanted - names)[:10]
    assert not [n for n in names if "__pycache__" in n]


def _requirement_name(text: str) -> str:
    """The normalised project name of a requirement (``dask[distributed]>=2024.8``: dask)."""
    import re

    return re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~ ;]", text.strip(), maxsplit=1)[0]).lower()


def test_every_declared_lower_bound_is_pinned_for_the_lower_bounds_run():
    # .ci/run-lower-bounds tests the package with the versions pyproject.toml declares as
    # its lowest (open_clip_torch>=2.24 was declared while 3.0's keyword was used: every
    # model failed to load with it); a bound raised or added there is pinned here too.
    import re

    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = [
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["plot"],
        *project["project"]["optional-dependencies"]["dask"],
        *project["project"]["optional-dependencies"]["sentence_transformers"],
    ]
    pins = {}
    for line in (REPO_ROOT / ".ci" / "lower-bounds.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_requirement_name(name)] = version
    bounded = 0
    from packaging.requirements import Requirement

    for requirement in declared:
        marker = Requirement(requirement).marker
        if marker is not None and not marker.evaluate():  # (another Python's bound)
            continue
        name = _requirement_name(requirement)
        found = re.search(r">=\s*([0-9][0-9.]*)", requirement)
        if found is None or name in ("torch", "torchvision"):  # (see the file's header)
            assert name not in pins or name == "polars", requirement
            continue
        bounded += 1
        assert name in pins, f"{requirement}: no pin in .ci/lower-bounds.txt"
        assert pins[name] in (found.group(1), found.group(1) + ".*"), (requirement, pins[name])
    assert bounded >= 18
    script = (REPO_ROOT / ".ci" / "run-lower-bounds").read_text(encoding="utf-8")
    assert "-c .ci/lower-bounds.txt" in script and os.access(
        REPO_ROOT / ".ci" / "run-lower-bounds", os.X_OK
    )
