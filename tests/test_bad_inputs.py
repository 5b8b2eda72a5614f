"""The bad-input matrix: every public entry point against malformed input.

Each case is a :class:`Case` record in :data:`CASES`. The same list drives the
parametrised test below and the table of ``docs/reliability.md`` (written by
``tools/make_reliability_page.py``; a test here checks that the committed page
is up to date).

A case either expects an exception of a given type whose message names the
item at fault (row index, parameter, path or shape), a documented handling
(``on_error="skip"`` gives NaN rows and a ``SkippedInputWarning``; the command
line exits with status 2 or 1 and a one-line message), or that the input is
accepted with a checked result.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from PIL import Image

from sksplice import (
    CLIPEmbedder,
    ConceptEditor,
    SpliceTransformer,
    ZeroShotClassifier,
    cli,
    concept_profiles,
    rank_concepts,
)
from sksplice.embedders import SkippedInputWarning
from sksplice.report import ImageResult
from sksplice.shift import compare_datasets
from sksplice.solvers import NonNegLasso

from ._helpers_transformer import KeylessEmbedder

REPO_ROOT = Path(__file__).resolve().parents[1]
PAGE = REPO_ROOT / "docs" / "reliability.md"

N_CONCEPTS = 12
DIM = 8
VOCAB = [f"concept{i}" for i in range(N_CONCEPTS)]
LONG_NAME = "n" * 200


class Env:
    """Inputs shared by the cases: files on disk, fitted estimators, arrays."""

    def __init__(self, root: Path, tiny_model: str) -> None:
        rng = np.random.default_rng(0)
        self.root = root
        self.tiny_model = tiny_model
        self.D = rng.normal(size=(N_CONCEPTS, DIM)).astype(np.float32)
        self.X = rng.normal(size=(6, DIM)).astype(np.float32)
        self.y = np.array(["a", "b"] * 3)
        self.splice = SpliceTransformer(
            vocabulary=VOCAB, concept_embeddings=self.D, l1_penalty=0.05, device="cpu"
        ).fit(self.X)
        self.W = self.splice.transform(self.X).toarray()
        self.editor = ConceptEditor(remove=["concept1"], splice=self.splice).fit(self.W)
        self.zero_shot = ZeroShotClassifier(KeylessEmbedder(dim=DIM), classes=["a", "b"]).fit(
            self.X
        )
        self.lasso = NonNegLasso(self.D, device="cpu")
        self.image_embedder = CLIPEmbedder(
            model=tiny_model, pretrained=None, modality="image", device="cpu"
        )
        self.skipping_embedder = CLIPEmbedder(
            model=tiny_model, pretrained=None, modality="image", device="cpu", on_error="skip"
        )
        self.text_embedder = CLIPEmbedder(
            model=tiny_model, pretrained=None, modality="text", device="cpu"
        )
        self._write_files(rng)

    def _write_files(self, rng: np.random.Generator) -> None:
        root = self.root
        png = root / "good.png"
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(png)
        jpg = root / "good.jpg"
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(jpg)
        for good, bad in ((png, "truncated.png"), (jpg, "truncated.jpg")):
            data = good.read_bytes()
            (root / bad).write_bytes(data[: len(data) // 2])
        (root / "zero.png").write_bytes(b"")
        (root / "zero.txt").write_bytes(b"")
        (root / "zero.npy").write_bytes(b"")
        (root / "empty_folder").mkdir()
        (root / "data_home").mkdir()  # where the command-line cases write their outputs
        (root / "unicode ünï 猫 🐱.png").write_bytes(png.read_bytes())
        deep = root / ("d" * 200) / ("e" * 200)
        deep.mkdir(parents=True)
        (deep / (LONG_NAME + ".png")).write_bytes(png.read_bytes())
        (root / "vocab.txt").write_text("\n".join(VOCAB[:6]) + "\n", encoding="utf-8")
        np.save(root / "mean_5d.npy", np.zeros(5, dtype=np.float32))
        np.save(root / "mean_2x16.npy", np.zeros((2, 16), dtype=np.float32))
        np.save(root / "mean_complex.npy", np.ones(32, dtype=np.complex64))
        np.save(root / "mean_bool.npy", np.ones(32, dtype=bool))
        np.save(root / "mean_int.npy", np.ones(32, dtype=np.int64))
        # a class folder reached through a symlink, and labels naming a bare file name
        # that two images share
        for cls in ("real_a", "real_b"):
            folder = root / "classes_store" / cls
            folder.mkdir(parents=True)
            for i in range(2):
                pixels = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
                pixels[:12] = (250, 20, 20) if cls == "real_a" else (20, 20, 250)
                Image.fromarray(pixels).save(folder / f"{i}.png")
        linked = root / "linked_classes"
        linked.mkdir()
        (linked / "a").symlink_to(root / "classes_store" / "real_a", target_is_directory=True)
        (linked / "b").symlink_to(root / "classes_store" / "real_b", target_is_directory=True)
        (root / "labels_bare.csv").write_text("path,label\n0.png,x\n1.png,y\n", encoding="utf-8")

    def path(self, name: str) -> str:
        """Path of a prepared file (``long`` is a ~600-character path)."""
        if name == "long":
            return str(self.root / ("d" * 200) / ("e" * 200) / (LONG_NAME + ".png"))
        return str(self.root / name)

    def cli(self, *args: str, quiet: bool = True) -> tuple[int, str]:
        """Run ``sksplice`` in process; return (exit status, standard error)."""
        model = [
            "--model",
            self.tiny_model,
            "--pretrained",
            "none",
            "--vocabulary",
            self.path("vocab.txt"),
            "--device",
            "cpu",
            "--data-home",
            str(self.root / "data_home"),
            "--cache-dir",
            str(self.root / "data_home" / "cache"),
            *(["-q"] if quiet else []),
        ]
        err = io.StringIO()
        root_logger = logging.getLogger()
        level = root_logger.level
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = cli.main([*args[:1], *model, *args[1:]])
        finally:
            root_logger.setLevel(level)
        return code, err.getvalue()


@dataclass(frozen=True)
class Case:
    """One bad input given to one entry point, and what must happen.

    Attributes
    ----------
    id : str
        Test id.
    entry : str
        The public entry point.
    given : str
        What the input is, in words.
    expected : str
        The outcome, in words (the reliability page shows it).
    run : callable
        ``run(env)`` calls the entry point and returns its result.
    error : type of Exception or None
        The exception ``run`` must raise; None when it must return.
    names : callable
        ``names(env)``: strings the message must contain (the item at fault).
    check : callable or None
        ``check(env, result)`` for cases that return.
    """

    id: str
    entry: str
    given: str
    expected: str
    run: Callable[[Env], Any]
    error: type[BaseException] | None = None
    names: Callable[[Env], list[str]] = field(default=lambda env: [])
    check: Callable[[Env, Any], None] | None = None


class _NeverEmbeds(KeylessEmbedder):
    """A text embedder that fails the case if anything is embedded."""

    def embed_text(self, texts: Any) -> np.ndarray:
        raise AssertionError("the vocabulary was embedded before y was checked")


def _pipeline_of_images(env: Env) -> Any:
    """Images to concepts to a probe, whose first step fails the case if it embeds."""
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    class Guarded(CLIPEmbedder):
        def _embed_images(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("an image was embedded before y was checked")

    images = Guarded(**clone(env.image_embedder).get_params())
    splice = SpliceTransformer(vocabulary=VOCAB, concept_embeddings=env.D, device="cpu")
    return make_pipeline(images, splice, LogisticRegression())


def _nan_at(X: np.ndarray, row: int, value: float = np.nan) -> np.ndarray:
    out = np.array(X, dtype=np.float64)
    out[row, 1] = value
    return out


def _nan_rows(X: np.ndarray, rows: list[int]) -> np.ndarray:
    out = np.array(X, dtype=np.float64)
    out[rows] = np.nan
    return out


def _scaled_rows(scale: float, dtype: type) -> Callable[[Env], Any]:
    """Transform rows 0-2 of X with row 1 multiplied by ``scale`` (0 for a zero row)."""

    def run(env: Env) -> Any:
        X = env.X[:3].astype(dtype)
        X[1] = (X[1].astype(np.float64) * scale).astype(dtype)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            W = env.splice.transform(X)
        return X, W, caught

    return run


def _scale_invariant(env: Env, result: Any) -> None:
    """The scaled row gets the code of the unscaled row; no warning."""
    X, W, caught = result
    assert np.isfinite(X).all() and X[1].any()
    expected = env.splice.transform(env.X[:3].astype(X.dtype)).toarray()
    assert np.count_nonzero(expected[1]) > 0
    atol = 1e-5 if X.dtype == np.float32 else 1e-9
    np.testing.assert_allclose(W.toarray(), expected, atol=atol)
    assert [str(w.message) for w in caught] == []


def _zero_row_zero_weights(env: Env, result: Any) -> None:
    """The zero row gets all-zero weights and a warning naming it; the others are unchanged."""
    X, W, caught = result
    W = W.toarray()
    assert not W[1].any()
    expected = env.splice.transform(env.X[[0, 2]].astype(X.dtype)).toarray()
    np.testing.assert_allclose(W[[0, 2]], expected, atol=1e-6)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 1 and "X row(s) 1 are all zero" in messages[0], messages


def _zero_row(D: np.ndarray, row: int) -> np.ndarray:
    out = np.array(D)
    out[row] = 0.0
    return out


def _strings(shape: tuple[int, int]) -> np.ndarray:
    return np.full(shape, "abc", dtype=object)


def _bomb(env: Env, embedder: CLIPEmbedder) -> Any:
    """Embed a small image with PIL's decompression-bomb limit lowered to 100 pixels."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Image, "MAX_IMAGE_PIXELS", 100)
        return embedder.embed_images([env.path("good.png")])


