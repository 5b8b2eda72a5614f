"""Tests for sksplice.transformer.SpliceTransformer."""

from __future__ import annotations

import inspect
import pickle
import re
import time
import warnings
from pathlib import Path
from unittest import mock

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import Lasso, LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sksplice.dictionary import build_dictionary, clear_memory_cache
from sksplice.solvers import SparseCodes
from sksplice.solvers import _cache as solver_cache
from sksplice.transformer import SmallMeanSampleWarning, SpliceTransformer

try:  # whether or not tests/ is a package
    from ._helpers_transformer import (
        CountingEmbedder,
        KeylessEmbedder,
        WidthMatchingSplice,
        random_vocabulary,
    )
except ImportError:
    from _helpers_transformer import (
        CountingEmbedder,
        KeylessEmbedder,
        WidthMatchingSplice,
        random_vocabulary,
    )

N_CONCEPTS = 30
DIM = 32  # large enough for the solver to converge on every row


def _unit(X):
    X = np.asarray(X, dtype=np.float64)
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


@pytest.fixture(autouse=True)
def _isolated(isolated_folders):
    CountingEmbedder.reset()


@pytest.fixture
def problem():
    rng = np.random.default_rng(42)
    raw = rng.normal(size=(N_CONCEPTS, DIM))
    X = rng.normal(size=(40, DIM)) + 0.5
    return random_vocabulary(N_CONCEPTS), raw, X


def make(concepts, raw, **kwargs):
    kwargs.setdefault("device", "cpu")
    return SpliceTransformer(vocabulary=concepts, concept_embeddings=raw, **kwargs)


# --------------------------------------------------------------------- fit
def test_fit_learns_dictionary_mean_and_concepts(problem):
    concepts, raw, X = problem
    est = make(concepts, raw, l1_penalty=0.3)
    assert est.fit(X) is est
    D, concept_mean = build_dictionary(raw)
    np.testing.assert_allclose(est.dictionary_, D, atol=1e-6)
    np.testing.assert_allclose(est.concept_mean_, concept_mean, atol=1e-6)
    np.testing.assert_allclose(est.mean_, _unit(X).mean(axis=0), atol=1e-6)
    assert est.concepts_.dtype == object and list(est.concepts_) == concepts
    assert est.l1_penalty_ == 0.3
    assert est.n_features_in_ == DIM
    assert est.dictionary_.dtype == np.float64 and est.mean_.dtype == np.float64


def test_image_mean_array_is_used_as_given(problem):
    concepts, raw, X = problem
    mean = np.linspace(-0.1, 0.1, DIM)
    est = make(concepts, raw, image_mean=mean).fit(X)
    np.testing.assert_allclose(est.mean_, mean, atol=1e-7)
    with pytest.raises(ValueError, match=rf"image_mean has shape \(3,\).*d={DIM}"):
        make(concepts, raw, image_mean=np.zeros(3)).fit(X)
    with pytest.raises(ValueError, match=r"image_mean must be None, 'pretrained'.*'learnt'$"):
        make(concepts, raw, image_mean="learnt").fit(X)
    # the command line's words for a learned centre, or its 'auto', say what None does
    for word in ("data", "learned"):
        with pytest.raises(ValueError, match=rf"got '{word}'; None learns the centre from the X"):
            make(concepts, raw, image_mean=word).fit(X)
    with pytest.raises(ValueError, match=r"got 'data'; None learns the centre from the X"):
        make(concepts, raw, modality="text", text_mean="data").fit(X)
    with pytest.raises(ValueError, match=r"got 'auto'; the command line's 'auto' is 'pretrained'"):
        make(concepts, raw, image_mean="auto").fit(X)
    # a string that names a file, or misspells the option, is answered with the fix
    with pytest.raises(ValueError, match=r"a file is given as pathlib.Path\('means/m.npy'\)"):
        make(concepts, raw, image_mean="means/m.npy").fit(X)
    with pytest.raises(ValueError, match=r"got 'pretrianed'; did you mean 'pretrained'\?"):
        make(concepts, raw, image_mean="pretrianed").fit(X)
    with pytest.raises(ValueError, match=r"got 'concept'; did you mean 'concepts'\?"):
        make(concepts, raw, modality="text", text_mean="concept").fit(X)


class _LaionB32:
    """An embedder named as CLIPEmbedder() names its model (its published image mean)."""

    model = "ViT-B-32"
    pretrained = "laion2b_s34b_b79k"


def _with_published_mean(raw, data_home):
    """A transformer of the concepts ``raw`` (512 wide), centred by the published mean."""
    return SpliceTransformer(
        embedder=_LaionB32(),
        vocabulary=random_vocabulary(len(raw)),
        concept_embeddings=raw,
        image_mean="pretrained",
        data_home=data_home,
        device="cpu",
    )


def test_pretrained_image_mean_is_read_from_the_data_home(splice_data_dir):
    import torch

    rng = np.random.default_rng(0)
    raw = rng.normal(size=(12, 512))
    est = _with_published_mean(raw, splice_data_dir).fit(rng.normal(size=(5, 512)))
    expected = torch.load(
        splice_data_dir / "means" / "open_clip_ViT-B-32_image.pt",
        weights_only=True,
        map_location="cpu",
    ).numpy()
    np.testing.assert_allclose(est.mean_, expected)
    with pytest.raises(ValueError, match=r"image_mean='pretrained' needs an embedder") as info:
        make(random_vocabulary(12), raw, image_mean="pretrained").fit(rng.normal(size=(5, 512)))
    assert "embedder=None. Pass the published mean" in str(info.value)
    assert "ViT-B-32/laion2b_s34b_b79k" in str(info.value)

    class Sentences:  # a text model of another family, as SentenceTransformerEmbedder
        def embed_text(self, texts):
            return np.ones((len(texts), 512))

    Sentences.model = "sentence-transformers/all-MiniLM-L6-v2"  # (a name, no weights tag)
    with pytest.raises(ValueError, match=r"which names no CLIP model and weights") as info:
        SpliceTransformer(
            embedder=Sentences(),
            vocabulary=random_vocabulary(12),
            concept_embeddings=raw,
            image_mean="pretrained",
        ).fit(rng.normal(size=(5, 512)))
    # (no mean of one named model, which would not fit another's width)
    assert "load_image_mean('ViT-B-32'" not in str(info.value)
    assert "for embeddings of another model, learn the centre from X with image_mean=None" in (
        str(info.value)
    )


# --------------------------------------------------------------- transform
def _reference_codes(est, X, penalty):
    """Per-row scikit-learn Lasso(positive=True), the authors' CPU reference solver."""
    D = est.dictionary_.astype(np.float64)
    V = _unit(_unit(X) - est.mean_)
    d = D.shape[1]
    out = np.zeros((X.shape[0], D.shape[0]))
    for i, v in enumerate(V):
        lasso = Lasso(
            alpha=penalty / (2 * d), positive=True, fit_intercept=False, tol=1e-12, max_iter=100_000
        )
        out[i] = lasso.fit(D.T, v).coef_
    return out


def _objective(est, X, W, penalty):
    V = _unit(_unit(X) - est.mean_)
    R = W @ est.dictionary_.astype(np.float64) - V
    return np.sum(R**2, axis=1) + penalty * np.abs(W).sum(axis=1)


def _cone(centre, n, seed):
    """``n`` unit rows in a narrow cone around ``centre``, as CLIP's embeddings of one
    model lie around their mean (the mean of the unit rows is about ``centre``)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(n, centre.size))
    noise *= np.sqrt(1.0 - centre @ centre) / np.linalg.norm(noise, axis=1, keepdims=True)
    return centre + noise


def _far_centres(d, seed=0):
    """Two centres of norm 0.6 at right angles: the means of two models' embeddings."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, 2)))
    return 0.6 * q[:, 0], 0.6 * q[:, 1]


