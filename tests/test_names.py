"""Concept names given twice (the data's own and an argument's) never mislabel columns."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from sksplice import ConceptEditor, SpliceTransformer
from sksplice.analysis import concept_profiles, rank_concepts
from sksplice.plotting import plot_decomposition
from sksplice.probes import probe_concepts, zero_concept_coefficients
from sksplice.shift import compare_datasets

NAMES = ["bikini", "suit", "snow"]


@pytest.fixture
def weights():
    """Class "w" has bikini, class "m" has suit; snow everywhere in "w", nowhere in "m"."""
    W = pd.DataFrame([[1.0, 0, 0.5], [0.8, 0, 0.4], [0, 1.0, 0], [0, 0.9, 0]], columns=NAMES)
    return W, np.array(["w", "w", "m", "m"])


def test_analysis_takes_a_reordered_frame_by_its_column_names(weights):
    W, y = weights
    reordered = W[["snow", "suit", "bikini"]]
    expected = rank_concepts(W, y, "w")
    # concepts= in another order than the frame's columns: the columns say which is which.
    got = rank_concepts(reordered, y, "w", concepts=NAMES)
    pd.testing.assert_frame_equal(got.sort_index(), expected.sort_index())
    profiles = concept_profiles(reordered, y, NAMES)
    assert profiles.loc["bikini", ("prevalence", "w")] == 1.0
    assert profiles.loc["suit", ("prevalence", "w")] == 0.0
    with pytest.raises(ValueError, match=r"column 0 is 'snow' in the columns of W but 'dog'"):
        rank_concepts(reordered, y, "w", concepts=["dog", "suit", "bikini"])


def test_compare_datasets_lines_up_both_collections_by_name(weights):
    W, _ = weights
    W_a, W_b = W.iloc[:2], W.iloc[2:]
    expected = compare_datasets(W_a, W_b)
    order = ["snow", "bikini", "suit"]
    got = compare_datasets(W_a[order], W_b[order], concepts=NAMES)
    assert got.loc["bikini", "count_a"] == 2 and got.loc["suit", "count_b"] == 2
    pd.testing.assert_series_equal(got["count_a"].sort_index(), expected["count_a"].sort_index())
    # A reordered frame against a matrix in the order of concepts= does not line up.
    with pytest.raises(ValueError, match=r"column 0 is 'snow' in W_a and 'bikini' in W_b"):
        compare_datasets(
            W_a[["snow", "bikini", "suit"]], sp.csr_matrix(W_b.to_numpy()), concepts=NAMES
        )


def test_a_decomposition_plot_labels_bars_by_the_row_s_own_index(weights):
    W, _ = weights
    row = W.iloc[0][["suit", "snow", "bikini"]]
    ax = plot_decomposition(row, NAMES, k=2)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert set(labels) == {"bikini", "snow"}
    with pytest.raises(ValueError, match="name different concepts"):
        plot_decomposition(row, ["suit", "dog", "bikini"])


def test_probe_helpers_follow_the_model_s_input_names(weights):
    W, y = weights
    reordered = W[["suit", "snow", "bikini"]]
    lr = LogisticRegression().fit(reordered, y)
    top = probe_concepts(lr, k=1)
    given = probe_concepts(lr, k=1, concepts=NAMES)
    pd.testing.assert_frame_equal(given, top)
    # "w" (classes_[1]) is told by bikini or snow, never by suit.
    assert given.query("`class` == 'w' and sign == 'positive'")["concept"].iloc[0] != "suit"
    edited = zero_concept_coefficients(lr, ["snow"], feature_names=NAMES)
    snow = list(reordered.columns).index("snow")
    assert edited.coef_[0, snow] == 0.0
    assert np.count_nonzero(edited.coef_ == 0) == 1
    with pytest.raises(ValueError, match=r"\(feature_names_in_\) and `feature_names` name diff"):
        zero_concept_coefficients(lr, ["snow"], feature_names=["suit", "snow", "dog"])


def test_an_editor_reads_a_frame_whose_columns_are_in_another_order_by_name():
    rng = np.random.default_rng(0)
    words = [f"concept {i}" for i in range(12)]
    emb = rng.standard_normal((12, 8))
    X = emb[[0, 1, 2, 3, 4, 5]] + 0.1 * rng.standard_normal((6, 8))
    splice = SpliceTransformer(vocabulary=words, concept_embeddings=emb, device="cpu").fit(
        np.vstack([X, rng.standard_normal((20, 8))])
    )
    W = splice.transform(X)
    editor = ConceptEditor(remove=["concept 0"], splice=FrozenEstimator(splice)).fit(W)
    frame = pd.DataFrame(W.toarray(), columns=words)
    np.testing.assert_array_equal(editor.transform(frame), editor.transform(W).toarray())
    # (read by position, the reversed frame would have had 'concept 11' zeroed)
    np.testing.assert_array_equal(
        editor.transform(frame[words[::-1]]), editor.transform(W).toarray()
    )


def test_names_that_are_only_positions_are_labelled_by_the_argument(weights):
    # A frame read back from CSV has columns "0", "1", ...; steps fitted on unnamed
    # columns make up x0, x1, ...: they name nothing, so concepts= labels the columns.
    import io

    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    W, y = weights
    buffer = io.StringIO()
    W.to_csv(buffer, index=False, header=[str(j) for j in range(3)])
    buffer.seek(0)
    read = pd.read_csv(buffer)
    pd.testing.assert_frame_equal(
        concept_profiles(read, y, NAMES), concept_profiles(W, y), check_names=False
    )
    model = make_pipeline(
        ColumnTransformer([("s", StandardScaler(), [0, 1, 2])]), LogisticRegression()
    ).fit(W.to_numpy(), y)
    assert set(probe_concepts(model, k=1, concepts=NAMES)["concept"]) <= set(NAMES)
    # Integer names in another order than the same names given as strings: the data's order.
    reordered = pd.DataFrame(W.to_numpy()[:, [2, 0, 1]], columns=[3, 1, 2])
    profiles = concept_profiles(reordered, y, ["1", "2", "3"])
    assert list(profiles.index) == ["3", "1", "2"]


def test_an_editor_transforms_the_frame_it_was_fitted_on():
    # Columns that are positions, not names: fitted and transformed alike, as before.
    rng = np.random.default_rng(0)
    words = [f"concept {i}" for i in range(6)]
    emb = rng.standard_normal((6, 8))
    splice = SpliceTransformer(vocabulary=words, concept_embeddings=emb, device="cpu").fit(
        rng.standard_normal((30, 8))
    )
    W = splice.transform(rng.standard_normal((5, 8))).toarray()
    frame = pd.DataFrame(W, columns=np.arange(6))
    editor = ConceptEditor(remove=["concept 1"], splice=FrozenEstimator(splice)).fit(frame)
    out = np.asarray(editor.transform(frame))
    assert (out[:, 1] == 0).all() and np.array_equal(np.delete(out, 1, 1), np.delete(W, 1, 1))


def test_probe_names_given_need_no_names_from_the_steps(weights):
    # A step whose get_feature_names_out fails (in its own way) is not asked when the
    # names are given.
    from sklearn.base import BaseEstimator, TransformerMixin
    from sklearn.pipeline import make_pipeline

    class Squares(TransformerMixin, BaseEstimator):
        def fit(self, X, y=None):
            return self

        def transform(self, X):
            return np.asarray(X) ** 2

        def get_feature_names_out(self, input_features=None):
            raise NotImplementedError("no names")

    W, y = weights
    model = make_pipeline(Squares(), LogisticRegression()).fit(W.to_numpy(), y)
    assert set(probe_concepts(model, k=1, concepts=NAMES)["concept"]) <= set(NAMES)
    with pytest.raises(ValueError, match="get_feature_names_out failed: no names"):
        probe_concepts(model, k=1)


def test_close_matches_rank_a_swap_of_letters_first():
    from sksplice._names import close_matches

    words = ["duo", "ago", "do", "go", "dog", "cat", "Snow", "snowy", "so"]
    assert close_matches("dgo", words) == ["dog", "do", "duo"]
    assert close_matches("SNWO", words)[0] == "Snow"  # case ignored, the option's own case kept
    assert close_matches("zebra", words) == []


# words more like "sae" than "sea" is by difflib's ratio: "sea" was left out of the 20
# candidates ranked by edits
_LIKE_SAE = [
    "she",
    "see",
    "save",
    "same",
    "sale",
    "sake",
    "safe",
    "sane",
    "sage",
    "sate",
    "shale",
    "shame",
    "shape",
    "share",
    "shave",
    "slate",
    "slave",
    "snake",
    "space",
    "spade",
    "stage",
    "stake",
    "stale",
    "state",
    "scale",
    "scare",
    "skate",
    "sea",
]


def test_close_matches_find_a_swap_of_letters_among_many_words():
    from sksplice._names import close_matches

    assert close_matches("sae", _LIKE_SAE)[0] == "sea"
    assert close_matches("sae", _LIKE_SAE[::-1])[0] == "sea"
    assert close_matches("dgo", ["dogs", "dot", "do", "ago", "dog"], n=1) == ["dog"]


def test_close_matches_compare_names_stripped_and_case_folded():
    from sksplice._names import close_matches

    words = ["trees", "three", "tree", "Dot", "dog", "Dog"]
    assert close_matches("tree ", words)[0] == "tree"
    assert close_matches(" TREE\t", words)[0] == "tree"
    assert close_matches("Dog ", words)[0] == "Dog"  # the same case first
    assert close_matches("DOG", words)[:2] == ["dog", "Dog"]
    assert close_matches("hot  dog", ["hot dog", "hotdogs"])[0] == "hot dog"
    assert close_matches(" ", words) == []


def test_the_suggestions_for_misspelt_laion_words(splice_data_dir):
    from sksplice.vocabulary import load_vocabulary

    for size in (2000, 10000):
        words = load_vocabulary("laion", size=size, data_home=splice_data_dir)
        W = pd.DataFrame(np.zeros((1, len(words))), columns=words)
        with pytest.raises(ValueError, match=r"'sae' \(did you mean 'sea', "):
            ConceptEditor(remove=["sae"]).fit(W)
        with pytest.raises(ValueError, match=r"'tree ' \(did you mean 'tree', "):
            ConceptEditor(remove=["tree "]).fit(W)


def _osa(a: str, b: str) -> int:
    """Edits between ``a`` and ``b``, swaps of neighbouring letters counted as one."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            substitution = d[i - 1][j - 1] + (a[i - 1] != b[j - 1])
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, substitution)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def _lcs(a: str, b: str) -> int:
    """Letters ``a`` and ``b`` share in the same order."""
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0
        for j, y in enumerate(b, start=1):
            diagonal, row[j] = row[j], diagonal + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