def _skipped_row(index: int, *names: str) -> Callable[[Env, Any], None]:
    """Check of on_error='skip': row ``index`` NaN, the others finite, a warning naming it."""

    def check(env: Env, result: Any) -> None:
        X, caught = result
        assert np.isnan(X[index]).all()
        others = np.delete(X, index, axis=0)
        assert np.isfinite(others).all()
        skipped = [w.message for w in caught if issubclass(w.category, SkippedInputWarning)]
        assert len(skipped) == 1
        assert [s.index for s in skipped[0].skipped] == [index]
        for name in names:
            assert env.path(name) in str(skipped[0])

    return check


def _skip_run(name: str) -> Callable[[Env], Any]:
    def run(env: Env) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            X = env.skipping_embedder.embed_images([env.path("good.png"), env.path(name)])
        return X, caught

    return run


def _finite_rows(n: int) -> Callable[[Env, Any], None]:
    def check(env: Env, result: Any) -> None:
        assert result.shape == (n, 32)
        assert np.isfinite(result).all()

    return check


def _cli_fails(
    code: int, *, files: tuple[str, ...] = (), text: tuple[str, ...] = ()
) -> Callable[[Env, Any], None]:
    """Check of a command-line case: exit status, last stderr line naming the item."""

    def check(env: Env, result: Any) -> None:
        got, err = result
        assert got == code, err
        last = err.strip().splitlines()[-1]
        # (argparse's own usage errors say "error: argument --option: ...")
        assert "sksplice: error:" in last or (code == 2 and "error: argument" in last), last
        for name in files:
            assert env.path(name) in last, last
        for name in text:
            assert name in last, last

    return check


def _cli_skips(env: Env, result: Any) -> None:
    """Check of the command line skipping one unreadable image among good ones."""
    code, err = result
    assert code == 0, err
    assert "skipped 1 of 3 images" in err
    assert env.path("truncated.png") in err
    out = (env.root / "data_home" / "partial.csv").read_text(encoding="utf-8")
    assert env.path("good.png") in out and env.path("good.jpg") in out
    assert "truncated" not in out


def _cli_profiled(classes: set[str], images: int) -> Callable[[Env, Any], None]:
    """Check of a profile run written as JSON into the data home."""

    def check(env: Env, result: Any) -> None:
        import json

        code, err = result
        assert code == 0, err
        data = json.loads((env.root / "data_home" / "linked.json").read_text(encoding="utf-8"))
        assert data["metadata"]["decomposed"] == images
        assert {row["class"] for row in data["ranking"]} == classes

    return check


def _cli_undecodable(env: Env) -> tuple[int, str]:
    """Decompose a folder (in the data home) holding a file name that is not valid UTF-8."""
    folder = env.root / "data_home" / "undecodable"
    folder.mkdir(exist_ok=True)
    (folder / "good.png").write_bytes(Path(env.path("good.png")).read_bytes())
    try:
        with open(os.path.join(os.fsencode(folder), b"bad\xff.png"), "wb") as fh:
            fh.write(Path(env.path("good.jpg")).read_bytes())
    except (OSError, UnicodeError) as exc:  # (macOS: EILSEQ)
        pytest.skip(f"the file system refuses a name that is not valid UTF-8: {exc}")
    out = env.root / "data_home" / "undecodable.json"
    return env.cli("decompose", str(folder), "-o", str(out), "--image-mean", "data")


def _cli_undecodable_written(env: Env, result: Any) -> None:
    import json

    code, err = result
    assert code == 0, err
    folder = env.root / "data_home" / "undecodable"
    text = (env.root / "data_home" / "undecodable.json").read_bytes().decode("utf-8")
    assert [r["path"] for r in json.loads(text)["images"]] == [
        f"{folder}/bad\\xff.png",
        f"{folder}/good.png",
    ]
    warned = [line for line in err.splitlines() if "not valid UTF-8" in line]
    assert len(warned) == 1 and f"{folder}/bad\\xff.png" in warned[0], err


def _cli_bomb(env: Env) -> tuple[int, str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Image, "MAX_IMAGE_PIXELS", 100)
        # (images embedded by the cases before are read from the cache, not decoded)
        return env.cli(
            "decompose", env.path("good.png"), env.path("good.jpg"), "--strict", "--no-image-cache"
        )


def _embed(name: str) -> Callable[[Env], Any]:
    return lambda env: env.image_embedder.embed_images([env.path("good.png"), env.path(name)])


def _file_cases() -> list[Case]:
    cases: list[Case] = []
    files = [
        ("missing", "nope.png", "a file that does not exist", FileNotFoundError),
        ("zero-byte", "zero.png", "a zero-byte .png file", ValueError),
        ("truncated-png", "truncated.png", "a PNG cut in half", ValueError),
        ("truncated-jpeg", "truncated.jpg", "a JPEG cut in half", ValueError),
        ("directory", "empty_folder", "a directory given as an image file", IsADirectoryError),
    ]
    for key, name, given, error in files:
        cases.append(
            Case(
                id=f"embedder-{key}-raise",
                entry='CLIPEmbedder.embed_images (on_error="raise")',
                given=f"[good image, {given}]",
                expected=f"{error.__name__} naming input 1 and its path",
                run=_embed(name),
                error=error,
                names=lambda env, name=name: ["input 1", env.path(name)],
            )
        )
        cases.append(
            Case(
                id=f"embedder-{key}-skip",
                entry='CLIPEmbedder.embed_images (on_error="skip")',
                given=f"[good image, {given}]",
                expected="row 1 NaN, row 0 finite; one SkippedInputWarning naming the path",
                run=_skip_run(name),
                check=_skipped_row(1, name),
            )
        )
    return cases


