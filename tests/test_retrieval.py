"""ConceptRetriever: rankings against a brute-force reference, sparsity, errors, docs example."""

from __future__ import annotations

import pickle
import re
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from sksplice import ConceptRetriever
from sksplice.transformer import SpliceTransformer

from .conftest import REPO_ROOT


def _collection(rng, n=300, c=40, density=0.12):
    W = sp.random(n, c, density=density, format="csr", random_state=rng, dtype=np.float64)
    names = [f"concept{j}" for j in range(c)]
    return W, names


def _brute_force(W, names, query, mode, metric="dot", groups=None, k=None):
    """Reference ranking by explicit loops over dense rows (small inputs only).

    ``groups`` maps each query concept to a list of (concept, weight multiplier)
    pairs it is expanded to (itself included); by default only itself.
    """
    dense = W.toarray()
    if metric == "cosine":
        norms = np.linalg.norm(dense, axis=1)
        dense = dense / np.where(norms == 0, 1.0, norms)[:, None]
        # The query as expanded, one entry per concept (a neighbour of two query
        # concepts holds the sum of its two weights), divided by its norm.
        expanded: dict[str, float] = {}
        for name, v in query.items():
            for member, mult in groups[name] if groups else [(name, 1.0)]:
                expanded[member] = expanded.get(member, 0.0) + v * mult
        total = np.sqrt(sum(v * v for v in expanded.values()))
        query = {name: v / total for name, v in query.items()}
    index = {name: j for j, name in enumerate(names)}
    results = []
    for i, row in enumerate(dense):
        group_scores, present = [], []
        for name, weight in query.items():
            members = groups[name] if groups else [(name, 1.0)]
            entries = [weight * mult * row[index[m]] for m, mult in members if row[index[m]] != 0]
            present.append(bool(entries))
            group_scores.append(sum(entries))
        if mode == "or":
            if any(present):
                results.append((i, sum(group_scores)))
        elif all(present):
            results.append((i, sum(group_scores) if mode == "and" else min(group_scores)))
    results.sort(key=lambda t: (-t[1], t[0]))
    if k is not None:
        results = results[:k]
    return np.array([i for i, _ in results], dtype=np.int64), np.array([s for _, s in results])


@pytest.mark.parametrize("mode", ["or", "and", "min"])
@pytest.mark.parametrize("metric", ["dot", "cosine"])
def test_search_matches_brute_force(rng, mode, metric):
    W, names = _collection(rng)
    retriever = ConceptRetriever(concepts=names, mode=mode, metric=metric).fit(W)
    for _ in range(15):
        size = int(rng.integers(1, 4))
        picked = rng.choice(len(names), size=size, replace=False)
        query = {names[j]: float(rng.uniform(0.2, 2.0)) for j in picked}
        for k in (5, None):
            idx, scores = retriever.search(query, k)
            ref_idx, ref_scores = _brute_force(W, names, query, mode, metric, k=k)
            np.testing.assert_array_equal(idx, ref_idx)
            np.testing.assert_allclose(scores, ref_scores, rtol=1e-12, atol=1e-15)
            assert idx.dtype == np.int64 and np.all(np.diff(scores) <= 0)


def test_ties_are_broken_by_index_and_k_cuts_a_tie():
    W = sp.csr_matrix(np.array([[0.5, 0], [0.2, 0], [0.5, 0], [0.5, 0.1], [0, 0.3]]))
    retriever = ConceptRetriever(concepts=["a", "b"]).fit(W)
    np.testing.assert_array_equal(retriever.search(["a"], None)[0], [0, 2, 3, 1])
    np.testing.assert_array_equal(retriever.search(["a"], 2)[0], [0, 2])
    # a list query gives every concept weight 1; "and" keeps only item 3
    idx, scores = retriever.search(["a", "b"], mode="and")
    np.testing.assert_array_equal(idx, [3])
    np.testing.assert_allclose(scores, [0.6])
    assert retriever.search(["a", "b"], mode="min")[1][0] == pytest.approx(0.1)
    # a concept no item holds: no match, typed empty results
    empty = ConceptRetriever(concepts=["a", "b", "c"]).fit(sp.hstack([W, sp.csr_matrix((5, 1))]))
    for mode in ("or", "and", "min"):
        with pytest.warns(UserWarning, match="no item holds the concept 'c'"):
            idx, scores = empty.search(["c"], mode=mode)
        assert idx.size == scores.size == 0
        assert idx.dtype == np.int64 and scores.dtype == np.float64
    # a pandas Series is a query like a dict
    assert retriever.search(pd.Series({"a": 2.0}), 1)[1][0] == pytest.approx(1.0)