_short_words = st.text(alphabet="abcd é", max_size=7)


@settings(max_examples=200, deadline=None)
@given(word=_short_words, options=st.lists(_short_words, max_size=12))
def test_close_matches_agree_with_plain_edit_distances(word, options):
    import difflib

    from sksplice._names import _close, _normalised, close_matches

    key = _normalised(word)
    names = {option: _normalised(option) for option in options}
    # every name's distances, in blocks of a few names
    found, edits, common = _close(key, list(names.values()), 0.0, block=8)
    assert sorted(found.tolist()) == list(range(len(names)))
    for i, e, c in zip(found, edits, common):
        name = list(names.values())[i]
        assert (e, c) == (_osa(key, name), _lcs(key, name)), name
    got = close_matches(word, options, n=len(options) + 1)
    for option, name in names.items():
        edits, common = _osa(key, name), _lcs(key, name)
        longer, total = max(len(key), len(name), 1), len(key) + len(name)
        close = 1 - edits / longer >= 0.6 or (2 * common / total if total else 1.0) >= 0.6
        assert (option in got) == close, (option, edits, common)
    # difflib's matches are all kept (its matched letters are letters shared in order)
    for name in difflib.get_close_matches(key, list(set(names.values())), n=100):
        assert any(names[option] == name for option in got)
    ranked = [_osa(key, names[option]) for option in got]
    assert ranked == sorted(ranked)