def test_a_given_image_centre_the_rows_do_not_lie_around_is_said_before_embedding():
    # Embeddings of other CLIP weights (OpenAI's ViT-B-32 for the LAION one's mean, the
    # default) decomposed silently into concepts that explain their offset.
    from sksplice.exceptions import CentreMismatchWarning

    concepts = random_vocabulary(N_CONCEPTS)
    raw = np.random.default_rng(1).normal(size=(N_CONCEPTS, DIM))
    ours, theirs = _far_centres(DIM)
    X = _cone(theirs, 40, seed=2)

    class Counting:  # (when the warning comes: before the concepts are embedded)
        def __init__(self):
            self.seen_at_first_call = None

        def embed_text(self, texts):
            if self.seen_at_first_call is None:
                self.seen_at_first_call = len(caught)
            return raw[[concepts.index(t) for t in texts]]

    embedder = Counting()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = SpliceTransformer(
            embedder=embedder, vocabulary=concepts, image_mean=ours, device="cpu"
        ).fit(X)
    said = [w.message for w in caught if w.category is CentreMismatchWarning]
    assert len(said) == 1, [str(w.message) for w in caught]
    assert embedder.seen_at_first_call == 1 and caught[0].category is CentreMismatchWarning
    assert said[0].n_samples == 40 and abs(said[0].cosine) < 0.3
    text = str(said[0])
    assert text.startswith("the rows of X do not lie around the image_mean given: the mean ")
    assert f"direction of 40 of them has cosine {said[0].cosine:.2f} with it (below 0.3)" in text
    assert "or learn the centre from X with image_mean=None" in text
    assert caught[0].filename == __file__  # (the user's line)
    np.testing.assert_allclose(est.mean_, ours)  # (a warning: the centre is as given)
    # no warning: the centre the rows lie around, a centre learned from them, fewer than
    # 10 rows (a handful of one subject), text embeddings with a text centre
    for kwargs, rows in (
        ({"image_mean": theirs}, X),
        ({"image_mean": None}, X),
        ({"image_mean": ours}, X[:9]),
        ({"modality": "text", "text_mean": ours}, X),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("error", CentreMismatchWarning)
            make(concepts, raw, **kwargs).fit(rows)
    # a centre whose sign was flipped is told so, not taken for other weights
    with pytest.warns(
        CentreMismatchWarning, match=r"cosine -(0\.9\d|1\.00) .* a mean whose sign was"
    ):
        make(concepts, raw, image_mean=-theirs).fit(X)
    # float16 rows (a clip-retrieval .npy), all-zero rows left out of the count
    X16 = np.vstack([X, np.zeros((5, DIM))]).astype(np.float16)
    with pytest.warns(CentreMismatchWarning, match=r"direction of 40 of them"):
        make(concepts, raw, image_mean=ours).fit(X16)
    # said once in a search, whatever the cosine and rows of each fold (4 fits)
    y = np.arange(40) % 2
    pipe = make_pipeline(make(concepts, raw, image_mean=ours), LogisticRegression())
    search = GridSearchCV(pipe, {"splicetransformer__l1_penalty": [0.2, 0.3]}, cv=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        search.fit(X, y)
    said = [w for w in caught if w.category is CentreMismatchWarning]
    assert len(said) == 1, [str(w.message) for w in said]


def test_a_mismatched_centre_names_the_published_mean_that_fits(splice_data_dir):
    from sksplice.exceptions import CentreMismatchWarning
    from sksplice.vocabulary import load_image_mean

    openai = np.asarray(load_image_mean("ViT-B-32", "openai", data_home=splice_data_dir))
    X = _cone(openai.astype(np.float64), 300, seed=3)  # (as OpenAI's ViT-B-32 embeds)
    est = _with_published_mean(np.random.default_rng(0).normal(size=(12, 512)), splice_data_dir)
    with pytest.warns(CentreMismatchWarning) as said:
        est.fit(X)
    text = str(said[0].message)
    assert text.startswith(
        "the rows of X do not lie around the published image mean of "
        "'ViT-B-32'/'laion2b_s34b_b79k': the mean direction of 300 of them has cosine 0.0"
    ), text
    fits = r"\(X fits the published image mean of 'ViT-B-32'/'openai': cosine (0\.9\d|1\.00)\)"
    assert re.search(fits, text), text
    # the rows of the default model's own cone: nothing said
    X = _cone(est.mean_, 300, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CentreMismatchWarning)
        est.fit(X)


def test_transform_solves_the_splice_problem(problem):
    concepts, raw, X = problem
    est = make(concepts, raw, l1_penalty=0.2).fit(X)
    W = est.transform(X[:8])
    assert scipy.sparse.issparse(W) and W.format == "csr"
    assert W.shape == (8, N_CONCEPTS)
    W = W.toarray()
    assert (W >= 0).all()
    ref = _reference_codes(est, X[:8], 0.2)
    np.testing.assert_allclose(
        _objective(est, X[:8], W, 0.2), _objective(est, X[:8], ref, 0.2), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(W, ref, atol=2e-3)
    # sparse: far fewer non-zeros than concepts
    assert 0 < est.l0(W) < N_CONCEPTS / 2


def test_output_dense_and_dtypes(problem):
    concepts, raw, X = problem
    sparse_est = make(concepts, raw).fit(X)
    dense_est = make(concepts, raw, output="dense").fit(X)
    Wd = dense_est.transform(X)
    assert isinstance(Wd, np.ndarray) and Wd.dtype == np.float64
    np.testing.assert_allclose(Wd, sparse_est.transform(X).toarray(), atol=1e-6)
    assert sparse_est.transform(X.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match="output must be 'sparse' or 'dense'"):
        make(concepts, raw, output="csr").fit(X)


def test_recovers_a_known_sparse_combination():
    rng = np.random.default_rng(3)
    concepts = random_vocabulary(50)
    raw = rng.normal(size=(50, 32))
    est = make(concepts, raw, l1_penalty=0.02, image_mean=np.zeros(32))
    D, _ = build_dictionary(raw)
    x = _unit(0.7 * D[3] + 0.3 * D[17])[None, :]
    est.fit(np.vstack([x, rng.normal(size=(4, 32))]))
    top = est.top_concepts(x, k=5)[0]
    assert [c for c, _ in top[:2]] == ["concept003", "concept017"]
    assert top[0][1] > top[1][1] > 0
    assert est.l0(x) <= 5
    assert est.cosine_similarity(x)[0] > 0.99


def test_set_output_pandas_columns_are_the_concepts(problem):
    concepts, raw, X = problem
    frame_in = pd.DataFrame(X, index=[f"s{i}" for i in range(len(X))])
    est = make(concepts, raw).set_output(transform="pandas").fit(X)
    out = est.transform(frame_in)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == concepts
    assert list(out.index) == list(frame_in.index)
    assert all(isinstance(t, pd.SparseDtype) for t in out.dtypes)
    np.testing.assert_allclose(
        out.sparse.to_dense().to_numpy(),
        est.transform(X).toarray()
        if not isinstance(est.transform(X), pd.DataFrame)
        else est.transform(X).sparse.to_dense().to_numpy(),
    )
    # fit_transform goes through the same path
    assert list(est.fit_transform(X).columns) == concepts
    # Dense output: an ordinary DataFrame with the same values.
    dense = make(concepts, raw, output="dense").set_output(transform="pandas").fit(X)
    out_dense = dense.transform(frame_in)
    assert list(out_dense.columns) == concepts and out_dense.dtypes.iloc[0] == np.float64
    np.testing.assert_allclose(out_dense.to_numpy(), out.sparse.to_dense().to_numpy(), atol=1e-6)
    # transform_with_stats returns the container transform returns (scikit-learn wraps
    # only transform and fit_transform)
    for fitted, expected in ((est, out), (dense, out_dense)):
        with_stats, _ = fitted.transform_with_stats(frame_in)
        assert type(with_stats) is pd.DataFrame and list(with_stats.columns) == concepts
        assert list(with_stats.index) == list(frame_in.index)
        assert list(with_stats.dtypes) == list(expected.dtypes)
    # The DataFrame goes back through inverse_transform and the helpers.
    np.testing.assert_allclose(
        est.inverse_transform(out), dense.inverse_transform(out_dense), atol=1e-6
    )
    assert est.l0(out) == pytest.approx(dense.l0(out_dense.to_numpy()))
    with pytest.raises(ValueError, match="polars output of sparse weights"):
        make(concepts, raw).fit(X).set_output(transform="polars").transform(X)


def test_an_output_container_without_sparse_support_is_refused_before_any_work(
    problem, monkeypatch
):
    concepts, raw, X = problem
    fitted = make(concepts, raw).fit(X).set_output(transform="polars")

    def solve(*args, **kwargs):
        raise AssertionError("solved before the output container was checked")

    monkeypatch.setattr(SpliceTransformer, "_weights_and_stats", solve)
    for method in (fitted.transform, fitted.transform_with_stats):
        with pytest.raises(ValueError, match="polars output of sparse weights"):
            method(X)
    # fit too refuses it first (the concepts are embedded and the dictionary built in fit)
    monkeypatch.setattr(SpliceTransformer, "_resolve_concepts", solve)
    unfitted = make(concepts, raw).set_output(transform="polars")
    with pytest.raises(ValueError, match="polars output of sparse weights"):
        unfitted.fit(X)
    make(concepts, raw, output="dense").set_output(transform="polars")._check_params()


def test_get_feature_names_out(problem):
    concepts, raw, X = problem
    est = make(concepts, raw).fit(X)
    names = est.get_feature_names_out()
    assert isinstance(names, np.ndarray) and names.dtype == object
    assert list(names) == concepts
    names[0] = "changed"
    assert est.concepts_[0] == concepts[0]
    with pytest.raises(ValueError, match=f"length {DIM}"):
        est.get_feature_names_out(["a", "b"])


# ------------------------------------------------------------ recomposition
def test_inverse_transform_formula_and_zero_rows(problem):
    concepts, raw, X = problem
    est = make(concepts, raw).fit(X)
    W = est.transform(X)
    R = est.inverse_transform(W)
    E = W.toarray() @ est.dictionary_.astype(np.float64)
    expected = _unit(_unit(E) + est.mean_)
    np.testing.assert_allclose(R, expected, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(R, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(est.inverse_transform(W.toarray()), R, atol=1e-6)

    zeros = est.inverse_transform(scipy.sparse.csr_matrix((2, N_CONCEPTS)))
    np.testing.assert_allclose(zeros, np.tile(_unit(est.mean_), (2, 1)), atol=1e-6)
    assert np.isfinite(est.inverse_transform(np.zeros((1, N_CONCEPTS)))).all()

    frame = pd.DataFrame(W.toarray(), columns=concepts)
    shuffled = frame[concepts[::-1]]
    np.testing.assert_allclose(est.inverse_transform(shuffled), R, atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        est.inverse_transform(np.zeros((2, N_CONCEPTS + 1)))
    with pytest.raises(ValueError, match="unknown columns"):
        est.inverse_transform(frame.rename(columns={concepts[0]: "nope"}))
    # only what is wrong is named ("unknown columns [], missing concepts ['sit']")
    with pytest.raises(ValueError, match=rf"\(\); missing concepts \['{concepts[-1]}'\]$"):
        est.inverse_transform(frame[concepts[:-1]])
    with pytest.raises(ValueError, match=rf"\(\); repeated columns \['{concepts[0]}'\];"):
        est.inverse_transform(frame[[concepts[0], *concepts]])
    with pytest.raises(ValueError, match="NaN"):
        est.inverse_transform(np.full((1, N_CONCEPTS), np.nan))


@pytest.mark.parametrize("form", ["dense", "csr", "frame"])
def test_inverse_transform_refuses_negative_weights_naming_their_rows(problem, form):
    """A negative weight recomposes the opposite of its concept: no weights transform
    gives, so they are refused (rows named, by label for a DataFrame), as the analysis
    functions refuse them."""
    concepts, raw, X = problem
    est = make(concepts, raw).fit(X)
    W = est.transform(X).toarray()[:6]
    W[[1, 4], [0, 3]] = -0.2
    if form == "csr":
        W = scipy.sparse.csr_matrix(W)
    elif form == "frame":
        W = pd.DataFrame(W, columns=concepts, index=[f"img{i}" for i in range(6)])
    shown = "'img1' (row 1), 'img4' (row 4)" if form == "frame" else "1, 4"
    with pytest.raises(ValueError) as info:
        est.inverse_transform(W)
    message = str(info.value)
    assert message.startswith("Negative values in data: weights must be non-negative")
    assert f"2 row(s) hold negative values: {shown}." in message
    assert "StandardScaler" in message and "set its column to zero" in message
    # (zeros where the negative weights were: recomposed as before)
    fixed = W.copy()
    if form == "frame":
        fixed[fixed < 0] = 0
    elif form == "csr":
        fixed.data[fixed.data < 0] = 0
    else:
        fixed[fixed < 0] = 0
    assert np.isfinite(est.inverse_transform(fixed)).all()


def test_negative_weights_are_found_in_every_block_of_rows(monkeypatch):
    """The dense check runs a block of rows at a time: a negative weight in a later
    block is found, and the rows are numbered in the whole array."""
    from sksplice import _validation

    monkeypatch.setattr(_validation, "_FINITE_CHECK_ITEMS", 8)
    W = np.zeros((10, 4))
    W[7, 2] = -1.0
    with pytest.raises(ValueError, match=r"1 row\(s\) hold negative values: 7$"):
        _validation.check_non_negative_rows(W, "weights")
    _validation.check_non_negative_rows(np.abs(W), "weights")


def _traced_peak(call):
    import tracemalloc

    call()  # warm-up: first-call allocations are not the call's own
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("dense", [False, True])
def test_inverse_transform_makes_no_copy_of_the_dictionary(dense):
    """float32 weights are recomposed without a float32 copy of the float64 dictionary_."""
    rng = np.random.default_rng(3)
    n_concepts, dim = 4000, 64
    raw = rng.normal(size=(n_concepts, dim))
    est = make(random_vocabulary(n_concepts), raw, l1_penalty=0.3).fit(rng.normal(size=(5, dim)))
    W = scipy.sparse.random(5, n_concepts, density=0.01, format="csr", random_state=0)
    W = W.astype(np.float32).toarray() if dense else W.astype(np.float32)
    R, peak = _traced_peak(lambda: est.inverse_transform(W))
    assert R.dtype == np.float32
    dense_W = W if dense else W.toarray()
    expected = _unit(_unit(dense_W.astype(np.float64) @ est.dictionary_) + est.mean_)
    np.testing.assert_allclose(R, expected, atol=1e-6)
    # A float32 copy of dictionary_ alone would be dictionary_.nbytes / 2.
    assert peak < est.dictionary_.nbytes / 4, (peak, est.dictionary_.nbytes)


def _float16_problem(tmp_path):
    """A fitted transformer (50 concepts of 256 dimensions) and 20,000 float16 rows,
    memory-mapped from a .npy file."""
    rng = np.random.default_rng(5)
    n_concepts, dim, n_rows = 50, 256, 20_000
    raw = rng.normal(size=(n_concepts, dim))
    est = make(random_vocabulary(n_concepts), raw, l1_penalty=0.3).fit(rng.normal(size=(200, dim)))
    np.save(tmp_path / "X16.npy", rng.normal(size=(n_rows, dim)).astype(np.float16))
    return est, np.load(tmp_path / "X16.npy", mmap_mode="r")


def test_float16_embeddings_are_not_copied_whole(tmp_path):
    """float16 rows (a memory-mapped .npy) are solved a chunk at a time in float32:
    the weights of the float32 rows, and no float64 (or float32) copy of X."""
    est, X16 = _float16_problem(tmp_path)
    n_rows, dim = X16.shape
    W16, peak = _traced_peak(lambda: est.transform(X16))
    W32 = est.transform(np.asarray(X16, dtype=np.float32))
    assert W16.dtype == W32.dtype == np.float32
    assert (W16 != W32).nnz == 0
    # A float32 copy of the whole batch alone would be n_rows * dim * 4 bytes.
    assert peak < n_rows * dim * 4, (peak, W16.nnz)


def test_cosine_of_float16_embeddings_is_that_of_their_weights(tmp_path):
    """cosine_similarity and score of float16 rows compare them with the recomposition
    of the weights transform gives them (solved in float32), as for the float32 rows,
    without a float64 copy of X."""
    from sksplice._array import unit_rows

    est, X16 = _float16_problem(tmp_path)
    n_rows, dim = X16.shape
    X32 = np.asarray(X16, dtype=np.float32)
    expected = np.sum(unit_rows(X32) * est.inverse_transform(est.transform(X16)), axis=1)
    cosines, peak = _traced_peak(lambda: est.cosine_similarity(X16))
    assert cosines.dtype == np.float32
    np.testing.assert_array_equal(cosines, expected)
    np.testing.assert_array_equal(cosines, est.cosine_similarity(X32))
    assert est.score(X16) == est.score(X32)
    # A float64 copy of the whole batch alone would be n_rows * dim * 8 bytes.
    assert peak < n_rows * dim * 4, peak


@pytest.mark.parametrize("method", ["transform", "transform_with_stats"])
def test_dense_output_too_large_for_memory_is_refused_before_the_solve(monkeypatch, method):
    from sksplice import _weights

    rng = np.random.default_rng(6)
    n_concepts, dim = 40, 16
    est = make(random_vocabulary(n_concepts), rng.normal(size=(n_concepts, dim)), output="dense")
    est.fit(rng.normal(size=(200, dim)))
    X = rng.normal(size=(1_000, dim)).astype(np.float32)
    # 1,000 x 40 float32 weights take 160,000 bytes: leave room for 100,000
    monkeypatch.setattr(_weights, "available_memory", lambda: 100_000, raising=False)

    def no_solve(*args, **kwargs):
        raise AssertionError("solved before the size of the dense weights was checked")

    monkeypatch.setattr(SpliceTransformer, "_solve", no_solve)
    with pytest.raises(MemoryError, match=r"1,000 rows x 40 concepts .*output='sparse'"):
        getattr(est, method)(X)
    monkeypatch.undo()
    # what fits is solved as before
    monkeypatch.setattr(_weights, "available_memory", lambda: 200_000)
    result = getattr(est, method)(X[:600])
    W = result[0] if isinstance(result, tuple) else result
    assert isinstance(W, np.ndarray) and W.shape == (600, n_concepts)


def test_target_l0_calibration_makes_no_copy_of_the_dictionary():
    from types import SimpleNamespace

    from sksplice._calibration import calibrate_penalty

    rng = np.random.default_rng(4)
    dictionary = _unit(rng.normal(size=(4000, 64)))
    X = _unit(rng.normal(size=(8, 64))).astype(np.float32)

    def solve(V, penalty, warm_start=None):
        return SimpleNamespace(l0=lambda: np.full(V.shape[0], 5.0))

    def calibrate():
        return calibrate_penalty(
            X,
            dictionary=dictionary,
            target_l0=5,
            l1_penalty=0.1,
            calibration_samples=100,
            random_state=0,
            center=lambda X: X,
            solve=solve,
            verbose=False,
            logger=None,
        )

    (penalty, l0), peak = _traced_peak(calibrate)
    assert penalty == pytest.approx(0.1) and l0 == 5.0
    # A float32 copy of the dictionary alone would be dictionary.nbytes / 2.
    assert peak < dictionary.nbytes / 4, (peak, dictionary.nbytes)


def test_score_and_cosine_similarity(problem):
    concepts, raw, X = problem
    est = make(concepts, raw, l1_penalty=0.25).fit(X)
    cos = est.cosine_similarity(X)
    R = est.inverse_transform(est.transform(X))
    np.testing.assert_allclose(cos, np.sum(_unit(X) * R, axis=1), atol=1e-6)
    assert est.score(X) == pytest.approx(cos.mean())
    # A smaller penalty keeps more concepts and recomposes better.
    loose = make(concepts, raw, l1_penalty=0.02).fit(X)
    assert loose.l0(X) > est.l0(X)
    assert loose.score(X) > est.score(X)


def test_cosine_similarity_of_the_weights_a_transform_returned(problem, monkeypatch):
    # cosine_similarity(X) decomposed X again (as long as the transform) for what the
    # weights in hand give.
    concepts, raw, X = problem
    X16 = X.astype(np.float16)
    for output, frame in (("sparse", False), ("dense", False), ("sparse", True)):
        est = make(concepts, raw, l1_penalty=0.25, output=output)
        est = (est.set_output(transform="pandas") if frame else est).fit(X)
        for rows in (X, X16):
            W = est.transform(rows)
            expected = est.cosine_similarity(rows)
            with monkeypatch.context() as patched:  # (nothing decomposed)
                patched.setattr(type(est), "_weights", lambda *a, **k: pytest.fail("solved"))
                got = est.cosine_similarity(rows, weights=W)
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got, expected)
    est = make(concepts, raw, l1_penalty=0.25).fit(X)
    W = est.transform(X)
    with pytest.raises(ValueError, match=r"weights has 39 rows for the 40 rows of X: give the"):
        est.cosine_similarity(X, weights=W[1:])
    with pytest.raises(ValueError, match=r"takes weights or baseline=True, not both"):
        est.cosine_similarity(X, weights=W, baseline=True)
    with pytest.raises(ValueError, match=r"weights"):  # (embeddings given as weights)
        est.cosine_similarity(X, weights=X)
    # frames of rows labelled otherwise (reordered): refused, not cosines of other rows
    est.set_output(transform="pandas")
    frame = pd.DataFrame(X, index=[f"img{i}" for i in range(40)])
    W = est.transform(frame)
    np.testing.assert_array_equal(
        est.cosine_similarity(frame, weights=W), est.cosine_similarity(frame)
    )
    with pytest.raises(ValueError, match=r"labelled otherwise than the rows of X .*X.index\]"):
        est.cosine_similarity(frame, weights=W.iloc[::-1])


def test_cosines_of_weights_solved_for_other_rows_are_warned_about(problem):
    # Any weights of as many rows were taken: W[::-1] gave a mean cosine of 0.10 for
    # 0.999, without a word (the docs' retrieval recipe indexes cosines by sample).
    concepts, raw, X = problem
    said = (
        r"these weights were solved by transform for other embeddings than the rows of X at "
        r"their places: {} of the {} rows that could be checked, row {} first"
    )
    for output in ("sparse", "dense"):
        est = make(concepts, raw, l1_penalty=0.25, output=output).fit(X)
        W = est.transform(X)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # (the weights of X, in its order: nothing said)
            right = est.cosine_similarity(X, weights=W)
            # (and of its rows taken alike, float32 or float16 embeddings, rescaled ones,
            # a copy of the weights)
            est.cosine_similarity(X[5:9].astype(np.float32), weights=W[5:9].copy())
            est.cosine_similarity(X.astype(np.float16), weights=W)
            est.cosine_similarity(2.5 * X, weights=W)
            # weights changed since (halved) are not checked
            edited = (W.toarray() if scipy.sparse.issparse(W) else W.copy()) * 0.5
            est.cosine_similarity(X, weights=edited)
        n = int(np.count_nonzero(np.asarray(abs(W).sum(axis=1)).ravel()))
        with pytest.warns(UserWarning, match=said.format(n, n, 0)):
            flipped = est.cosine_similarity(X, weights=W[::-1])
        assert flipped.mean() < right.mean()
        with pytest.warns(UserWarning, match=said.format(2, 2, 0)):
            est.cosine_similarity(X[:2], weights=W[[1, 0]])
    # weights of unknown origin (made elsewhere) are not checked
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.cosine_similarity(X, weights=np.abs(np.random.default_rng(0).normal(size=W.shape)))


def test_the_baseline_cosine_is_that_of_a_recomposition_from_no_concept(problem):
    """``cosine_similarity(X, baseline=True)``: each embedding's cosine with the centre
    alone, what the recomposition of a sample without concepts scores (and what its
    ordinary cosine is, where the penalty leaves it none)."""
    concepts, raw, X = problem
    est = make(concepts, raw, l1_penalty=0.25).fit(X)
    base = est.cosine_similarity(X, baseline=True)
    nothing = scipy.sparse.csr_matrix((X.shape[0], len(concepts)))
    R0 = est.inverse_transform(nothing)
    np.testing.assert_allclose(base, np.sum(_unit(X) * R0, axis=1), atol=1e-12)
    np.testing.assert_allclose(base, _unit(X) @ (est.mean_ / np.linalg.norm(est.mean_)))
    assert base.dtype == np.float64
    for dtype in (np.float32, np.float16):
        b = est.cosine_similarity(X.astype(dtype), baseline=True)
        assert b.dtype == np.float32
        np.testing.assert_allclose(b, base, atol=2e-3 if dtype == np.float16 else 1e-6)
    # where no concept is left, the cosine is the baseline, to the bit, whichever rows
    # are computed together
    empty = make(concepts, raw, l1_penalty=1.99).fit(X)
    assert empty.l0(X) == 0
    for dtype in (np.float64, np.float32, np.float16):
        Xd = X.astype(dtype)
        whole = empty.cosine_similarity(Xd, baseline=True)
        assert np.array_equal(empty.cosine_similarity(Xd), whole)
        alone = [empty.cosine_similarity(Xd[i : i + 1], baseline=True)[0] for i in range(9)]
        assert np.array_equal(alone, whole[:9])
    with pytest.raises(TypeError, match="baseline must be a bool, got 'yes'"):
        est.cosine_similarity(X, baseline="yes")
    # a centre given since the fit moves nothing until fit runs again: said
    est.set_params(image_mean=np.ones(X.shape[1]))
    with pytest.warns(UserWarning, match="image_mean"):
        est.cosine_similarity(X, baseline=True)


def test_top_concepts_give_float32_weights_as_their_shortest_decimals(problem):
    # A float32 weight of 0.3 was listed as 0.30000001192092896 (a Python float of the
    # float32), in the lists and the frame alike.
    concepts, raw, _ = problem
    est = make(concepts, raw).fit(raw[:4])
    W = np.zeros((3, len(concepts)), dtype=np.float32)
    W[0, :3] = [0.3, 0.1, 0.7]
    W[1, 2] = 1e-7
    W[2, 4] = np.float32(2) / np.float32(3)
    lists = est.top_concepts(scipy.sparse.csr_matrix(W), k=3)
    assert [w for _, w in lists[0]] == [0.7, 0.3, 0.1]
    assert repr(lists[1][0][1]) == "1e-07" and repr(lists[2][0][1]) == "0.6666667"
    frame = est.top_concepts(W, k=3, kind="weights", as_frame=True)
    assert frame["weight"].tolist() == [0.7, 0.3, 0.1, 1e-07, 0.6666667]
    assert frame["weight"].dtype == np.float64
    # each reads back as the float32 weight
    assert np.array_equal(frame["weight"].to_numpy(np.float32), W[W != 0][[2, 0, 1, 3, 4]])
    # float64 weights are given as they are
    exact = est.top_concepts(W.astype(np.float64), k=1, kind="weights")
    assert exact[0][0][1] == float(np.float32(0.7)) != 0.7


def test_shortest_floats_match_numpy_s_shortest_repr():
    from sksplice._array import shortest_floats

    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            rng.random(2000),
            10 ** rng.uniform(-44, 38, 2000),
            np.round(rng.random(500), 3),
            [0.0, -0.3, 1.0, 1e-45, 3.4e38, np.inf, -np.inf],
        ]
    ).astype(np.float32)
    shortest = shortest_floats(values)
    expected = np.array([float(str(v)) for v in values])
    np.testing.assert_array_equal(shortest, expected)
    assert np.array_equal(shortest.astype(np.float32), values)
    assert np.isnan(shortest_floats(np.array([np.nan], dtype=np.float32))).all()


def test_top_concepts_and_l0_helpers(problem):
    concepts, raw, X = problem
    est = make(concepts, raw, l1_penalty=0.1).fit(X)
    W = est.transform(X).toarray()
    lists = est.top_concepts(X, k=3)
    assert len(lists) == len(X)
    for row, pairs in zip(W, lists):
        order = np.argsort(-row)[: min(3, np.count_nonzero(row))]
        assert [c for c, _ in pairs] == [concepts[j] for j in order]
        np.testing.assert_allclose([w for _, w in pairs], row[order], rtol=1e-6)
    assert est.top_concepts(W, k=3) == est.top_concepts(scipy.sparse.csr_matrix(W), k=3)
    frame = est.top_concepts(X, k=3, as_frame=True)
    assert list(frame.columns) == ["sample", "rank", "concept", "weight"]
    assert len(frame) == sum(len(p) for p in lists)
    assert set(frame["sample"]) <= set(range(len(X)))
    # a DataFrame's rows are named by its index (here, weights in a frame of its own)
    named = pd.DataFrame(W, columns=concepts, index=[f"img{i}" for i in range(len(W))])
    by_name = est.top_concepts(named.iloc[::-1], k=3, as_frame=True)
    first = by_name.drop_duplicates("sample")["sample"].tolist()
    assert first == [f"img{i}" for i in reversed(range(len(W))) if np.count_nonzero(W[i])]
    again = by_name[by_name["sample"] == "img0"]["concept"].tolist()
    assert again == [c for c, _ in lists[0]]
    counts = est.l0(X, per_sample=True)
    np.testing.assert_array_equal(counts, np.count_nonzero(W, axis=1))
    assert est.l0(W) == pytest.approx(counts.mean())
    with pytest.raises(ValueError, match="k must be a positive integer"):
        est.top_concepts(X, k=0)
    with pytest.raises(ValueError, match="expected embeddings"):
        est.l0(np.zeros((2, 5)))


def test_helpers_tell_embeddings_from_weights_of_the_same_width_by_their_signs():
    # with as many concepts as dimensions, top_concepts and l0 refused every X, though
    # weights are never negative: an array without a negative value is still asked about
    rng = np.random.default_rng(0)
    est = make(random_vocabulary(DIM), rng.normal(size=(DIM, DIM))).fit(rng.normal(size=(9, DIM)))
    Z = rng.normal(size=(5, DIM))
    W = est.transform(Z)
    assert W.nnz > 0, "no concept: the test shows nothing"
    assert (
        est.l0(Z)
        == est.l0(Z, kind="embeddings")
        == pytest.approx(np.count_nonzero(W.toarray(), axis=1).mean())
    )
    assert est.top_concepts(Z, k=3) == est.top_concepts(W, k=3)
    with pytest.raises(ValueError, match=r"X holds no negative value \(weights never do\); pass"):
        est.top_concepts(W.toarray(), k=3)
    assert est.top_concepts(W.toarray(), k=3, kind="weights") == est.top_concepts(W, k=3)


# ---------------------------------------------------------------- target_l0
def test_target_l0_calibrates_the_penalty():
    rng = np.random.default_rng(5)
    concepts = random_vocabulary(120)
    raw = rng.normal(size=(120, 32))
    X = rng.normal(size=(60, 32))
    for target in (2.0, 6.0):
        est = make(concepts, raw, target_l0=target).fit(X)
        reached = est.l0(X)
        assert abs(reached - target) <= 0.1 * target
        assert est.calibration_l0_ == pytest.approx(reached)
        assert est.l1_penalty_ != est.l1_penalty
    assert make(concepts, raw, target_l0=2.0).fit(X).l1_penalty_ > est.l1_penalty_


def test_target_l0_is_met_by_the_rows_that_can_take_weights():
    # all-zero rows (padding, say) have no weights at any penalty: counted in the mean,
    # they gave the other rows about twice the target
    rng = np.random.default_rng(5)
    concepts, raw, X = random_vocabulary(120), rng.normal(size=(120, 32)), rng.normal(size=(60, 32))
    padded = np.vstack([X, np.zeros((60, 32))])
    with pytest.warns(UserWarning, match="zero"):
        est = make(concepts, raw, target_l0=4.0).fit(padded)
    alone = make(concepts, raw, target_l0=4.0).fit(X)
    assert est.l1_penalty_ == alone.l1_penalty_
    assert abs(est.l0(X) - 4.0) <= 0.4 and est.calibration_l0_ == pytest.approx(est.l0(X))
    # rows zero once centred (along a centre of unit norm) take no weights either
    centre = np.full(32, 1 / np.sqrt(32))
    along = np.vstack([X, np.tile(3 * centre, (60, 1))])
    given = make(concepts, raw, target_l0=4.0, image_mean=centre).fit(along)
    alone = make(concepts, raw, target_l0=4.0, image_mean=centre).fit(X)
    assert given.l1_penalty_ == alone.l1_penalty_
    with pytest.raises(ValueError, match="every row of X is zero, or zero once centred"):
        make(concepts, raw, target_l0=4.0, image_mean=np.full(32, 0.1)).fit(np.zeros((5, 32)))


def test_a_refit_without_target_l0_forgets_the_calibration():
    rng = np.random.default_rng(5)
    concepts, raw, X = random_vocabulary(120), rng.normal(size=(120, 32)), rng.normal(size=(60, 32))
    est = make(concepts, raw, target_l0=4.0).fit(X)
    assert hasattr(est, "calibration_l0_")
    est.set_params(target_l0=None, l1_penalty=0.05).fit(X)
    assert not hasattr(est, "calibration_l0_") and est.l1_penalty_ == 0.05


@pytest.mark.parametrize(("vocabulary", "size"), [(["dog"], None), (["dog", "cat"], 1)])
def test_one_concept_is_refused_before_any_embedding(vocabulary, size):
    # It was refused by the centring, after the concepts (or a vocabulary download and the
    # whole vocabulary) had been embedded.
    est = make(vocabulary, None, embedder=CountingEmbedder(), vocabulary_size=size)
    with pytest.raises(
        ValueError, match=r"vocabulary \['dog'\].* holds one concept; SpLiCE"
    ) as info:
        est.fit(np.ones((5, 16)))
    assert CountingEmbedder.n_calls == 0
    assert ("(vocabulary_size=1 of its 2)" in str(info.value)) == (size == 1)


@pytest.mark.filterwarnings("ignore::sksplice.exceptions.SmallMeanSampleWarning")
def test_two_concepts_are_warned_about_as_opposites():
    # accepted without a word, although centring leaves rows u and -u: at most one
    # concept per row, whatever the embeddings
    rng = np.random.default_rng(0)
    raw, X = rng.normal(size=(2, DIM)), rng.normal(size=(40, DIM))
    with pytest.warns(UserWarning, match=r"holds two concepts: .* exact opposites") as caught:
        est = make(["dog", "cat"], raw).fit(X)
    assert len([w for w in caught if "two concepts" in str(w.message)]) == 1
    np.testing.assert_allclose(est.dictionary_[0], -est.dictionary_[1], atol=1e-12)
    assert (np.count_nonzero(est.transform(X).toarray(), axis=1) <= 1).all()
    with warnings.catch_warnings():  # (rows taken as they are: no centring)
        warnings.simplefilter("error", UserWarning)
        unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
        make(["dog", "cat"], unit, concepts_centered=True, image_mean=np.zeros(DIM)).fit(X)


def test_a_penalty_set_after_fit_is_named_until_the_next_fit(problem):
    # set_params(l1_penalty=...) on a fitted transformer changed nothing, silently: the
    # codes stayed those of the fitted l1_penalty_.

    concepts, raw, X = problem
    est = make(concepts, raw, l1_penalty=0.25).fit(X)
    expected = est.transform(X).toarray()
    est.set_params(l1_penalty=0.1)
    with pytest.warns(
        UserWarning,
        match=r"SpliceTransformer: l1_penalty=0.1 \(fitted with 0.25\) was set after fit; "
        r"it still uses the fitted l1_penalty_=0.25 until fit is called again",
    ):
        W = est.transform(X)
    np.testing.assert_array_equal(W.toarray(), expected)
    with pytest.warns(UserWarning, match="target_l0=3"):
        est.set_params(target_l0=3).transform_with_stats(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", SmallMeanSampleWarning)  # (40 rows)
        refit = est.set_params(target_l0=None).fit(X)
        assert refit.l1_penalty_ == 0.1
        refit.transform(X)
        # a calibrated transformer starts its search from l1_penalty: changing it is no news
        cal = make(concepts, raw, target_l0=3).fit(X)
        cal.set_params(l1_penalty=0.5).transform(X)
        # a transformer pickled before fit recorded its parameters is not warned about
        old = pickle.loads(pickle.dumps(make(concepts, raw).fit(X)))
        del old._params_at_fit
        old.set_params(l1_penalty=0.1).transform(X)


class _SettingsEmbedder(BaseEstimator):
    """A text embedder with settings (as CLIPEmbedder): ``seed`` changes what it
    computes, ``batch_size`` only how it runs."""

    def __init__(self, seed=0, batch_size=8):
        self.seed = seed
        self.batch_size = batch_size

    def embed_text(self, texts):
        return CountingEmbedder(dim=DIM, seed=self.seed).embed_text(texts)


def test_an_embedder_changed_after_fit_is_named_by_its_settings(problem):
    # set_params(embedder__model=...) changed the very object fit read: no warning; an
    # embedder of the same settings put in its place: "another ... than the one fitted"
    concepts, _, X = problem
    est = SpliceTransformer(embedder=_SettingsEmbedder(), vocabulary=concepts, device="cpu")
    est.fit(X)

    def said(**params):
        est.set_params(**params)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est.transform(X)
        return [str(w.message) for w in caught if "set after fit" in str(w.message)]

    texts = said(embedder__seed=3)
    assert len(texts) == 1 and "embedder__seed=3 (fitted with 0) was set after fit" in texts[0]
    assert said(embedder__seed=0) == []
    assert said(embedder__batch_size=64) == []  # (how it runs, not what it computes)
    assert said(embedder=_SettingsEmbedder(batch_size=2)) == []
    texts = said(embedder=_SettingsEmbedder(seed=1))
    assert "embedder__seed=1 (fitted with 0)" in texts[0]
    loaded = pickle.loads(pickle.dumps(est.set_params(embedder=_SettingsEmbedder())))
    loaded.set_params(embedder__seed=2)
    with pytest.warns(UserWarning, match=r"embedder__seed=2 \(fitted with 0\) was set"):
        loaded.transform(X)
    loaded.set_params(embedder__seed=2, embedder__batch_size=1)
    loaded.embedder.seed = 5
    with pytest.warns(UserWarning, match=r"embedder__seed=5 \(fitted with 0\) was set"):
        loaded.transform(X)


class _ArrayEmbedder(BaseEstimator):
    """An embedder with an array setting (a lookup table, say), and no ``__dict__`` of
    fitted attributes to look into: ``__slots__``."""

    __slots__ = ("table",)

    def __init__(self, table=None):
        self.table = table

    def embed_text(self, texts):
        return CountingEmbedder(dim=DIM).embed_text(texts)

    def __getstate__(self):
        return {"table": self.table}

    def __setstate__(self, state):
        self.table = state["table"]


def test_an_embedder_s_array_setting_is_pickled_once(problem, tmp_path):
    # joblib writes each array it meets: the settings recorded at fit wrote the table twice
    concepts, _, X = problem
    table = np.random.default_rng(0).normal(size=(200_000,))
    est = SpliceTransformer(embedder=_ArrayEmbedder(table), vocabulary=concepts, device="cpu").fit(
        X
    )
    joblib.dump(est, tmp_path / "est.joblib")
    assert (tmp_path / "est.joblib").stat().st_size < 1.5 * table.nbytes
    loaded = joblib.load(tmp_path / "est.joblib")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded.transform(X)
    loaded.set_params(embedder__table=2 * loaded.embedder.table)
    with pytest.warns(UserWarning, match=r"embedder__table=an array of shape \(200000,\)"):
        loaded.transform(X)


def test_a_fitted_clip_embedder_changed_after_fit_is_named(tiny_clip_model):
    # CLIPEmbedder.fit sets embedding_dim_: taken for fitted state, its settings went
    # unrecorded, and embedder__model=... set after fit unsaid
    from sksplice import CLIPEmbedder

    clip = CLIPEmbedder(tiny_clip_model, pretrained=None, modality="text").fit()
    concepts = random_vocabulary(N_CONCEPTS)
    X = np.random.default_rng(0).normal(size=(120, clip.embedding_dim_))
    est = SpliceTransformer(embedder=clip, vocabulary=concepts, device="cpu").fit(X)
    est.set_params(embedder__model="ViT-B-32")
    with pytest.warns(UserWarning, match=r"embedder__model='ViT-B-32' \(fitted with"):
        est.transform(X)


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        ("tol", 0, "tol must be a number in (0, 1), got 0"),
        ("tol", 5, "tol must be a number in (0, 1), got 5"),
        ("transform_max_iter", 0, "transform_max_iter must be a positive integer or None"),
        ("verbose", -1, "verbose must be 0 (quiet) or more, got -1"),
        ("memory_budget", 0, "memory_budget must be a positive integer or None, got 0"),
        ("solver", "admmm", "solver must be one of"),
    ],
)
def test_solving_parameters_set_after_fit_are_checked_as_fit_checks_them(
    problem, param, value, message
):
    # transform took tol=0 (then warned that no row converged), named max_iter for
    # transform_max_iter, and took verbose=-1 without a word
    concepts, raw, X = problem
    est = make(concepts, raw, l1_penalty=0.25).fit(X)
    with pytest.raises(ValueError, match=re.escape(message)):
        clone(est).set_params(**{param: value}).fit(X)
    est.set_params(**{param: value})
    for method in (est.transform, est.transform_with_stats, est.score):
        with pytest.raises(ValueError, match=re.escape(message)):
            method(X)


@pytest.mark.filterwarnings("ignore::sksplice.exceptions.SmallMeanSampleWarning")
def test_every_parameter_fit_reads_set_after_fit_is_named(problem):
    # set_params(vocabulary=...), (image_mean=...), (embedder=...) on a fitted
    # transformer changed nothing and said nothing (only the penalty's were named): the
    # columns stayed the fitted concepts, the centre the fitted one.
    concepts, raw, X = problem
    est = make(concepts, raw, l1_penalty=0.25).fit(X)
    W = est.transform(X)
    expected, recomposed = W.toarray(), est.inverse_transform(W)

    def said(**params):
        est.set_params(**params)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = est.transform(X).toarray()
            back = est.inverse_transform(W)
        np.testing.assert_array_equal(got, expected)  # (what was fitted, as warned)
        np.testing.assert_array_equal(back, recomposed)
        texts = [str(w.message) for w in caught if "set after fit" in str(w.message)]
        return texts

    texts = said(vocabulary=concepts[::-1])
    assert len(texts) == 2, texts  # (transform, inverse_transform)
    assert texts[0].startswith(
        f"SpliceTransformer: vocabulary=a list of {len(concepts)} (fitted with a list of"
    )
    assert f"; entry 0 is {concepts[-1]!r}, was {concepts[0]!r}) was set" in texts[0]
    assert "still uses the fitted concepts (concepts_) and dictionary (dictionary_)" in texts[0]
    est.set_params(vocabulary=concepts)
    texts = said(image_mean=np.ones(DIM))
    assert f"image_mean=an array of shape ({DIM},) (fitted with None) was set after fit" in texts[0]
    assert "the fitted centre (mean_) until fit is called again" in texts[0]
    texts = said(image_mean=None, modality="text", vocabulary_size=10)
    assert (
        "vocabulary_size=10 (fitted with 'auto'), modality='text' (fitted with 'image') "
        in (texts[0])
    )
    assert "were set after fit; it still uses the fitted concepts" in texts[0]
    assert "and the fitted centre (mean_)" in texts[0]
    # Equal values (a copy of the fitted array, the same list again) are no news.
    est.set_params(modality="image", vocabulary_size="auto", vocabulary=list(concepts))
    assert said(concept_embeddings=raw.copy()) == []
    # The penalty: only transform uses it.
    texts = said(concept_embeddings=raw, l1_penalty=0.5)
    assert len(texts) == 1 and "l1_penalty=0.5 (fitted with 0.25)" in texts[0]
    # Transform-time parameters are read by transform: no news.
    est.set_params(l1_penalty=0.25)
    assert said(output="sparse", verbose=0, memory_budget=2**26) == []
    est.set_params(solver="admm", tol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.transform(X)
    # A refit reads them all.
    est.set_params(vocabulary_size=10).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.transform(X)


@pytest.mark.parametrize("seed", ["x", 1.5, -1, np.random.default_rng(0)])
def test_a_bad_random_state_is_refused_whatever_the_settings(seed):
    rng = np.random.default_rng(5)
    concepts, raw = random_vocabulary(20), rng.normal(size=(20, 8))
    with pytest.raises(ValueError, match=r"random_state must be None, an int from 0 to 2\*\*32"):
        make(concepts, raw, random_state=seed).fit(rng.normal(size=(10, 8)))


def test_target_l0_uses_a_seeded_sample_and_warm_starts(monkeypatch):
    rng = np.random.default_rng(6)
    concepts = random_vocabulary(80)
    raw = rng.normal(size=(80, 16))
    X = rng.normal(size=(500, 16))
    seen = []
    original = SpliceTransformer._solve

    def spy(self, V, penalty, warm_start=None):
        seen.append((V.shape[0], warm_start))
        return original(self, V, penalty, warm_start=warm_start)

    monkeypatch.setattr(SpliceTransformer, "_solve", spy)
    a = make(concepts, raw, target_l0=4, calibration_samples=100, random_state=1).fit(X)
    assert {n for n, _ in seen} == {100}
    # Warm starts are the solver's own codes, passed on without a conversion.
    assert all(isinstance(warm, SparseCodes) for _, warm in seen[1:]) and len(seen) > 1
    # The solver's float64 work uses dictionary_ itself, not a copy of it.
    assert a._get_lasso()._dictionary64.data_ptr() == a.dictionary_.ctypes.data
    b = make(concepts, raw, target_l0=4, calibration_samples=100, random_state=1).fit(X)
    assert a.l1_penalty_ == b.l1_penalty_


def test_unreachable_target_l0_names_target_and_range(problem):
    concepts, raw, X = problem
    with pytest.raises(ValueError, match=r"target_l0=500 cannot be reached.*only 30 concepts"):
        make(concepts, raw, target_l0=500).fit(X)
    # 5 concepts centred by fit: at most 4 at once, refused before any solve
    with pytest.raises(ValueError, match=r"target_l0=4.5 cannot be reached.*at most 4 can be"):
        make(concepts[:5], raw[:5], target_l0=4.5).fit(X)
    # 5 concepts given centred already (no such bound), in 32 dimensions: even the
    # smallest penalty keeps fewer than 4.5 of them on average, so the search ends at
    # its floor
    unit = raw[:5] / np.linalg.norm(raw[:5], axis=1, keepdims=True)
    with pytest.raises(ValueError, match=r"target_l0=4.5 cannot be reached.*range reached 0 to"):
        make(concepts[:5], unit, concepts_centered=True, target_l0=4.5).fit(X)
    with pytest.raises(ValueError, match="target_l0 must be a positive"):
        make(concepts, raw, target_l0=0).fit(X)


class _NamedCountingEmbedder(CountingEmbedder):
    """A counting embedder with the ``model``/``pretrained`` of a CLIP embedder."""

    model, pretrained = "ViT-B-32", "laion400m_e32"  # no published image mean


@pytest.mark.parametrize(
    "case, match",
    [
        # (the dictionary's width is not known yet: the centre disagrees with X)
        ("mean-width", r"image_mean has shape \(5,\) but X has 32 features"),
        ("text-mean-width", r"text_mean has shape \(7,\) but X has 32 features"),
        # X of another model, the centre of the concepts' model: X is said to disagree too
        ("x-width", r"image_mean has shape \(32,\) but X has 31 features: the centre and X"),
        ("no-published-mean", r"No published image mean for model='ViT-B-32'"),
        ("target-l0", r"target_l0=1000 cannot be reached.*only 600 concepts"),
        ("target-l0-width", r"target_l0=40 cannot be reached.*embedding dimension \(32"),
        ("same-rows", r"\(3 rows of 32 feature\(s\)\): its rows all point the same way"),
        ("one-row", r"from 1 sample"),
    ],
)
def test_centre_and_target_l0_are_checked_before_the_concepts_are_embedded(problem, case, match):
    concepts, _, X = problem
    options = {
        "mean-width": {"image_mean": np.ones(5)},
        "text-mean-width": {"modality": "text", "text_mean": np.ones(7)},
        "x-width": {"image_mean": np.full(DIM, 0.1)},
        "no-published-mean": {"image_mean": "pretrained"},
        "target-l0": {"target_l0": 1000},
        "target-l0-width": {"target_l0": 40},
        "same-rows": {},
        "one-row": {},
    }[case]
    emb = _NamedCountingEmbedder(dim=DIM)
    many = [f"{c} {i}" for i in range(20) for c in concepts]  # 600 concepts
    est = SpliceTransformer(embedder=emb, vocabulary=many, device="cpu", **options)
    rows = {
        "same-rows": X[:1] * np.array([[1.0], [2.0], [0.5]]),
        "one-row": X[:1],
        "x-width": X[:, :-1],
    }
    with pytest.raises(ValueError, match=match):
        est.fit(rows.get(case, X))
    assert CountingEmbedder.n_texts == 0  # refused before any concept was embedded
    assert not hasattr(est, "mean_") and not hasattr(est, "concepts_")


def test_a_clip_embedder_s_width_is_checked_before_the_concepts_are_embedded(
    tiny_clip_model, monkeypatch
):
    from sklearn.base import clone

    from sksplice import CLIPEmbedder

    emb = CLIPEmbedder(tiny_clip_model, pretrained=None, modality="text", device="cpu")
    d = clone(emb).fit().embedding_dim_  # from the model's configuration, no weights
    monkeypatch.setattr(CLIPEmbedder, "embed_text", lambda *a, **k: pytest.fail("embedded"))
    est = SpliceTransformer(embedder=emb, vocabulary=["red", "car", "sky"], device="cpu")
    X = np.random.default_rng(0).normal(size=(5, d + 3))
    with pytest.raises(ValueError, match=rf"X has {d + 3} features but .* has d={d} dim"):
        est.fit(X)
    assert not hasattr(emb, "embedding_dim_")  # the embedder given is left as it was


def test_rows_that_differ_only_in_scale_cannot_centre_themselves(problem):
    # The centre of rows that all point the same way is that direction: every centred
    # row would be zero (a cosine of 1 from no concept at all). Refused, while one
    # different row among them is enough.
    concepts, raw, X = problem
    same = X[:1] * np.array([[1.0], [2.0], [0.5], [3.0]])
    with pytest.raises(ValueError, match="all point the same way"):
        make(concepts, raw).fit(same)
    est = make(concepts, raw)
    with pytest.warns(UserWarning, match="only 5 rows"):
        est.fit(np.vstack([same, X[1:2]]))
    assert est.l0(X[1:2]) > 0


def test_a_penalty_that_leaves_every_row_empty_is_warned_about(problem):
    # l1_penalty=1.99 is accepted (2 is refused) and gave an all-zero matrix in silence
    concepts, raw, X = problem
    est = make(concepts, raw, l1_penalty=1.99).fit(X)
    with pytest.warns(UserWarning, match=r"every row of X decomposes to no concept") as told:
        W = est.transform(X)
    assert W.nnz == 0 and "l1_penalty=1.99" in str(told[0].message)
    # the same words for every X, of any size: the folds of a search say it once
    with warnings.catch_warnings(record=True) as folds:
        warnings.simplefilter("default")
        for rows in (slice(0, 7), slice(7, None), slice(0, 5)):
            est.transform(X[rows])
    assert len(folds) == 1
    assert told[0].filename == __file__
    fitted = make(concepts, raw).fit(X)  # (few rows: a warning of the centre)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.transform(X[:1])  # (one row without a concept is a row's matter)
        fitted.transform(X)


# ---------------------------------------------------------------- bad input
def test_bad_input_errors_name_the_problem(problem):
    concepts, raw, X = problem
    est = make(concepts, raw).fit(X)
    expecting = f"X has 5 features, but SpliceTransformer is expecting {DIM}"
    for call in (est.transform, est.score):
        with pytest.raises(ValueError, match=expecting) as info:
            call(X[:, :5])
        # (what to do, which scikit-learn's message does not say)
        assert "Embeddings of another model" in str(info.value)
        assert "embed X with the model the transformer was fitted for" in str(info.value)
    # embeddings given where weights are meant: said so
    for call in (est.inverse_transform, lambda W: est.top_concepts(W, kind="weights")):
        with pytest.raises(ValueError, match=rf"{N_CONCEPTS} concepts: these look like embed"):
            call(X)
    bad = X.copy()
    bad[3, 1] = np.nan
    bad[7, 0] = np.inf
    with pytest.raises(ValueError, match=r"2 row\(s\): 3, 7"):
        est.transform(bad)
    with pytest.raises(ValueError, match=r"2 row\(s\): 3, 7"):
        make(concepts, raw).fit(bad)
    with pytest.raises(ValueError, match="0 sample"):
        est.transform(np.zeros((0, DIM)))
    with pytest.raises(ValueError, match="0 sample"):
        make(concepts, raw).fit(np.zeros((0, DIM)))
    wrong_d = f"X has 5 features but the concept dictionary has d={DIM}"
    with pytest.raises(ValueError, match=wrong_d):
        make(concepts, raw).fit(X[:, :5])


def test_bad_vocabulary_and_concept_embeddings(problem):
    concepts, raw, X = problem
    dup = [*concepts[:-1], concepts[4]]
    with pytest.raises(ValueError, match=r"entry 29 \('concept004'\) duplicates entry 4"):
        make(dup, raw).fit(X)
    spaced = [*concepts[:-1], f" {concepts[4]} "]
    with pytest.raises(
        ValueError, match=r"entry 29 \(' concept004 '\) is entry 4 \('concept004'\) up to"
    ):
        make(spaced, raw).fit(X)
    blank = [*concepts[:-1], "  "]
    with pytest.raises(ValueError, match="entry 29 is blank"):
        make(blank, raw).fit(X)
    with pytest.raises(TypeError, match="entry 2 is an int"):
        make([*concepts[:2], 7, *concepts[3:]], raw).fit(X)
    with pytest.raises(ValueError, match="concept_embeddings has 29 rows but the vocabulary has"):
        make(concepts, raw[:-1]).fit(X)
    # one row more: the row of a blank line, as in the authors' mscoco dictionary
    with pytest.raises(ValueError, match=r"has 30 concepts; .*\(one row more than the concepts"):
        make(concepts, np.vstack([raw, raw[:1]])).fit(X)
    with pytest.raises(ValueError, match="empty list"):
        make([], raw).fit(X)
    with pytest.raises(ValueError, match="needs either an embedder"):
        SpliceTransformer(vocabulary=concepts).fit(X)
    with pytest.raises(TypeError, match="embed_text"):
        SpliceTransformer(embedder=object(), vocabulary=concepts).fit(X)
    with pytest.raises(ValueError, match="l1_penalty must be a positive"):
        make(concepts, raw, l1_penalty=-1).fit(X)


def test_embeddings_of_a_file_s_lines_with_a_repeat_are_refused_not_misnamed(problem, tmp_path):
    # A vocabulary file repeating a line, embedded a line at a time by the user: load_vocabulary
    # keeps the first of each concept, so from the repeat on each concept was given the row
    # of the concept before it. Cut at vocabulary_size the row counts agree, and the fit
    # went through with a DuplicateConceptWarning naming the wrong pair; with every row,
    # the count's hint blamed a blank line.
    concepts, raw, X = problem
    lines = [*concepts[:10], concepts[3], *concepts[10:]]
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    per_line = np.vstack([raw[:10], raw[3:4], raw[10:]])
    refused = (
        r"concept_embeddings looks like a row per line of the vocabulary file '.*vocab\.txt', "
        r"repeats included: its row 10 \(line 11, 'concept003' again\) is the embedding of its "
        r"row 3 \('concept003', line 4\).*drop the rows of the repeated lines \(row 10\)"
    )
    for size in (20, 30):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (the file's RepeatedConceptWarning)
            with pytest.raises(ValueError, match=refused):
                make(str(path), per_line[:size], vocabulary_size=size).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(
            ValueError,
            match=r"\(a row per line of the file, repeats included\? "
            r"the file repeats line 11 \('concept003', as line 4\)",
        ):
            make(str(path), per_line).fit(X)
        # one row per concept is taken, at any size, and so are rows cut before the repeat
        for size, rows in ((None, raw), (20, raw[:20]), (10, per_line[:10])):
            est = make(str(path), rows, vocabulary_size=size).fit(X)
            assert list(est.concepts_) == concepts[: size or len(concepts)]


def test_a_repeat_beside_names_alike_is_no_evidence_and_dtypes_are_checked_first(problem, tmp_path):
    # Rows made one per concept were refused where the repeat's two rows were those of
    # "Dog" and "dog", which a lower-casing tokenizer embeds alike; a string array was
    # refused for its rows, not its dtype; the file's own warnings were said twice.
    concepts, raw, X = problem
    names = ["dog", "cat", "dog", "Dog", *concepts[3:]]  # (line 3 repeats line 1)
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(names) + "\n", encoding="utf-8")
    kept = ["dog", "cat", "Dog", *concepts[3:]]
    rows = np.vstack([raw[:2], raw[0], raw[3:]])  # ("Dog" embedded as "dog")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        est = make(str(path), rows[:20], vocabulary_size=20).fit(X)
    assert list(est.concepts_) == kept[:20]
    repeated = [w for w in said if "repeats 1 concept" in str(w.message)]
    assert len(repeated) == 1, [str(w.message) for w in said]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TypeError, match="concept_embeddings must be real numbers"):
            make(str(path), rows[:20].astype(str), vocabulary_size=20).fit(X)


def test_list_entries_are_stripped_in_their_places(problem):
    # As load_vocabulary cleans lists: the names of the output columns carry no
    # whitespace, and each entry keeps its row of concept_embeddings.
    concepts, raw, X = problem
    padded = [f" {concepts[0]} ", f"{concepts[1]}\t", *concepts[2:]]
    est = make(padded, raw).fit(X)
    assert list(est.concepts_) == concepts
    assert list(est.get_feature_names_out()) == concepts
    np.testing.assert_array_equal(est.dictionary_, make(concepts, raw).fit(X).dictionary_)


def test_vocabulary_size_truncates_lists_and_embeddings(problem):
    concepts, raw, X = problem
    est = make(concepts, raw, vocabulary_size=10).fit(X)
    assert list(est.concepts_) == concepts[:10]
    np.testing.assert_allclose(est.dictionary_, build_dictionary(raw[:10])[0], atol=1e-6)


def test_a_vocabulary_size_larger_than_a_list_or_file_is_refused(problem, tmp_path):
    # It was cut to what was there (3 concepts for vocabulary_size=10) without a word,
    # while a named vocabulary refused it.
    concepts, raw, X = problem
    few = concepts[:3]
    with pytest.raises(
        ValueError, match=r"^vocabulary_size=10 is larger than the 3 concepts of the vocabulary li"
    ):
        make(few, raw[:3], vocabulary_size=10).fit(X)
    path = tmp_path / "three.txt"
    path.write_text("\n".join(few) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^vocabulary_size=4 is larger than the 3 concepts of "):
        make(path, raw[:3], vocabulary_size=4).fit(X)
    with pytest.raises(ValueError, match=r"three\.txt'; use vocabulary_size=None to keep all"):
        make(path, raw[:3], vocabulary_size=4).fit(X)
    # the length itself, None and the default "auto" keep the short list or file whole
    for size in (3, None, "auto"):
        assert list(make(few, raw[:3], vocabulary_size=size).fit(X).concepts_) == few
        assert list(make(path, raw[:3], vocabulary_size=size).fit(X).concepts_) == few


def test_a_long_list_or_file_is_kept_whole_by_default(tmp_path):
    # The default kept the first 10,000 entries of every source. A list in the authors'
    # order (load_vocabulary(name, size=15000, order="authors"), as the migration guide
    # passes it) starts with the least frequent concepts: the fit silently dropped the
    # most frequent ones (of their 37,445-row cached dictionary, all but the rarest).
    rng = np.random.default_rng(0)
    concepts = [f"concept{i:05d}" for i in range(10_500)]
    raw = rng.normal(size=(len(concepts), 8))
    X = rng.normal(size=(120, 8))
    est = SpliceTransformer(vocabulary=concepts, concept_embeddings=raw, device="cpu").fit(X)
    assert est.vocabulary_size == "auto"
    assert list(est.concepts_) == concepts
    path = tmp_path / "mine.txt"
    path.write_text("\n".join(concepts) + "\n", encoding="utf-8")
    est = SpliceTransformer(vocabulary=path, concept_embeddings=raw, device="cpu").fit(X)
    assert list(est.concepts_) == concepts
    # a size given is a size
    est = SpliceTransformer(
        vocabulary=concepts, concept_embeddings=raw, vocabulary_size=10_000, device="cpu"
    ).fit(X)
    assert list(est.concepts_) == concepts[:10_000]


@pytest.mark.parametrize(
    ("size", "error"),
    [("all", TypeError), (0, ValueError), (True, TypeError), (2.5, TypeError)],
)
def test_vocabulary_size_names_auto_in_its_message(problem, size, error):
    concepts, raw, X = problem
    with pytest.raises(error, match=r"vocabulary_size must be 'auto' or a positive integer"):
        make(concepts, raw, vocabulary_size=size).fit(X)


def test_auto_keeps_the_paper_setting_of_a_published_vocabulary(splice_data_dir, tmp_path):
    from sksplice._concepts import resolve_concepts
    from sksplice.vocabulary import load_vocabulary

    top = load_vocabulary("laion", size=10_000, data_home=splice_data_dir)
    concepts, n_full = resolve_concepts("laion", "auto", splice_data_dir)
    assert concepts == top and n_full == 37445
    # a file that holds it (downloaded by hand) is that vocabulary
    copy = tmp_path / "laion.txt"
    copy.write_bytes((splice_data_dir / "vocab" / "laion.txt").read_bytes())
    assert resolve_concepts(copy, "auto", None)[0] == top
    assert len(resolve_concepts(copy, None, None)[0]) == 37445


def test_vocabulary_file_path(tmp_path, problem):
    concepts, raw, X = problem
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(concepts) + "\n", encoding="utf-8")
    est = SpliceTransformer(vocabulary=str(path), concept_embeddings=raw, device="cpu").fit(X)
    assert list(est.concepts_) == concepts


# ------------------------------------------------------------ embedder, cache
def test_embedder_is_called_once_per_vocabulary(problem):
    concepts, _, X = problem
    emb = CountingEmbedder(dim=DIM)
    a = SpliceTransformer(embedder=emb, vocabulary=concepts, device="cpu").fit(X)
    b = SpliceTransformer(embedder=emb, vocabulary=concepts, l1_penalty=0.1, device="cpu").fit(X)
    assert CountingEmbedder.n_calls == 1
    np.testing.assert_array_equal(a.dictionary_, b.dictionary_)
    np.testing.assert_allclose(
        a.dictionary_, build_dictionary(emb.embed_text(concepts))[0], atol=1e-6
    )


def test_grid_search_embeds_the_vocabulary_once(problem, tmp_path):
    concepts, _, X = problem
    search = GridSearchCV(
        SpliceTransformer(
            embedder=CountingEmbedder(dim=DIM),
            vocabulary=concepts,
            cache_dir=tmp_path,
            device="cpu",
        ),
        param_grid={"l1_penalty": [0.05, 0.2, 0.5]},
        cv=5,
    ).fit(X)
    assert CountingEmbedder.n_calls == 1
    assert CountingEmbedder.n_texts == len(concepts)
    # 3 x 5 fits plus the refit all used it; the least sparse code recomposes best.
    assert search.best_params_ == {"l1_penalty": 0.05}
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_keyless_embedder_works_in_process(problem):
    concepts, _, X = problem
    emb = KeylessEmbedder(dim=DIM)
    est = SpliceTransformer(embedder=emb, vocabulary=concepts, device="cpu").fit(X)
    est.fit(X)
    assert emb.n_calls == 1
    assert est.transform(X).shape == (len(X), len(concepts))


# ------------------------------------------------------- clone, pickle, joblib
def test_clone_pickle_joblib_roundtrip(problem, tmp_path):
    concepts, _, X = problem
    est = SpliceTransformer(
        embedder=CountingEmbedder(dim=DIM), vocabulary=concepts, device="cpu"
    ).fit(X)
    W = est.transform(X).toarray()
    blob = pickle.dumps(est)
    assert b"NonNegLasso" not in blob
    restored = pickle.loads(blob)
    np.testing.assert_allclose(restored.transform(X).toarray(), W, atol=1e-7)
    joblib.dump(est, tmp_path / "splice.joblib")
    loaded = joblib.load(tmp_path / "splice.joblib")
    np.testing.assert_allclose(loaded.transform(X).toarray(), W, atol=1e-7)
    np.testing.assert_array_equal(loaded.concepts_, est.concepts_)

    fresh = clone(est)
    assert not hasattr(fresh, "dictionary_")
    assert fresh.get_params()["vocabulary"] == concepts
    np.testing.assert_allclose(fresh.fit(X).transform(X).toarray(), W, atol=1e-7)
    assert CountingEmbedder.n_calls == 1


def test_solver_is_built_once_and_shared(problem, monkeypatch):
    concepts, raw, X = problem
    solver_cache._lasso_cache.clear()
    built = []
    assert solver_cache.shared_lasso.cache is solver_cache._lasso_cache
    import sksplice.solvers as solvers

    real = solvers.NonNegLasso

    class Counting(real):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(solvers, "NonNegLasso", Counting)
    est = make(concepts, raw).fit(X)
    est.transform(X)
    est.transform(X[:3])
    clone(est).fit(X).transform(X)
    pickle.loads(pickle.dumps(est)).transform(X)
    assert len(built) == 1
    # A different dictionary gets its own solver.
    make(concepts, raw * 2 + 1).fit(X).transform(X)
    assert len(built) == 2


def test_pipeline_with_memory(problem, tmp_path):
    concepts, raw, X = problem
    y = (X[:, 0] > np.median(X[:, 0])).astype(int)
    pipe = make_pipeline(
        make(concepts, raw, l1_penalty=0.05), LogisticRegression(), memory=str(tmp_path / "cache")
    )
    pipe.fit(X, y)
    first = pipe.predict_proba(X)
    pipe2 = clone(pipe).fit(X, y)  # the fitted transformer comes from the memory
    np.testing.assert_allclose(pipe2.predict_proba(X), first)
    assert any((tmp_path / "cache").rglob("*.pkl"))


# ------------------------------------------------------------ check_estimator
CHECK_DIM = 3  # the width of most of scikit-learn's check data


def _checks_instance():
    rng = np.random.default_rng(0)
    return SpliceTransformer(
        vocabulary=random_vocabulary(N_CONCEPTS),
        concept_embeddings=rng.normal(size=(N_CONCEPTS, CHECK_DIM)),
        l1_penalty=0.1,
        device="cpu",
    )


# The concept dictionary fixes the embedding dimension d. Fitting on X with
# another number of features must fail with a clear error (a concept embedding
# only explains embeddings of its own model), but the checks below fit on data
# with 1, 2, 4, 5 or 10 columns and expect success. The same checks pass on
# ``WidthMatchingSplice`` below, which differs only in matching d to X.
_WRONG_WIDTH = "fits on X with a number of features other than the dictionary's d"

_WIDTH_CHECKS = (
    "check_estimators_overwrite_params",  # 2 features
    "check_estimators_fit_returns_self",  # 2
    "check_readonly_memmap_input",  # 2
    "check_fit_idempotent",  # 2
    "check_fit_check_is_fitted",  # 2
    "check_n_features_in",  # 2
    "check_n_features_in_after_fitting",  # 4 (iris)
    "check_positive_only_tag_during_fit",  # 4 (iris)
    "check_estimators_dtypes",  # 5
    "check_dtype_object",  # 10
    "check_fit2d_1sample",  # 10
    "check_fit2d_1feature",  # 1
)


def _expected_failed_checks(estimator):
    failures = {}
    if not isinstance(estimator, WidthMatchingSplice):
        failures.update(dict.fromkeys(_WIDTH_CHECKS, _WRONG_WIDTH))
    return failures


# Strict: a check listed above that passes fails the run, so the list cannot hold
# an entry that no longer fails (scikit-learn >= 1.8 has the option).
_STRICT = (
    {"xfail_strict": True}
    if "xfail_strict" in inspect.signature(parametrize_with_checks).parameters
    else {}
)


@parametrize_with_checks(
    [
        _checks_instance(),
        WidthMatchingSplice(vocabulary=random_vocabulary(N_CONCEPTS), l1_penalty=0.1, device="cpu"),
    ],
    expected_failed_checks=_expected_failed_checks,
    **_STRICT,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_width_checks_fail_only_for_the_width():
    """The expected failures above fail with the dictionary-width error, nothing else."""
    est = _checks_instance()
    with pytest.raises(ValueError, match="X has 2 features but the concept dictionary has d=3"):
        est.fit(np.random.default_rng(0).normal(size=(10, 2)))


def test_a_width_error_with_concept_embeddings_given_names_them():
    # "X has 384 features but the concept dictionary has d=100 dimensions: X must be
    # embeddings from the same model" blamed X where the rows given were cut.
    rng = np.random.default_rng(0)
    est = SpliceTransformer(
        vocabulary=["a", "b", "c", "d"], concept_embeddings=rng.normal(size=(4, 3)), device="cpu"
    )
    with pytest.raises(ValueError) as info:
        est.fit(rng.normal(size=(10, 5)))
    assert str(info.value).endswith(
        "(the concept dictionary is the concept_embeddings given, of d=3: if X is right, "
        "they are another model's)"
    )


# ------------------------------------------------------- CLIP pipeline, images
def _write_images(folder, n_per_class=12):
    from PIL import Image

    rng = np.random.default_rng(0)
    paths, labels = [], []
    for label, colour in enumerate([(220, 30, 30), (30, 30, 220)]):
        for i in range(n_per_class):
            pixels = np.clip(rng.normal(colour, 40, size=(32, 32, 3)), 0, 255).astype(np.uint8)
            path = folder / f"class{label}_{i:02d}.png"
            Image.fromarray(pixels).save(path)
            paths.append(str(path))
            labels.append(label)
    return paths, np.array(labels)


def test_grid_search_pipeline_with_clip_embedder(tiny_clip_model, tmp_path, monkeypatch):
    from sksplice.embedders import CLIPEmbedder

    calls = []
    original = CLIPEmbedder.embed_text

    def counting(self, texts):
        calls.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(CLIPEmbedder, "embed_text", counting)
    paths, y = _write_images(tmp_path)
    vocabulary = [
        "red",
        "blue",
        "green",
        "dog",
        "cat",
        "car",
        "tree",
        "sky",
        "sea",
        "house",
        "person",
        "bird",
        "flower",
        "road",
        "snow",
        "night",
    ]
    pipe = make_pipeline(
        CLIPEmbedder(model=tiny_clip_model, pretrained=None, device="cpu"),
        SpliceTransformer(
            embedder=CLIPEmbedder(
                model=tiny_clip_model, pretrained=None, modality="text", device="cpu"
            ),
            vocabulary=vocabulary,
            l1_penalty=0.1,
            cache_dir=tmp_path / "cache",
            device="cpu",
        ),
        LogisticRegression(max_iter=500),
    )
    search = GridSearchCV(pipe, param_grid={"splicetransformer__l1_penalty": [0.02, 0.1]}, cv=3)
    search.fit(paths, y)
    # The search's score of the best penalty is what a cross-validation of that
    # pipeline gives by hand, and the penalty reached the fitted transformer.
    best = search.best_params_["splicetransformer__l1_penalty"]
    by_hand = cross_val_score(clone(pipe).set_params(**search.best_params_), paths, y, cv=3)
    assert search.best_score_ == pytest.approx(by_hand.mean(), abs=1e-12)
    assert search.best_estimator_.named_steps["splicetransformer"].l1_penalty_ == best
    assert search.predict(paths).shape == (len(paths),)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    # The vocabulary was embedded once for 2 x 3 fits and the refit.
    assert calls == [len(vocabulary)]
    splice = search.best_estimator_.named_steps["splicetransformer"]
    assert splice.dictionary_.shape == (len(vocabulary), 32)
    # The fitted pipeline pickles without model weights: the embedders reload lazily.
    blob = pickle.dumps(splice)
    assert len(blob) < 50_000
    assert list(pickle.loads(blob).get_feature_names_out()) == vocabulary


def test_verbose_reports_embedding_and_calibration(problem, capsys, caplog):
    """verbose logs (scikit-learn's meaning); nothing is ever printed to stdout."""
    import logging

    concepts, _, X = problem
    with caplog.at_level(logging.INFO, logger="sksplice"):
        SpliceTransformer(
            embedder=CountingEmbedder(dim=DIM),
            vocabulary=concepts,
            target_l0=4,
            verbose=True,
            device="cpu",
        ).fit(X)
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"embedding {len(concepts)} concepts" in m for m in messages)
    assert any("l1_penalty=" in m and "mean l0=" in m for m in messages)
    assert capsys.readouterr().out == ""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="sksplice"):
        SpliceTransformer(
            embedder=CountingEmbedder(dim=DIM), vocabulary=concepts, target_l0=4, device="cpu"
        ).fit(X)
    assert not [r for r in caplog.records if r.name == "sksplice.transformer"]
    assert capsys.readouterr().out == ""


# --------------------------------------------------- numerical corner cases
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_centred_row_that_is_numerically_zero_gets_zero_weights(problem, dtype):
    """A row in the direction of the given centre: its centred embedding is rounding noise."""
    concepts, raw, X = problem
    row = X[:1].astype(dtype)
    est = make(concepts, raw, l1_penalty=0.01, image_mean=_unit(X[0])).fit(X)
    W = est.transform(row)
    assert W.dtype == dtype
    assert est.l0(W) == 0.0
    np.testing.assert_allclose(est.inverse_transform(W), _unit(row), atol=1e-6)
    # A row at a tiny but real distance from the centre is still decomposed.
    other = (_unit(row) + 1e-3 * _unit(X[1:2])).astype(dtype)
    assert est.l0(est.transform(other)) > 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e-13, 1e20])
