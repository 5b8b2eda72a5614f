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
    path_search = namespace["path_search"]  # (the same search, one path a fold)
    assert path_search.best_params_ == search.best_params_
    np.testing.assert_allclose(path_search.cv_results_["mean_test_score"], scores, atol=1e-12)
    edited = namespace["edited"]
    editor = edited.named_steps["concepteditor"]
    assert "flower" in editor.removed_concepts_ and len(editor.removed_concepts_) == 6
    assert edited.score(X, y) == np.mean(edited.predict(X) == y)


def test_readme_speed_figures_are_the_recorded_results():
    """The measured figures of the README's Speed section (times, ratios, rates and
    iteration counts) are those benchmarks/results/*.json hold, each found whole (not
    as the end of a longer number: "0.402 s" is not found in "10.402 s")."""
    import json

    results = REPO_ROOT / "benchmarks" / "results"

    def load(name: str) -> dict:
        return json.loads((results / f"{name}.json").read_text(encoding="utf-8"))

    def row(name: str, method: str) -> dict:
        return next(r for r in load(name)["results"] if r["method"] == method)

    gpu, pipeline = load("gpu/run8-gpu_check"), load("gpu/run7-pipeline_8000")
    processes = next(r for r in pipeline["runs"] if r["method"] == "sksplice_processes")
    text_cpu, text_gpu = load("text_first_run"), load("gpu/run8-text_first_run")
    figures = {
        # 1,000 CLIP-sized embeddings on 2 CPU cores
        f"{row('synthetic', 'sksplice_working_set')['time_s']:.3f} s": "synthetic",
        f"{row('synthetic', 'sklearn_lasso')['time_over_fastest_sksplice']:.1f}x": "synthetic",
        f"{row('synthetic', 'authors_admm')['time_over_fastest_sksplice']:,.0f}x": "synthetic",
        f"({row('synthetic', 'authors_admm')['n_iter']} iterations)": "synthetic",
        f"{row('laion', 'sklearn_lasso')['time_over_fastest_sksplice']:.0f}x and": "laion",
        f"{row('laion', 'authors_admm')['time_over_fastest_sksplice']:,.0f}x.": "laion",
        # one H200
        f"{gpu['problem']['n_targets']:,} take": "gpu/run8-gpu_check",
        f"{gpu['sksplice']['working_set']['time_s']:.3g} s": "gpu/run8-gpu_check",
        f"({gpu['sksplice']['working_set']['embeddings_per_s']:,.0f} per second)": "run8",
        f"{gpu['speedup_vs_authors_admm']['working_set']:.0f}x faster": "run8",
        f"({gpu['authors_admm']['n_iter']} iterations": "gpu/run8-gpu_check",
        f"{processes['images_per_s']:,.0f} per second": "gpu/run7-pipeline_8000",
        f"{processes['x_plain_images_per_s']:.3f}x": "gpu/run7-pipeline_8000",
        f"{pipeline['default_num_workers']}-worker DataLoader": "gpu/run7-pipeline_8000",
        f"{pipeline['n_images']:,} images": "gpu/run7-pipeline_8000",
        # the first embedding of the vocabulary
        f"in {text_cpu['first_run']['time_s']:.2f} s on 2 CPU": "text_first_run",
        f"{text_cpu['first_run']['speedup_over_full_length_estimate']:.1f}x": "text_first_run",
        f"{text_gpu['first_run']['time_s']:.2f} s on the H200": "gpu/run8-text_first_run",
        # sparsity paths and the cross-validated search
        f"captions {load('path_pdas')['speedup']:.2f}x faster": "path_pdas",
        f"{load('path_synthetic_pdas')['speedup']:.2f}x on sparser": "path_synthetic_pdas",
        f"{load('path_cv5')['search_cv']['speedup_best']:.2f}x faster than": "path_cv5",
        f"{load('path_cv5_fixed')['search_cv']['speedup_best']:.2f}x faster with": "fixed",
    }
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    speed = " ".join(text.split("## Speed", 1)[1].split("\n## ", 1)[0].split())
    missing = {
        figure: source
        for figure, source in figures.items()
        if not re.search(r"(?<![\d.,])" + re.escape(figure), speed)
    }
    assert not missing, f"README Speed quotes other figures than these results: {missing}"