def test_close_matches_of_a_large_vocabulary_are_quick():
    import time

    from sksplice._names import close_matches

    rng = np.random.default_rng(0)
    letters = rng.choice(list("abcdefghijklmnopqrstuvwxyz "), size=(50_000, 14))
    letters[:, 0] = "a"
    words = ["".join(row[:k]) for row, k in zip(letters, rng.integers(2, 15, size=50_000))]
    words = [word for word in words if word not in ("dgo", "photograhpy")]
    words += ["dog", "photography"]
    for word, match in [("dgo", "dog"), ("photograhpy", "photography")]:
        seconds = []
        for _ in range(2):
            start = time.perf_counter()
            assert close_matches(word, words)[0] == match
            seconds.append(time.perf_counter() - start)
        assert min(seconds) < 1.0, (word, seconds)  # about 0.1 s


def test_the_docs_suggestions_for_a_misspelt_concept(splice_data_dir):
    # docs/editing.md and docs/retrieval.md quote this message for the LAION words
    from sksplice.retrieval import unknown_concepts_error
    from sksplice.vocabulary import load_vocabulary

    words = load_vocabulary("laion", size=10000, data_home=splice_data_dir)
    message = str(unknown_concepts_error(["dgo"], words, "query"))
    assert "'dgo' (did you mean 'dog', 'do', 'duo'?)" in message


