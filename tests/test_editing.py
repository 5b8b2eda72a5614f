"""Tests for sksplice.editing: ConceptEditor, ConceptProjector, project_out."""

from __future__ import annotations

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (
    check_estimator,
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_set_params,
)

from sksplice.editing import ConceptEditor, ConceptProjector, concept_neighbors, project_out
from sksplice.transformer import SpliceTransformer
from sksplice.zero_shot import ZeroShotClassifier

NAMES = [
    "dog", "puppy", "canine", "cat", "kitten", "car", "truck", "tree",
    "forest", "beach", "sand", "ocean", "red", "blue", "green", "house",
]  # fmt: skip


@pytest.fixture(scope="module")
def small_setup():
    """A fitted SpliceTransformer on 16 named concepts (d=12) and labelled embeddings."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(len(NAMES), 12))
    # make dog/puppy/canine and cat/kitten near-synonyms
    base[1] = base[0] + 0.3 * rng.normal(size=12)
    base[2] = base[0] + 0.4 * rng.normal(size=12)
    base[4] = base[3] + 0.3 * rng.normal(size=12)
    picks = rng.integers(0, len(NAMES), size=(60, 3))
    X = base[picks].sum(axis=1) + 0.1 * rng.normal(size=(60, 12))
    y = np.isin(picks, [0, 1, 2]).any(axis=1).astype(int)
    splice = SpliceTransformer(
        vocabulary=NAMES, concept_embeddings=base, l1_penalty=0.05, device="cpu"
    ).fit(X)
    return splice, X, y


def test_remove_dense_sparse_and_dataframe_agree(small_setup):
    splice, X, _ = small_setup
    W = splice.transform(X)
    assert sp.issparse(W)
    editor = ConceptEditor(remove=["dog", "beach"], splice=FrozenEstimator(splice)).fit(W)
    out = editor.transform(W)
    assert sp.isspmatrix_csr(out)
    dense = W.toarray()
    expected = dense.copy()
    expected[:, [0, 9]] = 0.0
    np.testing.assert_array_equal(out.toarray(), expected)
    assert out.nnz == np.count_nonzero(expected)  # zeros are dropped, not stored
    np.testing.assert_array_equal(editor.transform(dense), expected)
    frame = pd.DataFrame(dense, columns=NAMES)
    by_name = ConceptEditor(remove=["dog", "beach"]).fit(frame)
    np.testing.assert_array_equal(by_name.transform(frame), expected)
    assert list(editor.removed_concepts_) == ["dog", "beach"]
    assert editor.mask_.sum() == len(NAMES) - 2
    assert list(editor.get_feature_names_out()) == NAMES


def test_columns_that_do_not_match_splice_are_named(small_setup):
    splice, X, _ = small_setup
    frame = pd.DataFrame(splice.transform(X).toarray(), columns=NAMES)
    editor = ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice))
    # the concepts of `splice` in another order are read by name (they were refused,
    # while inverse_transform and the analysis functions read them so)
    reordered = editor.fit(frame[NAMES[::-1]])
    assert list(reordered.get_feature_names_out()) == NAMES
    expected = frame.to_numpy().copy()
    expected[:, 0] = 0.0
    np.testing.assert_array_equal(reordered.transform(frame[NAMES[::-1]]), expected)
    np.testing.assert_array_equal(reordered.transform(frame), expected)
    renamed = frame.rename(columns={"beach": "shore"})
    with pytest.raises(ValueError, match=r"not among its concepts \['shore'\], its concepts not"):
        editor.fit(renamed)
    assert editor.fit(frame[NAMES]).mask_.sum() == len(NAMES) - 1


def _shuffled_twin(small_setup):
    """A transformer of the same concepts in another order, fitted on the same rows."""
    splice, X, _ = small_setup
    order = np.roll(np.arange(len(NAMES)), 3)
    base = splice.concept_embeddings
    twin = SpliceTransformer(
        vocabulary=[NAMES[i] for i in order],
        concept_embeddings=np.asarray(base)[order],
        l1_penalty=0.05,
        device="cpu",
    ).fit(X)
    return twin


@pytest.mark.parametrize("output", ["sparse", "dense"])
def test_weights_of_another_vocabulary_are_refused_not_edited_by_position(small_setup, output):
    # In make_pipeline(SpliceTransformer(...), ConceptEditor(splice=FrozenEstimator(fitted)))
    # the editor gets a bare matrix. When the pipeline's transformer has other concepts or
    # the same in another order (a vocabulary file rewritten since `fitted` was made), the
    # editor zeroed the columns at the positions of `fitted`'s concepts: other concepts,
    # reported as the ones asked for.
    splice, X, y = small_setup
    twin = _shuffled_twin(small_setup).set_params(output=output)
    editor = ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice))
    pipe = make_pipeline(clone(twin), editor, LogisticRegression())
    with pytest.raises(ValueError, match=r"column 0 is 'blue' there but 'dog' in `splice`"):
        pipe.fit(X, y)
    # the editor fitted on the right weights refuses the twin's at transform
    editor.fit(splice.set_params(output=output).transform(X))
    with pytest.raises(ValueError, match=r"not those of this editor .* another order"):
        editor.transform(twin.transform(X))
    # so do the transformer and the analysis functions given the wrong names
    from sksplice.analysis import concept_profiles

    W_twin = twin.transform(X)
    with pytest.raises(ValueError, match=r"not those of this transformer"):
        splice.inverse_transform(W_twin)
    with pytest.raises(ValueError, match=r"not those of `concepts`"):
        concept_profiles(W_twin, y, concepts=splice)
    # the right transformer (or one fitted on the same vocabulary) is taken as before
    same = clone(splice).fit(X)
    pipe = make_pipeline(same, ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice)))
    out = pipe.fit(X, y).transform(X)
    assert not np.asarray(out[:, 0].todense() if sp.issparse(out) else out[:, 0]).any()
    concept_profiles(twin.transform(X), y, concepts=twin)
    splice.set_params(output="sparse")


@pytest.mark.parametrize("output", ["sparse", "dense"])
def test_edited_weights_keep_the_record_of_their_concepts(small_setup, output):
    # The editor's bare output had no record: another transformer (the same concepts in
    # another order) read the edited weights by position, and the concept just removed was
    # reported present under another concept's column.
    from sksplice.analysis import concept_profiles

    splice, X, y = small_setup
    twin = _shuffled_twin(small_setup).set_params(output=output)
    W_twin = twin.transform(X)
    editor = ConceptEditor(remove=["dog"], splice=FrozenEstimator(twin))
    edited = editor.fit_transform(W_twin)
    assert edited is not W_twin
    with pytest.raises(ValueError, match=r"not those of this transformer.* another order"):
        splice.inverse_transform(edited)
    with pytest.raises(ValueError, match=r"not those of this transformer"):
        splice.top_concepts(edited, kind="weights")
    with pytest.raises(ValueError, match=r"not those of `concepts`"):
        concept_profiles(edited, y, concepts=splice)
    # the transformer of those concepts reads them, without the concept removed
    assert concept_profiles(W_twin, y, concepts=twin).loc["dog", ("count", "all")] > 0
    assert concept_profiles(edited, y, concepts=twin).loc["dog", ("count", "all")] == 0
    np.testing.assert_allclose(
        twin.inverse_transform(edited), twin.inverse_transform(editor.transform(W_twin))
    )


@pytest.mark.parametrize("output", ["sparse", "dense"])
def test_copies_of_weights_of_another_vocabulary_are_refused(small_setup, output):
    # The record was kept by id(W): W.copy(), a pickled copy or W.astype(np.float64) were
    # taken by position, each column read as another concept.
    from sksplice.analysis import concept_profiles, rank_concepts

    splice, X, y = small_setup
    splice = clone(splice).set_params(output=output).fit(X)
    twin = _shuffled_twin(small_setup)
    W = splice.transform(X)
    every = np.arange(W.shape[0])
    train = every % 3 != 0
    copies = {
        "copy": (W.copy(), every),
        "pickled": (pickle.loads(pickle.dumps(W)), every),
        "float64": (W.astype(np.float64), every),
        "float32": (W.astype(np.float32), every),
        # rows of them: those a user looks at, a fold (they were read by position)
        "first rows": (W[:5], every[:5]),
        "one row": (W[[3]], every[[3]]),
        "a fold": (W[train], every[train]),
        "other format": (W.tocsc() if output == "sparse" else sp.csr_array(W), every),
    }

    def top_names(weights):
        return [[c for c, _ in row] for row in splice.top_concepts(weights, kind="weights")]

    y_all = np.asarray(y)
    for how, (copy, rows) in copies.items():
        y = y_all[rows]
        with pytest.raises(ValueError, match=r"not those of `splice`.* another order"):
            ConceptEditor(remove=["dog"], splice=FrozenEstimator(twin)).fit(copy)
        with pytest.raises(ValueError, match=r"not those of this transformer"):
            twin.top_concepts(copy, kind="weights")
        with pytest.raises(ValueError, match=r"not those of this transformer"):
            twin.inverse_transform(copy)
        with pytest.raises(ValueError, match=r"not those of `concepts`"):
            concept_profiles(copy, y, concepts=twin)
        with pytest.raises(ValueError, match=r"not those of `concepts`"):
            rank_concepts(copy, y, positive=1, concepts=twin)

        # the transformer that made them (and its concepts) takes every copy
        assert top_names(copy) == top_names(W[rows]), how
        concept_profiles(copy, y, concepts=splice)
    editor = ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice)).fit(W)
    with pytest.raises(ValueError, match=r"not those of this editor"):
        pickle.loads(pickle.dumps(editor)).transform(pickle.loads(pickle.dumps(twin.transform(X))))


def test_a_memory_pipeline_refuses_cached_weights_of_another_vocabulary(small_setup, tmp_path):
    # The second fit read the transformer's output back from the joblib cache (a new
    # matrix with no record) and the editor zeroed the column of another concept.
    from sklearn.pipeline import Pipeline

    splice, X, y = small_setup
    twin = _shuffled_twin(small_setup)

    def pipeline():
        return Pipeline(
            [
                ("splice", clone(twin)),
                ("edit", ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice))),
                ("lr", LogisticRegression()),
            ],
            memory=str(tmp_path),
        )

    for _ in range(2):
        with pytest.raises(ValueError, match=r"column 0 is 'blue' there but 'dog' in `splice`"):
            pipeline().fit(X, y)
    assert any(tmp_path.rglob("output.pkl"))  # (the second fit was a cache hit)


def test_the_record_of_weights_goes_with_them(small_setup):
    import gc

    from sksplice import _names

    splice, X, _ = small_setup
    before = len(_names._SOURCES)
    for _ in range(20):
        W = splice.transform(X)
    del W
    gc.collect()
    assert len(_names._SOURCES) <= before


def test_a_frame_of_other_concepts_is_refused_at_transform(small_setup):
    # Fitted on bare weights with `splice`, the editor only warned (scikit-learn's "X has
    # feature names") for a frame of other concepts, and zeroed and named its columns
    # by position.
    splice, X, _ = small_setup
    editor = ConceptEditor(remove=["beach"], splice=FrozenEstimator(splice))
    editor.fit(splice.transform(X))
    twin = _shuffled_twin(small_setup)
    frame = pd.DataFrame(twin.transform(X).toarray(), columns=twin.get_feature_names_out())
    frame = frame.rename(columns={"sand": "dune"})
    with (
        pytest.raises(ValueError, match=r"differ from the concepts of this editor"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", UserWarning)
        editor.transform(frame)


def test_sparse_input_is_not_densified(small_setup, monkeypatch):
    splice, X, _ = small_setup
    W = splice.transform(X)
    editor = ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice)).fit(W)

    def _forbidden(self, *args, **kwargs):
        raise AssertionError("sparse weights were densified")

    for cls in (sp.csr_matrix, sp.csr_array, sp.coo_matrix):
        monkeypatch.setattr(cls, "toarray", _forbidden)
        monkeypatch.setattr(cls, "todense", _forbidden)
    out = editor.transform(W)
    assert sp.issparse(out) and out.shape == W.shape


def test_a_sparse_array_is_returned_as_a_sparse_array(small_setup):
    """scikit-learn's transformers return the sparse container they are given."""
    splice, X, _ = small_setup
    W = sp.csr_array(splice.transform(X))
    for editor in (ConceptEditor(), ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice))):
        out = editor.fit_transform(W)
        assert isinstance(out, sp.csr_array), type(out)
        expected = W.toarray()
        expected[:, NAMES.index("dog")] *= editor.remove is None
        np.testing.assert_array_equal(out.toarray(), expected)


