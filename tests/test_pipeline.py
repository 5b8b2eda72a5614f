"""sksplice.make_pipeline: a Pipeline whose fit checks every step before any work."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.pipeline import make_pipeline as sklearn_make_pipeline
from sklearn.preprocessing import MaxAbsScaler

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
    pipe = make_pipeline(*chosen)
    with pytest.raises(error, match=words):
        pipe.fit(X, y)
    if hasattr(pipe, "fit_transform"):
        with pytest.raises(error, match=words):
            pipe.fit_transform(X, y)


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