def test_names_that_share_nothing_with_the_argument_are_refused(weights):
    # Columns that name concepts, none of them the argument's: labelling them by
    # position would put the argument's names on other concepts.
    W, y = weights
    other = ["car", "sky", "sea"]
    message = r"column 0 is 'bikini' in .* but 'car' in .*, and no name of"
    with pytest.raises(ValueError, match=message):
        concept_profiles(W, y, concepts=other)
    with pytest.raises(ValueError, match=message):
        rank_concepts(W, y, "w", concepts=other)
    lr = LogisticRegression().fit(W, y)
    with pytest.raises(ValueError, match=message):
        probe_concepts(lr, k=1, concepts=other)
    # numbered columns with a prefix other than one (x0, clip1, ...) name concepts too
    mixed = W.set_axis(["x0", "clip1", "x2"], axis=1)
    with pytest.raises(ValueError, match="no name of"):
        concept_profiles(mixed, y, concepts=NAMES)
    # numbers name nothing: positions, also of columns kept from a wider frame
    expected = concept_profiles(W, y)
    for numbers in (["clip0", "clip1", "clip2"], ["x1", "x2", "x4"], [0, 1, 4], [4, 0, 1]):
        numbered = W.set_axis(numbers, axis=1)
        pd.testing.assert_frame_equal(
            concept_profiles(numbered, y, NAMES), expected, check_names=False
        )
    # the message shows the names as written (not np.str_('car'))
    with pytest.raises(ValueError, match=r"but 'car' in"):
        concept_profiles(W, y, concepts=np.array(other))


def test_close_matches_rank_a_missing_or_doubled_letter_by_the_letters_shared():
    # 'catt' suggested 'cast', 'cart', 'cats' before 'cat', 'bech' 'tech' before 'beach':
    # among options one edit away, those sharing more letters come first
    from sksplice._names import close_matches

    words = ["tech", "cast", "cart", "cats", "bench", "cat", "beach", "grin", "green"]
    assert close_matches("catt", words)[0] == "cat"
    assert close_matches("bech", words)[:2] == ["bench", "beach"]
    assert close_matches("grren", words)[0] == "green"


# ------------------------------------------------- weights recognised by their content
def _weights(seed=0, shape=(40, 9)):
    return sp.random(*shape, density=0.3, format="csr", dtype=np.float32, random_state=seed)