def test_polars_output_of_sparse_weights_says_where_to_make_them_dense(small_setup):
    pytest.importorskip("polars")
    splice, X, _ = small_setup
    editor = ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice))
    with pytest.raises(ValueError, match=r"SpliceTransformer\(output='dense'\)"):
        editor.set_output(transform="polars").fit_transform(splice.transform(X))
    frame = editor.fit_transform(splice.transform(X).toarray())  # dense weights: a frame
    assert list(frame.columns) == NAMES and not frame["dog"].to_numpy().any()


def test_centred_weights_are_warned_about_where_a_concept_is_zeroed(small_setup):
    """Zeroing a standardised column sets the concept to its mean weight, not to none:
    the same for a probe trained with the edit, not for a model trained without it."""
    splice, X, y = small_setup
    dense = SpliceTransformer(
        vocabulary=NAMES, concept_embeddings=splice.concept_embeddings, l1_penalty=0.05,
        device="cpu", output="dense",
    )  # fmt: skip
    pipe = make_pipeline(
        dense, StandardScaler(), ConceptEditor(remove=["dog"]), LogisticRegression()
    ).set_output(transform="pandas")
    with pytest.warns(UserWarning, match=r"^X holds negative weights: .*put the editor before"):
        pipe.fit(X, y)
    # (the probe learns the same as with the editor first: the column is constant)
    first = make_pipeline(
        clone(dense), ConceptEditor(remove=["dog"]), StandardScaler(), LogisticRegression()
    ).set_output(transform="pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # (nothing to warn of in this order)
        warnings.filterwarnings("ignore", message=".*learns the modality centre")
        first.fit(X, y)
    np.testing.assert_allclose(pipe.predict_proba(X), first.predict_proba(X), atol=1e-6)
    # recomposing centred weights is refused, naming the rows
    W = splice.transform(X).toarray()
    editor = ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice), output="embedding")
    with pytest.raises(
        ValueError, match=r"Negative values in data: X .* hold negative values: 0, 1"
    ):
        editor.fit(W).transform(W - W.mean(axis=0))
    # an editor that zeroes nothing passes any weights through, as check_estimator feeds it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(ConceptEditor().fit_transform(-W), -W)


def test_keep_and_keep_with_remove(small_setup):
    splice, X, _ = small_setup
    W = splice.transform(
        X,
    ).toarray()
    frozen = FrozenEstimator(splice)
    # (rows that held none of the three are left without a concept: what keep= asks for,
    # not warned about with weights as output)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = ConceptEditor(keep=["dog", "cat", "car"], splice=frozen).fit_transform(W)
    assert np.all(kept[:, [i for i, n in enumerate(NAMES) if n not in {"dog", "cat", "car"}]] == 0)
    np.testing.assert_array_equal(kept[:, [0, 3, 5]], W[:, [0, 3, 5]])
    both = ConceptEditor(keep=["dog", "cat"], remove="cat", splice=frozen).fit(W)
    assert set(both.removed_concepts_) == set(NAMES) - {"dog"}
    assert list(both.neighbors_["action"]) == ["keep", "keep", "remove"]


def test_rows_left_without_any_concept_are_warned_about_when_recomposed(small_setup):
    # Recomposed, such rows are all the centre: a classifier downstream scored the same
    # vector for each of them, without a word.
    splice, X, _ = small_setup
    W = splice.transform(X)
    frozen = FrozenEstimator(splice)
    no_house = W.toarray()
    no_house[:, NAMES.index("house")] = 0  # (a concept no row holds)
    editor = ConceptEditor(keep=["house"], splice=frozen, output="embedding")
    with pytest.warns(UserWarning) as record:
        Z = editor.fit_transform(no_house)
    message = str(record[0].message)
    assert message.startswith("the edit removed every concept of X rows 0, 1, 2, 3, 4 and ")
    assert "(every row): each recomposes to the centre (the mean embedding)" in message
    assert np.ptp(Z, axis=0).max() < 1e-6  # (every row is the same vector)
    # Only the rows emptied by the edit, named by a frame's index, in either format.
    row = 7
    held = [NAMES[j] for j in W[row].indices]
    frame = pd.DataFrame(W.toarray(), columns=NAMES, index=[f"img{i}" for i in range(60)])
    for given in (W, W.toarray(), frame):
        remover = ConceptEditor(remove=held, splice=frozen, output="embedding").fit(given)
        emptied = [i for i in range(60) if set(NAMES[j] for j in W[i].indices) <= set(held)]
        with pytest.warns(UserWarning, match=r"removed every concept of X row") as record:
            remover.transform(given)
        text = str(record[0].message)
        assert f"({len(emptied)} of 60 rows)" in text
        if given is frame:
            assert f"'img{row}' (row {row})" in text
    # Rows that held no concept before the edit are not the edit's doing.
    empty = W.toarray()
    empty[:, :] = 0
    empty[0, 0] = empty[0, 1] = 0.5  # (dog and puppy: the row keeps dog)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ConceptEditor(remove=["puppy"], splice=frozen, output="embedding").fit(empty).transform(
            empty
        )
        # Weights as output: rows without a concept are what the edit asks for.
        ConceptEditor(remove=held, splice=frozen).fit(W).transform(W)


def test_names_are_taken_from_any_list_like_container(small_setup):
    # (a Series, such as a column of a table of concepts, was refused as "not a list")
    splice, X, _ = small_setup
    W = splice.transform(X)
    frozen = FrozenEstimator(splice)
    expected = ConceptEditor(remove=["dog", "beach"], splice=frozen).fit(W).mask_
    assert (~expected).sum() == 2
    for container in (tuple, np.array, pd.Index, pd.Series, set, frozenset):
        editor = ConceptEditor(remove=container(["dog", "beach"]), splice=frozen)
        np.testing.assert_array_equal(editor.fit(W).mask_, expected)
        kept = ConceptEditor(keep=container(NAMES[:-1]), splice=frozen).fit(W).mask_
        assert list(kept) == [True] * (len(NAMES) - 1) + [False]


def test_one_row_of_weights_given_as_1d_is_told_how_to_reshape(small_setup):
    # scikit-learn's message printed every weight of the row (thousands, for LAION)
    splice, X, _ = small_setup
    row = splice.transform(X[:1]).toarray()[0]
    editor = ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice))
    said = re.escape(f"X has shape ({len(NAMES)},): the weights of one sample perhaps")
    for given in (row, list(row)):
        with pytest.raises(ValueError, match=f"^{said}.*Reshape your data: np.reshape") as e:
            editor.fit(given)
        assert "array=[" not in str(e.value)
    # (a row of a frame: made a frame of one row again, its concepts kept as columns)
    with pytest.raises(ValueError, match=f"^{said}.*Reshape your data: X.to_frame\\(\\).T"):
        editor.fit(pd.Series(row, index=NAMES))
    fitted = editor.fit(row.reshape(1, -1))
    with pytest.raises(ValueError, match=said):
        fitted.transform(row)