def _fitted_splice(rng, names, d=12):
    raw = rng.normal(size=(len(names), d))
    X = rng.normal(size=(30, d))
    return SpliceTransformer(
        vocabulary=names, concept_embeddings=raw, l1_penalty=0.1, device="cpu"
    ).fit(X)


@pytest.mark.parametrize("mode", ["or", "and", "min"])
def test_neighbor_expansion_matches_brute_force(rng, mode):
    W, names = _collection(rng, n=200, c=30, density=0.15)
    splice = _fitted_splice(rng, names)
    D = splice.dictionary_ / np.linalg.norm(splice.dictionary_, axis=1, keepdims=True)
    for n_neighbors, threshold in [(3, None), (0, 0.3), (5, 0.2)]:
        retriever = ConceptRetriever(
            splice=splice, mode=mode, n_neighbors=n_neighbors, similarity_threshold=threshold
        ).fit(W)
        for _ in range(8):
            picked = rng.choice(len(names), size=int(rng.integers(1, 3)), replace=False)
            query = {names[j]: float(rng.uniform(0.5, 1.5)) for j in picked}
            groups = {}
            for name in query:
                j = names.index(name)
                # (the query's concepts are each their own group, never neighbours)
                sims = [(float(D[j] @ D[m]), m) for m in range(len(names)) if m not in picked]
                sims.sort(key=lambda t: (-t[0], t[1]))
                if threshold is not None:
                    sims = [t for t in sims if t[0] >= threshold]
                if n_neighbors:
                    sims = sims[:n_neighbors]
                groups[name] = [(name, 1.0)] + [(names[m], s) for s, m in sims if s > 0]
            idx, scores = retriever.search(query, None)
            ref_idx, ref_scores = _brute_force(W, names, query, mode, groups=groups)
            np.testing.assert_array_equal(idx, ref_idx)
            np.testing.assert_allclose(scores, ref_scores, rtol=1e-10)


