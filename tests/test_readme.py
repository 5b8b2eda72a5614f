"""The README's set-up commands are the ones CI runs, and what they name exists."""

from __future__ import annotations

import re
import shlex

from .conftest import REPO_ROOT


def _setup_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_readme_has_exactly_two_setup_commands():
    commands = _setup_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    install_and_run, install_and_test = commands
    assert "sksplice decompose" in install_and_run
    assert install_and_test.endswith("pytest")


def test_ci_runs_the_readme_test_command():
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    block = ci.split("# test-command: begin\n", 1)[1].split("# test-command: end", 1)[0]
    assert block.strip() == _setup_commands()[1]


def test_readme_main_command_names_existing_files():
    words = shlex.split(_setup_commands()[0].replace("&&", ";"))
    assert "constraints.txt" in words
    image = words[words.index("decompose") + 1]
    assert (REPO_ROOT / image).is_file()
    pins = (REPO_ROOT / "constraints.txt").read_text()
    assert "torch==2.14.1" in pins and "torchvision==0.29.1" in pins


def test_readme_links_resolve():
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(((?!https?://)[^)#]+)\)", text):
        assert (REPO_ROOT / target).exists(), f"README links to missing {target}"


def test_readme_tour_runs(tiny_clip_model, monkeypatch):
    """The README's API tour runs as written, with the tiny model in place of ViT-B-32.

    Only what the tiny model needs is swapped: its name and random weights, the
    modality centre (no mean is published for it, so it is learned from X) and a
    short vocabulary (the LAION one would have to be downloaded). The tour builds
    its own images and labels.
    """
    import numpy as np
    import scipy.sparse as sp

    from .conftest import TESTS_DATA

    monkeypatch.setenv("SKSPLICE_MODEL_CONFIGS", str(TESTS_DATA / f"{tiny_clip_model}.json"))
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    vocabulary = ["temple", "flower", "petal", "roof", "sky", "tree", "red", "stone", "leaf"]
    substitutions = {
        '"ViT-B-32", pretrained="laion2b_s34b_b79k"': f'"{tiny_clip_model}", pretrained=None',
        'vocabulary="laion", vocabulary_size=10000': f"vocabulary={vocabulary!r}",
        'image_mean="pretrained"': "image_mean=None",
    }
    for old, new in substitutions.items():
        assert old in code, f"the README tour no longer contains {old!r}"
        code = code.replace(old, new)
    assert "(...)" not in code  # no placeholders: every name is defined by the tour
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)

    paths, y, X, W = namespace["paths"], namespace["y"], namespace["X"], namespace["W"]
    assert len(paths) == 24 and sorted(set(y)) == ["flower", "temple"]
    assert X.shape == (24, 32) and sp.issparse(W) and W.shape == (24, len(vocabulary))
    assert W.nnz > 0 and namespace["X_hat"].shape == X.shape
    search = namespace["search"]
    assert hasattr(search, "best_estimator_")  # the tour fitted the grid search
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 3 and search.best_score_ == np.max(scores)
    edited = namespace["edited"]
    editor = edited.named_steps["concepteditor"]
    assert "flower" in editor.removed_concepts_ and len(editor.removed_concepts_) == 6
    assert edited.score(X, y) == np.mean(edited.predict(X) == y)
