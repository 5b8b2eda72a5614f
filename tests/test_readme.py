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


def test_readme_tour_runs(tiny_clip_model, tmp_path, monkeypatch):
    """The README's API tour runs as written, with the tiny model and a small vocabulary."""
    import numpy as np
    from PIL import Image

    from .conftest import TESTS_DATA

    monkeypatch.setenv("SKSPLICE_MODEL_CONFIGS", str(TESTS_DATA / f"{tiny_clip_model}.json"))
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    substitutions = {
        '"ViT-B-32", pretrained="laion2b_s34b_b79k"': f'"{tiny_clip_model}", pretrained=None',
        'vocabulary="laion", vocabulary_size=10000': (
            'vocabulary=["cat", "dog", "glasses", "eyewear", "red", "tree", "sky", "car"]'
        ),
        'image_mean="pretrained"': "image_mean=None",
        "SpliceTransformer(...)": (
            "SpliceTransformer(embedder=splice.embedder, vocabulary=splice.vocabulary)"
        ),
    }
    for old, new in substitutions.items():
        assert old in code, f"the README tour no longer contains {old!r}"
        code = code.replace(old, new)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(12):
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    y = np.array(["cat", "dog"] * 6)
    namespace = {"paths": paths, "y": y}
    exec(compile(code, "README.md", "exec"), namespace)

    W, X = namespace["W"], namespace["X"]
    assert W.shape == (12, 8) and X.shape[0] == 12
    assert namespace["X_hat"].shape == X.shape
    search = namespace["search"].fit(X, y)
    assert search.best_params_["splicetransformer__l1_penalty"] in (0.15, 0.25, 0.35)
    edited = namespace["edited"]
    assert 0.0 <= edited.score(X, y) <= 1.0
    editor = edited.named_steps["concepteditor"]
    assert "glasses" in editor.removed_concepts_
