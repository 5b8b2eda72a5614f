"""sksplice.make_pipeline: a Pipeline whose fit checks every step before any work."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.pipeline import make_pipeline as sklearn_make_pipeline
from sklearn.preprocessing import FunctionTransformer, MaxAbsScaler

from sksplice import (
    CLIPEmbedder,
    ConceptEditor,
    SplicePipeline,
    SpliceTransformer,
    make_pipeline,
)
from sksplice.exceptions import InvalidParameterError

WORDS = [f"concept {i}" for i in range(24)]


def _splice(**params):
    emb = np.random.default_rng(0).normal(size=(len(WORDS), 8))
    return SpliceTransformer(vocabulary=WORDS, concept_embeddings=emb, device="cpu", **params)


def _data(n=40):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 8)) + 0.5
    y = np.arange(n) % 2
    X[y == 1, :2] += 1.0
    return X, y


@pytest.mark.parametrize(
    ("steps", "error", "words"),
    [
        # (each refused by its step's own fit only after the image embeddings were made)
        (lambda m: [_splice(l1_penalty=5)], InvalidParameterError, "l1_penalty must be below 2"),
        (lambda m: [_splice(tol=3.0)], InvalidParameterError, r"tol must be a number in \(0, 1\)"),
        (
            lambda m: [_splice(image_mean=np.full(7, 0.1))],
            ValueError,
            r"image_mean has shape \(7,\) but the concept dictionary has d=8",
        ),
        (
            lambda m: [_splice(), ConceptEditor(remove="concept 1", output="embeding")],
            InvalidParameterError,
            "did you mean 'embedding'",
        ),
        (
            lambda m: [
                _splice().set_output(transform="pandas"),
                ConceptEditor(remove="concept 99"),
            ],
            ValueError,
            "concept 99",
        ),
        (
            lambda m: [_splice(), LogisticRegression(C=-1)],
            ValueError,  # (scikit-learn's InvalidParameterError)
            r"^step 'logisticregression': The 'C' parameter of LogisticRegression",
        ),
        (
            lambda m: [_splice(), sklearn_make_pipeline(MaxAbsScaler(), KMeans(n_clusters=0))],
            ValueError,
            "n_clusters",
        ),
        (
            lambda m: [CLIPEmbedder(m, pretrained=None, device="cpux"), _splice()],
            ValueError,
            "cpux",
        ),
        (
            lambda m: [
                CLIPEmbedder(m, pretrained=None, device="cpu"),
                SpliceTransformer(
                    embedder=CLIPEmbedder(m, pretrained=None, modality="text"), vocabulary="laoin"
                ),
            ],
            ValueError,
            r"Unknown vocabulary 'laoin' \(did you mean 'laion'\?\)",
        ),
        (
            # (texts centred by a centre of images: it was accepted, and wrong)
            lambda m: [
                CLIPEmbedder(m, pretrained=None, modality="text", device="cpu"),
                _splice(image_mean=np.full(8, 0.1)),
            ],
            ValueError,
            r"^step 'splicetransformer': SpliceTransformer\(modality='image', image_mean=an "
            r"array\) centres image embeddings, and the step before it, 'clipembedder', embeds "
            r"texts \(CLIPEmbedder\(modality='text'\)\): give the SpliceTransformer "
            r"modality='text' and text_mean=None \(learned from the texts\) or 'concepts' in "
            r"place of image_mean",
        ),
    ],
)
def test_every_step_is_checked_before_the_first_step_works(
    steps, error, words, tiny_clip_model, isolated_folders, no_embedding, monkeypatch, tmp_path
):
    # make_pipeline(CLIPEmbedder(), SpliceTransformer(l1_penalty=5)) embedded every image
    # before the penalty was refused; a probe's C=-1 after a SpliceTransformer waited
    # for the vocabulary to be embedded and every row decomposed.
    def fitted(self, X):
        raise AssertionError("a SpliceTransformer was fitted before the steps were checked")

    monkeypatch.setattr(SpliceTransformer, "_fit", fitted)
    chosen = steps(tiny_clip_model)
    if isinstance(chosen[0], CLIPEmbedder):  # (image files: none is read)
        X, y = [str(tmp_path / f"{i}.png") for i in range(4)], [0, 1, 0, 1]
    else:
        X, y = _data()
    # (a first step that does work: it is never fitted)
    first = _Recorder()
    pipe = make_pipeline(first, *chosen)
    with pytest.raises(error, match=words):
        pipe.fit(X, y)
    if hasattr(pipe, "fit_transform"):
        with pytest.raises(error, match=words):
            pipe.fit_transform(X, y)
    assert first.fitted == 0
    # (scikit-learn's Pipeline fits the steps before the one at fault, and perhaps more)
    with pytest.raises(BaseException):  # noqa: B017 (its own error, or a guard's)
        sklearn_make_pipeline(first, *chosen).fit(X, y)
    assert first.fitted == 1


def test_a_centre_learned_from_the_embeddings_is_of_their_modality(tiny_clip_model, tmp_path):
    # (what a SpliceTransformer learns from X is the centre of what X holds: a modality
    # that differs from the embedder's changes nothing there, and is not refused)
    from sksplice.pipeline import check_steps

    texts = CLIPEmbedder(tiny_clip_model, pretrained=None, modality="text", device="cpu")
    images = CLIPEmbedder(tiny_clip_model, pretrained=None, device="cpu")
    check_steps(make_pipeline(texts, _splice()))
    check_steps(make_pipeline(images, _splice(modality="text")))
    with pytest.raises(ValueError, match=r"text_mean='concepts'\) centres text embeddings"):
        check_steps(make_pipeline(images, _splice(modality="text", text_mean="concepts")))
    # (a file named by a path is named as such; the advice, taken, is not refused)
    mean = tmp_path / "image_mean.npy"
    np.save(mean, np.full(8, 0.1))
    with pytest.raises(ValueError, match=rf"image_mean={re.escape(repr(str(mean)))}\) centres"):
        check_steps(make_pipeline(texts, _splice(image_mean=mean)))
    check_steps(make_pipeline(texts, _splice(modality="text", text_mean="concepts")))


class _Recorder(FunctionTransformer):
    """A step that passes its input on and counts its fits (the work of a first step)."""

    fitted = 0

    def fit(self, X, y=None):
        type(self).fitted += 1
        return super().fit(X, y)


@pytest.fixture(autouse=True)
def _no_fits_recorded():
    _Recorder.fitted = 0


def test_an_embedder_that_cannot_be_copied_is_checked_as_it_is(isolated_folders):
    # The steps were cloned to be checked: an embedder that is no estimator was
    # deep-copied, and one holding a lock (a loaded model) failed with "cannot pickle
    # '_thread.lock'" where scikit-learn's Pipeline fits it.
    import threading

    rng = np.random.default_rng(0)
    table = {w: rng.normal(size=8) for w in WORDS}

    class Held:
        lock = None

        def __init__(self):
            self.lock = threading.Lock()

        def embed_text(self, texts):
            return np.stack([table[t] for t in texts])

    X, y = _data()
    splice = SpliceTransformer(embedder=Held(), vocabulary=WORDS, device="cpu", l1_penalty=0.1)
    pipe = make_pipeline(splice, LogisticRegression()).fit(X, y)
    assert pipe.score(X, y) > 0.5


def test_fit_transform_and_fit_predict_are_offered_as_a_pipeline_offers_them():
    class TransformOnly(BaseEstimator):  # (fit and transform, no fit_transform)
        def fit(self, X, y=None):
            return self

        def transform(self, X):
            return X

    for final in (TransformOnly(), "passthrough", LogisticRegression(), KMeans(2)):
        ours = make_pipeline(_splice(), final)
        theirs = sklearn_make_pipeline(_splice(), final)
        for method in ("fit_transform", "fit_predict"):
            assert hasattr(ours, method) == hasattr(theirs, method), (final, method)
    X, _ = _data()
    W = make_pipeline(_splice(l1_penalty=0.1), TransformOnly()).fit_transform(X)
    assert W.shape == (len(X), len(WORDS))


def test_steps_that_are_not_pairs_are_refused_by_the_pipeline_s_own_check():
    X, y = _data()
    for steps in ([_splice(), LogisticRegression()], [("a", _splice(), 3)]):
        with pytest.raises((TypeError, ValueError)) as ours:
            SplicePipeline(steps).fit(X, y)
        with pytest.raises((TypeError, ValueError)) as theirs:
            Pipeline(steps).fit(X, y)
        assert str(ours.value) == str(theirs.value)


def test_a_checked_pipeline_fits_as_scikit_learn_s_does():
    X, y = _data()
    pipe = make_pipeline(_splice(l1_penalty=0.1), LogisticRegression())
    plain = sklearn_make_pipeline(_splice(l1_penalty=0.1), LogisticRegression())
    assert isinstance(pipe, SplicePipeline) and isinstance(pipe, Pipeline)
    assert [n for n, _ in pipe.steps] == [n for n, _ in plain.steps]
    np.testing.assert_array_equal(pipe.fit(X, y).predict(X), plain.fit(X, y).predict(X))
    np.testing.assert_allclose(pipe[-1].coef_, plain[-1].coef_)
    # clone, parameters, pickling and grid search keep its kind
    copy = clone(pipe)
    assert (
        type(copy) is SplicePipeline and copy.get_params()["splicetransformer__l1_penalty"] == 0.1
    )
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(again.predict(X), pipe.predict(X))
    grid = GridSearchCV(pipe, {"splicetransformer__l1_penalty": [0.1, 0.3]}, cv=2).fit(X, y)
    assert type(grid.best_estimator_) is SplicePipeline
    # fit_predict and fit_transform are there where the last step has them
    assert not hasattr(pipe, "fit_predict") and not hasattr(pipe, "fit_transform")
    clusters = make_pipeline(_splice(l1_penalty=0.1), KMeans(2, n_init=1, random_state=0))
    assert clusters.fit_predict(X).shape == (len(X),)
    W = make_pipeline(_splice(l1_penalty=0.1), "passthrough").fit_transform(X)
    assert W.shape == (len(X), len(WORDS))
    # the keyword arguments of scikit-learn's make_pipeline
    assert make_pipeline(_splice(), LogisticRegression(), verbose=True).verbose is True


@pytest.mark.parametrize("holder", ["columns", "union", "remainder", "tuple"])
def test_a_transformer_held_by_a_column_transformer_or_union_is_checked(holder):
    # A SpliceTransformer on some columns, or beside another transformer, was left to
    # its own fit: the steps before it were fitted first.
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion

    X, y = _data()
    wrong = _splice(l1_penalty=5)
    held = {
        "columns": ColumnTransformer([("concepts", wrong, slice(0, 8))]),
        "union": FeatureUnion([("scaled", MaxAbsScaler()), ("concepts", wrong)]),
        "remainder": ColumnTransformer([("scaled", MaxAbsScaler(), [0])], remainder=wrong),
        "tuple": ColumnTransformer((("concepts", wrong, slice(0, 8)),)),
    }[holder]
    first = _Recorder()
    with pytest.raises(InvalidParameterError, match="l1_penalty must be below 2"):
        make_pipeline(first, held, LogisticRegression()).fit(X, y)
    assert first.fitted == 0
    # (an estimator of scikit-learn inside one is named by where it is)
    held = FeatureUnion([("concepts", _splice()), ("scores", LogisticRegression(C=-1))])
    with pytest.raises(ValueError, match=r"^step 'featureunion', transformer 'scores': The 'C'"):
        make_pipeline(first, held).fit(X, y)
    assert first.fitted == 0
    # and a valid one fits as scikit-learn's pipeline does
    held = FeatureUnion([("scaled", MaxAbsScaler()), ("concepts", _splice(l1_penalty=0.1))])
    ours = make_pipeline(held, LogisticRegression()).fit(X, y)
    theirs = sklearn_make_pipeline(clone(held), LogisticRegression()).fit(X, y)
    np.testing.assert_allclose(ours[-1].coef_, theirs[-1].coef_)


def test_a_frozen_step_is_used_as_it_is(tmp_path):
    # A frozen, fitted transformer whose vocabulary file has gone since its fit: its
    # fit fits nothing, so nothing of it is checked again.
    from sklearn.frozen import FrozenEstimator

    X, y = _data()
    words = tmp_path / "words.txt"
    words.write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    emb = np.random.default_rng(0).normal(size=(len(WORDS), 8))
    splice = SpliceTransformer(
        vocabulary=str(words), concept_embeddings=emb, device="cpu", l1_penalty=0.1
    ).fit(X)
    words.unlink()
    with pytest.raises(FileNotFoundError):
        make_pipeline(clone(splice), LogisticRegression()).fit(X, y)
    pipe = make_pipeline(FrozenEstimator(splice), LogisticRegression()).fit(X, y)
    assert pipe.score(X, y) > 0.5
    # (nor the estimator it holds, whatever its parameters now say)
    probe = LogisticRegression().fit(splice.transform(X), y)
    probe.C = -1
    ours = make_pipeline(FrozenEstimator(splice), FrozenEstimator(probe)).fit(X, y)
    theirs = sklearn_make_pipeline(FrozenEstimator(splice), FrozenEstimator(probe)).fit(X, y)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_make_pipeline_spells_out_the_keywords_of_scikit_learns():
    # It took **kwargs: no completion or signature help showed memory or verbose.
    import inspect

    ours = inspect.signature(make_pipeline).parameters
    theirs = inspect.signature(sklearn_make_pipeline).parameters
    assert list(ours) == list(theirs)
    assert all(ours[name].default == theirs[name].default for name in theirs)
    pipe = make_pipeline(SpliceTransformer(), memory="cache", verbose=True)
    assert isinstance(pipe, SplicePipeline) and (pipe.memory, pipe.verbose) == ("cache", True)