CASES: list[Case] = [
    # ------------------------------------------------------------------ CLIPEmbedder
    *_file_cases(),
    Case(
        id="embedder-long-missing-path",
        entry="CLIPEmbedder.embed_images",
        given="[good image, a missing file whose name is 300 characters long]",
        expected="FileNotFoundError naming input 1 and its path",
        run=_embed("m" * 300 + ".png"),
        error=FileNotFoundError,
        names=lambda env: ["input 1", "m" * 300],
    ),
    Case(
        id="embedder-no-path-exists",
        entry="CLIPEmbedder.embed_images",
        given="only paths that do not exist (texts given as images?)",
        expected="ValueError naming input 0 and pointing to embed_text",
        run=lambda env: env.image_embedder.embed_images([env.path("nope.png"), "a cat"]),
        error=ValueError,
        names=lambda env: ["input 0", env.path("nope.png"), "embed_text"],
    ),
    Case(
        id="embedder-bomb-raise",
        entry='CLIPEmbedder.embed_images (on_error="raise")',
        given="an image over PIL.Image.MAX_IMAGE_PIXELS (limit lowered to 100 pixels)",
        expected="ValueError (InvalidImageError) naming the path and the limit",
        run=lambda env: _bomb(env, env.image_embedder),
        error=ValueError,
        names=lambda env: [env.path("good.png"), "MAX_IMAGE_PIXELS"],
    ),
    Case(
        id="pipeline-y-length",
        entry="make_pipeline(CLIPEmbedder, SpliceTransformer, LogisticRegression).fit",
        given="6 images and 5 labels",
        expected="ValueError naming both counts, raised by the first step before any image is "
        "embedded (it was the probe's, after every image and the vocabulary)",
        run=lambda env: _pipeline_of_images(env).fit([env.path("good.png")] * 6, env.y[:5]),
        error=ValueError,
        names=lambda env: ["y has 5 labels for the 6 inputs of X"],
    ),
    Case(
        id="transformer-fit-y-length",
        entry="SpliceTransformer.fit",
        given="X of 6 rows and y of 5 labels",
        expected="ValueError naming both counts, before the vocabulary is embedded",
        run=lambda env: SpliceTransformer(embedder=_NeverEmbeds(DIM), vocabulary=VOCAB).fit(
            env.X, env.y[:5]
        ),
        error=ValueError,
        names=lambda env: ["y has 5 labels for the 6 rows of X"],
    ),
    Case(
        id="embedder-bomb-skip",
        entry='CLIPEmbedder.embed_images (on_error="skip")',
        given="an image over PIL.Image.MAX_IMAGE_PIXELS (limit lowered to 100 pixels)",
        expected="row 0 NaN and a SkippedInputWarning naming the path",
        run=lambda env: _record(lambda: _bomb(env, env.skipping_embedder)),
        check=_skipped_row(0, "good.png"),
    ),
    Case(
        id="embedder-unicode-path",
        entry="CLIPEmbedder.embed_images",
        given="a path with accents, CJK and an emoji",
        expected="accepted: finite embedding rows",
        run=_embed("unicode ünï 猫 🐱.png"),
        check=_finite_rows(2),
    ),
    Case(
        id="embedder-long-path",
        entry="CLIPEmbedder.embed_images",
        given="an existing image at a path of about 600 characters",
        expected="accepted: finite embedding rows",
        run=_embed("long"),
        check=_finite_rows(2),
    ),
    Case(
        id="embedder-empty",
        entry="CLIPEmbedder.embed_images",
        given="an empty list",
        expected="ValueError saying the input is empty",
        run=lambda env: env.image_embedder.embed_images([]),
        error=ValueError,
        names=lambda env: ["empty input"],
    ),
    Case(
        id="embedder-single-string",
        entry="CLIPEmbedder.embed_images",
        given="one path string instead of a list",
        expected="TypeError asking to wrap it in a list",
        run=lambda env: env.image_embedder.embed_images(env.path("good.png")),
        error=TypeError,
        names=lambda env: ["single str", "wrap it in a list"],
    ),
    Case(
        id="embedder-object-array",
        entry="CLIPEmbedder.embed_images",
        given="an object array [1.5, None]",
        expected="TypeError naming input 0 and its type",
        run=lambda env: env.image_embedder.embed_images(np.array([1.5, None], dtype=object)),
        error=TypeError,
        names=lambda env: ["input 0", "float"],
    ),
    Case(
        id="embedder-float-nan-image",
        entry="CLIPEmbedder.embed_images",
        given="a float64 image array full of NaN",
        expected="TypeError naming input 0 and its dtype",
        run=lambda env: env.image_embedder.embed_images([np.full((8, 8, 3), np.nan)]),
        error=TypeError,
        names=lambda env: ["input 0", "float64"],
    ),
    Case(
        id="embedder-1d-image",
        entry="CLIPEmbedder.embed_images",
        given="a 1-D uint8 array as an image",
        expected="ValueError naming input 0 and its shape",
        run=lambda env: env.image_embedder.embed_images([np.zeros(8, dtype=np.uint8)]),
        error=ValueError,
        names=lambda env: ["input 0", "(8,)"],
    ),
    Case(
        id="embedder-text-not-string",
        entry="CLIPEmbedder.embed_text",
        given='["a", 3]',
        expected="TypeError naming text input 1",
        run=lambda env: env.text_embedder.embed_text(["a", 3]),
        error=TypeError,
        names=lambda env: ["text input 1", "int"],
    ),
    Case(
        id="embedder-text-empty",
        entry="CLIPEmbedder.embed_text",
        given="an empty list",
        expected="ValueError saying the input is empty",
        run=lambda env: env.text_embedder.embed_text([]),
        error=ValueError,
        names=lambda env: ["empty input", "texts"],
    ),
    Case(
        id="embedder-checkpoint-missing",
        entry="CLIPEmbedder.embed_text",
        given="pretrained= a checkpoint path that does not exist",
        expected="ValueError naming pretrained= and the path",
        run=lambda env: CLIPEmbedder(
            model=env.tiny_model, pretrained=env.path("nope.pt"), device="cpu"
        ).embed_text(["a"]),
        error=ValueError,
        names=lambda env: [f"pretrained={env.path('nope.pt')!r}"],
    ),
    Case(
        id="embedder-checkpoint-zero-byte",
        entry="CLIPEmbedder.embed_text",
        given="pretrained= a zero-byte checkpoint file",
        expected="RuntimeError naming pretrained= and the path",
        run=lambda env: CLIPEmbedder(
            model=env.tiny_model, pretrained=env.path("zero.npy"), device="cpu"
        ).embed_text(["a"]),
        error=RuntimeError,
        names=lambda env: [f"pretrained={env.path('zero.npy')!r}"],
    ),
    Case(
        id="embedder-checkpoint-directory",
        entry="CLIPEmbedder.embed_text",
        given="pretrained= a directory",
        expected="ValueError naming pretrained= and the path",
        run=lambda env: CLIPEmbedder(
            model=env.tiny_model, pretrained=env.path("empty_folder"), device="cpu"
        ).embed_text(["a"]),
        error=ValueError,
        names=lambda env: [f"pretrained={env.path('empty_folder')!r}"],
    ),
    Case(
        id="embedder-batch-size-zero",
        entry="CLIPEmbedder.embed_text",
        given="batch_size=0",
        expected="ValueError naming batch_size",
        run=lambda env: CLIPEmbedder(
            model=env.tiny_model, pretrained=None, device="cpu", batch_size=0
        ).embed_text(["a"]),
        error=ValueError,
        names=lambda env: ["batch_size", "0"],
    ),
    Case(
        id="embedder-on-error-unknown",
        entry="CLIPEmbedder.embed_images",
        given='on_error="ignore"',
        expected="ValueError naming on_error and its choices",
        run=lambda env: CLIPEmbedder(
            model=env.tiny_model, pretrained=None, device="cpu", on_error="ignore"
        ).embed_images([env.path("good.png")]),
        error=ValueError,
        names=lambda env: ["on_error", "'ignore'", "'skip'"],
    ),
    # ------------------------------------------------------------- SpliceTransformer
    Case(
        id="splice-target-l0-above-dimension",
        entry="SpliceTransformer.fit",
        given="target_l0=10 with 12 concepts in 8 dimensions",
        expected="ValueError naming target_l0 and the embedding dimension, before any solve",
        run=lambda env: SpliceTransformer(
            vocabulary=VOCAB, concept_embeddings=env.D, target_l0=10, device="cpu"
        ).fit(env.X),
        error=ValueError,
        names=lambda env: ["target_l0=10", "embedding dimension (8"],
    ),
    Case(
        id="splice-fit-negative-penalty",
        entry="SpliceTransformer.fit",
        given="l1_penalty=-1",
        expected="ValueError naming l1_penalty",
        run=lambda env: SpliceTransformer(
            vocabulary=VOCAB, concept_embeddings=env.D, l1_penalty=-1, device="cpu"
        ).fit(env.X),
        error=ValueError,
        names=lambda env: ["l1_penalty", "-1"],
    ),
    Case(
        id="splice-transform-nan",
        entry="SpliceTransformer.transform",
        given="NaN in row 3",
        expected="ValueError naming row 3",
        run=lambda env: env.splice.transform(_nan_at(env.X, 3)),
        error=ValueError,
        names=lambda env: ["row(s): 3"],
    ),
    Case(
        id="splice-transform-skipped-rows",
        entry="SpliceTransformer.transform",
        given='rows 2 and 4 NaN throughout (as CLIPEmbedder(on_error="skip") gives them)',
        expected="ValueError naming rows 2 and 4, on_error='skip' and how to drop them",
        run=lambda env: env.splice.transform(_nan_rows(env.X, [2, 4])),
        error=ValueError,
        names=lambda env: ["row(s): 2, 4", "on_error='skip'", "keep = ~np.isnan(X)"],
    ),
    Case(
        id="splice-fit-image-paths",
        entry="SpliceTransformer.fit",
        given="a list of image file paths instead of embeddings",
        expected="TypeError naming the paths and CLIPEmbedder(modality='image')",
        run=lambda env: SpliceTransformer(
            vocabulary=VOCAB, concept_embeddings=env.D, device="cpu"
        ).fit([env.path("good.png"), env.path("good.jpg")]),
        error=TypeError,
        names=lambda env: ["file paths", env.path("good.png"), "CLIPEmbedder(modality='image')"],
    ),
    Case(
        id="splice-fit-image-batch",
        entry="SpliceTransformer.fit",
        given="a uint8 array of 3 images, shape (3, 24, 24, 3)",
        expected="ValueError naming the shape and CLIPEmbedder(modality='image')",
        run=lambda env: SpliceTransformer(
            vocabulary=VOCAB, concept_embeddings=env.D, device="cpu"
        ).fit(np.zeros((3, 24, 24, 3), dtype=np.uint8)),
        error=ValueError,
        names=lambda env: ["(3, 24, 24, 3)", "CLIPEmbedder(modality='image')"],
    ),
    Case(
        id="splice-fit-penalty-two",
        entry="SpliceTransformer.fit",
        given="l1_penalty=2 (every weight of every row is zero from 2 on)",
        expected="ValueError naming l1_penalty, 2 and the useful range",
        run=lambda env: SpliceTransformer(
            vocabulary=VOCAB, concept_embeddings=env.D, l1_penalty=2, device="cpu"
        ).fit(env.X),
        error=ValueError,
        names=lambda env: ["l1_penalty must be below 2, got 2", "no concept at all"],
    ),
    Case(
        id="splice-transform-inf",
        entry="SpliceTransformer.transform",
        given="inf in row 4",
        expected="ValueError naming row 4",
        run=lambda env: env.splice.transform(_nan_at(env.X, 4, np.inf)),
        error=ValueError,
        names=lambda env: ["row(s): 4"],
    ),
    Case(
        id="splice-fit-nan",
        entry="SpliceTransformer.fit",
        given="NaN in row 2",
        expected="ValueError naming row 2",
        run=lambda env: SpliceTransformer(
            vocabulary=VOCAB, concept_embeddings=env.D, device="cpu"
        ).fit(_nan_at(env.X, 2)),
        error=ValueError,
        names=lambda env: ["row(s): 2"],
    ),
    Case(
        id="splice-transform-n-features",
        entry="SpliceTransformer.transform",
        given="5 features where 8 were fitted",
        expected="ValueError naming both feature counts",
        run=lambda env: env.splice.transform(env.X[:, :5]),
        error=ValueError,
        names=lambda env: ["5 features", "expecting 8"],
    ),
    Case(
        id="splice-transform-1d",
        entry="SpliceTransformer.transform",
        given="one 1-D embedding",
        expected="ValueError asking for a 2-D array",
        run=lambda env: env.splice.transform(env.X[0]),
        error=ValueError,
        names=lambda env: ["one embedding perhaps", "np.reshape(X, (1, -1))"],
    ),
    Case(
        id="splice-transform-empty",
        entry="SpliceTransformer.transform",
        given="shape (0, 8)",
        expected="ValueError naming the shape",
        run=lambda env: env.splice.transform(env.X[:0]),
        error=ValueError,
        names=lambda env: ["shape=(0, 8)"],
    ),
    Case(
        id="splice-transform-zero-row-float32",
        entry="SpliceTransformer.transform",
        given="an all-zero row 1 (float32)",
        expected="all-zero weights for that row and a UserWarning naming row 1",
        run=_scaled_rows(0.0, np.float32),
        check=_zero_row_zero_weights,
    ),
    Case(
        id="splice-transform-tiny-row-float32",
        entry="SpliceTransformer.transform",
        given="row 1 scaled by 1e-13 (float32)",
        expected="the weights of the unscaled row (rows are normalised first)",
        run=_scaled_rows(1e-13, np.float32),
        check=_scale_invariant,
    ),
    Case(
        id="splice-transform-huge-row-float32",
        entry="SpliceTransformer.transform",
        given="row 1 scaled by 1e20 (float32; its squares overflow float32)",
        expected="the weights of the unscaled row (no overflow)",
        run=_scaled_rows(1e20, np.float32),
        check=_scale_invariant,
    ),
    Case(
        id="splice-transform-zero-row-float64",
        entry="SpliceTransformer.transform",
        given="an all-zero row 1 (float64)",
        expected="all-zero weights for that row and a UserWarning naming row 1",
        run=_scaled_rows(0.0, np.float64),
        check=_zero_row_zero_weights,
    ),
    Case(
        id="splice-transform-tiny-row-float64",
        entry="SpliceTransformer.transform",
        given="row 1 scaled by 1e-13 (float64)",
        expected="the weights of the unscaled row (rows are normalised first)",
        run=_scaled_rows(1e-13, np.float64),
        check=_scale_invariant,
    ),
    Case(
        id="splice-transform-huge-row-float64",
        entry="SpliceTransformer.transform",
        given="row 1 scaled by 1e20 (float64; its squares overflow float32)",
        expected="the weights of the unscaled row (no overflow)",
        run=_scaled_rows(1e20, np.float64),
        check=_scale_invariant,
    ),
    Case(
        id="splice-transform-strings",
        entry="SpliceTransformer.transform",
        given="an object array of strings",
        expected="ValueError naming the value that is not a number",
        run=lambda env: env.splice.transform(_strings((2, DIM))),
        error=ValueError,
        names=lambda env: ["'abc'"],
    ),
    Case(
        id="splice-transform-sparse",
        entry="SpliceTransformer.transform",
        given="a scipy CSR matrix of embeddings",
        expected="TypeError: X must be dense embeddings, naming the shape",
        run=lambda env: env.splice.transform(sp.csr_matrix(env.X)),
        error=TypeError,
        names=lambda env: ["X must be dense embeddings", f"({len(env.X)}, {DIM})"],
    ),
    Case(
        id="splice-transform-weights",
        entry="SpliceTransformer.transform",
        given="dense concept weights (one column per concept) instead of embeddings",
        expected="ValueError saying the columns are one per concept, weights perhaps",
        run=lambda env: env.splice.transform(env.splice.transform(env.X[:2]).toarray()),
        error=ValueError,
        names=lambda env: [
            f"X has {len(env.splice.concepts_)} features, one per concept",
            f"embeddings of {DIM} features",
        ],
    ),
    Case(
        id="splice-inverse-shape",
        entry="SpliceTransformer.inverse_transform",
        given="weights with 5 columns for 12 concepts",
        expected="ValueError naming the shape",
        run=lambda env: env.splice.inverse_transform(env.W[:, :5]),
        error=ValueError,
        names=lambda env: ["(6, 5)", "12 concepts"],
    ),
    Case(
        id="splice-fit-dictionary-nan",
        entry="SpliceTransformer.fit",
        given="concept_embeddings with NaN in row 1",
        expected="ValueError naming row 1",
        run=lambda env: SpliceTransformer(
            vocabulary=VOCAB, concept_embeddings=_nan_at(env.D.T, 1).T, device="cpu"
        ).fit(env.X),
        error=ValueError,
        names=lambda env: ["concept_embeddings hold NaN or infinite values in 1 row(s): 1"],
    ),
    Case(
        id="splice-fit-dictionary-rows",
        entry="SpliceTransformer.fit",
        given="5 concept embeddings for 12 concepts",
        expected="ValueError naming both counts",
        run=lambda env: SpliceTransformer(
            vocabulary=VOCAB, concept_embeddings=env.D[:5], device="cpu"
        ).fit(env.X),
        error=ValueError,
        names=lambda env: ["concept_embeddings has 5 rows", "12 concepts"],
    ),
    *[
        Case(
            id=f"splice-fit-image-mean-{kind}",
            entry="SpliceTransformer.fit",
            given=f"image_mean {given}",
            expected="ValueError naming image_mean and the dtype/shape (never flattened or cast)",
            run=lambda env, value=value: SpliceTransformer(
                vocabulary=VOCAB, concept_embeddings=env.D, image_mean=value, device="cpu"
            ).fit(env.X),
            error=ValueError,
            names=lambda env, shape=shape: ["image_mean", shape],
        )
        for kind, given, value, shape in (
            ("2x4", "of shape (2, 4) for d=8", np.zeros((2, 4)), "(2, 4)"),
            ("complex", "of 8 complex numbers", np.ones(DIM, dtype=complex), "complex128"),
            ("int", "of 8 integers", np.ones(DIM, dtype=np.int64), "int64"),
        )
    ],
    Case(
        id="splice-fit-one-row-learned-mean",
        entry="SpliceTransformer.fit",
        given="one row with image_mean=None",
        expected="ValueError: the centre cannot be learned from 1 sample (as the command line)",
        run=lambda env: SpliceTransformer(
            vocabulary=VOCAB, concept_embeddings=env.D, device="cpu"
        ).fit(env.X[:1]),
        error=ValueError,
        names=lambda env: ["image_mean=None", "1 sample"],
    ),
    Case(
        id="splice-fit-solver-unknown",
        entry="SpliceTransformer.fit",
        given='solver="fista"',
        expected="ValueError in fit (not in transform) naming the solvers",
        run=lambda env: SpliceTransformer(
            vocabulary=VOCAB, concept_embeddings=env.D, solver="fista", device="cpu"
        ).fit(env.X),
        error=ValueError,
        names=lambda env: ["'fista'", "admm"],
    ),
    Case(
        id="splice-fit-image-mean-nan",
        entry="SpliceTransformer.fit",
        given="image_mean full of NaN",
        expected="ValueError naming image_mean",
        run=lambda env: SpliceTransformer(
            vocabulary=VOCAB,
            concept_embeddings=env.D,
            image_mean=np.full(DIM, np.nan),
            device="cpu",
        ).fit(env.X),
        error=ValueError,
        names=lambda env: ["image_mean"],
    ),
    Case(
        id="splice-fit-image-mean-norm",
        entry="SpliceTransformer.fit",
        given="image_mean of norm 3 (the mean of embeddings that were not normalised)",
        expected="ValueError naming image_mean and its norm (normalise before averaging)",
        run=lambda env: SpliceTransformer(
            vocabulary=VOCAB,
            concept_embeddings=env.D,
            image_mean=np.full(DIM, 3 / np.sqrt(DIM)),
            device="cpu",
        ).fit(env.X),
        error=ValueError,
        names=lambda env: ["image_mean has norm 3, above 1", "Normalise each embedding"],
    ),
    Case(
        id="splice-fit-vocabulary-missing",
        entry="SpliceTransformer.fit",
        given="vocabulary= a file that does not exist",
        expected="FileNotFoundError naming the path",
        run=lambda env: SpliceTransformer(
            vocabulary=env.path("nope.txt"), embedder=KeylessEmbedder(dim=DIM), device="cpu"
        ).fit(env.X),
        error=FileNotFoundError,
        names=lambda env: [env.path("nope.txt")],
    ),
    Case(
        id="splice-fit-vocabulary-zero-byte",
        entry="SpliceTransformer.fit",
        given="vocabulary= a zero-byte file",
        expected="ValueError naming the path",
        run=lambda env: SpliceTransformer(
            vocabulary=env.path("zero.txt"), embedder=KeylessEmbedder(dim=DIM), device="cpu"
        ).fit(env.X),
        error=ValueError,
        names=lambda env: [env.path("zero.txt")],
    ),
    Case(
        id="splice-fit-vocabulary-directory",
        entry="SpliceTransformer.fit",
        given="vocabulary= a directory",
        expected="FileNotFoundError naming the path",
        run=lambda env: SpliceTransformer(
            vocabulary=env.path("empty_folder"), embedder=KeylessEmbedder(dim=DIM), device="cpu"
        ).fit(env.X),
        error=FileNotFoundError,
        names=lambda env: [env.path("empty_folder"), "not a file"],
    ),
    Case(
        id="splice-fit-zero-concept-embedding",
        entry="SpliceTransformer.fit",
        given="concept_embeddings whose row 5 is all zeros",
        expected="ValueError naming the concept and its row",
        run=lambda env: SpliceTransformer(
            vocabulary=VOCAB, concept_embeddings=_zero_row(env.D, 5), device="cpu"
        ).fit(env.X),
        error=ValueError,
        names=lambda env: ["'concept5' (row 5)", "zero vector"],
    ),
    Case(
        id="splice-fit-one-concept",
        entry="SpliceTransformer.fit",
        given="a vocabulary of one concept (centring leaves an all-zero dictionary)",
        expected="ValueError naming the concept",
        run=lambda env: SpliceTransformer(
            vocabulary=VOCAB[:1], concept_embeddings=env.D[:1], device="cpu"
        ).fit(env.X),
        error=ValueError,
        names=lambda env: ["'concept0'", "one concept"],
    ),
    # ----------------------------------------------------------------- ConceptEditor
    Case(
        id="editor-transform-nan",
        entry="ConceptEditor.transform",
        given="NaN in the weights",
        expected="ValueError naming X, NaN and the row",
        run=lambda env: env.editor.transform(_nan_at(env.W, 3)),
        error=ValueError,
        names=lambda env: ["X holds NaN or infinite values in 1 row(s): 3"],
    ),
    Case(
        id="editor-transform-n-features",
        entry="ConceptEditor.transform",
        given="5 weight columns for 12 concepts",
        expected="ValueError naming both counts",
        run=lambda env: env.editor.transform(env.W[:, :5]),
        error=ValueError,
        names=lambda env: ["5 features", "expecting 12"],
    ),
    Case(
        id="editor-transform-1d",
        entry="ConceptEditor.transform",
        given="one 1-D weight vector",
        expected="ValueError asking for a 2-D array",
        run=lambda env: env.editor.transform(env.W[0]),
        error=ValueError,
        names=lambda env: [
            f"X has shape ({env.W.shape[1]},): the weights of one sample perhaps",
            "np.reshape(X, (1, -1))",
        ],
    ),
    Case(
        id="editor-transform-empty",
        entry="ConceptEditor.transform",
        given="shape (0, 12)",
        expected="ValueError naming the shape",
        run=lambda env: env.editor.transform(env.W[:0]),
        error=ValueError,
        names=lambda env: ["shape=(0, 12)"],
    ),
    Case(
        id="editor-transform-strings",
        entry="ConceptEditor.transform",
        given="an object array of strings",
        expected="ValueError naming the value that is not a number",
        run=lambda env: env.editor.transform(_strings((2, N_CONCEPTS))),
        error=ValueError,
        names=lambda env: ["'abc'"],
    ),
    Case(
        id="editor-fit-unknown-concept",
        entry="ConceptEditor.fit",
        given='remove=["zzz"], not in the vocabulary',
        expected="ValueError naming the concept and ignore_unknown",
        run=lambda env: ConceptEditor(remove=["zzz"], splice=env.splice).fit(env.W),
        error=ValueError,
        names=lambda env: ["'zzz'", "ignore_unknown"],
    ),
    Case(
        id="editor-fit-number-as-name",
        entry="ConceptEditor.fit",
        given="remove=[3.5]",
        expected="TypeError naming remove entry 0",
        run=lambda env: ConceptEditor(remove=[3.5], splice=env.splice).fit(env.W),
        error=TypeError,
        names=lambda env: ["`remove` entry 0", "3.5"],
    ),
    Case(
        id="editor-fit-keeps-nothing",
        entry="ConceptEditor.fit",
        given='keep=["zzz"] with ignore_unknown=True: no concept would be kept',
        expected="ValueError naming keep and the skipped name",
        run=lambda env: ConceptEditor(keep=["zzz"], splice=env.splice, ignore_unknown=True).fit(
            env.W
        ),
        error=ValueError,
        names=lambda env: ["`keep` resolved to no known concept", "'zzz'"],
    ),
    Case(
        id="editor-fit-ignore-unknown-not-bool",
        entry="ConceptEditor.fit",
        given='ignore_unknown="no"',
        expected="TypeError naming ignore_unknown",
        run=lambda env: ConceptEditor(remove=["zzz"], splice=env.splice, ignore_unknown="no").fit(
            env.W
        ),
        error=TypeError,
        names=lambda env: ["ignore_unknown must be a bool", "'no'"],
    ),
    # ------------------------------------------------------------ ZeroShotClassifier
    Case(
        id="zero-shot-predict-nan",
        entry="ZeroShotClassifier.predict",
        given="NaN in the embeddings",
        expected="ValueError naming X, NaN and the row",
        run=lambda env: env.zero_shot.predict(_nan_at(env.X, 3)),
        error=ValueError,
        names=lambda env: ["X holds NaN or infinite values in 1 row(s): 3"],
    ),
    Case(
        id="zero-shot-predict-inf",
        entry="ZeroShotClassifier.predict",
        given="inf in the embeddings",
        expected="ValueError naming X, infinite values and the row",
        run=lambda env: env.zero_shot.predict(_nan_at(env.X, 3, np.inf)),
        error=ValueError,
        names=lambda env: ["X holds NaN or infinite values in 1 row(s): 3"],
    ),
    Case(
        id="zero-shot-fit-dimension",
        entry="ZeroShotClassifier.fit",
        given="5-d embeddings for an 8-d text embedder",
        expected="ValueError naming both dimensions",
        run=lambda env: ZeroShotClassifier(KeylessEmbedder(dim=DIM), classes=["a", "b"]).fit(
            env.X[:, :5]
        ),
        error=ValueError,
        names=lambda env: ["8 dimensions", "5 features"],
    ),
    Case(
        id="zero-shot-predict-1d",
        entry="ZeroShotClassifier.predict",
        given="one 1-D embedding",
        expected="ValueError asking for a 2-D array",
        run=lambda env: env.zero_shot.predict(env.X[0]),
        error=ValueError,
        # (as SpliceTransformer says it: scikit-learn's message printed every number)
        names=lambda env: ["one embedding perhaps", "np.reshape(X, (1, -1))"],
    ),
    Case(
        id="zero-shot-predict-empty",
        entry="ZeroShotClassifier.predict",
        given="shape (0, 8)",
        expected="ValueError naming the shape",
        run=lambda env: env.zero_shot.predict(env.X[:0]),
        error=ValueError,
        names=lambda env: ["shape=(0, 8)"],
    ),
    Case(
        id="zero-shot-predict-strings",
        entry="ZeroShotClassifier.predict",
        given="an object array of strings",
        expected="ValueError naming the value that is not a number",
        run=lambda env: env.zero_shot.predict(_strings((2, DIM))),
        error=ValueError,
        names=lambda env: ["'abc'"],
    ),
    Case(
        id="zero-shot-predict-sparse",
        entry="ZeroShotClassifier.predict",
        given="a scipy CSR matrix (concept weights, in a pipeline)",
        expected="TypeError: X is a sparse matrix; recompose concept weights into embeddings",
        run=lambda env: env.zero_shot.predict(sp.csr_matrix(env.X)),
        error=TypeError,
        names=lambda env: ["X is a sparse matrix", "splice.inverse_transform(W)"],
    ),
    Case(
        id="zero-shot-fit-template",
        entry="ZeroShotClassifier.fit",
        given='templates=("no placeholder",)',
        expected="ValueError naming the template",
        run=lambda env: ZeroShotClassifier(
            KeylessEmbedder(dim=DIM), classes=["a", "b"], templates=("no placeholder",)
        ).fit(env.X),
        error=ValueError,
        names=lambda env: ["'no placeholder'", "'{}'"],
    ),
    Case(
        id="zero-shot-classes-string",
        entry="ZeroShotClassifier.fit",
        given='classes="ab" (one string)',
        expected="TypeError naming classes",
        run=lambda env: ZeroShotClassifier(KeylessEmbedder(dim=DIM), classes="ab").fit(env.X),
        error=TypeError,
        names=lambda env: ["`classes`", "one string"],
    ),
    # ---------------------------------------------------------------------- analysis
    Case(
        id="profiles-nan",
        entry="concept_profiles",
        given="NaN in the weights",
        expected="ValueError naming row 3",
        run=lambda env: concept_profiles(_nan_at(env.W, 3), env.y, concepts=VOCAB),
        error=ValueError,
        names=lambda env: ["NaN", "row(s): 3"],
    ),
    Case(
        id="profiles-sparse-nan",
        entry="concept_profiles",
        given="a CSR matrix with NaN stored in row 4",
        expected="ValueError naming row 4 (the matrix is not densified)",
        run=lambda env: concept_profiles(sp.csr_matrix(_nan_at(env.W, 4)), concepts=VOCAB),
        error=ValueError,
        names=lambda env: ["NaN", "row(s): 4"],
    ),
    Case(
        id="profiles-1d",
        entry="concept_profiles",
        given="a 1-D weight vector",
        expected="ValueError naming the shape",
        run=lambda env: concept_profiles(env.W[0], concepts=VOCAB),
        error=ValueError,
        names=lambda env: ["2-D", "(12,)"],
    ),
    Case(
        id="profiles-labels-length",
        entry="concept_profiles",
        given="4 labels for 6 rows",
        expected="ValueError naming both counts",
        run=lambda env: concept_profiles(env.W, env.y[:4], concepts=VOCAB),
        error=ValueError,
        names=lambda env: ["4", "6 rows"],
    ),
    Case(
        id="profiles-concepts-length",
        entry="concept_profiles",
        given="5 concept names for 12 columns",
        expected="ValueError naming both counts",
        run=lambda env: concept_profiles(env.W, env.y, concepts=VOCAB[:5]),
        error=ValueError,
        names=lambda env: ["5 names", "12 columns"],
    ),
    Case(
        id="profiles-strings",
        entry="concept_profiles",
        given="an object array of strings",
        expected="TypeError naming the weights and their dtype",
        run=lambda env: concept_profiles(_strings((2, N_CONCEPTS)), concepts=VOCAB),
        error=TypeError,
        names=lambda env: ["concept weights must be numeric", "object"],
    ),
    Case(
        id="profiles-sparse-accepted",
        entry="concept_profiles",
        given="a scipy CSR matrix of weights",
        expected="accepted (documented): same table as for the dense weights",
        run=lambda env: concept_profiles(sp.csr_matrix(env.W), env.y, concepts=VOCAB),
        check=lambda env, result: _same_frame(
            result, concept_profiles(env.W, env.y, concepts=VOCAB)
        ),
    ),
    Case(
        id="rank-nan",
        entry="rank_concepts",
        given="NaN in the weights",
        expected="ValueError naming row 3",
        run=lambda env: rank_concepts(_nan_at(env.W, 3), env.y, "a", concepts=VOCAB),
        error=ValueError,
        names=lambda env: ["concept weights", "NaN", "row(s): 3"],
    ),
    Case(
        id="rank-empty",
        entry="rank_concepts",
        given="weights with no rows",
        expected="ValueError saying there are 0 samples",
        run=lambda env: rank_concepts(env.W[:0], env.y[:0], "a", concepts=VOCAB),
        error=ValueError,
        names=lambda env: ["0 samples"],
    ),
    Case(
        id="rank-labels-length",
        entry="rank_concepts",
        given="4 labels for 6 rows",
        expected="ValueError naming both counts",
        run=lambda env: rank_concepts(env.W, env.y[:4], "a", concepts=VOCAB),
        error=ValueError,
        names=lambda env: ["4 entries", "6 rows"],
    ),
    Case(
        id="rank-unknown-positive",
        entry="rank_concepts",
        given='positive="zzz", not a label',
        expected="ValueError naming positive and the labels",
        run=lambda env: rank_concepts(env.W, env.y, "zzz", concepts=VOCAB),
        error=ValueError,
        names=lambda env: ["`positive`='zzz'", "['a', 'b']"],
    ),
    Case(
        id="compare-nan",
        entry="compare_datasets",
        given="NaN in collection A's weights",
        expected="ValueError naming W_a and row 3",
        run=lambda env: compare_datasets(_nan_at(env.W, 3), env.W, concepts=VOCAB),
        error=ValueError,
        names=lambda env: ["W_a", "NaN", "row(s): 3"],
    ),
    Case(
        id="compare-columns",
        entry="compare_datasets",
        given="collections of 12 and 5 concept columns",
        expected="ValueError naming both counts",
        run=lambda env: compare_datasets(env.W, env.W[:, :5], concepts=VOCAB),
        error=ValueError,
        names=lambda env: ["W_a has 12 concept columns", "W_b has 5"],
    ),
    Case(
        id="compare-empty",
        entry="compare_datasets",
        given="collection B with no rows",
        expected="ValueError saying W_b has 0 samples",
        run=lambda env: compare_datasets(env.W, env.W[:0], concepts=VOCAB),
        error=ValueError,
        names=lambda env: ["W_b", "0 samples"],
    ),
    Case(
        id="compare-negative",
        entry="compare_datasets",
        given="negative weights in collection A",
        expected="ValueError naming W_a and the rows",
        run=lambda env: compare_datasets(-env.W - 1.0, env.W, concepts=VOCAB),
        error=ValueError,
        names=lambda env: ["W_a must be non-negative", "row(s) hold negative values"],
    ),
    # ----------------------------------------------------------------------- solvers
    Case(
        id="lasso-nan",
        entry="NonNegLasso.solve",
        given="NaN in row 3",
        expected="ValueError naming V and row 3",
        run=lambda env: env.lasso.solve(_nan_at(env.X, 3), 0.1),
        error=ValueError,
        names=lambda env: ["V holds NaN or infinite values in 1 row(s): 3"],
    ),
    Case(
        id="lasso-inf",
        entry="NonNegLasso.solve",
        given="inf in row 4",
        expected="ValueError naming V and row 4",
        run=lambda env: env.lasso.solve(_nan_at(env.X, 4, np.inf), 0.1),
        error=ValueError,
        names=lambda env: ["V holds NaN or infinite values in 1 row(s): 4"],
    ),
    Case(
        id="lasso-overflow",
        entry="NonNegLasso.solve",
        given="targets of values up to 1e160 (finite; their squares overflow)",
        expected="ValueError naming V, its largest value, the precision's limit and the "
        "scaling that helps",
        run=lambda env: env.lasso.solve(env.X.astype(np.float64) * 1e160, 0.1),
        error=ValueError,
        names=lambda env: ["V holds values up to", "overflow above about", "l1_penalty / s"],
    ),
    Case(
        id="lasso-n-features",
        entry="NonNegLasso.solve",
        given="5 features for an 8-d dictionary",
        expected="ValueError naming both shapes",
        run=lambda env: env.lasso.solve(env.X[:, :5], 0.1),
        error=ValueError,
        names=lambda env: ["(6, 5)", "(12, 8)"],
    ),
    Case(
        id="lasso-1d",
        entry="NonNegLasso.solve",
        given="a 1-D target",
        expected="ValueError naming V and its shape",
        run=lambda env: env.lasso.solve(env.X[0], 0.1),
        error=ValueError,
        names=lambda env: ["V must be 2-D", "(8,)"],
    ),
    Case(
        id="lasso-empty",
        entry="NonNegLasso.solve",
        given="shape (0, 8)",
        expected="ValueError naming V",
        run=lambda env: env.lasso.solve(env.X[:0], 0.1),
        error=ValueError,
        names=lambda env: ["V is an empty batch"],
    ),
    Case(
        id="lasso-object-array",
        entry="NonNegLasso.solve",
        given="an object array of strings",
        expected="TypeError naming V and its dtype",
        run=lambda env: env.lasso.solve(_strings((2, DIM)), 0.1),
        error=TypeError,
        names=lambda env: ["V must hold real numbers", "object"],
    ),
    Case(
        id="lasso-string",
        entry="NonNegLasso.solve",
        given='the string "abc"',
        expected="TypeError naming V and its dtype",
        run=lambda env: env.lasso.solve("abc", 0.1),
        error=TypeError,
        names=lambda env: ["V must hold real numbers"],
    ),
    Case(
        id="lasso-penalty-nan",
        entry="NonNegLasso.solve",
        given="l1_penalty=nan",
        expected="ValueError naming l1_penalty",
        run=lambda env: env.lasso.solve(env.X, float("nan")),
        error=ValueError,
        names=lambda env: ["l1_penalty must be a finite non-negative number, got nan"],
    ),
    Case(
        id="lasso-penalty-string",
        entry="NonNegLasso.solve",
        given='l1_penalty="a"',
        expected="TypeError naming l1_penalty and the value",
        run=lambda env: env.lasso.solve(env.X, "a"),
        error=TypeError,
        names=lambda env: ["l1_penalty must be a finite non-negative number, got 'a' (str)"],
    ),
    Case(
        id="lasso-penalty-below-supported",
        entry="NonNegLasso.solve",
        given="l1_penalty=1e-12 (below what the certificate resolves at tol=1e-6)",
        expected="accepted with a UserWarning naming l1_penalty and the smallest supported "
        "penalty; the work is bounded (10 rounds by default)",
        run=lambda env: _record(lambda: env.lasso.solve(env.X, 1e-12)),
        check=lambda env, result: _small_penalty_warned(result),
    ),
    Case(
        id="lasso-warm-start-shape",
        entry="NonNegLasso.solve",
        given="warm_start of shape (2, 3)",
        expected="ValueError naming warm_start and both shapes",
        run=lambda env: env.lasso.solve(env.X, 0.1, warm_start=np.zeros((2, 3))),
        error=ValueError,
        names=lambda env: ["warm_start", "(6, 12)", "(2, 3)"],
    ),
    Case(
        id="lasso-sparse-accepted",
        entry="NonNegLasso.solve",
        given="a scipy CSR matrix of targets",
        expected="accepted: the same codes as for the dense targets",
        run=lambda env: env.lasso.solve(sp.csr_matrix(env.X), 0.1),
        check=lambda env, result: np.testing.assert_allclose(
            result.to_dense(), env.lasso.solve(env.X, 0.1).to_dense(), atol=1e-6
        ),
    ),
    Case(
        id="lasso-dictionary-nan",
        entry="NonNegLasso",
        given="a dictionary with NaN in row 1",
        expected="ValueError naming the dictionary and row 1",
        run=lambda env: NonNegLasso(_nan_at(env.D.T, 1).T, device="cpu"),
        error=ValueError,
        names=lambda env: ["dictionary holds NaN or infinite values in 1 row(s): 1"],
    ),
    Case(
        id="lasso-dictionary-overflow",
        entry="NonNegLasso",
        given="a dictionary of values up to 1e160 (finite; their squares overflow)",
        expected="ValueError naming the dictionary, its largest value and the scaling that helps",
        run=lambda env: NonNegLasso(env.D.astype(np.float64) * 1e160, device="cpu"),
        error=ValueError,
        names=lambda env: ["dictionary holds values up to", "dictionary / s"],
    ),
    Case(
        id="lasso-dictionary-empty",
        entry="NonNegLasso",
        given="a dictionary of shape (0, 8)",
        expected="ValueError naming the shape",
        run=lambda env: NonNegLasso(env.D[:0], device="cpu"),
        error=ValueError,
        names=lambda env: ["(0, 8)"],
    ),
    # --------------------------------------------------------------------------- CLI
    Case(
        id="cli-missing-image",
        entry="sksplice decompose",
        given="an image path that does not exist",
        expected="exit 2 (usage), message naming the path",
        run=lambda env: env.cli("decompose", env.path("nope.png")),
        check=_cli_fails(2, files=("nope.png",)),
    ),
    Case(
        id="cli-only-unreadable-images",
        entry="sksplice decompose",
        given="a zero-byte and a truncated PNG only",
        expected="exit 1, message naming the first unreadable file",
        run=lambda env: env.cli("decompose", env.path("zero.png"), env.path("truncated.png")),
        check=_cli_fails(1, files=("zero.png",)),
    ),
    Case(
        id="cli-skips-truncated",
        entry="sksplice decompose",
        given="two good images and a truncated PNG",
        expected="exit 0; output rows for the good images; stderr lists the skipped path",
        run=lambda env: env.cli(
            "decompose",
            env.path("good.png"),
            env.path("truncated.png"),
            env.path("good.jpg"),
            "-f",
            "csv",
            "-o",
            str(env.root / "data_home" / "partial.csv"),
            "--image-mean",
            "data",
            quiet=False,
        ),
        check=_cli_skips,
    ),
    Case(
        id="cli-strict-bomb",
        entry="sksplice decompose --strict",
        given="images over PIL.Image.MAX_IMAGE_PIXELS (limit lowered to 100 pixels), not in "
        "the cache of image embeddings (an image read from it is not decoded)",
        expected="exit 1, message naming the first path and the limit as an option",
        run=_cli_bomb,
        check=_cli_fails(1, files=("good.png",), text=("(--max-image-pixels 100)",)),
    ),
    Case(
        id="report-thumbnail-markup",
        entry="ImageResult(thumbnail=...)",
        given="thumbnail='x\" onerror=\"window.__pwned=1' (markup instead of an image URI)",
        expected="ValueError naming the `thumbnail` field and the image path",
        run=lambda env: ImageResult(
            env.path("good.png"), [], 0, 0.0, thumbnail='x" onerror="window.__pwned=1'
        ),
        error=ValueError,
        names=lambda env: ["thumbnail", env.path("good.png")],
    ),
    Case(
        id="cli-report-output-directory",
        entry="sksplice report -o",
        given="a directory as the output HTML file",
        expected="exit 2 (usage), message naming the path",
        run=lambda env: env.cli(
            "report", env.path("good.png"), env.path("good.jpg"), "-o", env.path("empty_folder")
        ),
        check=_cli_fails(2, files=("empty_folder",)),
    ),
    Case(
        id="cli-strict-truncated",
        entry="sksplice decompose --strict",
        given="a good PNG and a truncated PNG",
        expected="exit 1, message naming the path and its place (image 2 of 2)",
        run=lambda env: env.cli(
            "decompose", env.path("good.png"), env.path("truncated.png"), "--strict"
        ),
        check=_cli_fails(1, files=("truncated.png",), text=("(image 2 of 2;",)),
    ),
    Case(
        id="cli-name-not-utf8",
        entry="sksplice decompose",
        given="a folder holding an image whose file name is not valid UTF-8 (b'bad\\xff.png')",
        expected="exit 0, valid UTF-8 output writing the name bad\\xff.png; one warning shows it",
        run=_cli_undecodable,
        check=_cli_undecodable_written,
    ),
    Case(
        id="cli-empty-folder",
        entry="sksplice decompose",
        given="a folder without images",
        expected="exit 2 (usage), message naming the folder",
        run=lambda env: env.cli("decompose", env.path("empty_folder")),
        check=_cli_fails(2, files=("empty_folder",)),
    ),
    Case(
        id="cli-vocabulary-directory",
        entry="sksplice decompose --vocabulary",
        given="a directory as the vocabulary file",
        expected="exit 2 (usage), message naming the path",
        run=lambda env: env.cli(
            "decompose",
            env.path("good.png"),
            env.path("good.jpg"),
            "--vocabulary",
            env.path("empty_folder"),
        ),
        check=_cli_fails(2, files=("empty_folder",)),
    ),
    Case(
        id="cli-vocabulary-zero-byte",
        entry="sksplice decompose --vocabulary",
        given="a zero-byte vocabulary file",
        expected="exit 2 (usage), message naming the path",
        run=lambda env: env.cli(
            "decompose",
            env.path("good.png"),
            env.path("good.jpg"),
            "--vocabulary",
            env.path("zero.txt"),
        ),
        check=_cli_fails(2, files=("zero.txt",)),
    ),
    Case(
        id="cli-image-mean-missing",
        entry="sksplice decompose --image-mean",
        given="a .npy path that does not exist",
        expected="exit 2 (usage), message naming --image-mean and the path",
        run=lambda env: env.cli(
            "decompose", env.path("good.png"), "--image-mean", env.path("nope.npy")
        ),
        check=_cli_fails(2, files=("nope.npy",), text=("--image-mean",)),
    ),
    Case(
        id="cli-image-mean-zero-byte",
        entry="sksplice decompose --image-mean",
        given="a zero-byte .npy file",
        expected="exit 2 (usage), message naming --image-mean and the path",
        run=lambda env: env.cli(
            "decompose", env.path("good.png"), "--image-mean", env.path("zero.npy")
        ),
        check=_cli_fails(2, files=("zero.npy",), text=("--image-mean",)),
    ),
    Case(
        id="cli-image-mean-shape",
        entry="sksplice decompose --image-mean",
        given="a 5-d mean for a 32-d model",
        expected="exit 2 (usage), message naming the file, its shape and d",
        run=lambda env: env.cli(
            "decompose", env.path("good.png"), "--image-mean", env.path("mean_5d.npy")
        ),
        check=_cli_fails(2, files=("mean_5d.npy",), text=("has shape (5,)", "d=32")),
    ),
    *[
        Case(
            id=f"cli-image-mean-{kind}",
            entry="sksplice decompose --image-mean",
            given=f"a .npy mean holding {given}",
            expected="exit 2 (usage) before any embedding, message naming the file and its "
            "dtype/shape",
            run=lambda env, kind=kind: env.cli(
                "decompose", env.path("good.png"), "--image-mean", env.path(f"mean_{kind}.npy")
            ),
            check=_cli_fails(2, files=(f"mean_{kind}.npy",), text=(shape,)),
        )
        for kind, given, shape in (
            ("2x16", "a 2x16 float array (never flattened)", "(2, 16)"),
            ("complex", "32 complex numbers", "complex64"),
            ("bool", "32 booleans", "bool"),
            ("int", "32 integers", "int64"),
        )
    ],
    Case(
        id="cli-solver-unknown",
        entry="sksplice decompose --solver",
        given='"fista"',
        expected="exit 2 (usage) before any embedding, message naming --solver and the solvers",
        run=lambda env: env.cli("decompose", env.path("good.png"), "--solver", "fista"),
        check=_cli_fails(2, text=("--solver 'fista'", "admm")),
    ),
    Case(
        id="cli-model-typo",
        entry="sksplice decompose --model",
        given="a misspelt model name",
        expected="exit 2 (usage) before any embedding, message with close matches",
        run=lambda env: env.cli("decompose", env.path("good.png"), "--model", "ViT-B-23"),
        check=_cli_fails(2, text=("--model 'ViT-B-23'", "ViT-B-32")),
    ),
    Case(
        id="cli-vocabulary-size-too-large",
        entry="sksplice decompose --vocabulary-size",
        given="more concepts than the vocabulary file holds",
        expected="exit 2 (usage) before any embedding, message naming --vocabulary-size and "
        "the count",
        run=lambda env: env.cli("decompose", env.path("good.png"), "--vocabulary-size", "7"),
        check=_cli_fails(2, text=("--vocabulary-size 7", "6 concepts")),
    ),
    Case(
        id="cli-output-folder-missing",
        entry="sksplice decompose -o",
        given="an output file in a folder that does not exist",
        expected="exit 2 (usage) before any embedding, message naming the folder",
        run=lambda env: env.cli(
            "decompose", env.path("good.png"), "-o", env.path("no_folder/out.json")
        ),
        check=_cli_fails(2, files=("no_folder",), text=("does not exist",)),
    ),
    Case(
        id="cli-symlinked-class-folders",
        entry="sksplice profile",
        given="class folders that are symlinks to folders elsewhere",
        expected="exit 0; the linked folders are followed: both classes, all 4 images profiled",
        run=lambda env: env.cli(
            "profile",
            env.path("linked_classes"),
            "-f",
            "json",
            "-o",
            str(env.root / "data_home" / "linked.json"),
            "--image-mean",
            "data",
        ),
        check=_cli_profiled(classes={"a", "b"}, images=4),
    ),
    Case(
        id="cli-labels-ambiguous-bare-name",
        entry="sksplice profile --labels",
        given="a labels CSV naming 0.png where a/0.png and b/0.png exist",
        expected="exit 2 (usage) before any embedding, message naming the line and both files",
        run=lambda env: env.cli(
            "profile", env.path("linked_classes"), "--labels", env.path("labels_bare.csv")
        ),
        check=_cli_fails(
            2, files=("linked_classes/a/0.png", "linked_classes/b/0.png"), text=("line 2",)
        ),
    ),
    Case(
        id="cli-output-directory",
        entry="sksplice decompose -o",
        given="a directory as the output file",
        expected="exit 2 (usage), message naming the path",
        run=lambda env: env.cli(
            "decompose",
            env.path("good.png"),
            env.path("good.jpg"),
            "-o",
            env.path("empty_folder"),
        ),
        check=_cli_fails(2, files=("empty_folder",)),
    ),
    Case(
        id="cli-output-is-an-input",
        entry="sksplice decompose -o",
        given="an input image as the output file",
        expected="exit 2 (usage) before any embedding, message naming -o and the path; the "
        "image is left as it was",
        run=lambda env: env.cli(
            "decompose", env.path("good.png"), env.path("good.jpg"), "-o", env.path("good.png")
        ),
        check=_cli_fails(2, files=("good.png",), text=("-o", "would replace it")),
    ),
    Case(
        id="cli-output-is-the-vocabulary",
        entry="sksplice decompose -o",
        given="the --vocabulary file as the output file",
        expected="exit 2 (usage) before any embedding, message naming -o, --vocabulary and "
        "the path",
        run=lambda env: env.cli(
            "decompose", env.path("good.png"), env.path("good.jpg"), "-o", env.path("vocab.txt")
        ),
        check=_cli_fails(2, files=("vocab.txt",), text=("--vocabulary", "would replace it")),
    ),
    Case(
        id="cli-penalty-nan",
        entry="sksplice decompose --l1-penalty",
        given='"nan"',
        expected="exit 2 (usage), message naming --l1-penalty",
        run=lambda env: env.cli("decompose", env.path("good.png"), "--l1-penalty", "nan"),
        check=_cli_fails(2, text=("--l1-penalty", "'nan'")),
    ),
    Case(
        id="cli-penalty-string",
        entry="sksplice decompose --l1-penalty",
        given='"abc"',
        expected="exit 2 (usage), message naming --l1-penalty",
        run=lambda env: env.cli("decompose", env.path("good.png"), "--l1-penalty", "abc"),
        check=_cli_fails(2, text=("--l1-penalty", "'abc'")),
    ),
    Case(
        id="cli-profile-file-as-folder",
        entry="sksplice profile",
        given="an image file where a folder goes",
        expected="exit 2 (usage), message naming the path",
        run=lambda env: env.cli("profile", env.path("good.png")),
        check=_cli_fails(2, files=("good.png",), text=("not a folder",)),
    ),
    Case(
        id="cli-labels-missing",
        entry="sksplice profile --labels",
        given="a labels CSV that does not exist",
        expected="exit 2 (usage), message naming the path",
        run=lambda env: env.cli("profile", str(env.root), "--labels", env.path("nope.csv")),
        check=_cli_fails(2, files=("nope.csv",)),
    ),
    Case(
        id="splice-embedder-class",
        entry="SpliceTransformer(embedder=...).fit",
        given="the class CLIPEmbedder, not an instance",
        expected="TypeError naming the class and how to make an instance, before any work",
        run=lambda env: SpliceTransformer(vocabulary=VOCAB, embedder=CLIPEmbedder).fit(env.X),
        error=TypeError,
        names=lambda env: ["the class CLIPEmbedder", "CLIPEmbedder(...)"],
    ),
    Case(
        id="splice-sparse-concept-embeddings",
        entry="SpliceTransformer(concept_embeddings=...).fit",
        given="a SciPy sparse matrix",
        expected="taken as the dense array it holds",
        run=lambda env: SpliceTransformer(
            vocabulary=VOCAB, concept_embeddings=sp.csr_matrix(env.D), device="cpu"
        ).fit(env.X),
        check=lambda env, fitted: np.testing.assert_allclose(
            fitted.dictionary_, env.splice.dictionary_, rtol=1e-6, atol=1e-7
        ),
    ),
    Case(
        id="profiles-concepts-number",
        entry="concept_profiles(concepts=...)",
        given="a number instead of names",
        expected="TypeError naming `concepts` and the value",
        run=lambda env: concept_profiles(env.W, env.y, concepts=14),
        error=TypeError,
        names=lambda env: ["`concepts`", "14"],
    ),
    Case(
        id="rank-positive-list",
        entry="rank_concepts(positive=...)",
        given="a list of labels instead of one label",
        expected="TypeError naming `positive` and the value",
        run=lambda env: rank_concepts(env.W, env.y, ["a"], concepts=VOCAB),
        error=TypeError,
        names=lambda env: ["`positive`", "['a']"],
    ),
    Case(
        id="embedder-text-given-image-paths",
        entry="CLIPEmbedder(modality='text').transform",
        given="paths of image files",
        expected="embedded as texts, with a UserWarning naming a file and modality='image'",
        run=lambda env: _record(
            lambda: env.text_embedder.transform([env.path("good.png"), env.path("good.jpg")])
        ),
        check=lambda env, result: _warned(result, (env.path("good.png"), "modality='image'")),
    ),
]