def test_the_fingerprints_of_rows_are_those_of_their_copies_and_of_no_other():
    from sksplice._names import row_fingerprints

    W = _weights()
    D = W.toarray()
    expected = row_fingerprints(W)
    assert expected.shape == (int(np.count_nonzero(W.getnnz(axis=1))),)
    assert np.unique(expected).size == expected.size
    copies = {
        "copy": W.copy(),
        "float64": W.astype(np.float64),
        "csr_array": sp.csr_array(W),
        "dense": D,
        "dense float64": D.astype(np.float64),
        "fortran": np.asfortranarray(D),
        "csc": W.tocsc(),
        "coo": W.tocoo(),
    }
    for how, copy in copies.items():
        np.testing.assert_array_equal(row_fingerprints(copy), expected, err_msg=how)
    # a row's fingerprint is its own: the same in any slice of rows, any order of its
    # entries, with or without explicit zeros
    present = np.flatnonzero(W.getnnz(axis=1))
    np.testing.assert_array_equal(
        row_fingerprints(W[10:20]), expected[(present >= 10) & (present < 20)]
    )
    np.testing.assert_array_equal(row_fingerprints(W[[7, 3]]), row_fingerprints(W[[3, 7]])[::-1])
    shuffled = W.copy()
    start, end = shuffled.indptr[present[0]], shuffled.indptr[present[0] + 1]
    shuffled.indices[start:end] = shuffled.indices[start:end][::-1].copy()
    shuffled.data[start:end] = shuffled.data[start:end][::-1].copy()
    np.testing.assert_array_equal(row_fingerprints(shuffled), expected)
    zeros = sp.csr_matrix(
        (np.r_[W.data, 0.0], np.r_[W.indices, 0], np.r_[W.indptr[:-1], W.nnz + 1])
    )
    np.testing.assert_array_equal(row_fingerprints(zeros), expected)
    # another value, another column: another fingerprint
    changed = W.copy()
    changed.data[-1] += 0.5
    assert (row_fingerprints(changed) != expected).sum() == 1
    moved = sp.csr_matrix((W.data, (W.indices + 1) % W.shape[1], W.indptr), shape=W.shape)
    assert not np.isin(row_fingerprints(moved), expected).any()
    # none: no weight to misread, or not bare weights
    assert row_fingerprints(sp.csr_matrix((4, 3), dtype=np.float32)) is None
    assert row_fingerprints(np.zeros((4, 3))) is None
    assert row_fingerprints(pd.DataFrame(D)) is None
    assert row_fingerprints(D.astype(int)) is None
    assert row_fingerprints(D[0]) is None


def test_rows_of_recorded_weights_are_checked(monkeypatch):
    # W[:5] (the rows a user looks at), W[train] (a fold), W[[0]], W.tocsc() or
    # W.toarray() of weights of another vocabulary were read by position: the concepts
    # of one vocabulary named by another's, without a word
    from sksplice import _names

    monkeypatch.setattr(_names, "_RECORDS", type(_names._RECORDS)())
    names = np.asarray(list("abcdefghi"), dtype=object)
    W = _names.remember_concepts(_weights(), names)
    for part in (W[:5], W[[0]], W[np.arange(40) % 3 == 0], W.tocsc(), W[4:9].toarray()):
        with pytest.raises(ValueError, match=r"column 0 is 'a' there but 'i' in `x`"):
            _names.check_source(part, names[::-1], "`x`")
        _names.check_source(part, names, "`x`")  # the same concepts: taken
    # rows of it among rows of unknown origin: those rows are still misread
    other = sp.random(5, 9, density=0.5, format="csr", dtype=np.float32, random_state=9)
    with pytest.raises(ValueError, match="not those of `x`"):
        _names.check_source(sp.vstack([other, W[:2]]), names[::-1], "`x`")
    _names.check_source(other, names[::-1], "`x`")  # (no row of it known)
    _names.check_source(W[:, :8], names[:8][::-1], "`x`")  # (another width: not its rows)