def test_removing_concepts_no_row_holds_is_warned_about(small_setup):
    # A study of water/land backgrounds removed "water" and "land": the decompositions
    # carried them with "ocean", "lake", "forest"... and never used those two, so the
    # edit changed nothing, the probe retrained on it scored as before, without a word.
    splice, X, _ = small_setup
    W = splice.transform(X).toarray()
    W[:, [NAMES.index("red"), NAMES.index("house"), NAMES.index("sand")]] = 0.0
    frozen = FrozenEstimator(splice)
    frame = pd.DataFrame(W, columns=NAMES)
    for given, editor in (
        (W, ConceptEditor(remove=["dog", "red", "house"], splice=frozen)),
        (sp.csr_matrix(W), ConceptEditor(remove=["dog", "red", "house"], splice=frozen)),
        (frame, ConceptEditor(remove=["dog", "red", "house"])),
    ):
        with pytest.warns(UserWarning, match="named in `remove`") as record:
            editor.fit(given)
        (message,) = [str(r.message) for r in record if "named in `remove`" in str(r.message)]
        assert message.startswith(
            "the concepts 'red', 'house' named in `remove` have a non-zero weight in no row "
            "of X seen in fit: removing them changes nothing there."
        )
        assert "concept_neighbors" in message
        assert "extend the edit with n_neighbors or similarity_threshold" in message
        assert not editor.mask_[NAMES.index("red")]  # (still removed, as asked)
    # With neighbours, a concept is idle only when none of its neighbours is held either.
    sims = splice.dictionary_ @ splice.dictionary_[NAMES.index("sand")]
    nearest = NAMES[int(np.argsort(-sims)[1])]
    assert W[:, NAMES.index(nearest)].any()  # (the nearest neighbour of sand is held)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ConceptEditor(remove=["sand"], n_neighbors=1, splice=frozen).fit(W)
        ConceptEditor(remove=["dog"], splice=frozen).fit(W)  # (held: no warning)
    # Many idle concepts are named as the other lists of names are, the first ones and
    # how many more (it listed every one: thousands, for a large edit of a large vocabulary)
    idle = W.copy()
    idle[:, :12] = 0.0
    with pytest.warns(UserWarning, match="named in `remove`") as record:
        ConceptEditor(remove=NAMES[:12], splice=frozen).fit(idle)
    (message,) = [str(r.message) for r in record if "named in `remove`" in str(r.message)]
    shown = ", ".join(repr(name) for name in NAMES[:10])
    assert message.startswith(f"the concepts {shown} and 2 more named in `remove` have"), message
    # An edit that is refused is not warned about first (the warning listed the idle
    # concepts, then the fit raised that the edit zeroes every concept)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="zeroes all 16 concepts"):
            ConceptEditor(remove=NAMES, splice=frozen).fit(idle)
        # a frame of pandas sparse columns, as the transformer's pandas output
        sparse_frame = pd.DataFrame.sparse.from_spmatrix(sp.csr_matrix(W), columns=NAMES)
        ConceptEditor(remove=["dog"]).fit(sparse_frame)
    with pytest.warns(UserWarning, match="'red' named in `remove`"):
        ConceptEditor(remove=["red"]).fit(sparse_frame)
        ConceptEditor(keep=["red"], splice=frozen).fit(W)  # (keep is another matter)
    W[:, NAMES.index(nearest)] = 0.0
    with pytest.warns(UserWarning, match="nor does any of the neighbours selected for it") as told:
        ConceptEditor(remove=["sand"], n_neighbors=1, splice=frozen).fit(W)
    # (n_neighbors given: the advice is to extend it further, not to give it)
    (message,) = [str(r.message) for r in told if "named in `remove`" in str(r.message)]
    assert "extend the edit further (a larger n_neighbors or a lower similarity_threshold)" in (
        message
    )
    assert "extend the edit with n_neighbors" not in message


def test_output_embedding_recomposes_edited_weights(small_setup):
    splice, X, _ = small_setup
    W = splice.transform(X)
    editor = ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice), output="embedding")
    Z = editor.fit_transform(W)
    edited = W.toarray()
    edited[:, 0] = 0
    np.testing.assert_allclose(Z, splice.inverse_transform(edited), rtol=1e-6, atol=1e-6)
    assert Z.shape == (X.shape[0], X.shape[1])
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, rtol=1e-5)
    names = editor.get_feature_names_out()
    assert list(names[:2]) == ["concepteditor0", "concepteditor1"] and len(names) == 12
    # rows that used "dog" changed, the others did not
    used = W.toarray()[:, 0] > 0
    assert used.any() and (~used).any()
    recomposed = splice.inverse_transform(W)
    changed = ~np.isclose(Z, recomposed, atol=1e-6).all(axis=1)
    np.testing.assert_array_equal(changed, used)


def test_neighbor_expansion_matches_dictionary_cosines(small_setup):
    splice, X, _ = small_setup
    W = splice.transform(X)
    D = splice.dictionary_.astype(np.float64)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    sims = D @ D[0]
    sims[0] = -np.inf
    order = np.argsort(-sims)
    frozen = FrozenEstimator(splice)
    knn = ConceptEditor(remove=["dog"], n_neighbors=2, splice=frozen).fit(W)
    assert set(knn.removed_concepts_) == {"dog", NAMES[order[0]], NAMES[order[1]]}
    assert {"puppy", "canine"} <= set(knn.removed_concepts_)
    table = knn.neighbors_
    assert list(table["rank"]) == [0, 1, 2]
    np.testing.assert_allclose(table["similarity"].iloc[1:], sims[order[:2]], rtol=1e-5)
    threshold = float(sims[order[2]]) - 1e-6
    thr = ConceptEditor(remove=["dog"], similarity_threshold=threshold, splice=frozen).fit(W)
    assert set(thr.removed_concepts_) == {"dog", *[NAMES[j] for j in order[:3]]}
    both = ConceptEditor(
        remove=["dog"], similarity_threshold=threshold, n_neighbors=1, splice=frozen
    ).fit(W)
    assert set(both.removed_concepts_) == {"dog", NAMES[order[0]]}
    preview = concept_neighbors(splice, "dog", n_neighbors=2)
    assert list(preview["concept"]) == list(table["concept"])


def test_preview_with_the_editors_arguments_lists_what_it_removes(small_setup):
    # concept_neighbors cut a threshold-only preview at 10 neighbours while the editor
    # (n_neighbors=0 by default) removed every concept above the threshold
    splice, X, _ = small_setup
    W = splice.transform(X)
    D = splice.dictionary_.astype(np.float64)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    sims = np.sort(np.delete(D @ D[0], 0))[::-1]
    threshold = float(sims[12]) - 1e-6  # 13 neighbours above it
    editor = ConceptEditor(
        remove=["dog"], similarity_threshold=threshold, splice=FrozenEstimator(splice)
    ).fit(W)
    preview = concept_neighbors(splice, "dog", similarity_threshold=threshold)
    assert len(editor.removed_concepts_) == 14
    assert set(preview["concept"]) == set(editor.removed_concepts_)
    # alone, the preview lists the 10 nearest; the editor alone removes no neighbour
    assert list(concept_neighbors(splice, "dog")["rank"]) == list(range(11))
    alone = ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice)).fit(W)
    assert list(alone.removed_concepts_) == ["dog"]
    for n in (0, 3):
        preview = concept_neighbors(splice, "dog", n_neighbors=n, similarity_threshold=0.0)
        editor = ConceptEditor(
            remove=["dog"], n_neighbors=n, similarity_threshold=0.0, splice=FrozenEstimator(splice)
        ).fit(W)
        assert set(preview["concept"]) == set(editor.removed_concepts_)


def test_unknown_names(small_setup):
    splice, X, _ = small_setup
    W = splice.transform(X)
    frozen = FrozenEstimator(splice)
    with pytest.raises(ValueError, match=r"'dgo' \(did you mean 'dog'"):
        ConceptEditor(remove=["dgo"], splice=frozen).fit(W)
    with pytest.raises(
        ValueError, match=r"`keep` not in the vocabulary: 'kitt' \(did you mean 'kitten'"
    ):
        ConceptEditor(keep=["kitt"], splice=frozen).fit(W)
    with pytest.warns(UserWarning, match="'zebra'.*ignored"):
        editor = ConceptEditor(remove=["zebra", "dog"], ignore_unknown=True, splice=frozen)
        editor.fit(W)
    assert list(editor.removed_concepts_) == ["dog"]
    with pytest.raises(ValueError, match="did you mean 'dog'"):
        concept_neighbors(splice, ["dgo"])
    # nothing asked, or a name twice: refused as a retriever's query is (an empty table
    # read as "no neighbours"; the duplicate was dropped without a word)
    with pytest.raises(ValueError, match="`concepts` names no concept"):
        concept_neighbors(splice, [])
    with pytest.raises(ValueError, match="`concepts` names 'dog' twice: name each concept once"):
        concept_neighbors(splice, ["dog", "cat", "dog"])


def test_unknown_names_suggest_the_prefixed_columns_of_a_union(small_setup):
    # After a FeatureUnion (pandas output) the columns are "<step>__<concept>": a concept
    # named as in the vocabulary is pointed to them, not only said to be missing.
    from sklearn.pipeline import make_union

    splice, X, _ = small_setup
    union = make_union(clone(splice), clone(splice).set_params(l1_penalty=0.3))
    W = union.set_output(transform="pandas").fit_transform(X)
    with pytest.raises(
        ValueError,
        match=r"'dog' \(did you mean 'splicetransformer-1__dog', 'splicetransformer-2__dog'\?\)",
    ):
        ConceptEditor(remove=["dog"]).fit(W)
    editor = ConceptEditor(remove=["splicetransformer-2__dog"]).fit(W)
    assert list(editor.removed_concepts_) == ["splicetransformer-2__dog"]


def test_an_edit_that_zeroes_every_concept_is_refused(small_setup):
    splice, X, _ = small_setup
    W = splice.transform(X)
    frozen = FrozenEstimator(splice)
    # keep names none of which is known, skipped by ignore_unknown: nothing would be kept
    for output in ("weights", "embedding"):
        with (
            pytest.warns(UserWarning, match="ignored"),
            pytest.raises(ValueError, match=r"`keep` resolved to no known concept.*'Cat', 'Dog'"),
        ):
            ConceptEditor(
                keep=["Cat", "Dog"], splice=frozen, ignore_unknown=True, output=output
            ).fit(W)
    with pytest.raises(
        ValueError, match=r"`keep` is empty \(keep=\[\] keeps no concept; keep=None"
    ):
        ConceptEditor(keep=[], splice=frozen).fit(W)
    frame = pd.DataFrame(W.toarray(), columns=NAMES)
    with pytest.raises(ValueError, match="`keep` is empty"):
        ConceptEditor(keep=[]).fit(frame)
    with pytest.raises(ValueError, match="zeroes all 16 concepts: `remove` names every concept"):
        ConceptEditor(remove=NAMES, splice=frozen).fit(W)
    with pytest.raises(ValueError, match="every concept kept by `keep` is in `remove`"):
        ConceptEditor(keep=["dog", "cat"], remove=["cat", "dog"]).fit(frame)
    with pytest.raises(ValueError, match=r"`remove` names every concept \(after neighbour"):
        ConceptEditor(remove="dog", similarity_threshold=-1.0, splice=frozen).fit(W)
    # a refit that is refused leaves the earlier fit's edit as it was
    editor = ConceptEditor(remove="dog", splice=frozen).fit(W)
    with pytest.raises(ValueError, match="zeroes all"):
        editor.set_params(remove=NAMES).fit(W)
    assert list(editor.removed_concepts_) == ["dog"]
    # an edit that leaves one concept is an edit
    with pytest.warns(UserWarning, match="'Cat'"):
        one = ConceptEditor(keep=["Cat", "dog"], splice=frozen, ignore_unknown=True).fit(W)
    assert one.mask_.sum() == 1 and one.mask_[0]
    assert ConceptEditor(remove=NAMES[1:], splice=frozen).fit(W).mask_.sum() == 1