def test_tiny_and_huge_rows_give_the_code_of_the_unscaled_row(problem, dtype, scale):
    concepts, raw, X = problem
    est = make(concepts, raw, l1_penalty=0.05).fit(X)
    rows = _unit(X[:5]).astype(dtype)
    scaled = (rows.astype(np.float64) * scale).astype(dtype)
    assert np.isfinite(scaled).all() and (scaled != 0).any(axis=1).all()
    expected = est.transform(rows).toarray()
    got = est.transform(scaled).toarray()
    assert est.l0(expected) > 0
    np.testing.assert_allclose(got, expected, atol=1e-5 if dtype == np.float32 else 1e-9)
    np.testing.assert_allclose(
        est.cosine_similarity(scaled), est.cosine_similarity(rows), atol=1e-5
    )
    # Fitting on scaled rows learns the same centre.
    refit = make(concepts, raw, l1_penalty=0.05).fit((X.astype(np.float64) * scale).astype(dtype))
    np.testing.assert_allclose(refit.mean_, est.mean_, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_rows_give_zero_weights_and_a_warning_naming_them(problem, dtype):
    concepts, raw, X = problem
    est = make(concepts, raw, l1_penalty=0.05).fit(X)
    batch = X[:4].astype(dtype)
    batch[2] = 0.0
    with pytest.warns(UserWarning, match=r"X row\(s\) 2 are all zero"):
        W = est.transform(batch)
    assert est.l0(W, per_sample=True).tolist()[2] == 0
    assert (est.l0(W, per_sample=True)[[0, 1, 3]] > 0).all()
    # The other rows are decomposed as they are alone.
    np.testing.assert_allclose(
        W.toarray()[[0, 1, 3]], est.transform(batch[[0, 1, 3]]).toarray(), atol=1e-6
    )
    # Zero rows are left out of a learned centre; only zero rows cannot give one.
    with_zero = np.vstack([X, np.zeros((3, DIM))])
    np.testing.assert_allclose(make(concepts, raw).fit(with_zero).mean_, est.mean_, atol=1e-12)
    with pytest.raises(ValueError, match="every row of X is zero"):
        make(concepts, raw).fit(np.zeros((3, DIM), dtype=dtype))


# ----------------------------------------------------- iterations and gaps
def test_transform_with_stats_reports_iterations_and_gaps(problem):
    concepts, raw, X = problem
    est = make(concepts, raw, l1_penalty=0.05).fit(X)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(est).items()}
    W, stats = est.transform_with_stats(X)
    assert set(vars(est)) == set(before)  # nothing stored on the estimator
    assert abs(W - est.transform(X)).nnz == 0
    assert stats.gaps.shape == (X.shape[0],)
    assert stats.converged and stats.max_gap == stats.gaps.max() <= est.tol
    assert stats.n_iter >= 1 and stats.tol == est.tol
    # The gaps are those of the weights returned: recompute them independently.
    V = est._center(X)
    D = est.dictionary_
    Wd = W.toarray()
    for i in range(0, X.shape[0], 7):
        w, v = Wd[i], V[i]
        r = v - w @ D
        primal = r @ r + est.l1_penalty_ * w.sum()
        # Dual point: the residual scaled into the feasible set 2 D r <= penalty.
        scale = min(1.0, est.l1_penalty_ / max(2 * (D @ r).max(), 1e-300))
        theta = scale * r
        dual = 2 * theta @ v - theta @ theta
        assert (primal - dual) / primal <= est.tol * 1.01
    assert not hasattr(est, "n_iter_")  # transform-time statistics are returned, not kept