def _warned(result: tuple[Any, list[warnings.WarningMessage]], words: tuple[str, ...]) -> None:
    _, caught = result
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert any(all(word in m for word in words) for m in messages), messages


def _small_penalty_warned(result: tuple[Any, list[warnings.WarningMessage]]) -> None:
    codes, caught = result
    assert codes.shape == (6, N_CONCEPTS)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert any("l1_penalty=1e-12 is below the smallest penalty" in m for m in messages)


def _record(func: Callable[[], Any]) -> tuple[Any, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = func()
    return result, caught


def _same_frame(a: Any, b: Any) -> None:
    import pandas.testing as pdt

    pdt.assert_frame_equal(a, b, check_exact=False, atol=1e-12)


@pytest.fixture(scope="module")
def env(tmp_path_factory, tiny_clip_model) -> Env:
    return Env(tmp_path_factory.mktemp("bad_inputs"), tiny_clip_model)


def test_case_ids_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    for case in CASES:
        assert (case.error is None) != (case.check is None), case.id


def _listing(env: Env) -> list[str]:
    """Files of the prepared folder (the data home excluded), to catch stray writes."""
    return sorted(
        str(p.relative_to(env.root))
        for p in env.root.rglob("*")
        if p.relative_to(env.root).parts[0] != "data_home"
    )


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case, env: Env) -> None:
    before = _listing(env)
    if case.error is None:
        assert case.check is not None
        case.check(env, case.run(env))
    else:
        with pytest.raises(case.error) as info:
            case.run(env)
        message = str(info.value)
        for name in case.names(env):
            assert name in message, f"{name!r} not in {message!r}"
    # nothing half-written (or written at all) next to the inputs
    assert _listing(env) == before


def _load_generator():
    spec = importlib.util.spec_from_file_location(
        "make_reliability_page", REPO_ROOT / "tools" / "make_reliability_page.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reliability_page_is_up_to_date():
    from .faults_catalogue import FAULTS

    page = _load_generator().render(CASES, FAULTS)
    assert PAGE.read_text(encoding="utf-8") == page, (
        "docs/reliability.md is out of date: run python tools/make_reliability_page.py"
    )
    for case in CASES:
        assert f"`{case.id}`" in page


def test_every_listed_fault_is_tested():
    """Each fault on the reliability page names a test function that exists."""
    import ast

    from .faults_catalogue import FAULTS

    assert len({f.id for f in FAULTS}) == len(FAULTS)
    # Read the test files rather than importing them: a module that skips itself
    # (test_distributed without Dask) would otherwise skip this check.
    tests_dir = Path(__file__).resolve().parent
    for fault in FAULTS:
        filename, function = fault.test.split("::")
        tree = ast.parse((tests_dir / filename).read_text(encoding="utf-8"))
        names = {
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test")
        }
        assert function in names, f"{fault.test} does not exist"