@pytest.mark.parametrize("value", ["no", None, 1, 0])
def test_ignore_unknown_must_be_a_bool(small_setup, value):
    splice, X, _ = small_setup
    W = splice.transform(X)
    frozen = FrozenEstimator(splice)
    with pytest.raises(TypeError, match=r"ignore_unknown must be a bool, got"):
        ConceptEditor(remove=["beech", "dog"], splice=frozen, ignore_unknown=value).fit(W)
    # checked before the weights are looked at
    with pytest.raises(TypeError, match=r"ignore_unknown must be a bool"):
        ConceptEditor(remove="dog", ignore_unknown=value).fit(np.full((2, 3), np.nan))
    with pytest.raises(TypeError, match=r"ignore_unknown must be a bool"):
        concept_neighbors(splice, ["beech", "dog"], ignore_unknown=value)
    with pytest.warns(UserWarning, match="'beech'"):
        editor = ConceptEditor(remove=["beech", "dog"], splice=frozen, ignore_unknown=np.True_)
        assert list(editor.fit(W).removed_concepts_) == ["dog"]


def test_errors_without_names_or_splice(small_setup):
    splice, X, _ = small_setup
    W = splice.transform(X)
    with pytest.raises(ValueError, match="carry no concept names"):
        ConceptEditor(remove=["dog"]).fit(W)
    frame = pd.DataFrame(W.toarray(), columns=NAMES)
    with pytest.raises(ValueError, match="output='embedding' needs `splice`"):
        ConceptEditor(remove=["dog"], output="embedding").fit(frame)
    with pytest.raises(ValueError, match="need `splice`"):
        ConceptEditor(remove=["dog"], n_neighbors=3).fit(frame)
    # (the class scikit-learn's estimators raise, a ValueError too: `except NotFittedError`
    # caught the other functions' unfitted transformers, not this one)
    unfitted = r"got an unfitted SpliceTransformer: fit it first.*Froz"
    with pytest.raises(NotFittedError, match=unfitted):
        ConceptEditor(remove=["dog"], splice=clone(splice)).fit(W)
    with pytest.raises(NotFittedError, match=r"got an unfitted SpliceTransformer"):
        concept_neighbors(clone(splice), "dog")
    # doing without `splice` in a search is advised only where the editor can do without it
    with pytest.raises(ValueError, match=r"give no `splice`.*set_output\(transform='pandas'\)"):
        ConceptEditor(remove=["dog"], splice=clone(splice)).fit(W)
    for needs in ({"output": "embedding"}, {"n_neighbors": 2}):
        with pytest.raises(ValueError) as refused:
            ConceptEditor(remove=["dog"], splice=clone(splice), **needs).fit(W)
        assert "FrozenEstimator(splice)" in str(refused.value)
        assert "give no `splice`" not in str(refused.value)
    # frozen before it was fitted: the advice to freeze it was the one followed already
    with pytest.raises(NotFittedError) as refused:
        ConceptEditor(remove=["dog"], splice=FrozenEstimator(clone(splice))).fit(W)
    assert str(refused.value) == (
        "`splice` is a FrozenEstimator of an unfitted SpliceTransformer: fit the transformer "
        "first, then freeze it (FrozenEstimator(splice.fit(X)))"
    )
    with pytest.raises(ValueError, match="has 16 concepts"):
        ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice)).fit(W[:, :5])
    renamed = frame.rename(columns={"dog": "hound"})
    with pytest.raises(ValueError, match="columns differ"):
        ConceptEditor(remove=["cat"], splice=FrozenEstimator(splice)).fit(renamed)
    with pytest.raises(TypeError, match="entry 1"):
        ConceptEditor(remove=["dog", 3]).fit(frame)
    with pytest.raises(ValueError, match="output"):
        ConceptEditor(output="dense").fit(frame)
    with pytest.raises(ValueError, match="n_neighbors"):
        ConceptEditor(n_neighbors=-1).fit(frame)
    with pytest.raises(ValueError, match="similarity_threshold"):
        ConceptEditor(similarity_threshold=1.5).fit(frame)
    editor = ConceptEditor(remove=["dog"]).fit(frame)
    with pytest.raises(ValueError, match=r"\(concepts_\): its concepts not among the columns \["):
        editor.transform(frame.iloc[:, :4])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (
            {"output": None},
            r"^ConceptEditor: output must be 'weights' or 'embedding', got None \(NoneType\)$",
        ),
        ({"splice": "st"}, r"`splice` must be a fitted SpliceTransformer .*got a str \('st'\)"),
        ({"splice": LogisticRegression()}, "`splice` must be .*got a LogisticRegression"),
    ],
)
def test_an_option_of_the_wrong_type_is_a_type_error_naming_it(small_setup, params, match):
    # output=None was a ValueError, and splice="st" scikit-learn's "st is not an
    # estimator instance." naming no parameter.
    splice, X, _ = small_setup
    frame = pd.DataFrame(splice.transform(X).toarray(), columns=NAMES)
    with pytest.raises(TypeError, match=match):
        ConceptEditor(remove=["dog"], **params).fit(frame)
    if "splice" in params:
        with pytest.raises(TypeError, match=match):
            concept_neighbors(params["splice"], ["dog"])


def test_a_fitted_pipeline_as_splice_is_told_which_step_to_give(small_setup):
    # splice=probe[:-1] (as scikit-learn's own hint for a whole probe suggests) gave
    # "AttributeError: 'Pipeline' object has no attribute 'dictionary_'"
    from sksplice import ConceptRetriever

    splice, X, y = small_setup
    probe = make_pipeline(clone(splice), LogisticRegression()).fit(X, y)
    W = probe[:-1].transform(X)
    step = re.escape(
        "give its SpliceTransformer step, "
        "FrozenEstimator(pipeline.named_steps['splicetransformer'])"
    )
    for given, what in [
        (probe[:-1], "a Pipeline"),
        (FrozenEstimator(probe[:-1]), "a FrozenEstimator of a Pipeline"),
        (probe, "a Pipeline"),
    ]:
        match = f"`splice` must be a fitted SpliceTransformer .*got {what}: {step}$"
        with pytest.raises(TypeError, match=match):
            ConceptEditor(remove=["dog"], splice=given).fit(W)
        with pytest.raises(TypeError, match=match):
            concept_neighbors(given, ["dog"])
        with pytest.raises(TypeError, match=match):
            ConceptRetriever(splice=given, n_neighbors=2).fit(W)
    scaler = make_pipeline(StandardScaler()).fit(X)
    with pytest.raises(TypeError, match=r"got a Pipeline, of no fitted SpliceTransformer step$"):
        concept_neighbors(scaler, ["dog"])


def test_texts_paths_and_images_given_for_weights_or_embeddings_are_named(small_setup):
    # ConceptEditor().fit(captions) said numpy's "could not convert string to float"
    splice, X, _ = small_setup
    editor = ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice))
    weights = "ConceptEditor edits the weights a fitted SpliceTransformer returns"
    with pytest.raises(
        TypeError, match=rf"^X holds strings \('a dog' first\), not concept weights: {weights}"
    ):
        editor.fit(["a dog", "a cat"])
    editor.fit(splice.transform(X))
    with pytest.raises(
        TypeError, match=r"^X holds file paths \('a.jpg' first\), not concept weights"
    ):
        editor.transform(["a.jpg"])
    with pytest.raises(
        ValueError,
        match=r"^X has shape \(2, 4, 4, 3\): a batch of images perhaps, not concept weights",
    ):
        editor.transform(np.zeros((2, 4, 4, 3)))
    # embeddings of the transformer given for their weights (scikit-learn said only
    # "X has 12 features, but ConceptEditor is expecting 16 features as input")
    with pytest.raises(
        ValueError,
        match=r"^X has 12 features, the width of the embeddings of the transformer "
        r"\(splice\), but ConceptEditor edits concept weights, one column per concept "
        r"\(16\): embeddings perhaps; decompose them first, W = splice.transform\(X\)",
    ):
        editor.transform(X)
    with pytest.raises(ValueError, match=r"^X has 3 features, but ConceptEditor is expecting 16"):
        editor.transform(X[:, :3])
    projector = ConceptProjector(concepts=["dog"], directions=np.ones((1, 12)))
    with pytest.raises(
        TypeError,
        match=r"^X holds strings \('a dog' first\), not embeddings: ConceptProjector projects",
    ):
        projector.fit(["a dog"])


def test_nan_rows_are_named_as_by_the_transformer(small_setup):
    # The editor, the projector and the zero-shot classifier said scikit-learn's
    # "Input X contains NaN." where the transformer names the rows.
    splice, X, _ = small_setup
    W = splice.transform(X).toarray()
    W[[3, 7], 0] = np.nan
    W[9, 1] = np.inf
    rows = r"X holds NaN or infinite values in 3 row\(s\): 3, 7, 9$"
    editor = ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice))
    with pytest.raises(ValueError, match=rows):
        editor.fit(W)
    with pytest.raises(ValueError, match=rows):
        editor.fit(splice.transform(X)).transform(W)
    with pytest.raises(ValueError, match=rows):
        editor.fit(sp.csr_matrix(W))
    embeddings = X.copy()
    embeddings[[3, 7], 0] = np.nan
    embeddings[9, 1] = np.inf
    projector = ConceptProjector(directions=np.ones((1, X.shape[1])))
    with pytest.raises(ValueError, match=rows):
        projector.fit(embeddings)
    with pytest.raises(ValueError, match=rows):
        projector.fit(X).transform(embeddings)
    # A DataFrame whose index names its rows: the labels too.
    frame = pd.DataFrame(embeddings, index=[f"cap{i}" for i in range(len(X))])
    labelled = r"in 3 row\(s\): 'cap3' \(row 3\), 'cap7' \(row 7\), 'cap9' \(row 9\)$"
    with pytest.raises(ValueError, match=labelled):
        projector.fit(X).transform(frame)
    with pytest.raises(ValueError, match=labelled):
        splice.transform(frame)
    zero_shot = ZeroShotClassifier(_UnitEmbedder(X.shape[1]), classes=["a", "b"])
    with pytest.raises(ValueError, match=rows):
        zero_shot.fit(embeddings)
    with pytest.raises(ValueError, match=rows):
        zero_shot.fit(X).predict(embeddings)
    with pytest.raises(ValueError, match=labelled):
        zero_shot.fit(X).predict_proba(frame)