def test_transform_max_iter_reaches_the_solver(problem):
    from sklearn.exceptions import ConvergenceWarning

    concepts, raw, X = problem
    assert "max_iter" not in SpliceTransformer().get_params()
    rng = np.random.default_rng(42)
    big = rng.normal(size=(300, DIM))
    kwargs = {"l1_penalty": 0.01, "solver": "working_set"}
    est = make(random_vocabulary(300), big, transform_max_iter=1, **kwargs).fit(X)
    # (the advice names the parameter a SpliceTransformer user can change)
    with pytest.warns(
        ConvergenceWarning, match=r"increase max_iter \(SpliceTransformer's transform_max_iter\)"
    ):
        _, stats = est.transform_with_stats(X)
    assert stats.n_iter == 1 and not stats.converged and stats.max_gap > 0.1
    _, full = make(random_vocabulary(300), big, **kwargs).fit(X).transform_with_stats(X)
    assert full.n_iter > 1 and full.converged
    with pytest.raises(ValueError, match="transform_max_iter must be a positive integer"):
        make(concepts, raw, transform_max_iter=0).fit(X)


def test_weights_given_where_embeddings_are_expected_are_named():
    rng = np.random.default_rng(2)
    est = make(random_vocabulary(30), rng.normal(size=(30, 8))).fit(rng.normal(size=(20, 8)))
    W = est.transform(rng.normal(size=(4, 8)))
    for method in ("score", "cosine_similarity", "transform"):
        with pytest.raises(TypeError, match=r"X must be dense embeddings .* got sparse data"):
            getattr(est, method)(W)