def test_neighbours_set_after_fit_are_those_of_a_fit_with_them(rng):
    """n_neighbors and similarity_threshold are read at each query: set after a fit
    without them they raised AttributeError, and a refit without them kept the dictionary
    of the earlier fit's `splice` (neighbours of another transformer, silently)."""
    W, names = _collection(rng, n=200, c=30, density=0.15)
    splice = _fitted_splice(rng, names)
    other = _fitted_splice(rng, names)  # (the same concepts, other embeddings)
    query = {names[0]: 1.0, names[3]: 0.5}

    def fresh(**params):
        return ConceptRetriever(**params).fit(W).search(query, None)

    retriever = ConceptRetriever(splice=splice).fit(W)
    for params in ({"n_neighbors": 3}, {"similarity_threshold": 0.2}):
        retriever.set_params(**params)
        expected = fresh(splice=splice, **params)
        for got, want in zip(retriever.search(query, None), expected, strict=True):
            np.testing.assert_array_equal(got, want)
        retriever.set_params(n_neighbors=0, similarity_threshold=None)
    # neighbours of `other` after a refit without neighbours, then with them again
    retriever = ConceptRetriever(splice=splice, n_neighbors=3).fit(W)
    retriever.set_params(splice=other, n_neighbors=0).fit(W)
    retriever.set_params(n_neighbors=3)
    expected = fresh(splice=other, n_neighbors=3)
    assert not np.array_equal(expected[0], fresh(splice=splice, n_neighbors=3)[0])
    for got, want in zip(retriever.search(query, None), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    # and pickled, the neighbours come back with their transformer, made again from it:
    # the file holds the dictionary once (it held a unit copy too, twice the transformer's)
    copy = pickle.loads(pickle.dumps(retriever))
    np.testing.assert_array_equal(copy.search(query, None)[0], expected[0])
    # a retriever pickled by the release before holds `_unit_dictionary` (an array) and no
    # `_neighbours`: its neighbours are made again from its `splice`
    state = retriever.__getstate__()
    state["_unit_dictionary"] = retriever._neighbour_dictionary()
    old = ConceptRetriever.__new__(ConceptRetriever)
    old.__setstate__(state)
    assert "_unit_dictionary" not in old.__dict__  # (never read: not kept in memory)
    np.testing.assert_array_equal(old.search(query, None)[0], expected[0])
    # without a transformer, or with a bad value, the query says what to do
    bare = ConceptRetriever(concepts=names).fit(W).set_params(n_neighbors=3)
    with pytest.raises(ValueError, match=r"need `splice`.*set_params\(splice=\.\.\.\)"):
        bare.search(query)
    with pytest.raises(ValueError, match="n_neighbors"):
        retriever.set_params(n_neighbors=-2).search(query)


def test_a_saved_retriever_holds_its_dictionary_once(rng):
    # A fitted retriever with neighbours pickled a unit float64 copy of the dictionary
    # beside its transformer's: 61.8 MB against 30.8 MB for the transformer (LAION 10k,
    # MiniLM). The copy is made again at the first query that needs it.
    W, names = _collection(rng, n=50, c=400, density=0.05)
    splice = _fitted_splice(rng, names, d=64)
    retriever = ConceptRetriever(splice=splice, n_neighbors=3).fit(W)
    query = {names[0]: 1.0}
    before = retriever.search(query, None)
    saved = pickle.dumps(retriever)
    parts = len(pickle.dumps(splice)) + len(pickle.dumps(retriever.weights_))
    unit_copy = splice.dictionary_.shape[0] * splice.dictionary_.shape[1] * 8
    assert len(saved) < parts + unit_copy / 4, (len(saved), parts, unit_copy)
    copy = pickle.loads(saved)
    for got, want in zip(copy.search(query, None), before, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mode", ["and", "min", "or"])
@pytest.mark.parametrize("metric", ["dot", "cosine"])
def test_query_concepts_that_are_each_others_neighbours_stay_separate_groups(rng, mode, metric):
    # With mode="and", ["canine", "puppy"] returned items holding only one of them: each
    # query concept also joined the other's neighbour group.
    names = ["canine", "puppy", "dog", "hound", "snow", "beach", "sedan", "tree"]
    raw = np.eye(len(names), 12)
    raw[1] = raw[0] + 0.2 * raw[1]  # puppy: the nearest concept to canine, and back
    raw[2] = raw[0] + 0.6 * raw[2]  # dog, hound: the next nearest
    raw[3] = raw[0] + 0.9 * raw[3]
    splice = SpliceTransformer(
        vocabulary=names, concept_embeddings=raw, l1_penalty=0.1, device="cpu"
    ).fit(rng.normal(size=(100, 12)))
    D = splice.dictionary_ / np.linalg.norm(splice.dictionary_, axis=1, keepdims=True)
    S = D @ D.T
    np.fill_diagonal(S, -np.inf)
    assert S[0].argmax() == 1 and S[1].argmax() == 0  # (what the test is about)
    W = sp.random(120, len(names), density=0.25, format="csr", random_state=rng)
    W = sp.vstack([W, sp.csr_matrix(np.eye(len(names))[[0, 1]] * 0.7)]).tocsr()
    only_canine, only_puppy = W.shape[0] - 2, W.shape[0] - 1
    query = {"canine": 1.0, "puppy": 0.5}
    for n_neighbors, threshold in [(1, None), (2, None), (0, 0.2), (3, 0.1)]:
        retriever = ConceptRetriever(
            splice=splice,
            mode=mode,
            metric=metric,
            n_neighbors=n_neighbors,
            similarity_threshold=threshold,
        ).fit(W)
        groups = {}
        for name in query:
            j = names.index(name)
            others = [m for m in range(len(names)) if names[m] not in query]
            near = sorted(((float(S[j, m]), m) for m in others), key=lambda t: (-t[0], t[1]))
            near = [t for t in near if t[0] > 0 and (threshold is None or t[0] >= threshold)]
            near = near[:n_neighbors] if n_neighbors else near
            groups[name] = [(name, 1.0)] + [(names[m], s) for s, m in near]
        idx, scores = retriever.search(query, None)
        ref_idx, ref_scores = _brute_force(W, names, query, mode, metric, groups=groups)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_allclose(scores, ref_scores, rtol=1e-10)
        if mode != "or":  # (an item holding one query concept alone is not a match)
            assert only_canine not in idx and only_puppy not in idx
        else:  # (each scored by its own query weight alone, not again as the other's neighbour)
            at = dict(zip(idx.tolist(), scores.tolist(), strict=True))
            # dot: 0.7 x the query weight; cosine: 1 (the item's unit row) x the query
            # weight over the norm of the query as expanded (its neighbours included)
            expanded = np.zeros(len(names))
            for name, weight in query.items():
                for member, mult in groups[name]:
                    expanded[names.index(member)] += weight * mult
            unit = 0.7 if metric == "dot" else 1.0 / np.linalg.norm(expanded)
            assert at[only_canine] == pytest.approx(1.0 * unit)
            assert at[only_puppy] == pytest.approx(0.5 * unit)


def test_cosine_scores_with_neighbours_are_cosines(rng):
    # With neighbour expansion the query was divided by its norm before the neighbours
    # were added: an item holding the query and its neighbour scored 1.41 "cosine".
    names = ["dog", "puppy", "snow", "beach", "sedan", "tree"]
    raw = np.eye(len(names), 8)
    raw[1] = raw[0] + 0.1 * raw[1]  # puppy: a near-duplicate of dog
    splice = SpliceTransformer(
        vocabulary=names, concept_embeddings=raw, l1_penalty=0.1, device="cpu"
    ).fit(rng.normal(size=(50, 8)))
    D = splice.dictionary_ / np.linalg.norm(splice.dictionary_, axis=1, keepdims=True)
    cos = float(D[0] @ D[1])
    W = sp.random(60, len(names), density=0.3, format="csr", random_state=rng)
    # an item pointing where the expanded query points: dog 1, puppy cos(dog, puppy)
    W = sp.vstack([W, sp.csr_matrix([[1.0, cos, 0, 0, 0, 0]])]).tocsr()
    retriever = ConceptRetriever(splice=splice, metric="cosine", n_neighbors=1).fit(W)
    for mode in ("or", "and"):
        idx, scores = retriever.search({"dog": 2.0}, None, mode=mode)
        assert scores.max() <= 1.0 + 1e-12
        assert idx[0] == W.shape[0] - 1 and scores[0] == pytest.approx(1.0)


def test_neighbours_follow_the_names_of_reordered_columns(rng):
    # The neighbours of a concept come from its own dictionary row, whatever the order
    # of the weights' columns (a reordered DataFrame, `concepts=` in another order).
    W, names = _collection(rng, n=200, c=30, density=0.15)
    splice = _fitted_splice(rng, names)
    frame = pd.DataFrame(W.toarray(), columns=names)
    order = rng.permutation(len(names))
    shuffled = frame.iloc[:, order]
    straight = ConceptRetriever(splice=splice, n_neighbors=3).fit(frame)
    for retriever in (
        ConceptRetriever(concepts=list(shuffled.columns), splice=splice, n_neighbors=3).fit(
            shuffled.to_numpy()
        ),
        ConceptRetriever(concepts=list(shuffled.columns), splice=splice, n_neighbors=3).fit(
            shuffled
        ),
        # (a DataFrame whose columns are not in `splice`'s order, with no names given: read
        # by name, as the editor and inverse_transform read it; it was refused)
        ConceptRetriever(splice=splice, n_neighbors=3).fit(shuffled),
        # (and names given in another order than the frame's columns)
        ConceptRetriever(concepts=list(names), splice=splice, n_neighbors=3).fit(shuffled),
    ):
        for name in names[:10]:
            want = straight.search([name], None)
            got = retriever.search([name], None)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    renamed = shuffled.rename(columns={names[order[0]]: "not a concept"})
    with pytest.raises(ValueError, match=r"columns not among its concepts \['not a concept'\]"):
        ConceptRetriever(splice=splice, n_neighbors=3, concepts=list(renamed.columns)).fit(
            renamed.to_numpy()
        )


def test_large_sparse_collection_is_never_densified():
    """2e5 items x 2e4 concepts (32 GB dense): fit and search stay within a few times nnz."""
    rng = np.random.default_rng(1)
    n, c, per_row = 200_000, 20_000, 8
    starts = rng.integers(0, c - per_row, size=n)
    indices = (starts[:, None] + np.arange(per_row)).ravel().astype(np.int32)
    indptr = np.arange(0, n * per_row + 1, per_row, dtype=np.int32)
    W = sp.csr_matrix((rng.uniform(0.01, 1.0, n * per_row), indices, indptr), shape=(n, c))
    nbytes = W.data.nbytes + W.indices.nbytes + W.indptr.nbytes
    names = [f"c{j}" for j in range(c)]
    tracemalloc.start()
    try:
        retriever = ConceptRetriever(concepts=names).fit(W)
        idx, scores = retriever.search({"c100": 1.0, "c105": 0.5}, 10)
        idx_and, _ = retriever.search({"c100": 1.0, "c105": 0.5}, 10, mode="and")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * nbytes, (peak, nbytes)  # dense would be n * c * 8 = 32e9 bytes
    col = W[:, 100].toarray().ravel() + 0.5 * W[:, 105].toarray().ravel()
    expected = np.lexsort((np.arange(n), -col))[:10]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_allclose(scores, col[expected])
    both = (W[:, 100].toarray().ravel() > 0) & (W[:, 105].toarray().ravel() > 0)
    assert both[idx_and].all()


def test_names_from_dataframe_splice_or_list(rng):
    W, names = _collection(rng, n=20, c=6, density=0.5)
    frame = pd.DataFrame(W.toarray(), columns=names)
    sparse_frame = pd.DataFrame.sparse.from_spmatrix(W, columns=names)
    sparse_frame = sparse_frame.astype(pd.SparseDtype("float64", 0.0))
    query = {names[0]: 1.0, names[3]: 0.5}
    expected = ConceptRetriever(concepts=names).fit(W).search(query)
    for X in (frame, sparse_frame):
        retriever = ConceptRetriever().fit(X)
        np.testing.assert_array_equal(retriever.feature_names_in_, names)
        np.testing.assert_array_equal(retriever.search(query)[0], expected[0])
    splice = _fitted_splice(rng, names)
    assert list(ConceptRetriever(splice=splice).fit(W).concepts_) == names
    assert list(ConceptRetriever(concepts=splice).fit(W).concepts_) == names


def test_a_renamed_frame_is_refused_without_advice_that_raises(rng):
    # The message said "pass the columns in the order of the names (X[names])", which
    # raises a KeyError for a frame whose columns were renamed.
    W, names = _collection(rng, n=20, c=6, density=0.5)
    frame = pd.DataFrame(W.toarray(), columns=names).rename(columns={names[2]: "renamed"})
    said = r"column 2 is 'renamed' in X but .* which X does not hold all; give the frame with"
    with pytest.raises(ValueError, match=said):
        ConceptRetriever(concepts=names).fit(frame)
    with pytest.raises(KeyError):
        frame[names]  # (what the message said to do)


def test_weights_of_another_transformer_are_refused(rng):
    # Weights a transformer made, searched with the names of another (other concepts, or
    # the same in another order): every query read other columns (a search for the top
    # concept of row 0 returned nothing).
    _, names = _collection(rng, n=20, c=6, density=0.5)
    mine = _fitted_splice(rng, names)
    other = _fitted_splice(rng, names[::-1])
    W = mine.transform(rng.normal(size=(20, mine.n_features_in_)))
    for kwargs in ({"splice": other}, {"concepts": other}, {"concepts": list(other.concepts_)}):
        with pytest.raises(ValueError, match=r"not those of `(splice|concepts)`: column 0 is"):
            ConceptRetriever(**kwargs).fit(W)
    assert list(ConceptRetriever(splice=mine).fit(W).concepts_) == names


def test_clone_and_pickle(rng):
    W, names = _collection(rng, n=50, c=10, density=0.3)
    retriever = ConceptRetriever(concepts=names, mode="and").fit(W)
    assert clone(retriever).get_params() == retriever.get_params()
    copy = pickle.loads(pickle.dumps(retriever))
    query = {names[1]: 1.0}
    np.testing.assert_array_equal(copy.search(query)[0], retriever.search(query)[0])


def test_unknown_concepts_are_named_with_close_matches(rng):
    W = sp.csr_matrix(np.eye(3))
    retriever = ConceptRetriever(concepts=["dog", "snow", "beach"]).fit(W)
    with pytest.raises(ValueError, match=r"'dgo' \(did you mean 'dog'\?\); 'zzz'$"):
        retriever.search({"dgo": 1, "zzz": 1, "snow": 1})


@pytest.mark.parametrize(
    ("params", "fit_X", "match"),
    [
        ({"mode": "xor"}, None, "mode must be one of"),
        ({"metric": "l2"}, None, "metric must be 'dot' or 'cosine', got 'l2'"),
        ({"n_neighbors": -1}, None, "n_neighbors must be"),
        ({"n_neighbors": 3}, None, "need `splice`"),
        ({"similarity_threshold": 2.0}, None, "similarity_threshold must be"),
        # (embeddings given for weights: said how to get the weights)
        ({}, np.array([[0.1, -0.2, 0.0]]), r"non-negative.*W = splice.transform\(X\)$"),
        ({}, np.array([[0.1, np.nan, 0.0]]), "NaN or infinite values in 1 row"),
        ({"concepts": ["a", "b"]}, None, "2 concept names but the weights have 3"),
    ],
)
def test_fit_rejects_bad_parameters_and_weights(params, fit_X, match):
    params = {"concepts": ["a", "b", "c"], **params}
    X = np.eye(3) if fit_X is None else fit_X
    with pytest.raises(ValueError, match=match):
        ConceptRetriever(**params).fit(X)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"mode": None}, TypeError, r"mode must be one of .*got None \(NoneType\)"),
        ({"metric": None}, TypeError, r"metric must be 'dot' or 'cosine', got None"),
        ({"concepts": 5}, TypeError, r"`concepts` must be a list of concept names .*got an int"),
        ({"concepts": "abc"}, TypeError, "`concepts` must be a sequence .*not a single string"),
        # (a dict's keys, read in insertion order, would ignore its values)
        ({"concepts": {"a": 2, "b": 0, "c": 1}}, TypeError, "got a dict"),
        ({"concepts": ["a", None, "c"]}, TypeError, r"`concepts` entry 1 is None, not a string"),
        ({"concepts": ["a", "b", 3]}, TypeError, r"`concepts` entry 2 is an int \(3\)"),
        ({"concepts": ["a", " ", "c"]}, ValueError, r"`concepts` entry 1 is blank \(' '\)"),
        (
            {"concepts": ["a", "a", "c"]},
            ValueError,
            r"`concepts` entry 1 \('a'\) duplicates entry 0; concepts must be distinct",
        ),
        ({"concepts": ["a", "b", "a "]}, ValueError, r"entry 2 \('a '\) is entry 0 \('a'\)"),
        ({"splice": "st"}, TypeError, r"`splice` must be a fitted SpliceTransformer .*\('st'\)"),
    ],
)
def test_fit_refuses_bad_concept_names_and_option_types(params, error, match):
    # A name given twice searched only one of its columns (the last), None and
    # numbers were stored as names, concepts=5 failed with "'int' object is not
    # iterable", and None for a string option was a ValueError.
    params = {"concepts": ["a", "b", "c"], **params}
    with pytest.raises(error, match=match):
        ConceptRetriever(**params).fit(sp.csr_matrix([[0.5, 0.0, 0.1], [0.2, 0.4, 0.0]]))