class _UnitEmbedder:
    """Unit vectors of a fixed width, one per text (its characters seed them)."""

    def __init__(self, width):
        self.width = width

    def embed_text(self, texts):
        rows = [np.random.default_rng(sum(map(ord, t))).normal(size=self.width) for t in texts]
        return np.asarray([r / np.linalg.norm(r) for r in rows])


def test_check_estimator_default_configuration():
    # Without a vocabulary the editor is the identity on any weights: every check runs.
    check_estimator(ConceptEditor())


def test_parameter_conventions_with_a_frozen_transformer(small_setup):
    splice, _, _ = small_setup
    editor = ConceptEditor(remove=["dog"], n_neighbors=2, splice=FrozenEstimator(splice))
    for check in (check_no_attributes_set_in_init, check_get_params_invariance, check_set_params):
        check("ConceptEditor", editor)


def test_clone_and_pickle_keep_the_frozen_transformer(small_setup):
    splice, X, _ = small_setup
    W = splice.transform(X)
    editor = ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice), output="embedding")
    cloned = clone(editor)
    assert not hasattr(cloned, "mask_")
    Z = editor.fit_transform(W)
    np.testing.assert_allclose(cloned.fit_transform(W), Z)
    restored = pickle.loads(pickle.dumps(editor))
    np.testing.assert_allclose(restored.transform(W), Z)
    assert list(restored.removed_concepts_) == ["dog"]


def test_pipeline_grid_search_with_frozen_transformer(small_setup):
    splice, X, y = small_setup
    pipe = make_pipeline(
        SpliceTransformer(
            vocabulary=NAMES, concept_embeddings=splice.concept_embeddings, device="cpu"
        ),
        ConceptEditor(remove=["cat"], splice=FrozenEstimator(splice)),
        LogisticRegression(),
    )
    search = GridSearchCV(
        pipe,
        {"splicetransformer__l1_penalty": [0.05, 0.1]},
        cv=3,
    ).fit(X, y)
    assert search.best_score_ > 0.7
    best_editor = search.best_estimator_.named_steps["concepteditor"]
    assert "cat" in best_editor.removed_concepts_
    # removing the label's concepts destroys the probe
    search.best_estimator_.set_params(
        concepteditor__remove=["dog", "puppy", "canine"], concepteditor__n_neighbors=0
    )
    crippled = search.best_estimator_.fit(X, y)
    assert crippled.score(X, y) < search.best_estimator_.set_params(
        concepteditor__remove=["cat"]
    ).fit(X, y).score(X, y)


def test_pipeline_with_pandas_output_learns_names(small_setup):
    splice, X, y = small_setup
    pipe = make_pipeline(
        SpliceTransformer(
            vocabulary=NAMES,
            concept_embeddings=splice.concept_embeddings,
            l1_penalty=0.05,
            device="cpu",
        ),
        ConceptEditor(remove=["dog"]),
        LogisticRegression(),
    ).set_output(transform="pandas")
    search = GridSearchCV(pipe, {"logisticregression__C": [0.1, 1.0]}, cv=3).fit(X, y)
    editor = search.best_estimator_.named_steps["concepteditor"]
    assert list(editor.feature_names_in_) == NAMES
    assert list(editor.removed_concepts_) == ["dog"]
    edited = search.best_estimator_[:-1].transform(X)
    assert isinstance(edited, pd.DataFrame)
    assert list(edited.columns) == NAMES
    assert (edited["dog"] == 0).all()
    assert all(str(t).startswith("Sparse") for t in edited.dtypes)  # stays sparse
    # and keeps the transformer's float32 weights (float32 embeddings in)
    weights = search.best_estimator_[0].transform(X.astype(np.float32))
    assert {t.subtype for t in weights.dtypes} == {np.dtype(np.float32)}
    kept = search.best_estimator_[:-1].transform(X.astype(np.float32))
    assert {t.subtype for t in kept.dtypes} == {np.dtype(np.float32)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_editor_reads_a_sparse_frame_in_one_conversion(small_setup, dtype, monkeypatch):
    """A frame of pandas sparse columns (the transformer's pandas output) is read into CSR
    at once, not by scikit-learn's DataFrame.sparse.to_coo and a check of every column
    (1,000,000 rows of 15,000 concepts: a peak of 564 MB before, 325 MB so): the same
    weights, dtype and names as the CSR matrix gives."""
    from sksplice._pandas import sparse_frame

    splice, X, _ = small_setup
    W = splice.transform(X).astype(dtype)
    index = pd.Index([f"img{i}" for i in range(W.shape[0])], name="file")
    frame = sparse_frame(W, NAMES, index=index)
    expected = ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice)).fit_transform(W)

    def refused(self, *args, **kwargs):
        raise AssertionError("the frame was read by DataFrame.sparse.to_coo")

    monkeypatch.setattr(pd.core.arrays.sparse.accessor.SparseFrameAccessor, "to_coo", refused)
    editor = ConceptEditor(remove=["dog"]).fit(frame)
    assert list(editor.feature_names_in_) == NAMES and editor.n_features_in_ == len(NAMES)
    edited = editor.transform(frame)
    assert sp.issparse(edited) and edited.dtype == dtype
    np.testing.assert_array_equal(edited.toarray(), expected.toarray())
    out = clone(editor).set_output(transform="pandas").fit(frame).transform(frame)
    assert out.index.equals(index) and list(out.columns) == NAMES
    assert {t.subtype for t in out.dtypes} == {np.dtype(dtype)}
    np.testing.assert_array_equal(out.sparse.to_dense().to_numpy(), expected.toarray())
    # columns in another order than at fit are read by name (scikit-learn refused them,
    # saying only that the order differs)
    again = editor.transform(frame[NAMES[::-1]])
    np.testing.assert_array_equal(again.toarray(), expected.toarray())
    # unstored entries that are not zeros are refused, the column named
    nan_fill = frame.astype(pd.SparseDtype(dtype, np.nan))
    with pytest.raises(ValueError, match=f"sparse column '{NAMES[0]}' with fill value nan"):
        ConceptEditor(remove=["dog"]).fit(nan_fill)


def test_transformer_and_editor_read_the_output_setting_alike(small_setup):
    # One rule for both: the estimator's set_output wins over the global setting.
    splice, X, _ = small_setup
    W = splice.transform(X)
    editor = ConceptEditor(remove=["dog"], splice=FrozenEstimator(splice)).fit(W)
    with sklearn.config_context(transform_output="pandas"):
        assert isinstance(splice.transform(X), pd.DataFrame)
        assert isinstance(editor.transform(W), pd.DataFrame)
        own = clone(splice).set_output(transform="default").fit(X)
        assert sp.issparse(own.transform(X))
        assert sp.issparse(clone(editor).set_output(transform="default").fit(W).transform(W))
    assert sp.issparse(splice.transform(X)) and sp.issparse(editor.transform(W))
    pandas_editor = clone(editor).set_output(transform="pandas").fit(W)
    assert isinstance(pandas_editor.transform(W), pd.DataFrame)


def test_zero_shot_pipeline_before_and_after_edit(small_setup):
    splice, X, _ = small_setup

    class DictionaryEmbedder:
        """Text embedder that looks concept names up in the raw embeddings."""

        def embed_text(self, texts):
            rows = [splice.concept_embeddings[NAMES.index(t)] for t in texts]
            out = np.asarray(rows, dtype=np.float32)
            return out / np.linalg.norm(out, axis=1, keepdims=True)

    W = splice.transform(X)
    dense = W.toarray()
    dog_rows = (dense[:, 0] > 0) & (dense[:, 3] == 0) & (dense[:, 4] == 0)
    clf = ZeroShotClassifier(DictionaryEmbedder(), classes=["dog", "cat"], templates=("{}",))
    frozen = FrozenEstimator(splice)
    before = make_pipeline(ConceptEditor(splice=frozen, output="embedding"), clf).fit(W)
    after = make_pipeline(
        ConceptEditor(remove=["dog"], n_neighbors=2, splice=frozen, output="embedding"),
        clone(clf),
    ).fit(W)
    margin_before = before.decision_function(W[dog_rows])
    margin_after = after.decision_function(W[dog_rows])
    # decision_function: similarity to classes_[1] minus similarity to classes_[0]
    assert list(before.classes_) == ["cat", "dog"]  # (sorted, whatever the order given)
    assert np.all(margin_after < margin_before)  # less like a dog once "dog" is removed


def test_project_out_removes_the_direction():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 8))
    u = rng.normal(size=8)
    P = project_out(X, u)
    np.testing.assert_allclose(P @ (u / np.linalg.norm(u)), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(P, axis=1), 1.0)
    U = rng.normal(size=(3, 8))
    U2 = np.vstack([U, U[0] + U[1]])  # a dependent direction is harmless
    P2 = project_out(X, U2, normalize=False)
    np.testing.assert_allclose(P2 @ U.T, 0.0, atol=1e-10)
    # the part orthogonal to the directions is untouched
    Q, _ = np.linalg.qr(U.T)
    np.testing.assert_allclose(P2, X - X @ Q @ Q.T, atol=1e-10)
    with pytest.raises(ValueError, match="same dimension"):
        project_out(X, np.ones(5))


def test_n_neighbors_none_says_that_0_turns_neighbours_off():
    from sksplice.retrieval import ConceptRetriever

    W = np.eye(3)
    for estimator in (ConceptEditor(remove=["a"]), ConceptRetriever(concepts=["a", "b", "c"])):
        with pytest.raises(TypeError, match="got None; 0 adds no neighbours"):
            estimator.set_params(n_neighbors=None).fit(pd.DataFrame(W, columns=["a", "b", "c"]))


def test_a_projector_s_directions_set_after_fit_are_named_at_transform():
    # set_params(directions=...) or (concepts=...) after fit changed nothing and said
    # nothing, as the other estimators' did before
    X = np.random.default_rng(0).normal(size=(5, 4))
    projector = ConceptProjector(directions=np.eye(4)[:1]).fit(X)
    before = projector.transform(X)
    projector.set_params(directions=np.eye(4)[1:2])
    with pytest.warns(UserWarning, match=r"directions=.* set after fit; it still uses the fitted"):
        np.testing.assert_array_equal(projector.transform(X), before)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        projector.fit(X).transform(X)  # (refitted: nothing to say)
        projector.set_params(normalize=False).transform(X)  # (read by transform)