def test_warnings_name_the_line_of_the_user_not_of_the_library(problem):
    # SmallMeanSampleWarning from fit_transform inside a Pipeline pointed at
    # sklearn/base.py; a ConvergenceWarning from transform at sksplice itself.
    concepts, raw, X = problem
    pipe = make_pipeline(make(concepts, raw), LogisticRegression())
    y = np.arange(len(X)) % 2
    with pytest.warns(UserWarning, match="learns the modality centre from only") as record:
        pipe.fit(X, y)
    assert {Path(w.filename).name for w in record} == {Path(__file__).name}
    fitted = make(concepts, raw, transform_max_iter=1, l1_penalty=0.01)
    with pytest.warns(UserWarning) as record:
        fitted.fit(X).transform(X)
    assert record and {Path(w.filename).name for w in record} == {Path(__file__).name}


def test_verbose_fit_shows_the_embedding_and_calibration_on_stderr(monkeypatch, capsys):
    # verbose=1 only fed loggers that Python shows nowhere unless logging is set up: a
    # first fit embedding a large vocabulary was silent for minutes.
    import logging

    monkeypatch.setattr(logging.root, "handlers", [])  # (as in a plain script)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 16))
    vocabulary = random_vocabulary(60)
    fit = {"embedder": CountingEmbedder(), "vocabulary": vocabulary, "device": "cpu"}
    SpliceTransformer(**fit, target_l0=4, verbose=1).fit(X)
    err = capsys.readouterr().err
    assert "[sksplice] embedding 60 concepts with counting-fake-d16-s0, not cached yet" in err
    assert "will be cached in" in err
    assert "[sksplice] calibrating target_l0=4: l1_penalty=" in err
    # quiet by default, and nothing is left attached
    clear_memory_cache()
    SpliceTransformer(**fit).fit(X)
    assert capsys.readouterr().err == ""
    assert not logging.getLogger("sksplice").handlers
    # where the program has set up logging, its handlers show the messages, once
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    monkeypatch.setattr(logging.root, "handlers", [Keep()])
    clear_memory_cache()
    SpliceTransformer(**fit, verbose=1).fit(X)
    assert capsys.readouterr().err == ""
    assert any("60 concepts read from the cache" in m for m in records), records