@pytest.mark.parametrize("block", [None, 7], ids=["one-block", "blocks-of-7-values"])
def test_rows_of_weights_of_two_vocabularies_stacked_are_checked(monkeypatch, block):
    # weights of another vocabulary stacked with one row of the right one were taken
    # whole, and read by position: a terrier caption explained as "penguin, fine"
    from sksplice import _names

    monkeypatch.setattr(_names, "_RECORDS", type(_names._RECORDS)())
    if block is not None:  # (the rows named across blocks of rows)
        monkeypatch.setattr(_names, "_SPARSE_BLOCK", block)
    names = np.asarray(list("abcdefghi"), dtype=object)
    ours = _names.remember_concepts(_weights(0), names)
    theirs = _names.remember_concepts(_weights(1), names[::-1])
    stacked = sp.vstack([ours[:3], theirs]).tocsr()
    theirs_rows = 3 + np.flatnonzero(theirs.getnnz(axis=1))
    with pytest.raises(ValueError) as refused:
        _names.check_source(stacked, names, "`x`")
    shown = ", ".join(str(r) for r in theirs_rows[:5])
    assert (
        f"{theirs_rows.size} rows of these weights (rows {shown} and "
        f"{theirs_rows.size - 5} more) were made by a SpliceTransformer whose concepts are "
        "not those of `x` (other rows by one whose concepts are): column 0 is 'i' there but "
        "'a' in `x`"
    ) in str(refused.value)
    with pytest.raises(ValueError, match=r"^3 rows of these weights \(rows 0, 1, 2\) were"):
        _names.check_source(stacked, names[::-1], "`y`")
    with pytest.raises(ValueError, match=r"^1 row of these weights \(row 3\) was made"):
        _names.check_source(sp.vstack([ours[:3], theirs[:1]]), names, "`x`")
    assert "keep the weights of each transformer apart, or decompose those rows" in str(
        refused.value
    )
    # one recognised row among rows of unknown origin: that row is named
    unknown = sp.random(6, 9, density=0.5, format="csr", dtype=np.float32, random_state=9)
    with pytest.raises(ValueError, match=r"^1 row of these weights \(row 6\) was made by"):
        _names.check_source(sp.vstack([unknown, theirs[:1]]), names, "`x`")
    # rows of weights of two other vocabularies: refused by the first
    third = _names.remember_concepts(_weights(2), np.roll(names, 1))
    with pytest.raises(ValueError, match=r"^these weights were made by"):
        _names.check_source(sp.vstack([third[:2], theirs[:2]]), names, "`x`")
    # rows made alike with the names given and with others: taken (made with them too)
    both = _weights(3)
    _names.remember_concepts(both, names)
    _names.remember_concepts(both.copy(), names[::-1])
    _names.check_source(both[:4].copy(), names, "`x`")
    _names.check_source(sp.vstack([both[:4], ours[:2]]), names, "`x`")


def test_a_copy_of_recorded_weights_is_checked_without_holding_them(monkeypatch):
    import gc
    import weakref

    from sksplice import _names

    monkeypatch.setattr(_names, "_RECORDS", type(_names._RECORDS)())
    names = np.asarray(["a", "b", "c", "d", "e", "f", "g", "h", "i"], dtype=object)
    W = _names.remember_concepts(_weights(), names)
    copy = W.copy()
    alive = weakref.ref(W)
    del W
    gc.collect()
    assert alive() is None  # (the record does not keep the weights)
    with pytest.raises(ValueError, match=r"column 0 is 'a' there but 'i' in `x`"):
        _names.check_source(copy, names[::-1], "`x`")
    _names.check_source(copy, names, "`x`")  # the same concepts: taken


def test_weights_made_alike_by_other_concepts_are_not_checked(monkeypatch):
    from sksplice import _names

    monkeypatch.setattr(_names, "_RECORDS", type(_names._RECORDS)())
    first = np.asarray(list("abcdefghi"), dtype=object)
    second = first[::-1].copy()
    _names.remember_concepts(_weights(), first)
    _names.remember_concepts(_weights(), second)  # (the same values: which made a copy?)
    _names.check_source(_weights(), first, "`x`")
    _names.check_source(_weights(), second, "`x`")
    _names.remember_concepts(_weights(), first)  # (still ambiguous)
    _names.check_source(_weights(), second, "`x`")


def test_the_record_by_content_keeps_the_latest_rows(monkeypatch):
    from sksplice import _names

    monkeypatch.setattr(_names, "_RECORDS", type(_names._RECORDS)())
    monkeypatch.setattr(_names, "_MAX_ROWS", 80)
    names = np.asarray(list("abcdefghi"), dtype=object)
    for seed in range(3):  # (about 37 non-empty rows each: two fit in 80)
        _names.remember_concepts(_weights(seed), names)
    assert len(_names._RECORDS) == 2
    assert sum(r[1].size for r in _names._RECORDS.values()) <= 80
    _names.check_source(_weights(0)[:3], names[::-1], "`x`")  # (forgotten: the oldest)
    with pytest.raises(ValueError, match="not those of `x`"):
        _names.check_source(_weights(2)[:3], names[::-1], "`x`")