def test_project_out_refuses_zero_directions_and_keeps_float32_as_the_projector():
    # A zero direction removed nothing, silently (ConceptProjector refuses it), and
    # float32 embeddings came back as float64 (the projector keeps float32).
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6, 8)).astype(np.float32)
    U = np.vstack([rng.normal(size=8), np.zeros(8)])
    with pytest.raises(ValueError, match="directions row 1 is the zero vector"):
        project_out(X, U)
    with pytest.raises(ValueError, match="directions row 0 is the zero vector"):
        project_out(X, np.zeros(8))
    P = project_out(X, U[0])
    assert P.dtype == np.float32
    np.testing.assert_allclose(P, ConceptProjector(directions=U[:1]).fit(X).transform(X))
    assert project_out(X.astype(np.float64), U[0]).dtype == np.float64
    assert project_out(X.astype(np.float16), U[0]).dtype == np.float64


@pytest.mark.parametrize("scale", [1e-13, 1e-20, 1e20])
def test_rows_of_any_scale_are_projected_as_the_unscaled_rows(scale):
    # A row of norm 1e-13 came out as a zero row (taken for one the projection empties),
    # where SpliceTransformer decomposes it as the unscaled row.
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20, 8))
    u = rng.normal(size=8)
    expected = project_out(X, u)
    np.testing.assert_allclose(project_out(X * scale, u), expected, atol=1e-12)
    # a row along the direction is still emptied, at any scale
    np.testing.assert_array_equal(project_out(u[None] * scale, u), 0.0)


@pytest.mark.parametrize("value", ["False", "yes", None, 0, 1])
def test_projector_normalize_must_be_a_bool(value):
    # "False" normalised (a non-empty string is true); None and 0 turned it off.
    X = np.random.default_rng(0).normal(size=(5, 4))
    with pytest.raises(TypeError, match=r"^ConceptProjector: normalize must be a bool, got"):
        ConceptProjector(directions=np.ones((1, 4)), normalize=value).fit(X)
    with pytest.raises(TypeError, match=r"^normalize must be a bool, got"):
        project_out(X, np.ones(4), normalize=value)
    assert ConceptProjector(directions=np.ones((1, 4)), normalize=np.False_).fit(X).transform(
        X
    ).shape == (5, 4)


@pytest.mark.parametrize("concepts", [[""], ["   "], ["dog", "\t"]])
def test_projector_refuses_blank_concepts_before_embedding(concepts):
    # A blank name was embedded (as the text of an empty caption) and removed.
    embedder = _UnitEmbedder(4)
    embedder.embed_text = None  # (not called: the names are refused first)
    i = len(concepts) - 1
    with pytest.raises(
        ValueError, match=rf"^ConceptProjector: `concepts` entry {i} is blank .*; remove it$"
    ):
        ConceptProjector(embedder, concepts).fit(np.ones((3, 4)))


def test_projector_names_the_row_of_directions_at_fault():
    # A NaN in row 1 of `directions` was reported as row 3 with two concepts embedded
    # (the row of an internal stack of the concepts' embeddings and the directions).
    directions = np.vstack([np.ones(4), np.full(4, np.nan)])
    for params in ({}, {"embedder": _UnitEmbedder(4), "concepts": ["dog", "cat"]}):
        with pytest.raises(ValueError, match=r"^directions hold NaN .* 1 row\(s\): 1$"):
            ConceptProjector(directions=directions, **params).fit(np.ones((3, 4)))
    zero = np.vstack([np.ones(4), np.zeros(4)])
    with pytest.raises(ValueError, match=r"^directions row 1 is the zero vector"):
        ConceptProjector(directions=zero, embedder=_UnitEmbedder(4), concepts=["dog"]).fit(
            np.ones((3, 4))
        )


def test_concept_projector_with_real_embeddings(minilm):
    texts = ["a dog running on the beach", "a puppy on a rug", "a red car"]
    X = minilm.embed_text(texts)
    proj = ConceptProjector(minilm, concepts=["dog"]).fit(X)
    dog = minilm.embed_text(["dog"])[0].astype(np.float64)
    Z = proj.transform(X)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z @ dog, 0.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, rtol=1e-5)
    assert proj.basis_.shape == (1, 384)
    assert list(proj.get_feature_names_out())[:2] == ["x0", "x1"]
    with pytest.raises(ValueError, match="nothing to remove"):
        ConceptProjector(minilm).fit(X)
    with pytest.raises(ValueError, match="384 features"):
        ConceptProjector(directions=np.ones((1, 5))).fit(X)
    with pytest.raises(TypeError, match="embed_text"):
        ConceptProjector(concepts=["dog"]).fit(X)
    restored = pickle.loads(pickle.dumps(proj))
    np.testing.assert_allclose(restored.transform(X), Z)


def _dog_scores(Z, ref_dog, ref_cat):
    Z = np.asarray(Z, dtype=np.float64)
    return (Z @ ref_dog.T).mean(), (Z @ ref_dog.T).mean() - (Z @ ref_cat.T).mean()


DOG_PHRASES = [
    "a photo of a dog",
    "a dog running on the beach",
    "a puppy sleeping on a rug",
    "a dog playing fetch in the park",
    "a small dog wearing a sweater",
    "a dog catching a frisbee",
]
OTHER_PHRASES = [
    "a photo of a cat", "a cat sleeping on a sofa", "a kitten playing with yarn",
    "a red car on the street", "a bowl of fresh fruit", "a mountain landscape at sunset",
    "a city skyline at night", "a bicycle leaning on a wall", "a plate of pasta",
    "a sailing boat on the sea", "a vase of flowers", "a laptop on a desk",
]  # fmt: skip


def test_dog_removal_with_real_embeddings(laion_minilm, minilm):
    """Removing "dog" alone barely moves dog phrases; with its neighbours it does."""
    concepts, raw = laion_minilm
    X = minilm.embed_text(DOG_PHRASES + OTHER_PHRASES)
    splice = SpliceTransformer(
        vocabulary=concepts, concept_embeddings=raw, l1_penalty=0.2, device="cpu"
    ).fit(X)
    W = splice.transform(X)[: len(DOG_PHRASES)]
    ref_dog = minilm.embed_text(["a dog", "a photo of a dog"]).astype(np.float64)
    ref_cat = minilm.embed_text(["a cat", "a photo of a cat"]).astype(np.float64)
    frozen = FrozenEstimator(splice)

    def edited(**kwargs):
        editor = ConceptEditor(remove=["dog"], splice=frozen, output="embedding", **kwargs)
        return editor.fit(W), editor.transform(W)

    base_sim, _ = _dog_scores(splice.inverse_transform(W), ref_dog, ref_cat)
    _, bare = edited()
    bare_sim, bare_margin = _dog_scores(bare, ref_dog, ref_cat)
    expanded_editor, expanded = edited(n_neighbors=10)
    exp_sim, exp_margin = _dog_scores(expanded, ref_dog, ref_cat)
    # the bare name is replaced by synonyms ("canine", "puppy" ...): little changes
    assert base_sim - bare_sim < 0.05
    # with the neighbours the meaning goes: cosine to "a dog" drops by much more
    assert base_sim - exp_sim > 0.1
    assert base_sim - exp_sim > 3 * (base_sim - bare_sim)
    assert exp_margin < bare_margin - 0.05
    selected = set(expanded_editor.removed_concepts_)
    assert {"dog", "canine", "puppy", "dogs"} <= selected
    assert len(selected) == 11
    table = expanded_editor.neighbors_
    assert table["similarity"].iloc[1:].is_monotonic_decreasing
    # side by side: the projection baseline also removes the "dog" direction
    projected = ConceptProjector(minilm, concepts=["dog"]).fit_transform(X[: len(DOG_PHRASES)])
    proj_sim, _ = _dog_scores(projected, ref_dog, ref_cat)
    orig_sim, _ = _dog_scores(X[: len(DOG_PHRASES)], ref_dog, ref_cat)
    assert proj_sim < orig_sim - 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        concept_neighbors(splice, "dog", n_neighbors=5)


def test_worked_example_runs_and_writes_figure(laion_minilm, minilm, tmp_path):
    from ._helpers_editing import assert_png, load_example

    example = load_example("editing_remove_dog")
    concepts, raw = laion_minilm
    result = example.main(tmp_path, embedder=minilm, concepts=concepts, concept_embeddings=raw)
    sim = result["similarity"]
    assert sim["remove 'dog' + 10 neighbours"] < sim["remove 'dog'"] - 0.1
    assert sim["project out 'dog'"] < sim["dense"]
    assert result["removed"]["bare"] == ["dog"]
    assert len(result["removed"]["expanded"]) == 11
    assert_png(result["figures"]["editing"])
    assert result["figures"]["editing"].parent == tmp_path


def test_refit_on_unnamed_weights_forgets_the_earlier_names():
    """A fit leaves nothing of an earlier one: the names of a DataFrame fitted before
    do not label the columns of an array fitted after."""
    editor = ConceptEditor().fit(pd.DataFrame(np.ones((2, 3)), columns=["dog", "grass", "cat"]))
    X = np.random.default_rng(0).uniform(size=(4, 5))
    editor.fit(X)
    assert not hasattr(editor, "concepts_")
    np.testing.assert_array_equal(editor.get_feature_names_out(), [f"x{i}" for i in range(5)])
    out = editor.set_output(transform="pandas").transform(X)
    assert list(out.columns) == [f"x{i}" for i in range(5)]


def _neighbors_one_query_at_a_time(names, dictionary, queries, n_neighbors, threshold):
    """The neighbour table computed straightforwardly: a product and a full stable sort
    per query."""
    D = np.asarray(dictionary, dtype=np.float64)
    norms = np.linalg.norm(D, axis=1)
    norms[norms == 0] = 1.0
    rows = []
    for q in queries:
        rows.append((names[q], names[q], 1.0, 0))
        if n_neighbors == 0 and threshold is None:
            continue
        sims = (D @ D[q]) / (norms * norms[q])
        sims[q] = -np.inf
        order = np.argsort(-sims, kind="stable")
        order = order[order != q]
        if threshold is not None:
            order = order[sims[order] >= threshold]
        if n_neighbors:
            order = order[:n_neighbors]
        rows += [(names[q], names[j], float(sims[j]), r) for r, j in enumerate(order, 1)]
    return pd.DataFrame(rows, columns=["query", "concept", "similarity", "rank"])


