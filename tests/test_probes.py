"""Concept probes: tables checked against hand-set coefficients, interventions, docs example."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier

from sksplice import probe_concepts, zero_concept_coefficients
from sksplice.editing import ConceptEditor
from sksplice.transformer import SpliceTransformer

from .conftest import REPO_ROOT

NAMES = ["dog", "snow", "beach", "grass", "sky"]


def _binary_model(rng):
    X = pd.DataFrame(rng.uniform(size=(40, 5)), columns=NAMES)
    y = np.where(rng.uniform(size=40) > 0.5, "water", "land")
    model = LogisticRegression().fit(X, y)
    # hand-set coefficients: the expected tables below are written from these
    model.coef_ = np.array([[0.5, -2.0, 0.0, 1.5, -0.1]])
    return model, X


def test_binary_table_by_hand(rng):
    model, _ = _binary_model(rng)
    assert list(model.classes_) == ["land", "water"]
    table = probe_concepts(model, k=2)
    expected = pd.DataFrame(
        [
            # classes_[0] ("land"): the negated coefficients
            ("land", "positive", 1, "snow", 2.0),
            ("land", "positive", 2, "sky", 0.1),
            ("land", "negative", 1, "grass", -1.5),
            ("land", "negative", 2, "dog", -0.5),
            # classes_[1] ("water"): the coefficients as fitted
            ("water", "positive", 1, "grass", 1.5),
            ("water", "positive", 2, "dog", 0.5),
            ("water", "negative", 1, "snow", -2.0),
            ("water", "negative", 2, "sky", -0.1),
        ],
        columns=["class", "sign", "rank", "concept", "coefficient"],
    )
    pd.testing.assert_frame_equal(table, expected)
    # k larger than the number of non-zero coefficients of a sign: all of them, no zeros
    table = probe_concepts(model, k=10)
    water_pos = table[(table["class"] == "water") & (table["sign"] == "positive")]
    assert list(water_pos["concept"]) == ["grass", "dog"]
    assert "beach" not in set(table["concept"])
    # k=None: every non-zero coefficient, as top_concepts(k=None) lists every concept
    pd.testing.assert_frame_equal(probe_concepts(model, k=None), table)


def test_multiclass_table_by_hand(rng):
    X = pd.DataFrame(rng.uniform(size=(60, 4)), columns=NAMES[:4])
    y = np.repeat(["a", "b", "c"], 20)
    model = LogisticRegression().fit(X, y)
    model.coef_ = np.array([[1.0, -1.0, 0.2, 0.0], [-0.3, 0.3, 0.9, -0.8], [0.0, 0.0, 0.0, 0.4]])
    table = probe_concepts(model, k=1)
    expected = pd.DataFrame(
        [
            ("a", "positive", 1, "dog", 1.0),
            ("a", "negative", 1, "snow", -1.0),
            ("b", "positive", 1, "beach", 0.9),
            ("b", "negative", 1, "grass", -0.8),
            ("c", "positive", 1, "grass", 0.4),
        ],
        columns=["class", "sign", "rank", "concept", "coefficient"],
    )
    pd.testing.assert_frame_equal(table, expected)


def _pipeline(rng, n_classes=2):
    names = [f"w{j}" for j in range(12)]
    raw = rng.normal(size=(12, 8))
    X = rng.normal(size=(60, 8))
    y = np.arange(60) % n_classes
    splice = SpliceTransformer(vocabulary=names, concept_embeddings=raw, l1_penalty=0.05)
    return make_pipeline(splice, LogisticRegression(C=10.0)).fit(X, y), X, y


@pytest.mark.parametrize("n_classes", [2, 3])
def test_pipeline_names_come_from_the_steps_before_the_last(rng, n_classes):
    pipe, _, _ = _pipeline(rng, n_classes)
    coef = pipe[-1].coef_
    names = pipe[0].get_feature_names_out()
    table = probe_concepts(pipe, k=3)
    rows = table[(table["class"] == pipe[-1].classes_[-1]) & (table["sign"] == "positive")]
    top = np.argsort(-coef[-1], kind="stable")[:3]
    assert list(rows["concept"]) == list(names[top])
    np.testing.assert_allclose(rows["coefficient"], coef[-1][top])
    assert set(table["class"]) == set(pipe[-1].classes_)


def test_zeroing_returns_an_edited_fitted_copy(rng):
    pipe, X, _ = _pipeline(rng)
    before = pipe[-1].coef_.copy()
    intercept = pipe[-1].intercept_.copy()
    edited = zero_concept_coefficients(pipe, ["w3", "w7"])
    np.testing.assert_array_equal(pipe[-1].coef_, before)  # input untouched
    assert edited is not pipe and edited[-1] is not pipe[-1]
    expected = before.copy()
    expected[:, [3, 7]] = 0.0
    np.testing.assert_array_equal(edited[-1].coef_, expected)
    np.testing.assert_array_equal(edited[-1].intercept_, intercept)
    # the same as removing the concepts from the inputs of the unedited model
    W = pipe[0].transform(X)
    editor = ConceptEditor(remove=["w3", "w7"], splice=pipe[0]).fit(W)
    np.testing.assert_allclose(
        edited.decision_function(X), pipe[-1].decision_function(editor.transform(W))
    )
    np.testing.assert_array_equal(edited.predict(X), pipe[-1].predict(editor.transform(W)))


def test_zeroing_after_a_centring_scaler_holds_the_concept_where_it_maps_zero(rng):
    """As docs/probes.md says: after a step that keeps zero at zero (MinMaxScaler() too,
    for a concept some training row lacks), zeroing the coefficients is the editor in
    front of the model; after StandardScaler(), the decisions differ by the coefficient
    times the scaled zero weight."""
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler

    names = [f"w{j}" for j in range(12)]
    X, y = rng.normal(size=(80, 8)), np.arange(80) % 2
    scalers = (MaxAbsScaler(), MinMaxScaler(), StandardScaler(with_mean=False), StandardScaler())
    for scaler in scalers:
        splice = SpliceTransformer(
            vocabulary=names,
            concept_embeddings=rng.normal(size=(12, 8)),
            l1_penalty=0.05,
            output="dense",  # (StandardScaler() centres no sparse matrix)
        )
        pipe = make_pipeline(splice, scaler, LogisticRegression(C=10.0)).fit(X, y)
        W = pipe[0].transform(X)
        j = int(np.argmax(np.abs(pipe[-1].coef_[0]) * np.count_nonzero(W, axis=0)))
        edited = zero_concept_coefficients(pipe, names[j])
        editor = ConceptEditor(remove=[names[j]], splice=pipe[0]).fit(W)
        in_front = pipe[1:].decision_function(editor.transform(W))
        shift = pipe[-1].coef_[0, j] * pipe[1].transform(np.zeros((1, 12)))[0, j]
        centres = isinstance(scaler, StandardScaler) and scaler.with_mean
        assert (shift != 0) == centres
        if isinstance(scaler, MinMaxScaler):  # (zero kept: a training row lacks the concept)
            assert scaler.data_min_[j] == 0
        np.testing.assert_allclose(edited.decision_function(X), in_front - shift, atol=1e-9)


def test_zeroing_a_bare_estimator_and_sparse_coefficients(rng):
    model, X = _binary_model(rng)
    edited = zero_concept_coefficients(model, "snow")
    np.testing.assert_array_equal(edited.coef_, [[0.5, 0.0, 0.0, 1.5, -0.1]])
    model.sparsify()
    edited = zero_concept_coefficients(model, ["snow", "dog"])
    assert sp.issparse(edited.coef_) and sp.issparse(model.coef_)
    np.testing.assert_array_equal(edited.coef_.toarray(), [[0.0, 0.0, 0.0, 1.5, -0.1]])
    np.testing.assert_array_equal(model.coef_.toarray(), [[0.5, -2.0, 0.0, 1.5, -0.1]])
    # a bare estimator without names takes them from feature_names
    bare = LogisticRegression().fit(X.to_numpy(), np.arange(40) % 2)
    edited = zero_concept_coefficients(bare, ["beach"], feature_names=NAMES)
    assert edited.coef_[0, 2] == 0.0 and bare.coef_[0, 2] != 0.0
    ridge = RidgeClassifier().fit(X, np.arange(40) % 3)
    assert zero_concept_coefficients(ridge, ["sky"]).coef_[:, 4].tolist() == [0.0, 0.0, 0.0]
    # names as a column of a table (probe_concepts' own, say): a Series, as an Index is taken
    table = probe_concepts(model, k=1)
    top = table["concept"]
    assert isinstance(top, pd.Series) and len(top) >= 1
    edited = zero_concept_coefficients(model, top)
    cols = [NAMES.index(c) for c in top]
    assert (edited.coef_.toarray()[0, cols] == 0).all()


def test_zeroing_concepts_the_model_does_not_use_is_warned_about(rng):
    # Zeroing "water" and "land", which no training decomposition held (their
    # coefficients were zero), returned a copy that predicted exactly as the probe did,
    # without a word: easily read as "the shortcut was not in those concepts".
    import warnings

    model, X = _binary_model(rng)  # (coefficients 0.5, -2.0, 0.0, 1.5, -0.1)
    with pytest.warns(UserWarning, match="is zero already") as record:
        edited = zero_concept_coefficients(model, ["beach"])
    message = str(record[0].message)
    assert message.startswith("every coefficient of 'beach' is zero already")
    assert "the model does not use this concept" in message and "probe_concepts" in message
    np.testing.assert_array_equal(edited.coef_, model.coef_)
    multi = LogisticRegression().fit(X, np.arange(40) % 3)
    multi.coef_[:, [1, 2]] = 0.0
    with pytest.warns(UserWarning, match="'snow', 'beach' is zero already"):
        zero_concept_coefficients(multi, ["snow", "beach", "snow"])
    model.sparsify()
    with pytest.warns(UserWarning, match="is zero already"):
        zero_concept_coefficients(model, "beach")
    # a used concept among them: the edit changes the model, and the unused ones are
    # named (zeroing "beach" beside "snow" was silent, read as "beach" mattered too)
    with pytest.warns(UserWarning, match="of 'beach' is zero already") as record:
        edited = zero_concept_coefficients(model, ["beach", "snow"])
    message = str(record[0].message)
    assert "'snow'" not in message and "zeroing it changes nothing" in message
    assert "the other named concepts are zeroed" in message
    assert edited.coef_.toarray()[0, 1] == 0.0 and model.coef_.toarray()[0, 1] != 0.0
    with pytest.warns(UserWarning, match="of 'snow' is zero already") as record:
        zero_concept_coefficients(multi, ["snow", "dog", "snow"])
    assert "'dog'" not in str(record[0].message) and len(record) == 1
    # every named concept used: nothing to say
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zero_concept_coefficients(model, ["snow", "dog"])
        zero_concept_coefficients(multi, ["dog"])


def test_errors_name_the_problem(rng):
    model, X = _binary_model(rng)
    with pytest.raises(ValueError, match=r"'snwo' \(did you mean 'snow'\?\)"):
        zero_concept_coefficients(model, ["snwo"])
    with pytest.raises(ValueError, match="names no concept"):
        zero_concept_coefficients(model, [])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        probe_concepts(model, k=0)

    for call in (probe_concepts, lambda m: zero_concept_coefficients(m, ["snow"])):
        # (the class the estimators raise: `except NotFittedError` catches it)
        with pytest.raises(NotFittedError, match="LogisticRegression is not fitted; fit it"):
            call(LogisticRegression())
    tree = DecisionTreeClassifier().fit(X, np.arange(40) % 2)
    with pytest.raises(TypeError, match="no coef_ and classes_") as info:
        probe_concepts(tree)
    assert "best_estimator_" not in str(info.value)
    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2)
    with pytest.raises(
        TypeError,
        match=r"it is a search: give its best_estimator_ \(the LogisticRegression refitted",
    ):
        probe_concepts(search.fit(X, np.arange(40) % 2))
    assert probe_concepts(search.best_estimator_).shape[0] > 0
    edited = zero_concept_coefficients(model, {"snow", "dog"})  # (a set: no order needed)
    np.testing.assert_array_equal(
        edited.coef_, zero_concept_coefficients(model, ["dog", "snow"]).coef_
    )
    bare = LogisticRegression().fit(X.to_numpy(), np.arange(40) % 2)
    with pytest.raises(ValueError, match="carries no concept names"):
        probe_concepts(bare)
    with pytest.raises(ValueError, match="3 concept names but the model has 5"):
        probe_concepts(bare, concepts=["a", "b", "c"])


def test_worked_example_names_the_shortcut_and_docs_numbers(
    laion_minilm, minilm, tmp_path, monkeypatch
):
    """The planted "snow" shortcut is named, zeroing it helps; docs/probes.md holds the numbers."""
    from ._helpers_editing import assert_png, load_example

    example = load_example("probes_waterbirds")
    concepts, raw = laion_minilm
    # every step is fitted on the training captions only, the editors too (one was
    # fitted on the test captions' weights)
    fitted_rows = []
    fit = ConceptEditor.fit

    def recording_fit(self, X, y=None):
        fitted_rows.append(X.shape[0])
        return fit(self, X, y)

    monkeypatch.setattr(ConceptEditor, "fit", recording_fit)
    result = example.main(tmp_path, embedder=minilm, concepts=concepts, concept_embeddings=raw)
    n_train = len(example.datasets()["train"][0])
    assert fitted_rows and set(fitted_rows) == {n_train}, fitted_rows
    assert_png(result["figures"]["probes"])
    table = result["concepts"]
    top = table[(table["class"] == "waterbird") & (table["sign"] == "positive")]
    assert {"snow", "snowfall"} <= set(top["concept"].head(4))
    acc = list(result["accuracy"].values())
    probe, zero_one, zero_both, editor_inputs, retrained = acc
    # measured: 0.550 -> 0.775 / 0.800 (zeroed), 0.800 (editor on inputs), 0.850 (retrained)
    assert probe < 0.7 and zero_both >= probe + 0.15 and zero_one > probe
    assert editor_inputs == zero_both  # the same model, algebraically
    assert retrained >= zero_both - 0.05

    page = (REPO_ROOT / "docs" / "probes.md").read_text(encoding="utf-8")
    documented = {}
    for line in page.splitlines():
        match = re.fullmatch(r"\| ([^|]+?) \| (0\.\d{3}|1\.000) \|", line.strip())
        if match:
            documented[match.group(1)] = float(match.group(2))
    assert list(documented) == list(result["accuracy"])
    for name, value in result["accuracy"].items():
        # one of the 40 test captions is 0.025
        assert abs(documented[name] - value) <= 0.026, name
    # the paper's probe (L1, no intercept, saga) on the same weights: its own table
    authors = {}
    for line in page.splitlines():
        match = re.fullmatch(
            r"\| `C=(\d+)` \| (\d+) \| (\d\.\d{3}) \| (\d\.\d{3}) \|", line.strip()
        )
        if match:
            authors[float(match.group(1))] = tuple(float(v) for v in match.groups()[1:])
    assert sorted(authors) == sorted(result["authors_probe"]) == [1.0, 4.0], authors
    for c, (used, before, after, _) in result["authors_probe"].items():
        assert authors[c][0] == used, (c, used)
        assert abs(authors[c][1] - before) <= 0.026 and abs(authors[c][2] - after) <= 0.026, c
    # measured: C=1 3 concepts 0.100 -> 0.425; C=4 19 concepts 1.000 -> 1.000; the page
    # names the three of C=1, and says that it dropped "snow"
    used_1, before_1, after_1, names_1 = result["authors_probe"][1.0]
    assert used_1 < 10 and after_1 >= before_1 + 0.2
    assert set(names_1) == {"seagull", "snowfall", "grasses"}, names_1
    assert '"seagull" and "snowfall" for waterbird and "grasses"' in " ".join(page.split())


def test_names_flow_through_a_concept_editor(rng):
    names = [f"w{j}" for j in range(12)]
    raw = rng.normal(size=(12, 8))
    X = rng.normal(size=(60, 8))
    y = np.arange(60) % 2
    pipe = make_pipeline(
        SpliceTransformer(vocabulary=names, concept_embeddings=raw, l1_penalty=0.05),
        ConceptEditor(remove=["w3"]),
        LogisticRegression(C=10.0),
    ).set_output(transform="pandas")
    pipe.fit(X, y)
    table = probe_concepts(pipe, k=12)
    coef = pipe[-1].coef_[0]
    assert coef[3] == 0.0 and "w3" not in set(table["concept"])
    assert len(table) == 2 * np.count_nonzero(coef)  # both classes, every non-zero one
    edited = zero_concept_coefficients(pipe, ["w5"])
    assert edited[-1].coef_[0, 5] == 0.0 and pipe[-1].coef_[0, 5] == coef[5]


def test_a_probe_on_numbered_names_a_step_made_up_is_refused(rng):
    from sklearn.decomposition import PCA
    from sklearn.frozen import FrozenEstimator

    names = [f"w{j}" for j in range(12)]
    raw = rng.normal(size=(12, 8))
    X = rng.normal(size=(60, 8))
    y = np.arange(60) % 2
    splice = SpliceTransformer(vocabulary=names, concept_embeddings=raw, l1_penalty=0.05).fit(X)
    frozen = FrozenEstimator(splice)
    editor = ConceptEditor(remove=["w3"], splice=frozen, output="embedding")
    # the classifier is trained on the 8 recomposed embedding dimensions, not on concepts
    recomposed = make_pipeline(frozen, editor, LogisticRegression()).fit(X, y)
    assert list(recomposed[:-1].get_feature_names_out()[:2]) == ["concepteditor0", "concepteditor1"]
    message = r"named 'concepteditor0', 'concepteditor1', \.\.\., numbered names that ConceptEditor"
    with pytest.raises(ValueError, match=message + r".*output='embedding'.*output='weights'"):
        probe_concepts(recomposed)
    with pytest.raises(ValueError, match=message + r".*or pass `feature_names`"):
        zero_concept_coefficients(recomposed, ["w5"])
    # the same with pandas output: the classifier's feature_names_in_ are those names too
    framed = make_pipeline(frozen, clone(editor), LogisticRegression())
    framed.set_output(transform="pandas").fit(X, y)
    assert list(framed[-1].feature_names_in_[:1]) == ["concepteditor0"]
    with pytest.raises(ValueError, match=message):
        probe_concepts(framed)
    bare = LogisticRegression().fit(framed[:-1].transform(X), y)
    with pytest.raises(ValueError, match=message):
        probe_concepts(bare)
    # PCA components (pca0, pca1, ...) are no concepts either
    pca = make_pipeline(frozen, PCA(3), LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match=r"'pca0', 'pca1', \.\.\., numbered names that PCA"):
        probe_concepts(pca)
    # names given for the columns are taken, as for x0, x1, ...
    assert set(probe_concepts(pca, concepts=["a", "b", "c"])["concept"]) <= {"a", "b", "c"}


def test_concept_names_with_digits_are_concepts(rng):
    # A vocabulary may hold words ending in digits, even all numbered from 0 (w0, w1, ...
    # in test_names_flow_through_a_concept_editor): only the numbered names of a step of
    # the pipeline (or x0, x1, ...; concepteditor0, ...) are refused.
    for names in (["covid19", "f1", "x1", "pca0", "mp3"], ["x1", "x2", "x3", "x4", "x5"]):
        X = pd.DataFrame(rng.uniform(size=(40, 5)), columns=names)
        model = LogisticRegression().fit(X, np.arange(40) % 2)
        assert set(probe_concepts(model, k=5)["concept"]) <= set(names)
    numbered = [f"pca{j}" for j in range(5)]  # (no PCA before the classifier)
    model = LogisticRegression().fit(
        pd.DataFrame(X.to_numpy(), columns=numbered), np.arange(40) % 2
    )
    assert set(probe_concepts(model, k=5)["concept"]) == set(numbered)
    bare = LogisticRegression().fit(
        pd.DataFrame(X.to_numpy(), columns=[f"x{j}" for j in range(5)]), np.arange(40) % 2
    )
    with pytest.raises(ValueError, match="names scikit-learn makes up for columns that carry none"):
        probe_concepts(bare)


def test_a_concept_a_later_step_left_out_is_not_said_to_be_unknown():
    # "concepts in `concepts` not in the vocabulary: 'concept_0' (did you mean ...)" for a
    # concept of the transformer that SelectKBest left out of the classifier's inputs
    import warnings

    from sklearn.feature_selection import SelectKBest

    rng = np.random.default_rng(0)
    vocab = [f"concept_{i}" for i in range(40)]
    X = rng.normal(size=(120, 16))
    y = rng.integers(0, 3, 120).astype(str)
    mean = (X / np.linalg.norm(X, axis=1, keepdims=True)).mean(0)
    splice = SpliceTransformer(
        vocabulary=vocab,
        concept_embeddings=rng.normal(size=(40, 16)),
        device="cpu",
        l1_penalty=0.05,
        image_mean=mean,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (constant features of the selection)
        pipe = make_pipeline(splice, SelectKBest(k=5), LogisticRegression()).fit(X, y)
    kept = np.asarray(vocab)[pipe[1].get_support()]
    dropped = next(c for c in vocab if c not in kept)
    with pytest.raises(
        ValueError,
        match=rf"^'{dropped}' is a concept of the pipeline's step 'splicetransformer' but not "
        r"an input of its classifier: a later step \('selectkbest'\) left it out",
    ):
        zero_concept_coefficients(pipe, [dropped, kept[0]])
    edited = zero_concept_coefficients(pipe, [kept[0]])
    assert not edited[-1].coef_[:, 0].any()
    with pytest.raises(ValueError, match="not in the vocabulary"):  # (unknown everywhere)
        zero_concept_coefficients(pipe, ["no such concept"])


def _concept_pipeline(rng, *steps, classifier=None, n_classes=3):
    """A SpliceTransformer (dense output, 12 concepts) then ``steps`` then a classifier."""
    import warnings

    names = [f"w{j}" for j in range(12)]
    raw = rng.normal(size=(12, 8))
    X = rng.normal(size=(90, 8))
    y = np.arange(90) % n_classes
    splice = SpliceTransformer(
        vocabulary=names,
        concept_embeddings=raw,
        l1_penalty=0.02,
        output="dense",
        image_mean=np.zeros(8),
    )
    pipe = make_pipeline(splice, *steps, classifier or LogisticRegression(C=10.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (constant columns of a selection or spline)
        pipe.fit(X, y)
    return pipe, X, names


def _listed(table):
    return dict(zip(zip(table["class"], table["concept"]), table["coefficient"], strict=True))


def test_a_feature_union_s_other_blocks_are_not_listed_as_concepts(rng):
    # FeatureUnion(splice, PCA): the PCA columns (pca__pca0 ...) were listed as concepts,
    # and the concepts under their block's prefix (splicetransformer__w3)
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_union

    names = [f"w{j}" for j in range(12)]
    raw = rng.normal(size=(12, 8))
    X = rng.normal(size=(90, 8))
    y = np.arange(90) % 3
    splice = SpliceTransformer(
        vocabulary=names,
        concept_embeddings=raw,
        l1_penalty=0.02,
        output="dense",
        image_mean=np.zeros(8),
    )
    pipe = make_pipeline(make_union(splice, PCA(2)), LogisticRegression(C=10.0))
    pipe.fit(X, y)
    pipe[-1].coef_[:, 12:] = 50.0  # (the PCA columns' coefficients the largest)
    with pytest.warns(UserWarning, match=r"'pca__pca0', 'pca__pca1' \(PCA makes them\) are not"):
        table = probe_concepts(pipe, k=20)
    assert set(table["concept"]) <= set(names)
    coef = pipe[-1].coef_
    for (label, concept), value in _listed(table).items():
        assert value == coef[list(pipe[-1].classes_).index(label), names.index(concept)]
    with pytest.raises(ValueError, match=r"not concepts: 'pca__pca1' \(PCA makes them\)"):
        zero_concept_coefficients(pipe, ["w1", "pca__pca1"])
    used = table["concept"].iloc[0]
    for name in (used, f"splicetransformer__{used}"):  # (the concept, or its column's name)
        edited = zero_concept_coefficients(pipe, [name])
        assert not edited[-1].coef_[:, names.index(used)].any()
        np.testing.assert_array_equal(edited[-1].coef_[:, 12:], coef[:, 12:])


def test_a_concept_of_two_blocks_is_named_by_its_block(rng):
    # two SpliceTransformers side by side (two penalties): each concept has a column in
    # each, listed under its block's name; the bare name was said to be "not in the
    # vocabulary" (it is in both)
    from sklearn.base import clone
    from sklearn.pipeline import FeatureUnion

    pipe, X, names = _concept_pipeline(rng)
    splice = pipe[0]
    union = FeatureUnion([("a", clone(splice)), ("b", clone(splice).set_params(l1_penalty=0.05))])
    model = make_pipeline(union, LogisticRegression(C=10.0)).fit(X, np.arange(90) % 3)
    table = probe_concepts(model, k=30)
    assert set(table["concept"]) <= {f"{b}__{n}" for b in "ab" for n in names}
    with pytest.raises(ValueError, match=r"'w1' is a concept of 2 blocks: 'a__w1', 'b__w1'"):
        zero_concept_coefficients(model, ["w1"])
    edited = zero_concept_coefficients(model, ["a__w1"])
    assert not edited[-1].coef_[:, 1].any()
    np.testing.assert_array_equal(edited[-1].coef_[:, 13], model[-1].coef_[:, 13])


@pytest.mark.parametrize("private", [True, False])
def test_a_column_transformer_s_selection_is_traced(rng, private, monkeypatch):
    # ColumnTransformer(PCA on concepts 0-2, passthrough 3-5, scaled remainder): the
    # columns are [pca0, pca1, w3, w4, w5, w6 ... w11]; they were read as concepts by name
    # ('p__pca0', 'k__w3').
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    ct = ColumnTransformer(
        [("p", PCA(2), [0, 1, 2]), ("k", "passthrough", [3, 4, 5])], remainder=StandardScaler()
    )
    pipe, _, _ = _concept_pipeline(rng, ct)
    if not private:  # (scikit-learn's private record gone: the columns are resolved here)
        from sksplice import probes

        monkeypatch.setattr(probes, "_recorded_input_indices", lambda ct: None)
    pipe[-1].coef_ = np.tile(np.arange(1.0, 12.0), (3, 1))
    with pytest.warns(UserWarning, match=r"'p__pca0', 'p__pca1' \(PCA makes them\)"):
        table = probe_concepts(pipe, k=20)
    positive = table[(table["class"] == 0) & (table["sign"] == "positive")]
    # the coefficient of column j is j + 1: w3 is column 2, w11 column 10
    assert dict(zip(positive["concept"], positive["coefficient"], strict=True)) == {
        f"w{j}": float(j) for j in range(3, 12)
    }
    with pytest.raises(ValueError, match=r"'p__pca0' \(PCA makes them\)"):
        zero_concept_coefficients(pipe, ["p__pca0"])
    with pytest.raises(ValueError, match="'w1'"):  # (PCA took it: no input of the classifier)
        zero_concept_coefficients(pipe, ["w1"])
    edited = zero_concept_coefficients(pipe, ["w4"])
    assert edited[-1].coef_[0].tolist() == [1, 2, 3, 0, *range(5, 12)]


def test_selectors_scalers_and_frozen_steps_keep_the_concepts(rng):
    from sklearn.feature_selection import SelectKBest
    from sklearn.frozen import FrozenEstimator
    from sklearn.preprocessing import StandardScaler

    pipe, _, names = _concept_pipeline(rng, StandardScaler(), SelectKBest(k=5))
    kept = np.asarray(names)[pipe[2].get_support()]
    frozen = make_pipeline(FrozenEstimator(pipe[0]), pipe[1], pipe[2], pipe[3])
    for model in (pipe, frozen):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # (every column is a concept: nothing left out)
            table = probe_concepts(model, k=5)
        assert set(table["concept"]) <= set(kept)
        row = table[(table["class"] == 1) & (table["sign"] == "positive")]
        coef = dict(zip(kept, pipe[-1].coef_[1], strict=True))
        assert all(coef[c] == v for c, v in zip(row["concept"], row["coefficient"], strict=True))
    # names given for the concept columns only, or the transformer's whole vocabulary
    assert probe_concepts(pipe, concepts=list(kept)).equals(probe_concepts(pipe))
    assert probe_concepts(pipe, concepts=pipe[0]).equals(probe_concepts(pipe))


def test_many_columns_left_out_are_counted(rng):
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_union

    names = [f"w{j}" for j in range(12)]
    X = rng.normal(size=(90, 8))
    splice = SpliceTransformer(
        vocabulary=names,
        concept_embeddings=rng.normal(size=(12, 8)),
        output="dense",
        image_mean=np.zeros(8),
    )
    pipe = make_pipeline(make_union(splice, PCA(8)), LogisticRegression())
    pipe.fit(X, np.arange(90) % 2)
    with pytest.warns(UserWarning, match=r"'pca__pca4' and 3 more \(PCA makes them\)"):
        probe_concepts(pipe)
    # a step before that cannot be traced (no get_feature_names_out: an embedder, say)
    from sklearn.preprocessing import FunctionTransformer

    embedder = FunctionTransformer(np.asarray)
    pipe = make_pipeline(embedder, make_union(clone(splice), PCA(8)), LogisticRegression())
    pipe.fit(X, np.arange(90) % 2)
    with pytest.warns(UserWarning, match=r"'pca__pca4' and 3 more \(PCA makes them\)"):
        assert set(probe_concepts(pipe, k=12)["concept"]) <= set(names)
    # ... also inside a branch of the union (no step gives the columns' names then)
    branch = make_pipeline(FunctionTransformer(np.asarray), clone(splice))
    pipe = make_pipeline(make_union(branch, PCA(8)), LogisticRegression())
    pipe.fit(X, np.arange(90) % 2)
    with pytest.warns(UserWarning, match=r"'column 16' and 3 more \(PCA makes them\)"):
        table = probe_concepts(pipe, k=12)
    assert set(table["concept"]) <= set(names) and len(table) == 2 * 12


@pytest.mark.parametrize("deriving", ["spline", "poly"])
def test_steps_that_derive_columns_are_refused(rng, deriving):
    from sklearn.preprocessing import PolynomialFeatures, SplineTransformer

    step = SplineTransformer(n_knots=3, degree=1) if deriving == "spline" else PolynomialFeatures(2)
    maker = type(step).__name__
    pipe, _, _ = _concept_pipeline(rng, step)
    message = rf"none of the classifier's input columns is a concept: .* \({maker} derives them"
    with pytest.raises(ValueError, match=message):
        probe_concepts(pipe)
    with pytest.raises(ValueError, match=message):
        zero_concept_coefficients(pipe, ["w1"])


def test_one_hot_codes_of_a_metadata_column_are_not_said_to_come_from_concepts(rng):
    # A OneHotEncoder of a column beside the concepts ("source") was said to derive its
    # codes "from the concept weights".
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    pipe, X, names = _concept_pipeline(rng)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    frame["source"] = ["web", "book"] * 45
    ct = make_column_transformer(
        (pipe[0], [f"f{i}" for i in range(8)]), (OneHotEncoder(), ["source"])
    )
    model = make_pipeline(ct, LogisticRegression(C=10.0)).fit(frame, np.arange(90) % 2)
    with pytest.warns(UserWarning, match=r"OneHotEncoder derives them from its input columns"):
        table = probe_concepts(model, k=3)
    assert set(table["concept"]) <= set(names)


def test_the_concepts_argument_says_what_is_wrong_and_what_is_accepted(rng):
    pipe, _, names = _concept_pipeline(rng)
    accepted = r"accepted: a list, tuple, numpy array, pandas Index or Series of concept names"
    with pytest.raises(TypeError, match=r"`concepts` is an int; " + accepted):
        probe_concepts(pipe, concepts=12)
    with pytest.raises(TypeError, match=r"`concepts` is a set, whose order is not"):
        probe_concepts(pipe, concepts=set(names))
    with pytest.raises(TypeError, match=r"a single string \('w1'\); " + accepted):
        probe_concepts(pipe, concepts="w1")
    with pytest.raises(TypeError, match=r"`concepts` entry 2 is an int, not a concept name"):
        probe_concepts(pipe, concepts=["a", "b", 3])
    with pytest.raises(NotFittedError, match=r"SpliceTransformer that is not fitted; " + accepted):
        probe_concepts(pipe, concepts=clone(pipe[0]))
    with pytest.raises(
        ValueError, match=r"`feature_names` has 3 names, but the classifier has 12 input columns"
    ):
        zero_concept_coefficients(pipe, ["w1"], feature_names=["a", "b", "c"])


def test_one_vs_rest_probes_are_read_and_edited_per_class(rng):
    # OneVsRestClassifier has no coef_: it was refused ("has no coef_ and classes_")
    from sklearn.multiclass import OneVsRestClassifier

    pipe, X, names = _concept_pipeline(rng, classifier=OneVsRestClassifier(LogisticRegression()))
    ovr = pipe[-1]
    coef = np.vstack([e.coef_ for e in ovr.estimators_])
    table = probe_concepts(pipe, k=12)
    assert set(table["class"]) == {0, 1, 2}
    for (label, concept), value in _listed(table).items():
        assert value == coef[label, names.index(concept)]
    used = table["concept"].iloc[0]
    edited = zero_concept_coefficients(pipe, [used])
    j = names.index(used)
    for before, after in zip(ovr.estimators_, edited[-1].estimators_, strict=True):
        assert after.coef_[0, j] == 0.0 and np.delete(after.coef_, j) == pytest.approx(
            np.delete(before.coef_, j)
        )
    assert ovr.estimators_[0].coef_[0, j] == coef[0, j]  # (the model is not modified)
    # the same as removing the concept from the inputs of the unedited model
    W = pipe[0].transform(X)
    W[:, j] = 0.0
    np.testing.assert_allclose(edited.decision_function(X), ovr.decision_function(W))


def test_reading_a_pipeline_takes_time_linear_in_its_concepts():
    # The names of a pipeline's concepts were checked for repeats with one list.count a
    # concept: 1 s for 10,000 concepts, 16 s for 40,000, about 100 s for these 100,000 (a
    # reading of coefficients, which takes milliseconds outside the pipeline).
    import time
    import warnings

    rng = np.random.default_rng(0)
    n = 100_000
    X = rng.normal(size=(120, 8)).astype(np.float32)
    y = rng.integers(0, 2, 120)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (codes of a random dictionary: warned, not read)
        splice = SpliceTransformer(
            vocabulary=[f"w{i}" for i in range(n)],
            concept_embeddings=rng.normal(size=(n, 8)).astype(np.float32),
            modality="text",
            l1_penalty=0.3,
            device="cpu",
        )
        pipe = make_pipeline(splice, LogisticRegression()).fit(X, y)
    start = time.perf_counter()
    table = probe_concepts(pipe, k=3)
    used = str(table["concept"].iloc[0])
    edited = zero_concept_coefficients(pipe, [used])
    took = time.perf_counter() - start
    assert took < 10, f"{took:.1f} s"  # (0.3 s here; linear in the concepts)
    (column,) = np.flatnonzero(splice.concepts_ == used)
    assert np.any(pipe[-1].coef_[:, column]) and not np.any(edited[-1].coef_[:, column])