def test_names_of_a_dataframe_index_are_shown_with_nan_rows():
    import pandas as pd

    W = pd.DataFrame(np.eye(3), columns=["a", "b", "c"], index=["x", "y", "z"])
    W.iloc[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 row\(s\): 'y' \(row 1\); "):
        ConceptRetriever().fit(W)


def test_fit_without_names_and_bad_queries():
    with pytest.raises(ValueError, match="carry no concept names"):
        ConceptRetriever().fit(np.eye(2))
    retriever = ConceptRetriever(concepts=["a", "b"]).fit(np.eye(2))
    with pytest.raises(TypeError, match="use search_text"):
        retriever.search("a")
    with pytest.raises(ValueError, match="positive finite number"):
        retriever.search({"a": -1.0})
    with pytest.raises(ValueError, match="names no concept"):
        retriever.search({})
    with pytest.raises(ValueError, match="k must be a positive integer"):
        retriever.search(["a"], 0)
    with pytest.raises(ValueError, match="mode must be one of"):
        retriever.search(["a"], mode="nand")
    with pytest.raises(ValueError, match="text queries need `splice`"):
        retriever.search_text("a dog")
    # a name given twice in a list was weighed 2, and reordered the results
    with pytest.raises(ValueError, match=r"names the concept 'b' twice; .*: \{'b': 2\}"):
        retriever.search(["b", "a", "b"])
    # numbers are no concept names, also where the vocabulary has their text ('0', '1' and
    # '2' are LAION concepts): a Series' default index named them, silently
    numbered = ConceptRetriever(concepts=["0", "1", "b"]).fit(np.eye(3))
    for query, said in (
        (pd.Series([0.2, 0.9]), r"0 \(int\), 1 \(int\): a Series .*pd.Series\(weights, index"),
        ({"1": 1.0, 1: 2.0}, r"1 \(int\): a dict maps concept names"),
        ([1], r"1 \(int\): a list of concepts holds their names"),
        (np.array([0, 1]), r"0 \(int64\), 1 \(int64\): a list"),
    ):
        with pytest.raises(TypeError, match=r"^concept names are strings; the query has " + said):
            numbered.search(query)
    assert list(numbered.search(np.array(["1", "b"]))[0]) == [1, 2]  # (numpy strings are)
    assert list(retriever.search({"b": 2.0, "a": 1.0})[0]) == [1, 0]
    repeated = pd.Series([1.0, 2.0], index=["b", "b"])  # (to_dict() kept the last)
    with pytest.raises(ValueError, match=r"names the concept 'b' twice; .*\{'b': 3\}"):
        retriever.search(repeated)
    assert list(retriever.search(pd.Series({"b": 2.0, "a": 1.0}))[0]) == [1, 0]


def test_a_text_query_through_an_image_transformer_is_warned_about(minilm):
    # retrieval.md: "the image transformer would centre a text query by the image centre";
    # search_text through it gave results without a word
    names = ["dog", "snow", "cat", "soup", "sofa", "car"]
    X = minilm.embed_text([f"a photo of a {n}" for n in names * 20])
    image = SpliceTransformer(embedder=minilm, vocabulary=names, l1_penalty=0.05).fit(X)
    text = clone(image).set_params(image_mean=None, modality="text", text_mean="concepts")
    text.fit(X[:1])
    W = image.transform(X)
    # a centre learned from the collection may be of texts (here it is: no warning); the
    # published image mean is of images (as CLIP's, image_mean="pretrained", gives it)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ConceptRetriever(splice=text).fit(W).search_text("a dog in the snow")
        ConceptRetriever(splice=image).fit(W).search_text("a dog in the snow")
    image.mean_source_ = "pretrained"
    with pytest.warns(UserWarning, match=r"published image mean: .*set_params\(image_mean=None"):
        ConceptRetriever(splice=image).fit(W).search_text("a dog in the snow")


def test_text_query_on_minilm_captions(laion_minilm, minilm):
    concepts, raw = laion_minilm
    texts = [
        "a dog playing in the snow",
        "a puppy running through deep snow",
        "a dog sleeping on the sofa",
        "a cat in the snow",
        "a bowl of soup on the table",
        "children building a snowman",
    ]
    X = minilm.embed_text(texts)
    splice = SpliceTransformer(
        embedder=minilm, vocabulary=concepts, concept_embeddings=raw, l1_penalty=0.2, device="cpu"
    ).fit(X)
    W = splice.transform(X)
    retriever = ConceptRetriever(splice=splice).fit(W)
    query = retriever.decompose_text("a dog in the snow")
    assert "snow" in query and list(query.values()) == sorted(query.values(), reverse=True)
    idx, scores = retriever.search_text("a dog in the snow", k=3)
    ref_idx, ref_scores = retriever.search(query, k=3)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(scores, ref_scores)
    # The collection's columns in another order than `splice`'s (named by `concepts=`):
    # the query is read by `splice`'s names (it was refused at the first text query).
    flipped = ConceptRetriever(concepts=list(concepts)[::-1], splice=splice).fit(
        W.toarray()[:, ::-1]
    )
    assert flipped.decompose_text("a dog in the snow") == query
    flipped_idx, flipped_scores = flipped.search_text("a dog in the snow", k=3)
    np.testing.assert_array_equal(flipped_idx, idx)
    np.testing.assert_allclose(flipped_scores, scores)
    # A transformer of other concepts is refused by fit, not at the first text query.
    other = list(concepts)
    other[-1] = "zebra crossing"
    with pytest.raises(
        ValueError,
        match=r"concepts of `splice` differ .*columns not among its concepts \['zebra crossing'\]",
    ):
        ConceptRetriever(concepts=other, splice=splice).fit(2.0 * W.toarray())
    # (its own weights, recognised by their rows, are told to be of other concepts first)
    with pytest.raises(
        ValueError, match=r"column 9999 is 'floppy' there but 'zebra crossing' in `concepts`"
    ):
        ConceptRetriever(concepts=other, splice=splice).fit(W.toarray())
    assert idx[0] == 0 and 4 not in idx
    # caption 1 is decomposed with "puppy", not "dog": an exact query for "dog" misses
    # it, the query expanded with the ten nearest concepts of "dog" finds it
    assert "dog" not in dict(splice.top_concepts(W[1], k=100)[0])
    assert 1 not in retriever.search(["dog"], k=None)[0]
    expanded = ConceptRetriever(splice=splice, n_neighbors=10).fit(W)
    idx, _ = expanded.search(["dog"], k=None)
    assert {0, 1, 2} <= set(idx.tolist()) and not {4, 5} & set(idx.tolist())


def _table_rows(markdown: str, first_cell: str) -> list[list[str]]:
    rows = []
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.fullmatch(first_cell, cells[0]):
            rows.append(cells)
    return rows


def test_worked_example_recall_and_docs_numbers(laion_minilm, minilm, tmp_path):
    """The recall table of docs/retrieval.md is what the example measures."""
    from ._helpers_editing import assert_png, load_example

    example = load_example("retrieval_recall")
    concepts, raw = laion_minilm
    result = example.main(tmp_path, embedder=minilm, concepts=concepts, concept_embeddings=raw)
    assert_png(result["figures"]["recall"])
    results = result["results"]
    dense = results["dense"].iloc[0]
    assert dense > 0.85
    # measured: with 10 neighbours, names queries (and) keep >= 0.93 of dense recall@10
    # at every penalty; without expansion concept queries miss synonyms (< 0.45)
    assert (results["names_and_nb10"] >= 0.93 * dense).all()
    assert (results["text_or_nb10"] > results["text_or_nb0"] + 0.15).all()
    assert (results["text_or_nb0"] < 0.45).all() and (results["names_and_nb0"] < 0.45).all()
    assert results["mean_l0"].is_monotonic_decreasing

    page = (REPO_ROOT / "docs" / "retrieval.md").read_text(encoding="utf-8")
    documented = _table_rows(page, r"0\.\d\d")
    measured = _table_rows(result["table"], r"0\.\d\d")
    assert len(documented) == len(measured) == len(example.L1_PENALTIES)
    for doc_row, row in zip(documented, measured):
        assert doc_row[0] == row[0]
        doc, got = np.array(doc_row[1:], dtype=float), np.array(row[1:], dtype=float)
        np.testing.assert_allclose(got[:2], doc[:2], rtol=0.1)  # mean l0
        np.testing.assert_allclose(got[2:], doc[2:], atol=0.03)  # recall@10


def test_an_unknown_concepts_error_suggests_for_the_first_few_and_counts_the_rest(monkeypatch):
    from sksplice import _names
    from sksplice.retrieval import unknown_concepts_error

    known = [f"concept{i}" for i in range(1000)] + ["dog", "snow"]
    calls = []
    normalise = _names._all_normalised
    monkeypatch.setattr(
        _names, "_all_normalised", lambda names: calls.append(len(names)) or normalise(names)
    )
    unknown = ["dgo", "snwo", "zzz", "dgo", "qqq"] + [f"x{i}" for i in range(300)]
    error = unknown_concepts_error(unknown, known, "query")
    assert str(error) == (
        "concepts in `query` not in the vocabulary: 'dgo' (did you mean 'dog'?); 'snwo' (did "
        "you mean 'snow'?); 'zzz'; 'dgo' (did you mean 'dog'?); 'qqq'; and 300 more"
    )
    assert calls == [1002]
    few = unknown_concepts_error(["dgo"], known, "--concepts")
    assert str(few) == "concepts in --concepts not in the vocabulary: 'dgo' (did you mean 'dog'?)"


def test_a_query_that_matches_nothing_says_why():
    # A search for "dog" over decompositions that say "canine" returned nothing without
    # a word, read as "no dog in the collection" (ConceptEditor warns in that case).
    W = sp.csr_matrix(np.array([[1.0, 0, 0, 0], [0, 1, 0, 0], [0.5, 0, 0, 0]]))
    retriever = ConceptRetriever(concepts=["canine", "cat", "dog", "wolf"]).fit(W)
    for query, said in (
        (["dog"], r"no item holds the concept 'dog' of the query: it has a non-zero weight "),
        (["dog", "wolf"], r"no item holds the concepts 'dog', 'wolf' of the query: they have "),
    ):
        with pytest.warns(UserWarning, match=said) as record:
            idx, scores = retriever.search(query)
        assert idx.size == scores.size == 0
        assert "concept_neighbors" in str(record[0].message)
        assert "search_text" in str(record[0].message)
    with pytest.warns(
        UserWarning,
        match=r"no item holds the concept 'dog' of the query: it has a non-zero weight in no "
        r"row of the weights given to fit, so no item matches in mode='min'\.",
    ):
        assert retriever.search(["canine", "dog"], mode="min")[0].size == 0
    # a query that matches says nothing, nor one of concepts that are each held, but by
    # no item together (the empty result is the answer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert retriever.search(["canine"])[0].tolist() == [0, 2]
        assert retriever.search(["canine", "cat"], mode="and")[0].size == 0


def test_the_no_match_warning_counts_the_neighbours_of_a_query_concept(rng):
    # With neighbours, an item holding a neighbour matches its concept's group: the
    # warning blamed "dog" (held by no item "nor any of its neighbours") where "canine"
    # was held, and no item matched only for lack of "car".
    names = ["dog", "canine", "car", "tree"]
    W = sp.csr_matrix(np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 0.5, 0.0, 0.0]]))
    D = np.array([[1.0, 0, 0], [0.99, 0.14, 0], [0, 0, 1.0], [0, 1.0, 0]])
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    retriever = ConceptRetriever(splice=_fitted_splice(rng, names), n_neighbors=1, mode="and")
    retriever.fit(W)
    retriever._neighbour_dictionary = lambda: D  # ("canine" the neighbour of "dog")
    with pytest.warns(UserWarning) as record:
        assert retriever.search(["dog", "car"])[0].size == 0
    (said,) = [str(w.message) for w in record if "no item holds" in str(w.message)]
    assert said.startswith("no item holds the concept 'car' of the query (nor any of the "), said