@pytest.mark.parametrize(
    ("n_neighbors", "threshold"),
    [(1, None), (2, None), (3, None), (7, None), (0, 0.3), (0, 0.0), (4, 0.2), (299, None),
     (300, None), (400, None), (0, -1.0)],
)  # fmt: skip
def test_neighbor_table_in_blocks_matches_one_query_at_a_time(monkeypatch, n_neighbors, threshold):
    from sksplice import editing

    rng = np.random.default_rng(3)
    D = rng.normal(size=(300, 8)).astype(np.float32)
    # ties: copies and a multiple of concept 10 (cosine 1 with it, the same value for
    # each), two zero rows (cosine 0 with everything), copies of a query's neighbours
    D[[50, 51, 120, 299]] = D[10]
    D[200] = 2 * D[10]
    D[[7, 8]] = 0
    D[[60, 61]] = D[20]
    names = np.asarray([f"c{i}" for i in range(300)], dtype=object)
    queries = [10, 50, 7, 20, 0, 299, 123, 61, 5, 200, 11, 12, 13, 14, 15, 16]
    # several blocks of 7 queries, the last one short
    monkeypatch.setattr(editing, "_BLOCK_ELEMENTS", 7 * 300)
    got = editing._neighbor_table(names, D, queries, n_neighbors, threshold)
    want = _neighbors_one_query_at_a_time(names, D, queries, n_neighbors, threshold)
    pd.testing.assert_frame_equal(
        got[["query", "concept", "rank"]], want[["query", "concept", "rank"]]
    )
    np.testing.assert_allclose(got["similarity"], want["similarity"], rtol=1e-12, atol=1e-15)
    of_10 = got[(got["query"] == "c10") & (got["rank"] > 0)]
    tied = of_10[of_10["similarity"] > 1 - 1e-12]["concept"]
    if n_neighbors == 0 or n_neighbors >= 5:  # (the copies in the order of the dictionary)
        assert list(tied) == ["c50", "c51", "c120", "c200", "c299"]


def test_ranked_neighbors_keeps_the_lower_columns_of_ties_at_the_boundary():
    from sksplice.editing import ranked_neighbors

    sims = np.array([[0.5, 0.9, 0.5, 0.5, 0.1, 0.5], [0.2, 0.2, 0.2, 0.2, 0.2, 0.2]])
    for n in range(0, 8):
        got = ranked_neighbors(sims, n)
        for row, order in zip(sims, got):
            want = np.argsort(-row, kind="stable")
            np.testing.assert_array_equal(order, want[:n] if n else want)
    got = ranked_neighbors(sims, 3, threshold=0.5)
    np.testing.assert_array_equal(got[0], [1, 0, 2])
    np.testing.assert_array_equal(got[1], np.array([], dtype=np.int64))


def test_many_unknown_names_show_a_few_suggestions_and_normalise_the_vocabulary_once(
    small_setup, monkeypatch
):
    from sksplice import _names

    splice, X, _ = small_setup
    W = splice.transform(X)
    frozen = FrozenEstimator(splice)
    calls = {"normalised": 0, "matched": 0}
    normalise, match = _names._all_normalised, _names._close_matches

    def counting_normalise(names):
        calls["normalised"] += 1
        return normalise(names)

    def counting_match(*args, **kwargs):
        calls["matched"] += 1
        return match(*args, **kwargs)

    monkeypatch.setattr(_names, "_all_normalised", counting_normalise)
    monkeypatch.setattr(_names, "_close_matches", counting_match)
    unknown = ["dgo", "kitt", "zebra", "oceann", "tre"] + [f"nothing{i}" for i in range(40)]
    with pytest.warns(UserWarning) as record:
        editor = ConceptEditor(remove=[*unknown, "dog"], ignore_unknown=True, splice=frozen)
        editor.fit(W)
    assert list(editor.removed_concepts_) == ["dog"]
    (message,) = [str(w.message) for w in record if "vocabulary" in str(w.message)]
    assert message == (
        "concepts in `remove` not in the vocabulary: 'dgo' (did you mean 'dog'?); 'kitt' "
        "(did you mean 'kitten'?); 'zebra'; 'oceann' (did you mean 'ocean', 'canine'?); 'tre' "
        "(did you mean 'tree', 'red'?); and 40 more; they are ignored"
    )
    assert calls == {"normalised": 1, "matched": 5}
    calls.update(normalised=0, matched=0)
    with pytest.raises(ValueError) as info:
        ConceptEditor(keep=unknown[:5], splice=frozen).fit(W)
    assert str(info.value).endswith(
        "'tre' (did you mean 'tree', 'red'?); pass ignore_unknown=True to skip them"
    )
    assert "more" not in str(info.value)
    assert calls == {"normalised": 1, "matched": 5}


def test_asking_for_every_concept_as_a_neighbour_leaves_the_query_out(small_setup):
    """With n_neighbors at least the number of concepts, the query was listed as its
    own last neighbour, with similarity -inf."""
    from sksplice.editing import concept_neighbors

    splice, X, _ = small_setup
    query = str(splice.concepts_[0])
    for n in (len(splice.concepts_) - 1, len(splice.concepts_), 10 * len(splice.concepts_)):
        table = concept_neighbors(splice, query, n_neighbors=n)
        neighbours = table[table["rank"] > 0]
        assert len(neighbours) == len(splice.concepts_) - 1
        assert query not in set(neighbours["concept"])
        assert np.isfinite(neighbours["similarity"]).all()
    editor = ConceptEditor(keep=query, n_neighbors=10 * len(splice.concepts_), splice=splice)
    editor.fit(splice.transform(X))
    assert np.isfinite(editor.neighbors_["similarity"]).all()


def test_projector_refuses_an_embedder_of_another_width_before_embedding():
    # the concepts were embedded (the text model loaded and run) before their width
    # was compared with X's
    class Sized:
        embedding_dim_ = 8

        def __init__(self):
            self.texts = []

        def embed_text(self, texts):
            self.texts.extend(texts)
            return np.eye(len(texts), 8)

    X = np.random.default_rng(0).normal(size=(5, 4))
    embedder = Sized()
    match = r"^the embedder gives `concepts` embeddings of 8 dimensions but X has 4 features"
    with pytest.raises(ValueError, match=match):
        ConceptProjector(concepts=["dog", "cat"], embedder=embedder).fit(X)
    assert embedder.texts == []
    fitted = ConceptProjector(concepts=["dog"], embedder=embedder).fit(np.ones((5, 8)))
    assert embedder.texts == ["dog"] and fitted.directions_.shape == (1, 8)


def test_an_edit_that_separates_concepts_of_the_same_embedding_is_warned_about():
    # The transformer splits a weight equally between 'dog' and 'Dog' (one embedding):
    # removing 'dog' alone left half of it in 'Dog', without a word.
    from sksplice.exceptions import DuplicateConceptWarning

    rng = np.random.default_rng(0)
    E = rng.normal(size=(5, 8))
    E[1] = E[0]
    X = np.abs(rng.normal(size=(150, 5))) @ E + 0.1 * rng.normal(size=(150, 8))
    names = ["dog", "Dog", "cat", "sky", "sea"]
    with pytest.warns(DuplicateConceptWarning):
        splice = SpliceTransformer(
            vocabulary=names, concept_embeddings=E, image_mean=None, l1_penalty=0.05
        ).fit(X)
    W = splice.transform(X)
    frozen = FrozenEstimator(splice)
    said = r"separates concepts whose embeddings are the same \('dog' zeroed, 'Dog' kept\)"
    with pytest.warns(UserWarning, match=said):
        edited = ConceptEditor(remove=["dog"], splice=frozen).fit_transform(W)
    assert edited[:, 1].sum() > 0 and edited[:, 0].sum() == 0  # (the warned case)
    with pytest.warns(UserWarning, match=r"\('Dog' zeroed, 'dog' kept\)"):
        ConceptEditor(keep=["dog", "cat"], splice=frozen).fit(W)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        both = ConceptEditor(remove=["dog", "Dog"], splice=frozen).fit_transform(W)
        ConceptEditor(remove=["cat"], splice=frozen).fit(W)
    assert both[:, :2].sum() == 0


def test_an_edit_set_after_fit_is_named_and_a_missing_splice_is_said(small_setup):
    # set_params(remove=["cat"]) on a fitted editor kept removing "dog" without a word;
    # output="embedding" set after a fit without splice failed with an AttributeError.
    splice, X, _ = small_setup
    W = splice.transform(X)
    names = list(splice.get_feature_names_out())
    frame = pd.DataFrame(W.toarray(), columns=names)
    editor = ConceptEditor(remove=[names[0]]).fit(frame)
    expected = editor.transform(frame)
    editor.set_params(remove=[names[1]])
    with pytest.warns(
        UserWarning, match=r"ConceptEditor: remove=\[.*\] \(fitted with \[.*\]\) was"
    ):
        np.testing.assert_array_equal(editor.transform(frame), expected)
    editor.set_params(remove=[names[0]], output="embedding", splice=FrozenEstimator(splice))
    with pytest.raises(ValueError, match=r"output='embedding' needs the `splice` this editor was"):
        editor.transform(frame)
    # (get_feature_names_out failed with an AttributeError of None)
    with pytest.raises(ValueError, match=r"output='embedding' needs the `splice` this editor was"):
        editor.get_feature_names_out()
    editor.fit(frame)  # (reads splice: no news)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert editor.transform(frame).shape == (W.shape[0], splice.dictionary_.shape[1])


def test_embeddings_given_for_weights_are_named(small_setup):
    splice, X, _ = small_setup
    with pytest.raises(ValueError, match=r"these look like embeddings; decompose them first"):
        ConceptEditor(remove=[NAMES[0]], splice=FrozenEstimator(splice)).fit(X)