def test_the_record_by_content_keeps_the_latest(monkeypatch):
    from sksplice import _names

    monkeypatch.setattr(_names, "_RECORDS", type(_names._RECORDS)())
    monkeypatch.setattr(_names, "_MAX_RECORDS", 3)
    names = np.asarray(list("abcdefghi"), dtype=object)
    for seed in range(5):
        _names.remember_concepts(_weights(seed), names)
    assert len(_names._RECORDS) == 3
    _names.check_source(_weights(0), names[::-1], "`x`")  # (forgotten: the oldest)
    with pytest.raises(ValueError, match="not those of `x`"):  # reading one keeps it
        _names.check_source(_weights(2), names[::-1], "`x`")
    _names.remember_concepts(_weights(5), names)
    _names.remember_concepts(_weights(6), names)
    with pytest.raises(ValueError, match="not those of `x`"):
        _names.check_source(_weights(2), names[::-1], "`x`")
    _names.check_source(_weights(3), names[::-1], "`x`")


@pytest.mark.parametrize("block", [1, 2, 7, 64])
def test_rows_fingerprinted_a_block_at_a_time_are_fingerprinted_alike(monkeypatch, block):
    """Blocks of a few values (a row wider than a block is a block of its own) give
    the fingerprints of the whole, with and without the rows left out as too dense."""
    from sksplice import _names

    W = _weights(seed=4, shape=(60, 9))
    W.data[::6] = 0  # (stored zeros)
    D = W.toarray()
    whole = _names.row_fingerprints(W)
    sizes = np.count_nonzero(D, axis=1)
    monkeypatch.setattr(_names, "_SPARSE_BLOCK", block)
    monkeypatch.setattr(_names, "_DENSE_BLOCK", block)
    for M in (W, D, W.tocoo()):
        np.testing.assert_array_equal(_names.row_fingerprints(M), whole)
    # dense float16 weights (which scipy.sparse does not take) as their float32 values
    eighths = W.copy()
    eighths.data = np.round(eighths.data * 8) / 8
    np.testing.assert_array_equal(
        _names.row_fingerprints(eighths.toarray().astype(np.float16)),
        _names.row_fingerprints(eighths),
    )
    # (a row's size: its stored values, as a record counts them)
    W.eliminate_zeros()
    for M in (W, D):
        some = _names.row_fingerprints(M, densest=2)
        np.testing.assert_array_equal(some, whole[sizes[sizes > 0] <= 2])


def test_embeddings_as_wide_as_recorded_weights_are_not_fingerprinted(monkeypatch):
    # (a ZeroShotClassifier checks its input against the records: dense embeddings as
    # wide as a transformer's weights were fingerprinted whole, 13 s for 200,000 x 512)
    from sksplice import _names

    monkeypatch.setattr(_names, "_RECORDS", type(_names._RECORDS)())
    names = np.asarray(list("abcdefghi"), dtype=object)
    W = _names.remember_concepts(_weights(), names)
    calls = []
    real = _names._block_fingerprints
    monkeypatch.setattr(_names, "_block_fingerprints", lambda M: calls.append(M.shape) or real(M))
    embeddings = np.random.default_rng(0).normal(size=(500, 9))
    assert _names.recorded(embeddings) == []
    assert calls == []
    # rows as sparse as the weights' are looked at, and only they
    mixed = np.vstack([embeddings[:3], W[:4].toarray()])
    assert [f.concepts for f in _names.recorded(mixed)] == [names]
    assert calls and sum(shape[0] for shape in calls) <= 4, calls


def test_a_dense_output_is_recorded_by_the_rows_of_its_sparse_weights(monkeypatch):
    from sksplice import _names

    monkeypatch.setattr(_names, "_RECORDS", type(_names._RECORDS)())
    names = np.asarray(list("abcdefghi"), dtype=object)
    W = _weights()
    dense = _names.remember_concepts(W.toarray(), names, sparse_of=W)
    with pytest.raises(ValueError, match="not those of `x`"):
        _names.check_source(dense[:3].copy(), names[::-1], "`x`")
    # a float64 weight that float32 rounds to 0 is no weight of the float32 copy
    tiny = W.astype(np.float64)
    tiny[0, 0] = 1e-50
    np.testing.assert_array_equal(
        _names.row_fingerprints(tiny), _names.row_fingerprints(tiny.astype(np.float32))
    )