@pytest.mark.filterwarnings("ignore:memory_budget=.* less than one row:UserWarning")  # (on purpose)
def test_verbose_transform_shows_the_rows_decomposed(problem, monkeypatch, capsys):
    # A transform of many rows (a million embeddings: minutes on a CPU) showed nothing
    # until it was done. With verbose, a bar counts the rows as the solver's chunks end.
    from sksplice import _progress
    from sksplice import transformer as transformer_module

    monkeypatch.setattr(_progress, "LOG_INTERVAL", 0.0)  # (a line per update, not a tty)
    monkeypatch.setattr(transformer_module, "_BAR_DELAY", 0.0)  # (every transform is slow)
    concepts, raw, X = problem
    X = np.vstack([X] * 5)  # 200 rows
    # a budget that cuts them into several chunks
    est = make(concepts, raw, verbose=1, memory_budget=20_000).fit(X)
    capsys.readouterr()
    W = est.transform(X)
    out, err = capsys.readouterr()
    assert out == ""
    lines = [ln for ln in err.splitlines() if ln.startswith("decomposing")]
    assert len(lines) >= 3, err  # (updates along the way, not one line at the end)
    counts = [int(ln.split("|")[-1].split("/")[0]) if "|" in ln else None for ln in lines]
    assert lines[-1].startswith("decomposing: 100%") and "200/200" in lines[-1], lines
    assert counts == sorted(counts, key=lambda c: -1 if c is None else c), counts
    quiet = make(concepts, raw, memory_budget=20_000).fit(X)
    capsys.readouterr()
    assert abs(quiet.transform(X) - W).max() == 0
    assert capsys.readouterr().err == ""
    # a block of a larger X, counted by its caller's bar (the command line's chunks of
    # images, a Dask task): no bar of its own
    with transformer_module.block_of_more():
        est.transform(X)
    assert "decomposing" not in capsys.readouterr().err


