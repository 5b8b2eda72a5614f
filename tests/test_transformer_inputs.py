"""What SpliceTransformer refuses in its inputs, and how it says so.

A centre that is not the mean of unit-norm embeddings, a penalty at which no row
keeps a concept, images, paths or texts given where embeddings are expected, and the
NaN rows of ``CLIPEmbedder(on_error="skip")``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sksplice.solvers import NonNegLasso
from sksplice.transformer import SpliceTransformer

try:  # whether or not tests/ is a package
    from ._helpers_transformer import CountingEmbedder, random_vocabulary
except ImportError:
    from _helpers_transformer import CountingEmbedder, random_vocabulary

N_CONCEPTS = 30
DIM = 16


@pytest.fixture(autouse=True)
def _isolated(isolated_folders):
    CountingEmbedder.reset()


def _unit(X):
    X = np.asarray(X, dtype=np.float64)
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def _X(n=120, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, DIM)) + 3.0  # embeddings with a common direction


def _splice(**kwargs):
    kwargs.setdefault("device", "cpu")
    return SpliceTransformer(
        embedder=CountingEmbedder(dim=DIM), vocabulary=random_vocabulary(N_CONCEPTS), **kwargs
    )


# ------------------------------------------------------------ a given centre


@pytest.mark.parametrize("as_file", [False, True], ids=["array", "npy"])
@pytest.mark.parametrize("param", ["image_mean", "text_mean"])
def test_a_given_centre_above_unit_norm_is_refused_before_embedding(param, as_file, tmp_path):
    # It was accepted: centred by it, every row decomposed into the same concepts.
    X = _X()
    mean = X.mean(axis=0)  # the mean of embeddings that were not normalised: norm 12.3
    norm = np.linalg.norm(mean)
    assert norm > 10
    given = mean
    if as_file:
        given = tmp_path / "mean.npy"
        np.save(given, mean.astype(np.float32))
    modality = "text" if param == "text_mean" else "image"
    with pytest.raises(ValueError) as info:
        _splice(modality=modality, **{param: given}).fit(X)
    message = str(info.value)
    assert message.startswith(param), message
    if as_file:
        assert str(given) in message
    assert f"has norm {norm:.4g}, above 1" in message
    assert "Normalise each embedding before averaging" in message
    assert CountingEmbedder.n_calls == 0  # refused before the vocabulary was embedded
    # the fix the message gives is accepted
    fixed = _unit(X).mean(axis=0)
    splice = _splice(modality=modality, **{param: fixed}).fit(X)
    assert splice.mean_source_ == "given"
    # and the rows no longer all have the same concepts
    top = {tuple(c for c, _ in row) for row in splice.top_concepts(X[:8], k=3)}
    assert len(top) > 1


def test_centres_of_unit_embeddings_pass_as_any_float_dtype():
    X = _X()
    learned = _splice().fit(X).mean_  # the project's own learned centre
    assert np.linalg.norm(learned) < 1
    # a unit vector stored in float16 whose norm rounds above 1 (a centre learned from
    # embeddings that all point the same way is refused, but a given one may be a unit
    # vector, such as one normalised embedding)
    rng = np.random.default_rng(0)
    unit16 = next(
        v
        for v in (_unit(rng.normal(size=DIM)).astype(np.float16) for _ in range(1000))
        if np.linalg.norm(v.astype(np.float64)) > 1.0
    )
    for mean in (learned, learned.astype(np.float32), learned.astype(np.float16), unit16):
        assert _splice(image_mean=mean).fit(X).mean_source_ == "given"
    with pytest.raises(ValueError, match=r"image_mean has norm 1.01, above 1"):
        _splice(image_mean=1.01 * _unit(learned)).fit(X)


# ------------------------------------------------------------ the penalty


def test_at_a_penalty_of_two_every_code_is_zero():
    # The bound behind the refusal, from the solver's own objective
    # ||D^T w - v||^2 + l1_penalty * ||w||_1: w = 0 is optimal iff
    # l1_penalty >= 2 max_j (D v)_j, and a transformer's targets and concepts have
    # unit norm, so (D v)_j <= 1.
    X = _X()
    splice = _splice(l1_penalty=0.1).fit(X)
    V = splice._center(X)
    D = splice.dictionary_
    np.testing.assert_allclose(np.linalg.norm(V, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0, rtol=1e-7)  # (float32 rows)
    lasso = NonNegLasso(D, device="cpu")
    assert lasso.solve(V, 2.0).l0().max() == 0
    # targets in the direction of a concept reach (D v)_j = 1, the most there is: at 2
    # what is left is the rounding of the concepts' norms
    C = _unit(D[:5])
    assert float((C @ D.T).max()) == pytest.approx(1.0, abs=1e-7)
    assert lasso.solve(C, 2.0).to_csr().max() < 1e-7
    # and just below 2 they keep their concept
    assert (lasso.solve(C, 1.98).l0() == 1).all()


@pytest.mark.parametrize("penalty", [2, 2.0, 5.0, 1e9])
def test_a_penalty_of_two_or_more_is_refused_before_embedding(penalty):
    with pytest.raises(ValueError) as info:
        _splice(l1_penalty=penalty).fit(_X())
    message = str(info.value)
    assert message.startswith(f"SpliceTransformer: l1_penalty must be below 2, got {penalty!r}: ")
    assert "no concept at all" in message and "Useful penalties lie below 2" in message
    assert CountingEmbedder.n_calls == 0


def test_penalties_just_below_two_or_where_calibration_starts_are_accepted():
    assert _splice(l1_penalty=1.99).fit(_X()).l1_penalty_ == 1.99
    # with target_l0 the penalty is only where the calibration starts
    splice = _splice(l1_penalty=1e3, target_l0=3).fit(_X())
    assert splice.l1_penalty_ < 2
    with pytest.raises(
        ValueError, match=r"^SpliceTransformer: l1_penalty must be a positive finite number"
    ):
        _splice(l1_penalty=-1).fit(_X())


# ------------------------------------------------ images, paths or texts for X


def _image(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, size=(20, 24, 3), dtype=np.uint8)


_NOT_EMBEDDINGS = {
    "image-paths": (
        lambda: ["cats/a.png", "cats/b.JPG"],
        TypeError,
        "X holds file paths ('cats/a.png' first), not embeddings",
        "CLIPEmbedder(modality='image')",
    ),
    "path-objects": (
        lambda: [Path("cats/a.png")],
        TypeError,
        f"X holds file paths ({Path('cats/a.png')!r} first), not embeddings",
        "CLIPEmbedder(modality='image')",
    ),
    "one-path": (
        lambda: "cats/a.png",
        TypeError,
        "X is one path ('cats/a.png'), not embeddings",
        "CLIPEmbedder(modality='image')",
    ),
    "texts": (
        lambda: ["a dog", "a cat"],
        TypeError,
        "X holds strings ('a dog' first), not embeddings",
        # (the transformer's own embedder: its concepts' model, no CLIPEmbedder)
        "the model of the concepts (its CountingEmbedder), and decompose them with "
        "modality='text': X = splice.embedder.embed_text(texts)",
    ),
    "pil-images": (
        lambda: [Image.fromarray(_image())] * 3,
        TypeError,
        "X holds PIL images (Image first), not embeddings",
        "CLIPEmbedder(modality='image')",
    ),
    "image-batch": (
        lambda: np.stack([_image()] * 3),
        ValueError,
        "X has shape (3, 20, 24, 3): a batch of images perhaps, not embeddings",
        "CLIPEmbedder(modality='image')",
    ),
    "gray-image-list": (
        lambda: [_image()[..., 0]] * 3,
        ValueError,
        "X holds arrays of shape (20, 24) (images perhaps), not embeddings",
        "CLIPEmbedder(modality='image')",
    ),
}


@pytest.mark.parametrize("method", ["fit", "transform"])
@pytest.mark.parametrize("case", sorted(_NOT_EMBEDDINGS))
def test_images_paths_or_texts_given_for_embeddings_are_named(case, method):
    # They met "could not convert string to float" or "Found array with dim 4".
    make, error, named, embedder = _NOT_EMBEDDINGS[case]
    splice = _splice()
    if method == "transform":
        splice.fit(_X())
    with pytest.raises(error) as info:
        getattr(splice, method)(make())
    message = str(info.value)
    assert message.startswith(named), message
    assert f"Embed the {'texts' if case == 'texts' else 'image'}" in message, message
    assert embedder in message, message
    assert "shape (n_samples, d)" in message


@pytest.mark.parametrize("extra", ["last", "middle", "torch"])
def test_embeddings_with_an_axis_of_size_one_are_told_to_be_reshaped(extra):
    # A (240, 384, 1) float array (a model's output kept whole) was told to be "a batch of
    # images perhaps", with advice to embed images.
    import torch

    X = _X()
    splice = _splice().fit(X)
    given = {
        "last": X[:, :, None],
        "middle": X[:, None, :],
        "torch": torch.from_numpy(np.ascontiguousarray(X[:, :, None])),
    }[extra]
    with pytest.raises(ValueError) as info:
        splice.transform(given)
    message = str(info.value)
    assert message.startswith(
        f"X has shape {tuple(given.shape)}: embeddings with an axis of size 1"
    )
    assert message.endswith("give X.reshape(len(X), -1)") and "images" not in message
    np.testing.assert_array_equal(
        splice.transform(given.reshape(len(given), -1)).toarray(), splice.transform(X).toarray()
    )


@pytest.mark.parametrize("container", ["str", "bytes", "rows"])
def test_numbers_written_as_text_are_refused_as_scikit_learn_refuses_them(container):
    # An array of numeric strings (a table read with dtype=str) was parsed in silence, where
    # scikit-learn's check_array refuses strings and the docs say texts are refused.
    X = _X()
    splice = _splice().fit(X)
    given = {
        "str": X[:4].astype(str),
        "bytes": X[:4].astype(bytes),
        "rows": X[:4].astype(str).tolist(),  # (csv.reader's rows)
    }[container]
    for method in (splice.transform, _splice().fit):
        with pytest.raises(ValueError) as info:  # (as scikit-learn's check_array)
            method(given)
        message = str(info.value)
        assert message.startswith("X holds numbers written as text ("), message
        assert message.endswith("X = np.asarray(X, dtype=np.float32)"), message
    # strings that are not numbers: texts, told as a list of texts is; a label before the
    # numbers of each row: the columns to keep
    with pytest.raises(TypeError, match=r"^X holds strings \('dog' first\), not embeddings"):
        splice.transform(np.full((3, X.shape[1]), "dog"))
    labelled = [["cat", *row] for row in X[:3, 1:].astype(str).tolist()]
    with pytest.raises(ValueError, match=r"^X has rows of text and numbers \('cat' first\)"):
        splice.transform(labelled)


def test_embeddings_in_other_containers_are_not_taken_for_images():
    X = _X()
    splice = _splice().fit([list(row) for row in X])  # a list of lists of numbers
    assert splice.transform(list(X[:3])).shape == (3, N_CONCEPTS)  # a list of 1-D arrays
    # one row: scikit-learn's message printed all its numbers and advised
    # reshape(-1, 1) first; the one reshape that fits embeddings is named
    import torch

    tensor = torch.from_numpy(X[0])  # (its elements are 0-d tensors, not numbers)
    cases = (
        (X[0], f"has shape ({DIM},)"),
        (list(X[0]), f"is {DIM} numbers"),
        (tensor, f"has shape ({DIM},)"),
    )
    for one, shown in cases:
        for method in (splice.transform, splice.top_concepts, _splice().fit):
            with pytest.raises(ValueError) as info:
                method(one)
            message = str(info.value)
            assert message.startswith(f"X {shown}: one embedding perhaps"), message
            assert "np.reshape(X, (1, -1))" in message and "reshape(-1, 1)" not in message


def test_columns_of_a_frame_that_are_not_embedding_dimensions_are_named():
    # A label left in the frame met numpy's "could not convert string to float: 'a'",
    # or, as numbers, a width error that pointed at the model.
    import pandas as pd

    X = _X()
    frame = pd.DataFrame(X, columns=[f"e{i}" for i in range(DIM)])
    labels = ["cat", "dog"] * (len(X) // 2)
    for extra in (labels, pd.Categorical(labels)):
        with pytest.raises(ValueError, match=r"X has columns that are not numbers: 'label' \("):
            _splice().fit(frame.assign(label=extra))
    assert CountingEmbedder.n_texts == 0  # (before the vocabulary is embedded)
    with pytest.raises(ValueError) as info:
        _splice().fit(frame.assign(label=np.arange(len(X)) % 2))
    assert str(info.value).endswith(
        f"(X is a DataFrame of {DIM + 1} columns, 'e0' to 'label': is one of them not an "
        "embedding dimension, a label or an id?)"
    )
    # a frame of numbered columns (pd.DataFrame of an array; scikit-learn then records no
    # names) with an id column is told so too
    numbered = pd.DataFrame(np.column_stack([np.arange(len(X)), X]))
    with pytest.raises(ValueError) as info:
        _splice().fit(numbered)
    assert str(info.value).endswith(
        f"(X is a DataFrame of {DIM + 1} columns, 0 to {DIM}: is one of them not an "
        "embedding dimension, a label or an id?)"
    )
    fitted = _splice().fit(frame)
    assert not hasattr(fitted, "_fit_columns")  # (not kept in the fitted transformer)
    # numbers held as objects, as text or as categories are still numbers, as they were
    for numbers in (object, str, "string", "category", "Float64"):
        assert _splice().fit(frame.astype(numbers)).n_features_in_ == DIM
    # many more columns than the concepts' width: another model's embeddings, no hint
    with pytest.raises(ValueError) as info:
        _splice().fit(pd.DataFrame(np.hstack([X, X]), columns=[f"e{i}" for i in range(2 * DIM)]))
    assert "is one of them not an embedding dimension" not in str(info.value)


def test_columns_of_a_polars_frame_that_are_not_embedding_dimensions_are_named():
    pl = pytest.importorskip("polars")
    X = _X()
    frame = pl.DataFrame({f"e{i}": X[:, i] for i in range(DIM)})
    labelled = frame.with_columns(label=pl.Series(["cat", "dog"] * (len(X) // 2)))
    with pytest.raises(ValueError, match=r"not numbers: 'label' \(String\).*X\.drop\(\[\.\.\.\]\)"):
        _splice().fit(labelled)
    assert CountingEmbedder.n_texts == 0
    assert _splice().fit(frame).n_features_in_ == DIM


# ------------------------------------------------ NaN rows of on_error="skip"


def test_rows_that_are_nan_throughout_are_told_as_skipped_inputs():
    X = _unit(_X())
    splice = _splice().fit(X)
    bad = X.copy()
    bad[[3, 7]] = np.nan  # what CLIPEmbedder(on_error="skip") gives for unread inputs
    for call in (splice.transform, _splice().fit):
        with pytest.raises(ValueError) as info:
            call(bad)
        message = str(info.value)
        assert message.startswith("X holds NaN or infinite values in 2 row(s): 3, 7: ")
        assert "CLIPEmbedder(on_error='skip') gives for inputs it could not read" in message
        assert "keep = ~np.isnan(X).any(axis=1); X, y = X[keep], y[keep]" in message
        # the advice works
        keep = ~np.isnan(bad).any(axis=1)
        assert call(bad[keep]) is not None


def test_rows_with_some_non_finite_values_are_not_taken_for_skipped_inputs():
    X = _unit(_X())
    splice = _splice().fit(X)
    for value in (np.nan, np.inf):
        bad = X.copy()
        bad[[3, 7]] = np.nan
        bad[9, 0] = value  # one entry: not a skipped input
        with pytest.raises(ValueError) as info:
            splice.transform(bad)
        message = str(info.value)
        assert re.fullmatch(r"X holds NaN or infinite values in 3 row\(s\): 3, 7, 9", message)


# ------------------------------------------------------------ memory layout


def _wide_splice(dim=96, n_concepts=60):
    return SpliceTransformer(
        embedder=CountingEmbedder(dim=dim),
        vocabulary=random_vocabulary(n_concepts),
        l1_penalty=0.05,
        output="dense",
        device="cpu",
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_weights_of_a_row_do_not_depend_on_the_layout_of_x(dtype):
    # A Fortran-ordered array, a DataFrame (whose columns numpy reads strided) and a
    # strided slice hold the same rows as the C-ordered array: the same bits come out,
    # from fit (the learned centre) and from transform.
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    X = (rng.normal(size=(150, 96)) + 2.0).astype(dtype)
    splice = _wide_splice().fit(X)
    expected = splice.transform(X)
    assert np.count_nonzero(expected) > X.shape[0]
    wide = np.repeat(X, 2, axis=1)
    for given in (np.asfortranarray(X), pd.DataFrame(X), wide[:, ::2], wide[:, 1::2]):
        got = splice.transform(given)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
        refit = _wide_splice().fit(given)
        np.testing.assert_array_equal(refit.mean_, splice.mean_)
        np.testing.assert_array_equal(refit.transform(X), expected)


def test_a_list_of_float32_rows_is_solved_as_the_float32_array():
    # [model.encode(t) for t in texts]: a list has no dtype, and scikit-learn made it
    # float64 (float64 weights, twice the memory), where the stacked array stays float32
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    X = (rng.normal(size=(40, 96)) + 2.0).astype(np.float32)
    splice = _wide_splice().fit(X)
    expected = splice.transform(X)
    assert expected.dtype == np.float32
    for given in (list(X), tuple(X), [torch.from_numpy(row) for row in X]):
        got = splice.transform(given)
        assert got.dtype == np.float32, type(given[0])
        np.testing.assert_array_equal(got, expected)
    # Python floats are float64, as scikit-learn reads them; so is a list with a float64 row
    assert splice.transform(X.tolist()).dtype == np.float64
    assert splice.transform([*X[:-1], X[-1].astype(np.float64)]).dtype == np.float64


def test_a_float16_frame_is_solved_as_the_float16_array():
    # The weights are float32 for float16 rows, in an array or in a DataFrame.
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(4)
    X = (rng.normal(size=(120, 96)) + 2.0).astype(np.float16)
    splice = _wide_splice().fit(X.astype(np.float32))
    expected = splice.transform(X)
    assert expected.dtype == np.float32
    got = splice.transform(pd.DataFrame(X))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_files_of_embeddings_given_as_x_are_told_how_to_read_them():
    # fit("img_emb_0.npy") was told to embed the texts first with CLIPEmbedder
    splice = SpliceTransformer(vocabulary=random_vocabulary(5), concept_embeddings=np.eye(5, DIM))
    for X, said in (
        ("emb/img_emb_0.npy", "read it first, X = np.load('emb/img_emb_0.npy') (mmap_mode='r'"),
        (
            ["img_emb_0.npy", "img_emb_1.npy"],
            "read them first, X = np.concatenate([np.load(path) for path in paths])",
        ),
        (["img_emb_0.npy", "a.jpg"], "read them first, each with np.load(path)"),
        ("X.pt", "read it first, with torch.load(path)"),
        ("meta.parquet", "read it first, with pandas.read_parquet(path) (a column of vectors: "),
    ):
        with pytest.raises(TypeError) as info:
            splice.fit(X)
        message = str(info.value)
        assert "not embeddings: SpliceTransformer decomposes embeddings" in message, message
        assert said in message and "CLIPEmbedder" not in message, message


def test_texts_given_to_a_transformer_of_a_sentence_model_are_told_its_own_embedder():
    # CLIPEmbedder(modality='text'), the advice for a transformer without an embedder,
    # gives embeddings of another model than the concepts'
    class SentenceModel:
        def embed_text(self, texts):
            return np.ones((len(texts), DIM))

    splice = SpliceTransformer(embedder=SentenceModel(), vocabulary=random_vocabulary(5))
    with pytest.raises(TypeError) as info:
        splice.fit(["a dog", "a cat"])
    message = str(info.value)
    assert message.startswith("X holds strings ('a dog' first), not embeddings"), message
    assert "the model of the concepts (its SentenceModel), and decompose them with " in message
    assert "X = splice.embedder.embed_text(texts)" in message
    assert "CLIPEmbedder" not in message
    # a CLIPEmbedder of its own, or none: CLIPEmbedder(modality='text') is the advice
    from sksplice import CLIPEmbedder

    for embedder in (CLIPEmbedder(), None):
        splice = SpliceTransformer(
            embedder=embedder,
            vocabulary=random_vocabulary(5),
            concept_embeddings=None if embedder else np.eye(5, DIM),
        )
        with pytest.raises(TypeError, match=r"CLIPEmbedder\(modality='text'\) and decompose"):
            splice.fit(["a dog", "a cat"])


def test_torch_tensors_are_solved_as_the_arrays_they_hold():
    # model.encode_image(...) output: a float32 tensor gave float64 weights (twice the
    # memory of the float32 array's), bfloat16 and tensors that require grad raw errors
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    X = (rng.normal(size=(120, 96)) + 2.0).astype(np.float32)
    splice = _wide_splice().fit(X)
    expected = splice.transform(X)
    assert expected.dtype == np.float32
    for given in (torch.from_numpy(X), torch.from_numpy(X).requires_grad_()):
        got = splice.transform(given)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(_wide_splice().fit(given).mean_, splice.mean_)
    halves = torch.from_numpy(X).to(torch.bfloat16)
    got = splice.transform(halves)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, splice.transform(halves.to(torch.float32).numpy()))
    half = torch.from_numpy(X.astype(np.float16))
    np.testing.assert_array_equal(splice.transform(half), splice.transform(half.numpy()))


def test_concept_embeddings_and_other_estimators_take_tensors():
    torch = pytest.importorskip("torch")
    from sksplice.editing import ConceptProjector

    rng = np.random.default_rng(5)
    concepts, E = random_vocabulary(N_CONCEPTS), rng.normal(size=(N_CONCEPTS, DIM))
    X = _X(seed=5).astype(np.float32)
    E16 = torch.from_numpy(E).to(torch.bfloat16)
    given = SpliceTransformer(vocabulary=concepts, concept_embeddings=E16, device="cpu").fit(X)
    as_array = SpliceTransformer(
        vocabulary=concepts, concept_embeddings=E16.to(torch.float32).numpy(), device="cpu"
    ).fit(X)
    np.testing.assert_array_equal(given.dictionary_, as_array.dictionary_)
    projector = ConceptProjector(directions=E[:2]).fit(X)
    out = projector.transform(torch.from_numpy(X).requires_grad_())
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, projector.transform(X))
    directions = torch.from_numpy(E[:2]).requires_grad_()
    np.testing.assert_array_equal(ConceptProjector(directions=directions).fit(X).transform(X), out)
    # weights: the editor keeps a float32 tensor's dtype, as of the array
    from sksplice.editing import ConceptEditor

    W = given.set_params(output="dense").transform(X)
    editor = ConceptEditor(remove=[concepts[0]], splice=given).fit(W)
    edited = editor.transform(torch.from_numpy(W))
    assert edited.dtype == np.float32
    np.testing.assert_array_equal(edited, editor.transform(W))
    # a sparse tensor: its values
    sparse = torch.from_numpy(X).to_sparse()
    np.testing.assert_array_equal(given.transform(sparse), given.transform(X))
    # the zero-shot classifier
    from sksplice.zero_shot import ZeroShotClassifier

    clf = ZeroShotClassifier(CountingEmbedder(dim=DIM), classes=concepts[:3]).fit(X)
    np.testing.assert_array_equal(
        clf.predict_proba(torch.from_numpy(X).to(torch.bfloat16)),
        clf.predict_proba(torch.from_numpy(X).to(torch.bfloat16).float().numpy()),
    )


def test_a_list_of_rows_that_is_no_array_of_numbers_is_refused_at_its_row():
    # NumPy's "setting an array element with a sequence. The requested array has an
    # inhomogeneous shape after 1 dimensions", scikit-learn's "Expected 2D array, got
    # scalar array instead: array=nan" of None
    from sksplice import ConceptEditor, ConceptProjector, ZeroShotClassifier

    X = _X()
    rows = X[:3].tolist()
    splice = _splice().fit(X)
    cases = {
        "short": (
            [rows[0], rows[1][:-1], rows[2]],
            rf"^X: row 1 has {DIM - 1} values where row 0 "
            rf"has {DIM}: every row holds the same number of values",
        ),
        "long": ([rows[0], rows[1], [*rows[2], 1.0]], rf"^X: row 2 has {DIM + 1} values where"),
        "none": ([rows[0], None, rows[2]], r"^X: row 1 is None, not a row of numbers: leave it "),
        "text": (
            [rows[0], [*rows[1][:3], "n/a", *rows[1][4:]]],
            r"^X: row 1, column 3 holds "
            r"'n/a', not a number$",
        ),
        "missing": (None, r"^X is None: give the rows as an array of shape \(n_samples, "),
    }
    cases["nested"] = (
        [[rows[0][0], rows[0][1:3], *rows[0][3:]], rows[1]],
        r"^X: row 0 holds sequences in its cells, not one number in each$",
    )
    cases["scalar"] = ([rows[0], 3.0], r"^X: row 1 is 3\.0, not a row of numbers$")
    zero_shot = ZeroShotClassifier(CountingEmbedder(dim=DIM), classes=["a", "b"])
    projector = ConceptProjector(directions=np.eye(DIM)[:1])
    for given, pattern in cases.values():
        for method in (splice.transform, _splice().fit, zero_shot.fit, projector.fit):
            with pytest.raises(ValueError, match=pattern):
                method(given)
    # a None among the numbers is NaN to NumPy: another error is said as it is
    narrow = [[*rows[0][:-2], None], rows[1][:-1]]
    with pytest.raises(ValueError, match=rf"^X has {DIM - 1} features, but SpliceTransformer"):
        splice.transform(narrow)
    weights = splice.transform(X[:3]).toarray().tolist()
    editor = ConceptEditor(splice=splice, remove=[]).fit(splice.transform(X))
    with pytest.raises(ValueError, match=r"^X: row 1 has 29 values where row 0 has 30"):
        editor.transform([weights[0], weights[1][:-1]])
