"""The ``sksplice`` command: subprocess runs with the tiny test model, outputs, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sksplice import cli

from .conftest import TESTS_DATA

VOCAB = ["cat", "dog", "red", "blue", "car", "tree", "sky", "house", "water", "grass", "snow"]


@pytest.fixture(scope="module")
def image_tree(tmp_path_factory) -> Path:
    """Two classes of small random images, plus one broken file."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for cls, tint in (("cats", (255, 80, 40)), ("dogs", (40, 80, 255))):
        (root / cls).mkdir()
        for i in range(5):
            arr = rng.integers(0, 255, (36, 36, 3), dtype=np.uint8)
            arr[:18] = np.asarray(tint, dtype=np.uint8)
            Image.fromarray(arr).save(root / cls / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def env(tmp_path, tiny_clip_model) -> dict[str, str]:
    out = dict(os.environ)
    out["SKSPLICE_MODEL_CONFIGS"] = str(TESTS_DATA / f"{tiny_clip_model}.json")
    out["SKSPLICE_DATA"] = str(tmp_path / "data_home")
    out["HF_HUB_OFFLINE"] = "1"
    return out


def _model_args(vocab_file: Path, *extra: str) -> list[str]:
    return [
        "--model",
        "sksplice-test-tiny",
        "--pretrained",
        "none",
        "--vocabulary",
        str(vocab_file),
        "--l1-penalty",
        "0.05",
        "--device",
        "cpu",
        *extra,
    ]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sksplice", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_decompose_subprocess_matches_python_api(image_tree, vocab_file, env, tmp_path):
    out = tmp_path / "out.jsonl"
    proc = _run(
        ["decompose", str(image_tree), "-f", "jsonl", "-k", "4", "-o", str(out), "--quiet"]
        + _model_args(vocab_file),
        env,
    )
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    paths = sorted(str(p) for p in image_tree.rglob("*.png"))
    assert [r["path"] for r in records] == paths

    # the same decomposition through the Python API
    from sksplice import CLIPEmbedder, SpliceTransformer

    os.environ["SKSPLICE_MODEL_CONFIGS"] = env["SKSPLICE_MODEL_CONFIGS"]
    embedder = CLIPEmbedder(model="sksplice-test-tiny", pretrained=None, device="cpu")
    X = embedder.transform(paths)
    splice = SpliceTransformer(
        embedder=CLIPEmbedder(
            model="sksplice-test-tiny", pretrained=None, modality="text", device="cpu"
        ),
        vocabulary=str(vocab_file),
        l1_penalty=0.05,
        device="cpu",
        data_home=env["SKSPLICE_DATA"],
    ).fit(X)
    tops = splice.top_concepts(X, k=4)
    cos = splice.cosine_similarity(X)
    for rec, top, c in zip(records, tops, cos, strict=True):
        assert [d["concept"] for d in rec["concepts"]] == [name for name, _ in top]
        np.testing.assert_allclose(
            [d["weight"] for d in rec["concepts"]], [w for _, w in top], atol=1e-4
        )
        assert rec["cosine"] == pytest.approx(float(c), abs=1e-4)
        assert 0 < rec["l0"] <= len(VOCAB)


def test_version_and_usage_errors(env):
    proc = _run(["--version"], env)
    assert proc.returncode == 0
    assert proc.stdout.startswith("sksplice ")
    proc = _run(["decompose"], env)  # missing IMAGE
    assert proc.returncode == 2
    assert "IMAGE_OR_FOLDER" in proc.stderr
    proc = _run(["decompose", "x.png", "--l1-penalty", "-1"], env)
    assert proc.returncode == 2
    assert "positive" in proc.stderr


def test_runtime_error_is_one_line(env, tmp_path, vocab_file):
    missing = tmp_path / "nowhere.png"
    proc = _run(["decompose", str(missing), "--quiet", *_model_args(vocab_file)], env)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines[-1] == f"sksplice: error: no such file or folder: {missing}"
    assert "Traceback" not in proc.stderr


# ----------------------------------------------------------------- in-process runs


@pytest.fixture
def inproc(env, monkeypatch):
    for key in ("SKSPLICE_MODEL_CONFIGS", "SKSPLICE_DATA"):
        monkeypatch.setenv(key, env[key])
    return env


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_formats_parse(image_tree, vocab_file, inproc, tmp_path, fmt, capsys):
    out = tmp_path / f"out.{fmt}"
    code = cli.main(
        ["decompose", str(image_tree / "cats"), "-f", fmt, "-k", "3", "-o", str(out), "--quiet"]
        + _model_args(vocab_file)
    )
    assert code == 0
    text = out.read_text()
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert {r["path"] for r in rows} == {str(p) for p in (image_tree / "cats").glob("*.png")}
        assert all(r["concept"] in VOCAB for r in rows)
        assert all(int(r["rank"]) <= 3 for r in rows)
    elif fmt == "json":
        data = json.loads(text)
        assert len(data) == 5
        assert all(len(d["concepts"]) <= 3 for d in data)
    else:
        assert text.count("(l0=") == 5


def test_bad_image_skipped_then_strict(image_tree, vocab_file, inproc, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for p in sorted((image_tree / "cats").glob("*.png"))[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path / "out.jsonl"
    code = cli.main(
        ["decompose", str(folder), "-f", "jsonl", "-o", str(out), "--quiet"]
        + _model_args(vocab_file)
    )
    assert code == 0
    assert len(out.read_text().splitlines()) == 3
    err = capsys.readouterr().err
    assert "skipped 1 of 4 images" in err
    assert "broken.png" in err

    code = cli.main(
        ["decompose", str(folder), "-o", str(tmp_path / "strict.txt"), "--strict", "--quiet"]
        + _model_args(vocab_file)
    )
    assert code == 1
    assert "broken.png" in capsys.readouterr().err


def test_interrupt_leaves_valid_output(image_tree, vocab_file, inproc, tmp_path, monkeypatch):
    real_iter = cli._iter_rows

    def interrupted(*args, **kwargs):
        for i, rec in enumerate(real_iter(*args, **kwargs)):
            if i == 2:
                raise KeyboardInterrupt
            yield rec

    monkeypatch.setattr(cli, "_iter_rows", interrupted)
    out = tmp_path / "partial.json"
    code = cli.main(
        ["decompose", str(image_tree), "-f", "json", "-o", str(out), "--quiet"]
        + _model_args(vocab_file)
    )
    assert code == 130
    data = json.loads(out.read_text())  # still a valid JSON document
    assert len(data) == 2


def test_profile_finds_class_concepts(image_tree, vocab_file, inproc, tmp_path):
    out = tmp_path / "profile.csv"
    code = cli.main(
        ["profile", str(image_tree), "-f", "csv", "-o", str(out), "--quiet"]
        + _model_args(vocab_file)
    )
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert {r["class"] for r in rows} == {"cats", "dogs"}
    for r in rows:
        assert r["concept"] in VOCAB
        diff = float(r["prevalence_positive"]) - float(r["prevalence_negative"])
        assert diff == pytest.approx(float(r["prevalence_diff"]))


def test_profile_with_labels_csv(image_tree, vocab_file, inproc, tmp_path):
    labels = tmp_path / "labels.csv"
    lines = ["path,label"]
    for p in sorted(image_tree.rglob("*.png")):
        lines.append(f"{p.relative_to(image_tree)},{'A' if p.parent.name == 'cats' else 'B'}")
    labels.write_text("\n".join(lines))
    out = tmp_path / "profile.json"
    code = cli.main(
        ["profile", str(image_tree), "--labels", str(labels), "-f", "json", "-o", str(out)]
        + ["--quiet", *_model_args(vocab_file)]
    )
    assert code == 0
    assert {r["class"] for r in json.loads(out.read_text())} == {"A", "B"}

    bad = tmp_path / "bad.csv"
    bad.write_text("path,label\ncats/0.png,A\n")
    code = cli.main(
        ["profile", str(image_tree), "--labels", str(bad), "--quiet", *_model_args(vocab_file)]
    )
    assert code == 1