def test_weights_recomposed_around_another_centre_or_dictionary_are_warned_about():
    # A frozen transformer with a learned centre recomposed the weights of one with
    # another centre (a grid's fold, a fixed image_mean) without a word: the embeddings
    # were not those the weights were solved for.
    rng = np.random.default_rng(0)
    E = rng.normal(size=(6, 8))
    X = np.abs(rng.normal(size=(150, 6))) @ E + 0.1 * rng.normal(size=(150, 8))
    names = ["dog", "cow", "cat", "sky", "sea", "car"]

    def fitted(**kwargs):
        kwargs = {"concept_embeddings": E, "image_mean": None, **kwargs}
        return SpliceTransformer(vocabulary=names, l1_penalty=0.05, device="cpu", **kwargs).fit(X)

    learned, fixed = fitted(), fitted(image_mean=np.full(8, 0.1))
    other_model = fitted(image_mean=np.full(8, 0.1), concept_embeddings=E + 0.01)
    W = fixed.transform(X)
    centre = r"made by a SpliceTransformer with another centre \(mean_"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixed.inverse_transform(W[:5])  # (its own)
        learned.inverse_transform(np.abs(rng.normal(size=(3, 6))))  # (made elsewhere)
    for rows in (W, W[:5], W.toarray(), W[[3, 1]]):
        with pytest.warns(UserWarning, match=centre + r".* than this transformer"):
            learned.inverse_transform(rows)
    with pytest.warns(UserWarning, match=r"with another dictionary \(the same concepts embedded"):
        other_model.inverse_transform(W)
    # cosine_similarity recomposes the weights it is given as inverse_transform does
    # (it said nothing)
    with pytest.warns(UserWarning, match=centre + r".* than this transformer"):
        learned.cosine_similarity(X, weights=W)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixed.cosine_similarity(X, weights=W)
    editor = ConceptEditor(remove=["dog"], splice=FrozenEstimator(learned), output="embedding")
    with pytest.warns(UserWarning, match=centre + r".*give its SpliceTransformer the frozen"):
        editor.fit(W).transform(W)
    # Edited weights keep the record of the transformer that made them.
    edited = ConceptEditor(remove=["dog"], splice=FrozenEstimator(fixed)).fit(W).transform(W)
    with pytest.warns(UserWarning, match=centre):
        learned.inverse_transform(edited)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixed.inverse_transform(edited)
        # The advice: the pipeline's transformer decomposes around the frozen one's centre.
        agreed = fitted(image_mean=learned.mean_).transform(X)
        editor.fit(agreed).transform(agreed)
    # Texts: the advice names text_mean (image_mean with modality="text" is refused).
    text = {"image_mean": None, "modality": "text"}
    text_learned, text_fixed = fitted(**text), fitted(**text, text_mean=np.full(8, 0.1))
    W_text = text_fixed.transform(X)
    text_editor = ConceptEditor(
        remove=["dog"], splice=FrozenEstimator(text_learned), output="embedding"
    )
    with pytest.warns(UserWarning, match=r"another text_mean, .*\(text_mean=frozen\.mean_\)"):
        text_editor.fit(W_text).transform(W_text)
    with pytest.warns(UserWarning, match=r"another centre \(mean_: another text_mean"):
        text_learned.inverse_transform(W_text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        agreed = fitted(**text, text_mean=text_learned.mean_).transform(X)
        text_editor.fit(agreed).transform(agreed)


def test_a_rare_word_beyond_the_size_is_told_the_kept_concepts_close_to_it():
    # "forrest" is a rare LAION word beyond the 10,000 kept: the advice was only to keep
    # 14,558 concepts, never the "forest" meant
    rng = np.random.default_rng(0)
    names = ["forest", "beach", "snow", "dog", "cat", "tree", "sky", "sea", "forrest", "bech"]
    splice = SpliceTransformer(
        vocabulary=names, vocabulary_size=8, concept_embeddings=rng.normal(size=(10, 8))
    ).fit(rng.normal(size=(120, 8)))
    W = splice.transform(rng.normal(size=(5, 8)))
    with pytest.raises(ValueError) as refused:
        ConceptEditor(remove=["forrest", "bech"], splice=splice).fit(W)
    assert (
        "('forrest' is concept 9, 'bech' is concept 10, in the order it keeps them): "
        "vocabulary_size=10 or more keeps them (or, if misspelt, kept concepts close to them: "
        "'forrest': 'forest'; 'bech': 'beach')"
    ) in str(refused.value)
    # one name alone; none close: the size alone
    with pytest.raises(ValueError, match=r"keeps it \(or, if misspelt, kept concepts close to "):
        ConceptEditor(remove=["forrest"], splice=splice).fit(W)
    far = SpliceTransformer(
        vocabulary=[*names[:8], "qqqqqq", "zzzzzz"],
        vocabulary_size=8,
        concept_embeddings=rng.normal(size=(10, 8)),
    ).fit(rng.normal(size=(120, 8)))
    with pytest.raises(ValueError, match=r"vocabulary_size=9 or more keeps it; pass ignore"):
        ConceptEditor(remove=["qqqqqq"], splice=far).fit(far.transform(rng.normal(size=(5, 8))))


def test_a_name_beyond_the_vocabulary_size_is_told_the_size_that_keeps_it():
    # 'chased' of laion, beyond the 10,000 kept by default, was "not in the vocabulary
    # (did you mean 'chase', ...)": it is in the vocabulary, past the size kept
    from sklearn.pipeline import make_pipeline as pipeline

    from sksplice import ConceptRetriever, SplicePathSearchCV

    rng = np.random.default_rng(0)
    names = [f"c{i}" for i in range(20)]
    raw = rng.normal(size=(20, 8))
    splice = SpliceTransformer(
        vocabulary=names, vocabulary_size=10, concept_embeddings=raw, device="cpu"
    ).fit(rng.normal(size=(120, 8)))
    W = splice.transform(rng.normal(size=(5, 8)))
    beyond = (
        r"beyond the 10 that vocabulary_size keeps of the 20 of the vocabulary \('c15' is "
        r"concept 16, in the order it keeps them\): vocabulary_size=16 or more keeps it "
        r"\(or, if misspelt, kept concepts close to it: 'c1', 'c5'\)"
    )
    for given in (splice, FrozenEstimator(splice)):
        with pytest.raises(ValueError, match=rf"^concepts in `remove` {beyond}; pass ignore"):
            ConceptEditor(remove=["c15"], splice=given).fit(W)
    with pytest.raises(ValueError, match=rf"^names in `concepts` {beyond}"):
        concept_neighbors(splice, ["c15"])
    with pytest.raises(ValueError, match=rf"^concepts in `query` {beyond}$"):
        ConceptRetriever(splice=splice).fit(W).search({"c15": 1.0})
    # a name of no concept is told as before, first
    with pytest.raises(
        ValueError, match=rf"not in the vocabulary: 'zzz'; concepts in `remove` {beyond}"
    ):
        ConceptEditor(remove=["zzz", "c15"], splice=splice).fit(W)
    # a vocabulary changed since the fit (set_params, a file edited) tells nothing of it
    import copy

    changed = copy.deepcopy(splice).set_params(vocabulary=names[::-1])
    with pytest.raises(ValueError) as refused:
        ConceptEditor(remove=["c15"], splice=changed).fit(W)
    assert "not in the vocabulary: 'c15'" in str(refused.value)
    assert "vocabulary_size" not in str(refused.value)
    # before any fold of a search over penalties, from the pipeline's transformer
    unfitted = SpliceTransformer(
        vocabulary=names, vocabulary_size=10, concept_embeddings=raw, device="cpu"
    ).set_output(transform="pandas")
    pipe = pipeline(unfitted, ConceptEditor(remove=["c15"]), LogisticRegression())
    X, y = rng.normal(size=(120, 8)), np.arange(120) % 2
    with pytest.raises(ValueError, match=rf"step 'concepteditor' of the pipeline: .*{beyond}"):
        SplicePathSearchCV(pipe, [0.1, 0.2], cv=2).fit(X, y)


def test_projector_warns_of_rows_it_leaves_without_direction_and_keeps_float16_as_float32():
    # rows in the span of the removed directions became zero without a word (the
    # transformer and the zero-shot classifier warn of zero rows); float16 became float64
    X = np.random.default_rng(0).normal(size=(6, 4))
    X[2] = [2.0, 0.0, 0.0, 0.0]  # along the direction removed
    X[4] = 0.0  # zero already: no news
    projector = ConceptProjector(directions=np.eye(4)[:1]).fit(X)
    with pytest.warns(UserWarning, match=r"^X row\(s\) 2 lie in the span") as caught:
        out = projector.transform(X)
    assert len(caught) == 1
    assert not out[[2, 4]].any() and out[[0, 1, 3, 5]].any(axis=1).all()
    frame = pd.DataFrame(X, index=[f"img{i}" for i in range(6)])
    with pytest.warns(UserWarning, match=r"'img2' \(row 2\) lie in the span"):
        ConceptProjector(directions=np.eye(4)[:1]).fit(frame).transform(frame)
    halves = projector.transform(X[[0, 1]].astype(np.float16))
    assert halves.dtype == np.float32
    np.testing.assert_allclose(
        halves, projector.transform(X[[0, 1]].astype(np.float16).astype(np.float32))
    )


def test_project_out_warns_of_rows_it_leaves_at_zero():
    # a full basis left every row at zero, in silence: every later cosine 0 or NaN
    X = np.random.default_rng(0).normal(size=(3, 8))
    with pytest.warns(UserWarning, match=r"^X row\(s\) 0, 1, 2 lie in the span of the direct"):
        project_out(X, np.eye(8))
    with pytest.warns(UserWarning, match=r"^X row\(s\) 0 lie in the span") as caught:
        project_out(X, X[:1], normalize=False)  # (rounding left: still zero)
    assert len(caught) == 1
    frame = pd.DataFrame(X, index=["a", "b", "c"])
    with pytest.warns(UserWarning, match=r"^X row\(s\) 'a' \(row 0\) lie in the span"):
        project_out(frame, X[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        project_out(X, np.eye(8)[:2])


def test_a_projector_given_concept_weights_says_to_recompose_them(small_setup):
    # after a SpliceTransformer in a pipeline: scikit-learn said to call .toarray(), which
    # then failed on the width (16 concepts are no 12-d embeddings)
    splice, X, _ = small_setup
    directions = splice.concept_embeddings[:2]
    recompose = (
        "recompose concept weights into embeddings with splice.inverse_transform(W), or in "
        "a Pipeline with ConceptEditor(..., output='embedding') before the projector"
    )
    pipe = make_pipeline(FrozenEstimator(splice), ConceptProjector(directions=directions))
    with pytest.raises(TypeError) as info:
        pipe.fit_transform(X)
    assert str(info.value) == (
        "X is a sparse matrix, but ConceptProjector projects dense embeddings (sparse input "
        f"is not supported): {recompose}"
    )
    projector = ConceptProjector(directions=directions).fit(X)
    with pytest.raises(ValueError, match=r"^X is concept weights that a SpliceTransformer "
                       r"returned, but ConceptProjector projects embeddings: recompose them "
                       r"into embeddings with splice\.inverse_transform\(W\)"):  # fmt: skip
        projector.transform(splice.transform(X).toarray())
    with pytest.raises(TypeError) as info:
        project_out(splice.transform(X), directions)
    assert str(info.value) == (  # (a function: no pipeline to put an editor in)
        "X is a sparse matrix, but project_out projects dense embeddings (sparse input is not "
        "supported): recompose concept weights into embeddings with splice.inverse_transform(W)"
    )
    # recomposed, they are projected
    assert projector.transform(splice.inverse_transform(splice.transform(X))).shape == X.shape