def test_verbose_transform_shows_a_bar_by_time_not_by_rows(problem, monkeypatch, capsys):
    # The bar was shown from 1,024 rows on: fewer rows at a small penalty (seconds a row)
    # ran for minutes without a word. It now shows once a transform has run _BAR_DELAY
    # seconds, whatever its rows, and a quick one shows nothing.
    from sksplice import transformer as transformer_module

    # (standard error is no terminal here: lines at most every LOG_INTERVAL, 30 s, as in
    # a log file; the first comes at the first update after the delay all the same)
    concepts, raw, X = problem
    # (one chunk of the memory budget: a bar cuts them into ten or more, of 16 at least)
    est = make(concepts, raw, verbose=1).fit(X)
    capsys.readouterr()
    est.transform(X)  # (40 rows, in a moment)
    assert "decomposing" not in capsys.readouterr().err
    solve = est._solve

    def slow(*args, **kwargs):  # (each chunk solved as slowly as at a tiny penalty)
        on_rows = kwargs.pop("on_rows")

        def late(n):
            time.sleep(0.3)
            on_rows(n)

        return solve(*args, on_rows=late, **kwargs)

    monkeypatch.setattr(transformer_module, "_BAR_DELAY", 0.2)
    monkeypatch.setattr(est, "_solve", slow)
    est.transform(X)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("decomposing")]
    assert len(lines) >= 2, lines  # (the first chunk's line, and the last's: 0.3 s apart)
    first = re.search(r" (\d+)/40 ", lines[0])
    assert first and 0 < int(first.group(1)) < 40, lines  # (a chunk's rows, not all of them)
    assert lines[-1].startswith("decomposing: 100%") and "40/40" in lines[-1], lines
    assert not lines[0].startswith("decomposing: 100%"), lines


