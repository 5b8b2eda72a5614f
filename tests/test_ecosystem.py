"""sksplice composed with the rest of the scikit-learn ecosystem.

Output containers (pandas, polars) handed back to sksplice, column transformers,
feature unions and feature selection: the names of the columns must follow the
values, and the dtypes what the documentation promises.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from sksplice import SpliceTransformer, compare_datasets, concept_profiles, rank_concepts
from sksplice.editing import ConceptEditor, ConceptProjector
from sksplice.zero_shot import ZeroShotClassifier

N_CONCEPTS = 12
DIM = 16


pytestmark = pytest.mark.usefixtures("isolated_folders")


@pytest.fixture
def problem():
    rng = np.random.default_rng(3)
    concepts = [f"word{i:02d}" for i in range(N_CONCEPTS)]
    raw = rng.normal(size=(N_CONCEPTS, DIM))
    # rows near a few concepts each: every concept is used by some row
    X = raw[rng.integers(0, N_CONCEPTS, size=(120, 2))].sum(axis=1) + 0.3 * rng.normal(
        size=(120, DIM)
    )
    y = np.where(np.arange(120) % 2 == 0, "even", "odd")
    return concepts, raw, X.astype(np.float32), y


def make(concepts, raw, **kwargs):
    kwargs.setdefault("device", "cpu")
    kwargs.setdefault("l1_penalty", 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SpliceTransformer(vocabulary=concepts, concept_embeddings=raw, **kwargs)


def _reversed(frame):
    """The polars frame with its columns in reverse order (selected by name)."""
    return frame[list(reversed(frame.columns))]


# ------------------------------------------------------------------ polars
def test_polars_weights_are_read_by_their_column_names(problem):
    pl = pytest.importorskip("polars")
    concepts, raw, X, _ = problem
    splice = make(concepts, raw, output="dense").fit(X)
    W = splice.transform(X)
    W_polars = splice.set_output(transform="polars").transform(X)
    assert isinstance(W_polars, pl.DataFrame) and list(W_polars.columns) == concepts
    shuffled = _reversed(W_polars)
    # Recomposition, the largest weights and the sparsity follow the names, not positions.
    np.testing.assert_allclose(splice.inverse_transform(shuffled), splice.inverse_transform(W))
    assert splice.top_concepts(shuffled, k=3) == splice.top_concepts(W, k=3)
    np.testing.assert_array_equal(
        splice.l0(shuffled, per_sample=True), splice.l0(W, per_sample=True)
    )
    # A selection of some concepts is not read as the first columns.
    with pytest.raises(ValueError, match="missing concepts"):
        splice.inverse_transform(W_polars[concepts[2:]])


def test_polars_weights_name_their_concepts_in_the_analysis_functions(problem):
    pytest.importorskip("polars")
    concepts, raw, X, y = problem
    splice = make(concepts, raw, output="dense").fit(X)
    W = splice.transform(X)
    W_polars = splice.set_output(transform="polars").transform(X)
    shuffled = _reversed(W_polars)
    expected = rank_concepts(W, y, "even", concepts=splice)
    # the columns name the concepts, as a pandas DataFrame's do
    for given in (W_polars, shuffled):
        pd.testing.assert_frame_equal(rank_concepts(given, y, "even").loc[expected.index], expected)
    # a frame whose columns are the concepts in another order is not read by position
    pd.testing.assert_frame_equal(
        rank_concepts(shuffled, y, "even", concepts=splice).loc[expected.index], expected
    )
    profiles = concept_profiles(W, y, concepts=splice)
    pd.testing.assert_frame_equal(concept_profiles(shuffled, y).loc[profiles.index], profiles)
    table = compare_datasets(W_polars[: len(X) // 2], W_polars[len(X) // 2 :])
    assert set(table.index) == set(concepts)
    # (the same concepts in another order: read by name)
    pd.testing.assert_frame_equal(
        compare_datasets(W_polars[: len(X) // 2], shuffled[len(X) // 2 :]), table
    )


def test_float32_polars_embeddings_keep_float32(problem):
    pl = pytest.importorskip("polars")
    concepts, raw, X, _ = problem
    X_polars = pl.DataFrame(X, schema=[f"e{j}" for j in range(DIM)])
    assert set(X_polars.schema.values()) == {pl.Float32}
    splice = make(concepts, raw).fit(X_polars)
    # float32 weights for float32 embeddings, as for the same array (docs/transformer.md)
    assert splice.transform(X_polars).dtype == make(concepts, raw).fit(X).transform(X).dtype
    assert splice.transform(X_polars).dtype == np.float32
    dense = make(concepts, raw, output="dense").set_output(transform="polars").fit(X_polars)
    W_polars = dense.transform(X_polars)
    assert set(W_polars.schema.values()) == {pl.Float32}
    assert dense.inverse_transform(W_polars).dtype == np.float32
    edited = ConceptEditor(remove=[concepts[0]]).set_output(transform="polars").fit(W_polars)
    assert set(edited.transform(W_polars).schema.values()) == {pl.Float32}
    # float64 polars embeddings stay float64
    assert splice.transform(X_polars.cast(pl.Float64)).dtype == np.float64


@pytest.mark.parametrize("dtype", ["Float32", "float32[pyarrow]"])
def test_float32_pandas_extension_embeddings_keep_float32(problem, dtype):
    if "pyarrow" in dtype:
        pytest.importorskip("pyarrow")
    concepts, raw, X, _ = problem
    frame = pd.DataFrame(X).astype(dtype)
    splice = make(concepts, raw).fit(frame)
    W = splice.transform(frame)
    assert W.dtype == np.float32
    expected = make(concepts, raw).fit(X).transform(X)
    np.testing.assert_allclose(W.toarray(), expected.toarray(), rtol=1e-5, atol=1e-6)
    assert splice.transform(pd.DataFrame(X.astype(np.float64)).astype("Float64")).dtype == (
        np.float64
    )


def test_float16_frames_of_every_kind_are_solved_as_the_float16_array(problem):
    # a float16 NumPy array (or NumPy-backed DataFrame) is solved in float32; pandas'
    # halffloat[pyarrow] and polars' Float16 frames were converted to float64
    pa = pytest.importorskip("pyarrow")
    concepts, raw, X, _ = problem
    half = X.astype(np.float16)
    splice = make(concepts, raw).fit(X)
    expected = splice.transform(half)
    assert expected.dtype == np.float32
    frames = [pd.DataFrame(half).astype(pd.ArrowDtype(pa.float16()))]
    pl = pytest.importorskip("polars")
    if hasattr(pl, "Float16"):
        frames.append(pl.DataFrame(X).cast(pl.Float16))
    for frame in frames:
        W = splice.transform(frame)
        assert W.dtype == np.float32, type(frame)
        np.testing.assert_array_equal(W.toarray(), expected.toarray())


# ------------------------------------------------- a column of embeddings
def _frame_with_embedding_column(X):
    return pd.DataFrame(
        {"caption": [f"caption {i}" for i in range(len(X))], "embedding": list(X)},
        index=[f"row{i}" for i in range(len(X))],
    )


def test_a_column_of_embeddings_is_refused_saying_how_to_stack_it(problem):
    concepts, raw, X, _ = problem
    frame = _frame_with_embedding_column(X)
    for given, where in (
        (frame[["embedding"]], "column 'embedding' of X"),
        (frame["embedding"], "X (column 'embedding')"),
        (frame, "column 'embedding' of X"),
    ):
        with pytest.raises(ValueError, match="holds an embedding in each cell") as caught:
            make(concepts, raw).fit(given)
        message = str(caught.value)
        assert message.startswith(where)
        assert f"the first has {DIM} values" in message
        assert "np.stack(" in message
    # the same for a fitted transformer and the other estimators that take embeddings
    fitted = make(concepts, raw).fit(X)
    with pytest.raises(ValueError, match="holds an embedding in each cell"):
        fitted.transform(frame[["embedding"]])
    with pytest.raises(ValueError, match="holds an embedding in each cell"):
        ConceptProjector(directions=raw[:1]).fit(frame[["embedding"]])

    class Text:
        def embed_text(self, texts):
            return np.eye(DIM)[: len(texts)]

    with pytest.raises(ValueError, match="holds an embedding in each cell"):
        ZeroShotClassifier(Text(), classes=["a", "b"]).fit(frame[["embedding"]])
    # the advice works: the stacked column is the embeddings
    stacked = np.stack(frame["embedding"].to_numpy())
    np.testing.assert_array_equal(stacked, X)


def test_a_column_of_embeddings_in_a_column_transformer_says_what_to_do(problem):
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer

    concepts, raw, X, _ = problem
    frame = _frame_with_embedding_column(X)
    columns = ColumnTransformer(
        [("splice", make(concepts, raw), ["embedding"]), ("words", TfidfVectorizer(), "caption")]
    )
    with pytest.raises(ValueError, match="ColumnTransformer, keep them as d columns"):
        columns.fit(frame)
    # as advised: d columns of numbers, selected by name
    names = [f"e{j}" for j in range(DIM)]
    numbers = pd.DataFrame(X, index=frame.index, columns=names)
    wide = pd.concat([frame[["caption"]], numbers], axis=1)
    columns = ColumnTransformer(
        [("splice", make(concepts, raw), names), ("words", TfidfVectorizer(), "caption")]
    )
    Z = columns.fit_transform(wide)
    out = columns.get_feature_names_out()
    assert Z.shape == (len(X), len(out))
    assert list(out[:N_CONCEPTS]) == [f"splice__{c}" for c in concepts]
    np.testing.assert_allclose(
        Z[:, :N_CONCEPTS].toarray(), make(concepts, raw).fit(X).transform(X).toarray(), atol=1e-6
    )


# ------------------------------------------------------------ HTML display
def test_a_fitted_path_search_displays_its_refitted_pipeline(problem):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from sksplice import SplicePathSearchCV

    concepts, raw, X, y = problem
    pipe = make_pipeline(make(concepts, raw, image_mean=np.zeros(DIM)), LogisticRegression())
    search = SplicePathSearchCV(pipe, [0.05, 0.3], cv=2)
    before = search._repr_html_()
    assert "estimator: Pipeline" in before and "best_estimator_" not in before
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    best = search.best_params_["splicetransformer__l1_penalty"]
    html = search._repr_html_()
    # as GridSearchCV shows it: the refitted pipeline, with the penalty it chose
    assert "best_estimator_: Pipeline" in html
    # (the parameter table of scikit-learn >= 1.7 shows the refitted penalty)
    shown = re.findall(r'param">l1_penalty</td>\s*<td class="value">([^<]*)<', html)
    import sklearn

    release = tuple(int(part) for part in sklearn.__version__.split(".")[:2])
    assert shown == [str(best)] if release >= (1, 7) else not shown or shown == [str(best)], shown
    assert search.best_estimator_[0].l1_penalty == best != pipe[0].l1_penalty


def test_an_editor_reads_polars_weights_in_another_order_by_name(problem):
    # An editor fitted on an unnamed array (with `splice`) zeroed column 0 of a polars
    # frame whose columns were reversed: another concept than the one named. (Refused
    # then, read by name now.)
    pytest.importorskip("polars")
    from sksplice import ConceptEditor

    concepts, raw, X, _ = problem
    splice = make(concepts, raw, output="dense").fit(X)
    W = splice.transform(X)
    editor = ConceptEditor(remove=[concepts[0]], splice=splice).fit(W)
    W_polars = splice.set_output(transform="polars").transform(X)
    with pytest.raises(ValueError, match="differ from the concepts of this editor"):
        editor.transform(W_polars.rename({concepts[1]: "not a concept"}))
    edited = editor.set_output(transform="default").transform(W_polars)
    assert not np.any(np.asarray(edited)[:, 0]) and np.array_equal(
        np.asarray(edited)[:, 1:], W[:, 1:]
    )
    np.testing.assert_array_equal(np.asarray(editor.transform(_reversed(W_polars))), edited)


def test_an_arrow_list_column_of_embeddings_is_refused_saying_how_to_stack_it(problem):
    # a Parquet file read with dtype_backend="pyarrow" gives list<double> columns, which
    # gave NumPy's "setting an array element with a sequence"
    pa = pytest.importorskip("pyarrow")
    concepts, raw, X, _ = problem
    frame = pd.DataFrame(
        {"embedding": pd.Series(list(X), dtype=pd.ArrowDtype(pa.list_(pa.float32())))}
    )
    with pytest.raises(ValueError, match=r"column 'embedding' of X holds an embedding") as info:
        make(concepts, raw).fit(frame)
    assert "np.stack(X['embedding'].to_numpy())" in str(info.value)
    stacked = np.stack(frame["embedding"].to_numpy())
    np.testing.assert_array_equal(stacked, X.astype(np.float32))


def test_weights_behind_a_column_transformer_prefix_are_refused_saying_how_to_strip_it(problem):
    # the pandas output of a ColumnTransformer names the concepts "splice__dog": the
    # transformer refused them as unknown columns, without a word of the prefix
    from sklearn.compose import ColumnTransformer

    concepts, raw, X, _ = problem
    frame = pd.DataFrame(X, columns=[f"e{i}" for i in range(X.shape[1])])
    frame["n"] = np.arange(len(X), dtype=float)
    columns = list(frame.columns[:-1])
    ct = ColumnTransformer(
        [("splice", make(concepts, raw, output="dense"), columns), ("num", "passthrough", ["n"])]
    ).set_output(transform="pandas")
    out = ct.fit_transform(frame)
    splice = ct.named_transformers_["splice"]
    with pytest.raises(ValueError, match="behind the step name 'splice'") as info:
        splice.inverse_transform(out)
    assert "verbose_feature_names_out=False" in str(info.value)
    # the advice, followed, works
    W = out[[c for c in out.columns if c.startswith("splice__")]].rename(
        columns=lambda c: c.split("__", 1)[1]
    )
    np.testing.assert_allclose(
        splice.inverse_transform(W), splice.inverse_transform(splice.transform(frame[columns]))
    )
    # other unknown columns get no such advice
    with pytest.raises(ValueError) as info:
        splice.inverse_transform(W.rename(columns={concepts[0]: "not a concept"}))
    assert "step name" not in str(info.value)
