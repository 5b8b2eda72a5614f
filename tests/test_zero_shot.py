"""Tests for sksplice.zero_shot.ZeroShotClassifier."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import log_softmax
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_set_params,
)

from sksplice._array import unit_rows
from sksplice.zero_shot import ZeroShotClassifier

ANIMAL_PHRASES = {
    "dog": [
        "a puppy chasing a ball in the park",
        "a golden retriever wagging its tail",
        "a dog barking at the mailman",
        "a sleepy beagle on the sofa",
    ],
    "cat": [
        "a kitten playing with yarn",
        "a tabby cat sleeping in the sun",
        "a cat purring on a lap",
        "a siamese cat licking its paw",
    ],
    "car": [
        "a red sports car on the highway",
        "a sedan parked in the driveway",
        "traffic jam with many vehicles",
        "a convertible driving along the coast",
    ],
}


class HashEmbedder:
    """Deterministic toy text embedder (unit rows), one random direction per text."""

    def __init__(self, dim: int = 6) -> None:
        self.dim = dim
        self.calls: list[list[str]] = []

    def embed_text(self, texts):
        self.calls.append(list(texts))
        out = []
        for text in texts:
            seed = sum((i + 1) * ord(ch) for i, ch in enumerate(text)) % (2**32)
            v = np.random.default_rng(seed).normal(size=self.dim)
            out.append(v / np.linalg.norm(v))
        return np.asarray(out, dtype=np.float32)


@pytest.fixture(scope="module")
def animal_data(minilm):
    texts = [t for cls in ANIMAL_PHRASES for t in ANIMAL_PHRASES[cls]]
    y = np.array([cls for cls in ANIMAL_PHRASES for _ in ANIMAL_PHRASES[cls]])
    return minilm.embed_text(texts), y


def test_real_embeddings_classified_correctly(minilm, animal_data):
    X, y = animal_data
    clf = ZeroShotClassifier(minilm, classes=["dog", "cat", "car"]).fit(X)
    assert list(clf.classes_) == ["car", "cat", "dog"]  # sorted, as np.unique gives them
    assert clf.class_embeddings_.shape == (3, 384)
    assert clf.score(X, y) >= 11 / 12
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))


def test_classes_learned_from_y(minilm, animal_data):
    X, y = animal_data
    clf = ZeroShotClassifier(minilm).fit(X, y)
    assert list(clf.classes_) == ["car", "cat", "dog"]  # sorted unique labels
    assert clf.score(X, y) >= 11 / 12


def test_a_thousand_classes_embedded_alike_are_named_in_a_short_message():
    # one group of 1,000 classes (an embedder that reads them all as one unknown token)
    # listed every name: a message of 1,000 names
    class OneVector:
        def embed_text(self, texts):
            return np.ones((len(texts), 4))

    classes = [f"class {i:04d}" for i in range(1000)]
    with pytest.warns(UserWarning, match="embeds alike") as told:
        ZeroShotClassifier(OneVector(), classes=classes).fit(np.ones((2, 4)))
    message = str(told[0].message)
    shown = "'class 0000' = 'class 0001' = 'class 0002' = 'class 0003' = 'class 0004' = "
    assert shown + "... (995 more)" in message and "class 0005" not in message
    assert len(message) < 600


def test_classes_the_model_embeds_alike_are_warned_about(minilm, animal_data):
    # MiniLM lower-cases: 'Dog' and 'dog' had one embedding, and every dog went to 'Dog'
    # (the first in sorted order) without a word; scored against 'dog', all wrong
    X, _ = animal_data
    with pytest.warns(
        UserWarning, match=r"embeds alike: 'Dog' = 'dog'\. .*first of each group"
    ) as told:
        clf = ZeroShotClassifier(minilm, classes=["Dog", "cat", "dog", "car"]).fit(X)
    assert "'Dog'" in str(told[0].message) and told[0].filename == __file__
    assert "dog" not in set(clf.predict(X))  # (what the warning says)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ZeroShotClassifier(minilm, classes=["dog", "cat", "car"]).fit(X)


def test_template_average_and_probabilities():
    emb = HashEmbedder(dim=5)
    templates = ["a photo of a {}.", "a drawing of a {}."]
    clf = ZeroShotClassifier(emb, classes=["ant", "bee", "fly"], templates=templates)
    X = np.random.default_rng(1).normal(size=(7, 5))
    clf.fit(X)
    assert len(emb.calls) == 1 and len(emb.calls[0]) == 6
    for i, name in enumerate(["ant", "bee", "fly"]):
        t = emb.embed_text([tpl.format(name) for tpl in templates]).astype(np.float64)
        expected = t.mean(axis=0) / np.linalg.norm(t.mean(axis=0))
        np.testing.assert_allclose(clf.class_embeddings_[i], expected, atol=1e-6)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    cos = Xn @ clf.class_embeddings_.T
    np.testing.assert_allclose(clf.decision_function(X), cos)
    logits = cos / 0.01
    expected_proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected_proba /= expected_proba.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(X), expected_proba, atol=1e-12)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), expected_proba, atol=1e-12)
    # A higher temperature flattens the distribution without changing predictions.
    warm = clone(clf).set_params(temperature=1.0).fit(X)
    assert warm.predict_proba(X).max() < clf.predict_proba(X).max()
    np.testing.assert_array_equal(warm.predict(X), clf.predict(X))


def test_binary_decision_function_convention():
    # temperature 1 keeps the probabilities away from 0 and 1, so their order is visible
    clf = ZeroShotClassifier(HashEmbedder(4), classes=["yes", "no"], temperature=1.0)
    X = np.random.default_rng(2).normal(size=(10, 4))
    clf.fit(X)
    scores = clf.decision_function(X)
    assert scores.shape == (10,)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(scores > 0).astype(int)])
    order_scores = np.argsort(scores)
    order_proba = np.argsort(clf.predict_proba(X)[:, 1])
    np.testing.assert_array_equal(order_scores, order_proba)


@pytest.mark.parametrize(
    ("params", "y", "match"),
    [
        ({}, None, "requires y to be passed"),
        ({"classes": ["a"]}, None, "at least two classes"),
        ({"classes": ["a", "a"]}, None, "duplicate"),
        ({"classes": ["a", "b"]}, ["a", "c", "a"], r"labels \['c'\] in `y` are not among"),
        ({"classes": ["a", "b"], "templates": ["no placeholder"]}, None, "exactly one"),
        ({"classes": ["a", "b"], "templates": []}, None, "empty"),
        ({"classes": ["a", "b"], "temperature": 0.0}, None, "temperature"),
        ({}, ["a", "a", "a"], "at least two classes"),
    ],
)
def test_bad_parameters(params, y, match):
    X = np.ones((3, 4))
    with pytest.raises(ValueError, match=match):
        ZeroShotClassifier(HashEmbedder(4), **params).fit(X, y)


def test_classes_that_mix_text_with_other_types_are_refused():
    # NumPy made them all text: the label 3 was then no class ('3' was), and the
    # classifier refused or mispredicted it without saying why.
    X = np.ones((3, 4))
    with pytest.raises(TypeError, match=r"^`classes` mixes text .*: entry 1 is an int \(3\)"):
        ZeroShotClassifier(HashEmbedder(4), classes=["dog", 3]).fit(X)
    for classes in (["dog", "3"], np.array(["dog", "cat"]), pd.Index(["dog", "cat"])):
        ZeroShotClassifier(HashEmbedder(4), classes=classes).fit(X)
    # a dict of a prompt per class: its keys were the classes, its prompts ignored
    prompts = {"dog": "a photo of a dog", "cat": "a photo of a cat"}
    embedder = HashEmbedder(4)
    with pytest.raises(TypeError, match=r"got a dict, whose values would be ignored .*templates"):
        ZeroShotClassifier(embedder, classes=prompts).fit(X)
    assert embedder.calls == []  # (before any prompt is embedded)


@pytest.mark.parametrize(
    ("templates", "bad", "where"),
    [
        (["a photo of a {} {x}."], "'a photo of a {} {x}.'", ""),
        (["a {} photo }"], "'a {} photo }'", ""),
        (["a photo of a {}.", "{} {x}"], "'{} {x}'", " (template 2 of 2)"),
        (["a photo of a {}.", "a {} photo }"], "'a {} photo }'", " (template 2 of 2)"),
        (["{0}", "a photo of a {}."], "'{0}'", " (template 1 of 2)"),
        (["a photo of a {!r}."], "'a photo of a {!r}.'", ""),
        (["a photo of a {:>9}."], "'a photo of a {:>9}.'", ""),
        (["a photo of a {"], "'a photo of a {'", ""),
    ],
)
def test_templates_with_other_fields_or_stray_braces_are_refused_before_embedding(
    templates, bad, where
):
    # A named field or a stray brace failed with a bare KeyError or ValueError of
    # str.format, after the templates before it were checked and formatted.
    emb = HashEmbedder(4)
    clf = ZeroShotClassifier(emb, classes=["dog", "cat"], templates=templates)
    with pytest.raises(ValueError) as caught:
        clf.fit(np.ones((3, 4)))
    assert str(caught.value).startswith(
        f"ZeroShotClassifier: each template must be a string with exactly one '{{}}', got "
        f"{bad}{where}"
    ), caught.value
    assert emb.calls == []


def test_literal_braces_in_a_template_are_text():
    emb = HashEmbedder(4)
    clf = ZeroShotClassifier(emb, classes=["cat", "dog"], templates=["a {{}} photo of a {}}}"])
    clf.fit(np.ones((3, 4)))
    assert emb.calls == [["a {} photo of a cat}", "a {} photo of a dog}"]]


def test_type_errors_and_dimension_mismatch():
    X = np.ones((3, 4))
    with pytest.raises(TypeError, match="embed_text"):
        ZeroShotClassifier(object(), classes=["a", "b"]).fit(X)
    with pytest.raises(TypeError, match="one string"):
        ZeroShotClassifier(HashEmbedder(4), classes="ab").fit(X)
    with pytest.raises(ValueError, match="6 dimensions but X has 4 features"):
        ZeroShotClassifier(HashEmbedder(6), classes=["a", "b"]).fit(X)
    with pytest.raises(ValueError, match=r"^y has 2 labels for the 3 rows of X: give one label"):
        ZeroShotClassifier(HashEmbedder(4), classes=["a", "b"]).fit(X, ["a", "b"])
    clf = ZeroShotClassifier(HashEmbedder(4), classes=["a", "b"])
    with pytest.raises(NotFittedError):
        clf.predict(X)
    clf.fit(X)
    with pytest.raises(ValueError, match="features"):
        clf.predict(np.ones((2, 5)))


def test_concept_weights_given_as_x_are_refused_saying_how_to_recompose_them():
    # The natural slip: a ConceptEditor without output="embedding" before the classifier.
    # The errors said to call .toarray() (sparse), then to change the text model (width).
    import scipy.sparse

    from sksplice import SpliceTransformer

    rng = np.random.default_rng(0)
    names = [f"c{j}" for j in range(10)]
    splice = SpliceTransformer(
        vocabulary=names,
        concept_embeddings=rng.normal(size=(10, 6)),
        image_mean=np.zeros(6),
        l1_penalty=0.1,
        device="cpu",
    )
    X = rng.normal(size=(8, 6))
    W = splice.fit(X).transform(X)
    clf = ZeroShotClassifier(HashEmbedder(6), classes=["a", "b"])
    recompose = r"into embeddings with splice.inverse_transform\(W\)"
    with pytest.raises(
        TypeError, match=rf"^X is a sparse matrix, .*: recompose concept weights {recompose}"
    ):
        clf.fit(W)
    dense = splice.set_params(output="dense").transform(X)  # (recorded as the CSR is)
    with pytest.raises(
        ValueError, match=r"^X is concept weights that a SpliceTransformer returned"
    ):
        clf.fit(dense)
    clf.fit(splice.inverse_transform(W))
    with pytest.raises(TypeError, match=r"^X is a sparse matrix"):
        clf.predict(scipy.sparse.csr_matrix(X))
    frame = splice.set_params(output="sparse").set_output(transform="pandas").transform(X)
    with pytest.raises(TypeError, match=rf"^X is a DataFrame of sparse columns, .*{recompose}"):
        clf.predict(frame)
    splice.set_output(transform="default")
    with pytest.raises(ValueError, match=r"^X is concept weights that a SpliceTransformer"):
        clf.predict_proba(dense)
    # Weights of unknown origin are known only by their width: the hint is added there.
    with pytest.raises(
        ValueError, match=rf"6 dimensions but X has 10 features; .*recompose them {recompose}"
    ):
        ZeroShotClassifier(HashEmbedder(6), classes=["a", "b"]).fit(
            np.abs(rng.normal(size=(3, 10)))
        )


def test_an_all_zero_row_is_warned_about_naming_it():
    # a zero embedding got the first class, with probabilities 0.5/0.5, without a word
    clf = ZeroShotClassifier(HashEmbedder(4), classes=["dog", "cat"]).fit(np.ones((3, 4)))
    X = pd.DataFrame(np.vstack([np.ones(4), np.zeros(4)]), index=["ok", "blank"])
    for method in (clf.predict, clf.predict_proba, clf.decision_function):
        with pytest.warns(UserWarning, match=r"^X row 'blank' \(row 1\) is all zero: .* the "):
            out = method(X)
        assert len(out) == 2
    with pytest.warns(UserWarning, match=r"first class, 'cat'"):  # (classes_ are sorted)
        assert clf.predict(np.zeros((1, 4)))[0] == "cat"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (rows with a direction: nothing said)
        clf.predict(np.ones((2, 4)))


@pytest.mark.parametrize(
    ("scale", "dtype"),
    [(1e-13, np.float32), (1e-13, np.float64), (1e-20, np.float64), (1e20, np.float32)],
)
def test_rows_of_any_scale_are_classified_as_the_unscaled_rows(scale, dtype):
    # Rows are normalised before the cosine: a row of norm 1e-13 was taken for a zero
    # row (the first class, uniform probabilities), without a word, while SpliceTransformer
    # decomposes it as the unscaled row.
    classes = ["dog", "cat", "car", "bird", "tree"]
    clf = ZeroShotClassifier(HashEmbedder(6), classes=classes).fit(np.ones((3, 6)))
    X = np.random.default_rng(0).normal(size=(40, 6))
    scaled = (X * scale).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no row is taken for a zero row)
        np.testing.assert_array_equal(clf.predict(scaled), clf.predict(X))
        np.testing.assert_allclose(clf.predict_proba(scaled), clf.predict_proba(X), atol=1e-6)
        np.testing.assert_allclose(
            clf.decision_function(scaled), clf.decision_function(X), atol=1e-6
        )
    assert len(set(clf.predict(X))) > 1


def test_sklearn_conventions_clone_pickle_and_pipeline(minilm, animal_data):
    X, y = animal_data
    for check in (check_no_attributes_set_in_init, check_get_params_invariance, check_set_params):
        check("ZeroShotClassifier", ZeroShotClassifier(HashEmbedder(4), classes=["a", "b"]))
    clf = ZeroShotClassifier(minilm, classes=["dog", "cat", "car"]).fit(X)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))
    cloned = clone(clf)
    assert not hasattr(cloned, "classes_")
    assert cloned.get_params()["classes"] == ["dog", "cat", "car"]
    # GridSearchCV over templates in a pipeline: the better template set wins.
    pipe = make_pipeline(FunctionTransformer(), ZeroShotClassifier(minilm))
    search = GridSearchCV(
        pipe,
        {"zeroshotclassifier__templates": [("{}",), ("a photo of a {}.", "a picture of a {}.")]},
        cv=3,
    ).fit(X, y)
    assert search.best_score_ >= 0.9
    assert search.score(X, y) >= 11 / 12


def test_dataframe_input_sets_feature_names():
    X = pd.DataFrame(np.random.default_rng(3).normal(size=(5, 4)), columns=list("abcd"))
    clf = ZeroShotClassifier(HashEmbedder(4), classes=["x", "y"]).fit(X)
    assert list(clf.feature_names_in_) == list("abcd")
    assert clf.predict(X).shape == (5,)


def test_worked_example_runs_and_writes_figure(laion_minilm, minilm, tmp_path):
    from ._helpers_editing import assert_png, load_example

    example = load_example("zero_shot_edit")
    concepts, raw = laion_minilm
    result = example.main(tmp_path, embedder=minilm, concepts=concepts, concept_embeddings=raw)
    acc = result["accuracy"]
    assert acc["dense"]["all"] >= 0.9
    assert acc["recomposed"]["all"] >= 0.8
    # removing "dog" with its neighbours destroys the dog class, not the others
    assert acc["remove 'dog' + neighbours"]["dog"] <= acc["recomposed"]["dog"] - 0.3
    assert acc["remove 'dog' + neighbours"]["dog"] < acc["remove 'dog'"]["dog"]
    for cls in ("bird", "car"):
        assert acc["remove 'dog' + neighbours"][cls] >= acc["recomposed"][cls] - 0.2
    assert_png(result["figures"]["accuracy"])


def test_pipeline_with_clip_embedder_images(tiny_clip_model):
    """Images -> CLIPEmbedder -> ZeroShotClassifier, with the same (tiny, random) model."""
    from sksplice.embedders import CLIPEmbedder

    embedder = CLIPEmbedder(model=tiny_clip_model, pretrained=None, device="cpu")
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, size=(40, 40, 3), dtype=np.uint8) for _ in range(5)]
    pipe = make_pipeline(
        clone(embedder), ZeroShotClassifier(embedder, classes=["dog", "cat", "house"])
    ).fit(images)
    clf = pipe.named_steps["zeroshotclassifier"]
    X = embedder.embed_images(images)
    assert clf.n_features_in_ == X.shape[1]
    np.testing.assert_allclose(
        pipe.decision_function(images),
        (X / np.linalg.norm(X, axis=1, keepdims=True)) @ clf.class_embeddings_.T,
        rtol=1e-5,
        atol=1e-6,
    )
    scores = pipe.decision_function(images)
    np.testing.assert_array_equal(pipe.predict(images), clf.classes_[scores.argmax(axis=1)])


def test_labels_that_name_no_class_are_warned_about():
    # "a photo of a 0." is no prompt for a class: say so, and how to name the classes
    class Embedder:
        def embed_text(self, texts):  # ("one" apart from "zero": not classes alike)
            return np.eye(4)[[int("1" in t or "one" in t) for t in texts]]

    X = np.eye(4)[[0, 1, 0, 1]]
    with pytest.warns(UserWarning, match=r"the labels \[0, 1\] name no class: the prompts read"):
        ZeroShotClassifier(Embedder()).fit(X, np.array([0, 1, 0, 1]))
    with pytest.warns(UserWarning, match=r"`classes` \[0, 1\] name no class: the prompts read"):
        ZeroShotClassifier(Embedder(), classes=[0, 1]).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ZeroShotClassifier(Embedder(), classes=["zero", "one"]).fit(X)
        ZeroShotClassifier(Embedder()).fit(X, np.array(["cat 1", "dog", "cat 1", "dog"]))


@pytest.mark.parametrize("missing", [None, np.nan], ids=["None", "NaN"])
def test_a_missing_label_is_refused_not_made_a_class(missing):
    # np.asarray(["cat", "dog", nan]) is ["cat", "dog", "nan"]: no prompt "a photo of a nan."
    class Embedder:
        def embed_text(self, texts):
            return np.eye(4)[: len(texts)]

    X = np.eye(4)[[0, 1, 2]]
    with pytest.raises(ValueError, match=r"labels `y` are missing \(None or NaN\) at row\(s\) 2:"):
        ZeroShotClassifier(Embedder()).fit(X, ["cat", "dog", missing])
    with pytest.raises(TypeError, match=r"labels `y` mix types that cannot be ordered"):
        ZeroShotClassifier(Embedder()).fit(X, ["cat", 1, "cat"])
    # no labels, or one number: scikit-learn's own checks say what is wrong
    with pytest.raises(ValueError, match="0 sample"):
        ZeroShotClassifier(Embedder()).fit(X[:0], [])
    with pytest.raises(ValueError, match="1d array"):
        ZeroShotClassifier(Embedder()).fit(X, 5.0)


@pytest.mark.parametrize(
    ("classes", "match"),
    [
        ([], r"at least two classes, got 0 classes: \[\]"),
        (["cat", ""], r"`classes\[1\]` is empty: .*'' gives 'a photo of a \.'"),
        (["  ", "dog"], r"`classes\[0\]` is blank \('  '\)"),
        (["cat", None], r"`classes\[1\]` is missing \(None\).*'a photo of a None\.'"),
        (["cat", float("nan")], r"`classes\[1\]` is missing \(nan\)"),
    ],
    ids=["none", "empty", "blank", "None", "NaN"],
)
def test_classes_that_name_nothing_are_refused(classes, match):
    emb = HashEmbedder(4)
    with pytest.raises(ValueError, match=match):
        ZeroShotClassifier(emb, classes=classes).fit(np.ones((3, 4)))
    assert emb.calls == []  # refused before any prompt is embedded


def test_a_blank_label_is_refused_as_a_class_name():
    with pytest.raises(ValueError, match=r"labels `y` name a class that is empty, first at row 1"):
        ZeroShotClassifier(HashEmbedder(4)).fit(np.ones((3, 4)), ["cat", "", "dog"])


class _CatDog:
    """Text embedder of two directions: prompts naming a cat, and all others."""

    def embed_text(self, texts):
        return np.array([[1.0, 0.0] if "cat" in t else [0.0, 1.0] for t in texts])


def test_score_refuses_labels_that_are_no_class():
    # "Dog" for "dog" would be scored as always wrong: 0.5 here, where every row is right
    X = np.eye(2)[[0, 1, 0, 1]]
    pipe = make_pipeline(FunctionTransformer(), ZeroShotClassifier(_CatDog(), ["cat", "dog"]))
    pipe.fit(X)
    assert pipe.score(X, ["cat", "dog", "cat", "dog"]) == 1.0
    with pytest.raises(
        ValueError,
        match=r"labels \['Dog'\] in `y` are not among `classes_` \['cat', 'dog'\] "
        r"\(did you mean 'dog' for 'Dog'\?\)",
    ):
        pipe.score(X, ["cat", "Dog", "cat", "Dog"])
    # scoring a subset of the labels' classes: 'car' labels rows of its own beside 'cat',
    # so it is no misspelling of 'cat' (it was told "did you mean 'cat' for 'car'?")
    with pytest.raises(ValueError, match=r"labels \['car'\] in `y`") as raised:
        pipe.score(X, ["cat", "dog", "car", "dog"])
    assert "did you mean" not in str(raised.value)
    assert "keep only the rows of these classes (rows = np.isin(y, classes)" in str(raised.value)
    with pytest.raises(ValueError, match=r"labels \[0, 1\] in `y` are not among `classes_`"):
        pipe.score(X, [0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"labels \['Dog'\] in `y`"):  # (a column vector)
        pipe.score(X, np.array([["cat"], ["Dog"], ["cat"], ["Dog"]]))
    with pytest.raises(ValueError, match=r"labels `y` are missing \(None or NaN\) at row\(s\) 3"):
        pipe.score(X, ["cat", "dog", "cat", None])
    # classes taken from the labels of fit: a label fit did not see is counted wrong, as
    # by any scikit-learn classifier (a fold of a cross-validation may lack a class)
    learned = ZeroShotClassifier(_CatDog()).fit(X, ["cat", "dog", "cat", "dog"])
    assert learned.score(X, ["cat", "bird", "cat", "dog"]) == 0.75


def test_texts_images_rows_and_widths_given_for_embeddings_are_named():
    # scikit-learn said "could not convert string to float: 'a dog'", printed every
    # number of a 1-D row, or only that the widths differ
    X = np.eye(2)[[0, 1, 0, 1]]
    clf = ZeroShotClassifier(_CatDog(), ["cat", "dog"]).fit(X)
    cases = [
        (
            X[0],
            ValueError,
            r"^X has shape \(2,\): one embedding perhaps.*np\.reshape\(X, \(1, -1\)\)",
        ),
        (
            ["a dog on the beach"],
            TypeError,
            r"^X holds strings \('a dog on the beach' first\), not embeddings: "
            r"ZeroShotClassifier classifies embeddings.*the model of the class prompts "
            r"\(its _CatDog\): X = classifier\.embedder\.embed_text\(texts\)",
        ),
        (
            ["cats/a.png"],
            TypeError,
            r"^X holds file paths .*make_pipeline\(CLIPEmbedder\(modality='image'\), "
            r"ZeroShotClassifier\(\.\.\.\)\)",
        ),
        (
            np.zeros((2, 4, 4, 3)),
            ValueError,
            r"^X has shape \(2, 4, 4, 3\): a batch of images perhaps",
        ),
        (
            np.ones((2, 3)),
            ValueError,
            r"^X has 3 features, but ZeroShotClassifier is expecting 2 .*another model",
        ),
    ]
    for bad, error, match in cases:
        for method in (clf.predict, clf.predict_proba, clf.decision_function):
            with pytest.raises(error, match=match):
                method(bad)
    with pytest.raises(TypeError, match=r"^X holds strings \('a dog' first\)"):
        ZeroShotClassifier(_CatDog(), ["cat", "dog"]).fit(["a dog", "a cat"])


def test_cross_validation_with_a_scorer_checks_the_labels_when_fitting():
    # a scorer calls predict and never shows the labels to the classifier; cross-validation
    # fits it with the training labels, which are checked
    from sklearn.model_selection import cross_val_score

    X = np.eye(2)[[0, 1] * 6]
    clf = ZeroShotClassifier(_CatDog(), ["cat", "dog"])
    good = cross_val_score(clf, X, ["cat", "dog"] * 6, scoring="accuracy", cv=3)
    np.testing.assert_array_equal(good, [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"not among `classes` .* \(did you mean 'dog' for 'Dog'"):
        cross_val_score(clf, X, ["cat", "Dog"] * 6, scoring="accuracy", cv=3, error_score="raise")


class _Animals:
    """Text embedder of one direction per animal named in the prompt."""

    NAMES = ("bird", "cat", "dog")

    def embed_text(self, texts):
        return np.eye(4)[[next(i for i, n in enumerate(self.NAMES) if n in t) for t in texts]]


@pytest.mark.parametrize("given", [["cat", "dog"], ["dog", "cat"]])
def test_classes_are_sorted_whatever_the_order_given(given):
    # scikit-learn's scorers and meta-estimators take the columns of predict_proba in
    # sorted label order: kept as given, ["dog", "cat"] scored a perfect classifier
    # roc_auc 0.0 and CalibratedClassifierCV(FrozenEstimator(...)) raised IndexError
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.metrics import get_scorer

    X = np.eye(4)[[1, 2] * 6] + 0.1
    y = np.array(["cat", "dog"] * 6)
    clf = ZeroShotClassifier(_Animals(), classes=given, temperature=0.1).fit(X, y)
    assert clf.get_params()["classes"] == given  # the parameter is left as given
    assert clf.classes_.tolist() == ["cat", "dog"]
    np.testing.assert_array_equal(clf.class_embeddings_, np.eye(4)[[1, 2]])
    np.testing.assert_array_equal(clf.predict(X), y)
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], y)
    assert (proba[y == "dog", 1] > 0.99).all() and (proba[y == "cat", 0] > 0.99).all()
    assert (clf.decision_function(X)[y == "dog"] > 0).all()
    assert get_scorer("roc_auc")(clf, X, y) == 1.0
    assert get_scorer("neg_log_loss")(clf, X, y) > -0.01
    calibrated = CalibratedClassifierCV(FrozenEstimator(clf)).fit(X, y)
    np.testing.assert_array_equal(calibrated.predict(X), y)


def test_scores_do_not_depend_on_the_order_of_the_classes_given():
    from sklearn.metrics import get_scorer

    X = np.eye(4)[[0, 1, 2] * 4] + np.random.default_rng(0).normal(0, 0.3, size=(12, 4))
    y = np.array(["bird", "cat", "dog"] * 4)
    scores = {}
    for given in (["bird", "cat", "dog"], ["dog", "bird", "cat"], ["cat", "dog", "bird"]):
        clf = ZeroShotClassifier(_Animals(), classes=given, temperature=0.5).fit(X, y)
        assert clf.classes_.tolist() == ["bird", "cat", "dog"]
        sims = clf.decision_function(X)
        np.testing.assert_array_equal(clf.classes_[sims.argmax(axis=1)], clf.predict(X))
        scores[tuple(given)] = [
            get_scorer(name)(clf, X, y) for name in ("roc_auc_ovr", "neg_log_loss", "accuracy")
        ]
    first, *others = scores.values()
    for other in others:
        np.testing.assert_allclose(other, first)


def _encoding_meta_estimators():
    from sklearn.ensemble import StackingClassifier, VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    def cv_predict(clf, method):
        return lambda X, y: cross_val_predict(clf, X, y, cv=StratifiedKFold(2), method=method)

    return {
        "cross_val_predict(predict_proba)": lambda clf: cv_predict(clf, "predict_proba"),
        "cross_val_predict(decision_function)": lambda clf: cv_predict(clf, "decision_function"),
        "VotingClassifier(soft)": lambda clf: (
            VotingClassifier([("zs", clf), ("lr", LogisticRegression())], voting="soft").fit
        ),
        "StackingClassifier": lambda clf: StackingClassifier([("zs", clf)], cv=2).fit,
    }


@pytest.mark.parametrize("meta", list(_encoding_meta_estimators()))
def test_label_encoded_labels_are_refused_saying_so(meta):
    # these meta-estimators fit on labels 0 to k-1; a zero-shot classifier needs the names
    X = np.eye(2)[[0, 1] * 6]
    y = np.array(["cat", "dog"] * 6)
    run = _encoding_meta_estimators()[meta](ZeroShotClassifier(_CatDog(), ["dog", "cat"]))
    with pytest.raises(
        ValueError,
        match=r"labels \[0, 1\] in `y` are not among `classes` \['dog', 'cat'\]: integers 0 "
        r"to 1 in place of the class names look label-encoded, and ZeroShotClassifier needs "
        r"the class names .*VotingClassifier and StackingClassifier pass them .*"
        r"FrozenEstimator\(classifier\).*cross_validate\(\.\.\., return_estimator=True\)"
        r".*method=\"predict\"",
    ):
        run(X, y)
    # without classes=, the integers become the class names "0" and "1": a warning says why
    run = _encoding_meta_estimators()[meta](ZeroShotClassifier(_CatDog()))
    with pytest.warns(
        UserWarning,
        match=r"the labels \[0, 1\] name no class: the prompts read 'a photo of a 0\.'; "
        r"integer labels look label-encoded: .*StackingClassifier pass labels 0 to 1 .*"
        r"needs the class names\. .*FrozenEstimator",
    ):
        run(X, y)


@pytest.mark.parametrize("meta", list(_encoding_meta_estimators()))
def test_a_frozen_zero_shot_classifier_works_in_meta_estimators_that_encode(meta):
    # the remedy the messages give: fit once with the names, freeze
    from sklearn.frozen import FrozenEstimator

    X = np.eye(2)[[0, 1] * 6] + 0.1
    y = np.array(["cat", "dog"] * 6)
    for zero_shot in (
        ZeroShotClassifier(_CatDog(), ["dog", "cat"]).fit(X),
        ZeroShotClassifier(_CatDog()).fit(X, y),
    ):
        out = _encoding_meta_estimators()[meta](FrozenEstimator(zero_shot))(X, y)
        if isinstance(out, np.ndarray):
            predicted = out.argmax(axis=1) if out.ndim == 2 else (out > 0).astype(int)
            np.testing.assert_array_equal(zero_shot.classes_[predicted], y)
        else:
            np.testing.assert_array_equal(out.predict(X), y)


def test_the_other_remedies_for_label_encoding_work():
    from sklearn.model_selection import StratifiedKFold, cross_val_predict, cross_validate

    X = np.eye(2)[[0, 1] * 6]
    y = np.array(["cat", "dog"] * 6)
    clf = ZeroShotClassifier(_CatDog(), ["dog", "cat"])
    cv = StratifiedKFold(2)
    np.testing.assert_array_equal(cross_val_predict(clf, X, y, cv=cv), y)  # not encoded
    result = cross_validate(clf, X, y, cv=cv, return_estimator=True, return_indices=True)
    for fold, test in zip(result["estimator"], result["indices"]["test"]):
        np.testing.assert_array_equal(fold.classes_[fold.predict_proba(X[test]).argmax(1)], y[test])


def test_integer_labels_that_are_no_encoding_keep_the_plain_message():
    X = np.eye(2)[[0, 1, 0, 1]]
    clf = ZeroShotClassifier(_CatDog(), ["cat", "dog"])
    with pytest.raises(ValueError, match=r"labels \[5, 7\] in `y` are not among") as info:
        clf.fit(X, [5, 7, 5, 7])
    assert "label-encoded" not in str(info.value)
    clf.fit(X)
    with pytest.raises(
        ValueError, match=r"look label-encoded.*label_encoder\.inverse_transform\(y\)"
    ):
        clf.score(X, [0, 1, 0, 1])
    # labels that are numbers written as text name no class, without the encoding story
    with pytest.warns(UserWarning, match=r"name no class.*give labels that are class names"):
        ZeroShotClassifier(_CatDog()).fit(X, ["1", "2", "1", "2"])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ZeroShotClassifier(_CatDog()).fit(X, ["1", "2", "1", "2"])
    assert record and not any("label-encoded" in str(w.message) for w in record)


def test_labels_are_required_only_without_classes():
    from sklearn.utils import get_tags

    assert get_tags(ZeroShotClassifier(_CatDog())).target_tags.required is True
    named = ZeroShotClassifier(_CatDog(), ["cat", "dog"])
    assert get_tags(named).target_tags.required is False
    assert named.fit(np.eye(2)).predict(np.eye(2)).tolist() == ["cat", "dog"]


class _RandomTextEmbedder:
    """Random unit prompt embeddings of dimension ``d`` (the same for the same prompts)."""

    def __init__(self, d=32):
        self.d = d

    def embed_text(self, texts):
        rng = np.random.default_rng(len(texts))
        return rng.standard_normal((len(texts), self.d)).astype(np.float32)


def test_float32_predictions_are_those_of_the_float64_cosines_in_blocks(monkeypatch):
    import sksplice.zero_shot as zs

    rng = np.random.default_rng(5)
    clf = ZeroShotClassifier(_RandomTextEmbedder(), classes=[f"c{i}" for i in range(40)])
    clf.fit(np.zeros((2, 32), dtype=np.float32))
    C = clf.class_embeddings_
    X = rng.standard_normal((3000, 32)).astype(np.float32)
    # near ties: halfway between two classes (the float32 scores may swap them), exact
    # ties (two equal classes' sum), a zero row, a tiny row, a row equal to a class
    X[:200] = ((C[rng.integers(0, 40, 200)] + C[rng.integers(0, 40, 200)]) / 2).astype("f4")
    X[200:205] = 0
    X[205] = 1e-14
    X[206] = C[3].astype(np.float32)
    monkeypatch.setattr(zs, "_BLOCK_ELEMENTS", 40 * 128)  # blocks of 128 rows
    for data in (X, X.astype(np.float64)):
        # (the tiny row is normalised as any other, not taken for a zero row)
        cosines = unit_rows(data.astype(np.float64)) @ C.T
        np.testing.assert_array_equal(clf.predict(data), clf.classes_[np.argmax(cosines, 1)])
        proba = clf.predict_proba(data)
        assert proba.dtype == np.float64 and clf.decision_function(data).dtype == np.float64
        want = np.exp(log_softmax(cosines / clf.temperature, axis=1))
        np.testing.assert_allclose(proba, want, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(
            clf.predict_log_proba(data), np.log(want), rtol=1e-12, atol=1e-12
        )


def test_predict_holds_no_float64_scores_of_every_row():
    import tracemalloc

    rng = np.random.default_rng(6)
    clf = ZeroShotClassifier(_RandomTextEmbedder(64), classes=[f"c{i}" for i in range(500)])
    clf.fit(np.zeros((2, 64), dtype=np.float32))
    X = rng.standard_normal((20_000, 64)).astype(np.float32)
    clf.predict(X[:10])
    tracemalloc.start()
    clf.predict(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # the float64 scores of all rows are 80 MB, a float64 copy of X 10 MB; a block of
    # scores is 4-8 MB
    assert peak < 20e6, peak


class _CountingEmbedder(HashEmbedder):
    """Counts the texts embedded; tells its width as ``embedding_dim_`` or by a method."""

    def __init__(self, dim: int, tells: str) -> None:
        super().__init__(dim)
        self.n_texts = 0
        if tells == "attribute":
            self.embedding_dim_ = dim
        elif tells == "method":
            self.get_embedding_dimension = lambda: dim

    def embed_text(self, texts):
        self.n_texts += len(texts)
        return super().embed_text(texts)


def test_the_prompts_are_embedded_once_for_the_folds_of_a_search():
    """Each fold's clone embedded every prompt again (a grid of 3 candidates and 5 folds
    embedded 1,280 prompts, 80 distinct); an embedder with a cache key is asked once per
    prompt list (and one without a key every time, as it may change)."""
    from sklearn.model_selection import cross_val_score

    from ._helpers_transformer import CountingEmbedder

    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 8))
    y = np.array(["cat", "dog", "bird"] * 10)
    CountingEmbedder.reset()
    embedder = CountingEmbedder(dim=8, key="prompts-once")
    clf = ZeroShotClassifier(embedder, classes=["cat", "dog", "bird"], templates=["a {}", "the {}"])
    search = GridSearchCV(clf, {"temperature": [0.01, 0.1, 1.0]}, cv=5).fit(X, y)
    assert CountingEmbedder.n_calls == 1 and CountingEmbedder.n_texts == 6
    fresh = clone(search.best_estimator_).fit(X, y)  # (the same values as a first fit)
    np.testing.assert_array_equal(fresh.class_embeddings_, search.best_estimator_.class_embeddings_)
    # each classifier holds its own copy of what is kept
    search.best_estimator_.class_embeddings_[0, 0] = 5.0
    assert clone(clf).fit(X, y).class_embeddings_[0, 0] == fresh.class_embeddings_[0, 0] != 5.0
    cross_val_score(clf.set_params(templates=["a photo of a {}."]), X, y, cv=3)
    assert CountingEmbedder.n_texts == 9  # (another prompt list: embedded, once)

    class Keyless(HashEmbedder):
        texts = 0  # (on the class: the folds' clones are deep copies)

        def embed_text(self, texts):
            type(self).texts += len(texts)
            return super().embed_text(texts)

    cross_val_score(ZeroShotClassifier(Keyless(8), classes=["cat", "dog", "bird"]), X, y, cv=3)
    assert Keyless.texts == 9


@pytest.mark.parametrize("tells", ["attribute", "method"])
def test_the_width_of_x_is_checked_before_the_prompts_are_embedded(tells):
    X = np.ones((3, 4))
    embedder = _CountingEmbedder(6, tells)
    with pytest.raises(ValueError, match=r"have 6 dimensions but X has 4 features; use the"):
        ZeroShotClassifier(embedder, classes=["a", "b"]).fit(X)
    assert embedder.n_texts == 0
    # a width that matches is fitted as before
    good = _CountingEmbedder(4, tells)
    clf = ZeroShotClassifier(good, classes=["a", "b"]).fit(X)
    plain = ZeroShotClassifier(HashEmbedder(4), classes=["a", "b"]).fit(X)
    assert good.n_texts == 2
    np.testing.assert_array_equal(clf.class_embeddings_, plain.class_embeddings_)


def test_an_embedder_that_tells_no_width_is_checked_once_it_has_embedded():
    embedder = _CountingEmbedder(6, "nothing")
    with pytest.raises(ValueError, match=r"have 6 dimensions but X has 4 features"):
        ZeroShotClassifier(embedder, classes=["a", "b"]).fit(np.ones((3, 4)))
    assert embedder.n_texts == 2


def test_a_clip_embedder_is_checked_before_its_model_is_loaded(tiny_clip_model, monkeypatch):
    from sksplice.embedders import CLIPEmbedder

    from .conftest import TESTS_DATA

    monkeypatch.setenv("SKSPLICE_MODEL_CONFIGS", str(TESTS_DATA / f"{tiny_clip_model}.json"))
    embedder = CLIPEmbedder(model=tiny_clip_model, pretrained=None, device="cpu")
    width = embedder._config().embed_dim

    def not_called(texts):
        raise AssertionError("the prompts are embedded before X's width is checked")

    monkeypatch.setattr(embedder, "embed_text", not_called)
    X = np.ones((3, width + 1))
    with pytest.raises(ValueError, match=f"have {width} dimensions but X has {width + 1}"):
        ZeroShotClassifier(embedder, classes=["a", "b"]).fit(X)


def test_classes_set_after_fit_are_named():
    # set_params(classes=[...]) on a fitted classifier kept the fitted classes silently.
    emb = HashEmbedder(dim=16)
    X = emb.embed_text(["dog", "cat"])
    clf = ZeroShotClassifier(emb, classes=["dog", "cat"], templates=["{}"]).fit(X)
    clf.set_params(classes=["cat", "dog", "bird"])
    with pytest.warns(UserWarning, match=r"classes=\['cat', 'dog', 'bird'\] \(fitted with "):
        assert list(clf.predict(X)) == ["dog", "cat"]
    clf.set_params(classes=["dog", "cat"], temperature=0.5)  # (read by predict_proba)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict_proba(X)


@pytest.mark.parametrize("bad", ["nan", "zero"])
def test_a_prompt_embedded_to_nan_or_zero_is_refused_by_name(bad):
    # such a class embedding was the zero vector, and the class won every row whose
    # cosines with the other classes were all negative (10 of 150 random rows)
    class Bad:
        def embed_text(self, texts):
            rows = np.random.default_rng(1).standard_normal((len(texts), 8))
            rows[3] = np.nan if bad == "nan" else 0.0
            return rows

    X = np.random.default_rng(0).standard_normal((150, 8))
    clf = ZeroShotClassifier(Bad(), classes=["a", "b", "c", "d"], templates=["{}"])
    with pytest.raises(ValueError) as raised:
        clf.fit(X)
    message = str(raised.value)
    assert "'d'" in message and "Bad.embed_text" in message, message
    assert ("NaN or infinite" if bad == "nan" else "is the zero vector") in message, message
    assert not hasattr(clf, "class_embeddings_")