def _overcomplete(d=128, n_concepts=400, n=60, seed=0):
    """Concepts and rows in as many dimensions as small real embeddings (a tiny penalty
    keeps most of d concepts a row)."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=(n_concepts, d))
    return random_vocabulary(n_concepts), raw, rng.normal(size=(n, d)) + 0.3


def test_nearly_dense_codes_are_warned_about_with_their_mean():
    # l1_penalty=1e-4 (a scikit-learn Lasso's habit) kept 379 of 384 dimensions' worth of
    # concepts a row, about 2 s a row, and said nothing.
    from sksplice.exceptions import DenseCodesWarning

    concepts, raw, X = _overcomplete()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallMeanSampleWarning)
        est = make(concepts, raw, l1_penalty=0.01).fit(X)
    with pytest.warns(DenseCodesWarning, match=r"l1_penalty=0\.01, more than half the 128") as got:
        W = est.transform(X)
    (warning,) = [w.message for w in got if isinstance(w.message, DenseCodesWarning)]
    assert warning.mean_l0 == pytest.approx(W.nnz / X.shape[0])
    assert warning.mean_l0 > 64 and warning.n_features == 128 and warning.l1_penalty == 0.01
    assert f"decompose to {warning.mean_l0:.0f} concepts each" in str(warning)
    assert "larger l1_penalty" in str(warning) and "target_l0" in str(warning)
    # the same from transform_with_stats; a copy through pickle (a worker process's) alike
    with pytest.warns(DenseCodesWarning):
        est.transform_with_stats(X)
    copy = pickle.loads(pickle.dumps(warning))
    assert (str(copy), copy.mean_l0, copy.n_features) == (
        str(warning),
        warning.mean_l0,
        warning.n_features,
    )
    # a useful penalty, codes of few dimensions (examples, tests), and codes as long as
    # target_l0 asked for: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", DenseCodesWarning)
        warnings.simplefilter("ignore", SmallMeanSampleWarning)
        asked = make(concepts, raw, target_l0=80).fit(X)
        assert asked.transform(X).getnnz(axis=1).mean() > 64
        assert make(concepts, raw, l1_penalty=0.3).fit(X).transform(X).getnnz(axis=1).mean() < 64
        small_concepts, small_raw, small_X = _overcomplete(d=16, n_concepts=40)
        W = make(small_concepts, small_raw, l1_penalty=0.01).fit(small_X).transform(small_X)
        assert W.getnnz(axis=1).mean() > 8  # (more than half of 16, fewer than 64)


def _warned_in_a_search(concepts, raw, X, penalties):
    """The warnings of a 3-fold GridSearchCV of a probe over ``penalties``, under Python's
    default filter (a warning once per line)."""
    y = np.arange(X.shape[0]) % 2
    pipe = make_pipeline(make(concepts, raw), LogisticRegression(max_iter=200))
    search = GridSearchCV(pipe, {"splicetransformer__l1_penalty": penalties}, cv=3)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        search.fit(X, y)
    return seen


def test_nearly_dense_codes_are_warned_about_once_per_penalty_in_a_search():
    # The mean differs from fold to fold: the warning is shown once for a penalty, not once
    # per fold.
    from sksplice.exceptions import DenseCodesWarning

    concepts, raw, X = _overcomplete(n=150)
    seen = _warned_in_a_search(concepts, raw, X, [0.01, 0.3])
    dense = [w.message for w in seen if isinstance(w.message, DenseCodesWarning)]
    assert len(dense) == 1 and dense[0].l1_penalty == 0.01, [str(w) for w in dense]


def test_codes_mostly_without_a_concept_are_warned_about_once_per_penalty():
    # At 1.2 on MiniLM captions 469 of 480 rows kept no concept, silently (only codes
    # where every row has none were warned about).
    concepts, raw, X = _overcomplete(n=150)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallMeanSampleWarning)
        est = make(concepts, raw, l1_penalty=0.6).fit(X)
    with pytest.warns(UserWarning, match="decompose to no concept") as got:
        W = est.transform(X)
    n_empty = int((W.getnnz(axis=1) == 0).sum())
    assert 75 < n_empty < 150, n_empty
    said = [str(w.message) for w in got if "decompose to no concept" in str(w.message)]
    assert said == [
        f"{n_empty} of the 150 rows of X decompose to no concept at l1_penalty=0.6: no "
        "concept's correlation with them reaches the penalty, so their codes say nothing of "
        "them. A smaller l1_penalty keeps more concepts (useful penalties lie mostly from "
        "0.05 to 0.5), or set target_l0 to have fit find the penalty for a number of concepts"
    ]
    # half the rows or fewer, fewer than 10 rows, codes as sparse as target_l0 asked for:
    # no warning
    held = W.getnnz(axis=1) > 0
    nine = np.r_[np.flatnonzero(held)[:3], np.flatnonzero(~held)[:6]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (est.transform(X[nine]).getnnz(axis=1) == 0).sum() == 6
        W = est.set_params(l1_penalty=0.5).fit(X).transform(X)
        assert 0 < (W.getnnz(axis=1) == 0).sum() <= 75
        asked = make(concepts, raw, target_l0=0.2).fit(X)
        assert (asked.transform(X).getnnz(axis=1) == 0).sum() > 75
    # rows all zero (a job that never filled them) hold no concept at any penalty: said
    # as such, and not counted as rows the penalty left without one
    held_rows = X[held][:8]
    zero_and_held = np.vstack([np.zeros((12, X.shape[1])), held_rows])
    with pytest.warns(UserWarning, match="are all zero") as got:
        W = est.set_params(l1_penalty=0.6).fit(X).transform(zero_and_held)
    assert (W.getnnz(axis=1) == 0).sum() == 12
    assert not [w for w in got if "decompose to no concept" in str(w.message)]
    with pytest.warns(UserWarning, match="are all zero") as got:
        W = est.transform(np.vstack([np.zeros((12, X.shape[1])), X]))
    said = [str(w.message) for w in got if "decompose to no concept" in str(w.message)]
    assert said and said[0].startswith(f"{n_empty} of the 150 rows of X decompose"), said
    with pytest.warns(UserWarning, match="are all zero") as got:
        est.transform(np.zeros((3, X.shape[1])))
    assert not [w for w in got if "every row of X decomposes" in str(w.message)]
    # in a search, the folds (of other counts) say it once for the penalty
    seen = _warned_in_a_search(concepts, raw, X, [0.3, 0.6])
    empty = [str(w.message) for w in seen if "decompose to no concept" in str(w.message)]
    assert len(empty) == 1 and "at l1_penalty=0.6:" in empty[0], empty


@pytest.mark.filterwarnings("ignore:memory_budget=.* less than one row:UserWarning")  # (on purpose)
def test_the_solver_reports_every_row_once(problem):
    from sksplice.solvers import NonNegLasso

    _, raw, X = problem
    D = _unit(raw - raw.mean(axis=0))
    V = _unit(np.vstack([X] * 10) - X.mean(axis=0))
    seen = []
    lasso = NonNegLasso(D, device="cpu")
    codes = lasso.solve(V, 0.2, memory_budget=30_000, progress=seen.append)
    assert sum(seen) == len(V) and len(seen) > 1, seen
    same = lasso.solve(V, 0.2, memory_budget=30_000)  # (the same chunks, no callback)
    assert abs(codes.to_csr() - same.to_csr()).max() == 0
    with pytest.raises(TypeError, match=r"progress must be a callable .* got int 5"):
        lasso.solve(V, 0.2, progress=5)  # (before any solve, not after the first chunk)


def test_a_warning_of_every_fold_is_shown_once_per_line(problem, monkeypatch):
    # GridSearchCV runs each fit in warnings.catch_warnings, which resets Python's
    # record of shown warnings: the centre's warning came once per fold and candidate
    # (15 times for 5 folds x 3 penalties), every copy naming the same line.
    from sksplice import _stack

    monkeypatch.setattr(_stack, "_SHOWN", set(), raising=False)
    concepts, raw, X = problem
    X = X[:38]  # (folds of 30 and 31 rows, and the refit's 38)
    y = np.arange(len(X)) % 2
    pipe = make_pipeline(make(concepts, raw), LogisticRegression())
    grid = {"splicetransformer__l1_penalty": [0.05, 0.1, 0.2]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        GridSearchCV(pipe, grid, cv=5).fit(X, y)
    texts = [str(w.message) for w in caught if issubclass(w.category, SmallMeanSampleWarning)]
    # one, whatever the rows of each fit: its text held the count, so folds of 53 and
    # 54 rows and the refit on all of X showed it three times
    assert len(texts) == 1, texts
    assert {Path(w.filename).name for w in caught} == {Path(__file__).name}

    # "always" (as pytest.warns sets) still shows every one
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        GridSearchCV(pipe, grid, cv=5).fit(X, y)
    assert sum(issubclass(w.category, SmallMeanSampleWarning) for w in caught) == 16
    # and "error" still raises
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallMeanSampleWarning)
        with pytest.raises(SmallMeanSampleWarning):
            make(concepts, raw).fit(X)


def test_concept_weights_given_for_embeddings_are_named_as_such(problem):
    concepts, raw, X = problem
    est = make(concepts, raw).fit(X)
    W = est.transform(X)
    for method in (est.transform, est.score, est.cosine_similarity):
        with pytest.raises(TypeError, match=r"got sparse data of shape .* concept weights perhaps"):
            method(W)
        with pytest.raises(
            ValueError, match=rf"X has {N_CONCEPTS} features, one per concept .* {DIM} features"
        ):
            method(W.toarray())


def test_weight_frames_with_numbered_columns_are_taken_in_order(problem):
    # pd.DataFrame(W.toarray()) has columns 0..n-1: the analysis functions took it as
    # weights in column order, while inverse_transform / top_concepts / l0 refused it
    # ("unknown columns [0, 1, ...]") or took it for embeddings.
    concepts, raw, X = problem
    splicer = make(concepts, raw).fit(X)
    W = splicer.transform(X[:5])
    frame = pd.DataFrame(W.toarray())
    np.testing.assert_allclose(splicer.inverse_transform(frame), splicer.inverse_transform(W))
    assert splicer.top_concepts(frame, k=3) == splicer.top_concepts(W, k=3)
    assert splicer.l0(frame) == splicer.l0(W)
    # numbered columns in another order are not read by position
    with pytest.raises(ValueError, match="must be the concepts"):
        splicer.inverse_transform(frame[frame.columns[::-1]])
    # columns that are strings but not the concepts: said so, not taken for embeddings
    named = frame.set_axis([str(c) for c in frame.columns], axis=1)
    with pytest.raises(ValueError, match="its columns are not concept names"):
        splicer.top_concepts(named)


def test_weight_frames_of_nullable_columns_name_their_missing_values(problem):
    # pd.NA in a nullable column gave "weights must be real numbers; got dtype object"
    concepts, raw, X = problem
    splicer = make(concepts, raw).fit(X)
    frame = pd.DataFrame(splicer.transform(X[:3]).toarray(), columns=splicer.concepts_)
    frame = frame.astype("Float64")
    np.testing.assert_allclose(
        splicer.inverse_transform(frame), splicer.inverse_transform(frame.to_numpy(float))
    )
    frame.iloc[1, 0] = pd.NA
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 row\(s\): 1"):
        splicer.inverse_transform(frame)


# ------------------------------------------------------- memory of transform
def _float32_rows(n, dim, seed):
    X = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_transform_memory_does_not_grow_with_the_rows():
    """The rows are centred a solver chunk at a time (the default budget solves 20,000
    rows of this dictionary in 27 chunks): no temporary the size of X."""
    rng = np.random.default_rng(5)
    n_concepts, dim = 40, 256
    est = make(
        random_vocabulary(n_concepts),
        rng.normal(size=(n_concepts, dim)),
        l1_penalty=0.5,
    ).fit(_float32_rows(200, dim, 6))
    X = _float32_rows(20_000, dim, 7)
    W, peak = _traced_peak(lambda: est.transform(X))
    assert W.shape == (20_000, n_concepts) and W.nnz > 0
    # Centring the whole batch at once took about 4 * X.nbytes.
    assert peak < X.nbytes / 2, (peak, X.nbytes)
    # score recomposes and compares the rows a block at a time, as it did at once.
    cosine, peak = _traced_peak(lambda: est.cosine_similarity(X))
    assert peak < X.nbytes / 2, (peak, X.nbytes)
    from sksplice._array import unit_rows

    np.testing.assert_array_equal(cosine, np.sum(unit_rows(X) * est._recompose(W), axis=1))
    assert est.score(X) == float(np.mean(cosine))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_centred_by_chunk_give_the_weights_of_rows_centred_at_once(dtype):
    from sksplice._means import center_rows

    rng = np.random.default_rng(8)
    n_concepts, dim, n = 60, 24, 3000
    concepts, raw = random_vocabulary(n_concepts), rng.normal(size=(n_concepts, dim))
    X = rng.normal(size=(n, dim)).astype(dtype)
    X[[4, 2900]] = 0.0  # zero rows in the first and the last chunk
    X[2000] = 1e-30 * X[2001]
    small = make(concepts, raw, l1_penalty=0.05, memory_budget=64 << 20).fit(X)
    assert small._get_lasso()._chunk_size("working_set", n, 64 << 20) < n // 4
    with pytest.warns(UserWarning, match=r"X row\(s\) 4, 2900 are all zero") as record:
        W, stats = small.transform_with_stats(X)
    assert sum("all zero" in str(w.message) for w in record) == 1
    codes = small._get_lasso().solve(
        center_rows(X, small.mean_, warn_zero=False),
        small.l1_penalty_,
        tol=small.tol,
        memory_budget=small.memory_budget,
    )
    expected = scipy.sparse.csr_matrix(codes.to_csr(), dtype=W.dtype)
    expected.eliminate_zeros()
    assert W.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(W.indptr, expected.indptr)
    np.testing.assert_array_equal(W.indices, expected.indices)
    np.testing.assert_array_equal(W.data, expected.data)
    np.testing.assert_array_equal(stats.gaps, codes.row_gaps)
    assert stats.n_iter == codes.n_iter
    # A row of a later chunk is named by its row in X.
    X[2950, 3] = np.nan
    with pytest.raises(ValueError, match=r"X holds NaN or infinite values in 1 row\(s\): 2950$"):
        small.transform(X)


def test_a_tiny_penalty_with_chunked_rows_warns_once_with_the_floor_of_all_rows():
    from sksplice._means import center_rows
    from sksplice.path import splice_path

    rng = np.random.default_rng(9)
    n_concepts, dim, n = 40, 16, 150
    concepts, raw = random_vocabulary(n_concepts), rng.normal(size=(n_concepts, dim))
    X = rng.normal(size=(n, dim))
    est = make(concepts, raw, l1_penalty=1e-12, memory_budget=8 << 20).fit(X)
    assert est._get_lasso()._chunk_size("working_set", n, 8 << 20) < n // 2
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        W = est.transform(X)
    floor = [str(w.message) for w in record if "smallest penalty" in str(w.message)]
    lasso = est._get_lasso()
    V = center_rows(X, est.mean_, warn_zero=False)
    assert len(floor) == 1
    assert f"about {lasso.smallest_supported_penalty(V, est.tol):.2g}" in floor[0]
    assert W.shape == (n, n_concepts)
    # the transformer refuses l1_penalty=0: its warning does not suggest it (the
    # solver's own does)
    supported = f"{lasso.smallest_supported_penalty(V, est.tol):.2g}"
    assert "l1_penalty=0" not in floor[0]
    assert f"Use an l1_penalty of at least about {supported} or a larger tol" in floor[0]
    with pytest.warns(UserWarning, match=r"Use l1_penalty=0 \(non-negative least squares\)"):
        lasso.solve(V[:20], 1e-12)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        splice_path(est, X[:20], [1e-11, 1e-12])
    assert not any("l1_penalty=0" in str(w.message) for w in record)
    assert any("smallest penalty" in str(w.message) for w in record)


def test_transform_stats_repr_summarises_the_gaps(problem):
    # One gap per row made the repr a page of numbers in a notebook.
    concepts, raw, X = problem
    _, stats = make(concepts, raw).fit(X).transform_with_stats(X)
    assert repr(stats) == (
        f"TransformStats(n_iter={stats.n_iter!r}, gaps=<40 row gaps>, "
        f"max_gap={stats.max_gap!r}, converged={stats.converged!r}, tol={stats.tol!r})"
    )
    assert stats.gaps.shape == (40,) and stats.max_gap == stats.gaps.max()


def test_a_penalty_given_with_target_l0_is_warned_about_before_any_work(problem):
    # GridSearchCV over l1_penalty of a transformer with target_l0 compared fits of the
    # same sparsity (calibration noise apart), without a word
    concepts, raw, X = problem
    splice = make(concepts, raw, target_l0=3, l1_penalty=0.35)
    from sksplice.exceptions import CalibrationStartWarning

    with pytest.warns(
        CalibrationStartWarning, match=r"l1_penalty=0.35 is given with target_l0=3"
    ) as seen:
        splice.fit(X)
    # (a search over target_l0 that kept the penalty started every fit from it: told to
    # leave it at its default)
    said = "search over target_l0 with l1_penalty left at its default, 0.25, where every fit"
    assert said in str(seen[0].message), seen[0].message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", SmallMeanSampleWarning)  # (40 rows)
        make(concepts, raw, target_l0=3).fit(X)
        make(concepts, raw, l1_penalty=0.35).fit(X)


@pytest.mark.parametrize("output", ["sparse", "dense"])
@pytest.mark.parametrize("extra", [[1, 0, 1, 0], ["a", "b", "a", "b"], [0.0, 0.0, 0.0, 0.0]])
def test_a_weights_frame_with_an_added_column_is_told_its_column(problem, output, extra):
    # A label column added to the weights' frame: top_concepts and l0 spoke of embeddings
    # ("X has 31 features, but ... expecting 8"; "X has columns that are not numbers")
    concepts, raw, X = problem
    est = make(concepts, raw, output=output, image_mean=np.zeros(DIM)).fit(X)
    W = est.set_output(transform="pandas").transform(X[:4])
    W["target_class"] = extra
    for call in (est.top_concepts, est.l0, est.inverse_transform):
        with pytest.raises(
            ValueError,
            match=r"get_feature_names_out\(\); unknown columns \['target_class'\]; give the "
            r"concepts' columns only: W\[splice.get_feature_names_out\(\)\]",
        ):
            call(W)
    # an added column named as a concept replaces its weights: the column is named
    W = W.drop(columns="target_class")
    W[concepts[3]] = ["a", "b", "a", "b"]
    with pytest.raises(TypeError, match=rf"DataFrame column\(s\) \['{concepts[3]}'\] hold"):
        est.top_concepts(W)


def test_weights_stored_as_objects_are_told_to_convert_and_embeddings_stay_embeddings(problem):
    concepts, raw, X = problem
    est = make(concepts, raw, image_mean=np.zeros(DIM), output="dense").fit(X)
    W = est.set_output(transform="pandas").transform(X[:4])
    with pytest.raises(TypeError, match=r"hold object values: convert them to numbers: W\.astype"):
        est.top_concepts(W.astype(object))
    # a frame of embeddings (as wide as X) with most columns named like concepts is
    # still embeddings: the rule of "mostly concepts" is for other widths
    frame = pd.DataFrame(X[:4], columns=[*concepts[: DIM // 2 + 1], *map(str, range(DIM // 2 - 1))])
    np.testing.assert_array_equal(est.l0(frame, per_sample=True), est.l0(X[:4], per_sample=True))


def test_a_centre_is_learned_from_a_large_x_a_block_of_rows_at_a_time(monkeypatch, tmp_path):
    # The centre of 400,000 memory-mapped float16 rows of 512 took 32 s and 6.6 GB (X copied
    # whole as float64, several times); read in blocks, 5 s and 0.3 GB.
    from sksplice import _means

    rng = np.random.default_rng(0)
    X = (rng.normal(size=(1_000, 16)) + 0.5).astype(np.float16)
    X[[3, 700]] = 0  # (rows without a direction: left out)
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    whole = _means.learned_mean(mapped)  # (one block: the mean of the unit rows itself)
    U = (
        X.astype(np.float64)
        / np.maximum(np.linalg.norm(X.astype(np.float64), axis=1), 1e-300)[:, None]
    )
    np.testing.assert_allclose(whole, U[U.any(axis=1)].mean(axis=0), rtol=0, atol=1e-15)
    monkeypatch.setattr(_means, "_MEAN_BLOCK", 64)
    np.testing.assert_allclose(_means.learned_mean(mapped), whole, rtol=0, atol=1e-15)
    seen = []
    original = _means.center_rows

    def counted(rows, mean, **kwargs):
        seen.append(rows.shape[0])
        return original(rows, mean, **kwargs)

    monkeypatch.setattr(_means, "center_rows", counted)
    assert _means.any_centred_row(mapped, whole) and seen == [64]  # (the first block)
    same = np.tile(X[:1], (200, 1))
    seen.clear()
    assert not _means.any_centred_row(same, _means.learned_mean(same))
    assert seen == [64, 64, 64, 8]  # (every block, to tell that none keeps a direction)
    monkeypatch.setattr(_means, "center_rows", original)
    with pytest.raises(ValueError, match="its rows all point the same way"):
        make(random_vocabulary(20), rng.normal(size=(20, 16))).fit(same)


def test_float16_rows_are_fitted_without_a_copy_and_a_known_centre_is_not_read_again(
    tmp_path, monkeypatch
):
    # fit copied float16 rows (a memory-mapped .npy file) whole into float64, 4x their
    # size: the command line's fit of 300,000 x 512 float16 rows peaked at 2.70 GB, 1.55 GB
    # without the copy; and the centre it had learned to check them was learned again.
    import tracemalloc

    from sksplice import _means

    rng = np.random.default_rng(3)
    X = (rng.normal(size=(200_000, 32)) + 0.3).astype(np.float16)
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    concepts, raw = random_vocabulary(40), rng.normal(size=(40, 32))
    tracemalloc.start()
    try:
        est = make(concepts, raw, target_l0=4, calibration_samples=500).fit(mapped)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * X.nbytes, (peak, X.nbytes)  # (a float64 copy alone is 4x)
    as32 = make(concepts, raw, target_l0=4, calibration_samples=500).fit(X.astype(np.float32))
    assert np.array_equal(est.mean_, as32.mean_)
    assert est.n_mean_samples_ == as32.n_mean_samples_ == X.shape[0]
    assert est.l1_penalty_ == as32.l1_penalty_ and est.calibration_l0_ == as32.calibration_l0_
    # a centre learned already is taken as it is for the same rows (the same memory read
    # the same way), and only for them
    known = np.full(32, 0.5)
    with _means.learned_mean_known(mapped, known):
        assert np.array_equal(_means.learned_mean(np.asarray(mapped)), known)
        assert np.array_equal(_means.learned_mean(mapped[:-1]), _means.learned_mean(X[:-1]))
        assert not np.array_equal(_means.learned_mean(X), known)  # (another copy)
        fitted = make(concepts, raw).fit(mapped)
    assert np.array_equal(fitted.mean_, known)
    assert np.array_equal(_means.learned_mean(mapped), est.mean_)  # (the block is left)


@pytest.mark.parametrize(
    "method",
    [
        lambda est, X: est.score(X),
        lambda est, X: est.cosine_similarity(X),
        lambda est, X: est.l0(X),
        lambda est, X: est.top_concepts(X),
    ],
    ids=["score", "cosine_similarity", "l0", "top_concepts"],
)
def test_methods_that_decompose_embeddings_warn_as_transform_does(problem, method):
    # score(X) at a penalty that leaves every row without a concept gave the cosine of the
    # centre alone (a plausible 0.5) in silence, where transform(X) says why; and a search
    # over the transformer alone scores through score.
    from sksplice.exceptions import DenseCodesWarning

    concepts, raw, X = problem
    empty = make(concepts, raw, l1_penalty=1.99).fit(X)
    with pytest.warns(UserWarning, match=r"every row of X decomposes to no concept"):
        method(empty, X)
    dense_concepts, dense_raw, dense_X = _overcomplete()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallMeanSampleWarning)
        dense = make(dense_concepts, dense_raw, l1_penalty=0.01).fit(dense_X)
    with pytest.warns(DenseCodesWarning, match=r"l1_penalty=0\.01"):
        method(dense, dense_X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallMeanSampleWarning)
        useful = make(concepts, raw, l1_penalty=0.3).fit(X)
    with warnings.catch_warnings():  # (a useful penalty: nothing to say)
        warnings.simplefilter("error")
        method(useful, X)


def test_a_search_with_a_keyless_embedder_embeds_the_vocabulary_once(problem):
    # clone deep-copies an embedder that is no estimator: each fit of a search got a copy,
    # which held no dictionary in process, and embedded the whole vocabulary again
    concepts, _, X = problem
    emb = KeylessEmbedder(dim=DIM)
    calls = []
    embed = KeylessEmbedder.embed_text
    with mock.patch.object(
        KeylessEmbedder,
        "embed_text",
        lambda self, texts: calls.append(len(texts)) or embed(self, texts),
    ):
        search = GridSearchCV(
            SpliceTransformer(embedder=emb, vocabulary=concepts, device="cpu"),
            param_grid={"l1_penalty": [0.05, 0.2]},
            cv=3,
        ).fit(X)
        assert calls == [len(concepts)]
        # a copy of a copy is the same model; another object (another model) is not
        copy = clone(clone(search.best_estimator_))
        copy.fit(X)
        assert calls == [len(concepts)]
        SpliceTransformer(embedder=KeylessEmbedder(dim=DIM), vocabulary=concepts, device="cpu").fit(
            X
        )
        assert calls == [len(concepts), len(concepts)]
    np.testing.assert_allclose(
        copy.transform(X).toarray(), search.best_estimator_.transform(X).toarray(), atol=1e-7
    )


def test_a_clone_of_a_keyless_estimator_embedder_with_other_parameters_is_another_model():
    # a search over embedder__seed fitted every candidate with the first model's
    # dictionary: the copy's parameters change after clone, as a search sets them
    from sklearn.base import BaseEstimator

    class SeededEmbedder(BaseEstimator):
        def __init__(self, seed=0):
            self.seed = seed

        def embed_text(self, texts):
            # (as KeylessEmbedder embeds: its seed is the model)
            return KeylessEmbedder(dim=DIM, seed=self.seed).embed_text(texts)

    concepts = random_vocabulary(30)
    X = np.random.default_rng(0).normal(size=(40, DIM))
    base = SpliceTransformer(embedder=SeededEmbedder(0), vocabulary=concepts, device="cpu").fit(X)
    changed = clone(base).set_params(embedder__seed=1).fit(X)
    fresh = SpliceTransformer(embedder=SeededEmbedder(1), vocabulary=concepts, device="cpu").fit(X)
    np.testing.assert_allclose(changed.dictionary_, fresh.dictionary_)
    assert not np.allclose(changed.dictionary_, base.dictionary_)
    # clone asks nothing of the embedder (a model name that does not exist is refused by
    # fit, not by clone: a search clones before it fits)
    from sksplice import CLIPEmbedder

    clone(SpliceTransformer(embedder=CLIPEmbedder("no-such-model"), vocabulary=concepts))


def test_top_concepts_k_none_gives_every_concept_of_each_row(problem):
    concepts, _, X = problem
    est = SpliceTransformer(
        embedder=CountingEmbedder(dim=DIM), vocabulary=concepts, l1_penalty=0.05, device="cpu"
    ).fit(X)
    W = est.transform(X[:6])
    every = est.top_concepts(W, k=None)
    assert [len(pairs) for pairs in every] == np.diff(W.indptr).tolist()
    assert max(len(p) for p in every) > 1, "one concept a row: the test shows nothing"
    assert every == est.top_concepts(W, k=len(concepts))
    frame = est.top_concepts(W, k=None, as_frame=True)
    assert len(frame.dropna(subset=["concept"])) == W.nnz


def test_a_calibration_sample_of_few_rows_chosen_is_warned_about():
    from sksplice.exceptions import SmallMeanSampleWarning

    # calibration_samples=1 calibrated target_l0=8 on one row (10.86 concepts on average
    # over X) without a word
    rng = np.random.default_rng(6)
    concepts, raw = random_vocabulary(80), rng.normal(size=(80, 16))
    X = rng.normal(size=(300, 16))
    said = r"calibration_samples=5 calibrates target_l0=4 on 5 of the 300 rows of X: .* 100 or"
    with pytest.warns(UserWarning, match=said):
        make(concepts, raw, target_l0=4, calibration_samples=5).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make(concepts, raw, target_l0=4, calibration_samples=100).fit(X)
        warnings.simplefilter("ignore", SmallMeanSampleWarning)  # (a centre of 5 rows)
        make(concepts, raw, target_l0=4, calibration_samples=5).fit(X[:5])  # (all of X)


def test_the_mean_l0_of_no_row_is_refused(problem):
    # l0(W[:0]) was nan, with two numpy RuntimeWarnings
    concepts, raw, X = problem
    est = make(concepts, raw, l1_penalty=0.3).fit(X)
    W = est.transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"weights have no rows \(0 samples\)"):
            est.l0(W[:0])
        assert est.l0(W[:0], per_sample=True).shape == (0,)