def test_a_loop_of_one_row_matrices_keeps_the_record_of_a_large_one(monkeypatch):
    # 65 one-row transforms pushed out the record of a large matrix made just before:
    # its weights were then read by position by a transformer of other concepts
    from sksplice import _names

    monkeypatch.setattr(_names, "_RECORDS", type(_names._RECORDS)())
    names = np.asarray(list("abcdefghi"), dtype=object)
    large = _weights(0, shape=(200, 9))
    _names.remember_concepts(large, names)
    rows = np.random.default_rng(0).uniform(0.1, 1.0, size=(400, 1, 9))
    for row in rows:
        _names.remember_concepts(sp.csr_matrix(row), names)
    assert len(_names._RECORDS) == _names._MAX_RECORDS
    with pytest.raises(ValueError, match="not those of `x`"):
        _names.check_source(large[large.getnnz(axis=1) > 0][:1], names[::-1], "`x`")
    # the newest half are kept whatever their size: the last one-row matrix is known,
    # the first long forgotten
    with pytest.raises(ValueError, match="not those of `x`"):
        _names.check_source(sp.csr_matrix(rows[-1]), names[::-1], "`x`")
    _names.check_source(sp.csr_matrix(rows[0]), names[::-1], "`x`")


def test_listed_names_the_first_and_counts_the_rest_but_never_one():
    from sksplice._names import listed

    assert listed(["a", "b", "c"], 3) == "a, b, c"
    assert listed(["a", "b", "c", "d"], 3) == "a, b, c, d"  # ("and 1 more" says less)
    assert listed(["a", "b", "c", "d", "e"], 3, repr) == "'a', 'b', 'c' and 2 more"
    assert listed(np.arange(10**6), 2, sep="; ", more="; and {} more rows") == (
        "0; 1; and 999998 more rows"
    )
    assert listed([], 3) == ""


def test_sketches_of_embeddings_are_kept_for_the_newest_rows_only(monkeypatch):
    # (16 bytes a row besides its fingerprint: at most _MAX_TARGET_ROWS rows in all)
    from sksplice import _names

    monkeypatch.setattr(_names, "_RECORDS", type(_names._RECORDS)())
    monkeypatch.setattr(_names, "_MAX_TARGET_ROWS", 10)
    rng = np.random.default_rng(0)
    made = []
    for _ in range(2):
        W = sp.csr_matrix(rng.random((8, 5)) * (rng.random((8, 5)) < 0.5) + np.eye(8, 5))
        X = rng.normal(size=(8, 16))
        made.append((_names.remember_concepts(W, np.arange(5), targets=X), X))
    older, newer = _names._RECORDS.values()
    assert older.targets is None and newer.targets is not None
    (W1, X1), (W2, X2) = made
    assert _names.rows_of_other_targets(W1[::-1], X1)[1] == 0  # (no longer checked)
    others, checked = _names.rows_of_other_targets(W2[::-1], X2)
    assert checked == 8 and others.tolist() == list(range(8))
    # the same embeddings rescaled, or rounded to float16, are the same targets
    assert _names.rows_of_other_targets(W2, 3 * X2.astype(np.float16))[0].size == 0


def test_natural_key_orders_paths_as_a_file_browser_lists_them():
    import random

    from sksplice._names import natural_key

    ordered = [
        "a.png",
        "B.png",
        "cat/p2.png",
        "cat/p10.png",
        "cat/y.png",
        "cat 2/x.png",  # (after cat/: folder by folder, not "cat 2/" < "cat/" as text)
        "imgs/9",
        "imgs/10\u00b2",  # (a superscript two is no digit of the number: no error)
        "p01.png",
        "p1.png",  # (equal but for a zero: ordered by their text, whatever came first)
    ]
    for seed in range(5):
        shuffled = ordered[:]
        random.Random(seed).shuffle(shuffled)
        assert sorted(shuffled, key=natural_key) == ordered


@given(st.lists(st.text(alphabet="ab01/ .²٣", max_size=8), max_size=8))
@settings(max_examples=200, deadline=None)
def test_natural_key_is_a_total_order_of_any_names(names):
    from sksplice._names import natural_key

    # any names sort, the same whatever their order given (no error, no tie)
    assert sorted(names, key=natural_key) == sorted(sorted(names), key=natural_key)
