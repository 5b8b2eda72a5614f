"""scikit-learn's estimator checks for the estimators that take numbers but whose
constructor fixes a width (concept names, directions, a text embedder, the
concept dictionary of a search's transformer).

Each test double below adapts only that width to the data a check fits on, and
puts its parameter back before ``fit`` returns, so that every other check runs on
the estimator's own code. (SpliceTransformer's checks are in test_transformer.py,
ConceptEditor's in test_editing.py.)
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sksplice import (
    ConceptProjector,
    ConceptRetriever,
    SplicePathSearchCV,
    SpliceTransformer,
    ZeroShotClassifier,
)

try:
    from ._helpers_transformer import WidthMatchingSplice, random_vocabulary
except ImportError:  # pragma: no cover
    from _helpers_transformer import WidthMatchingSplice, random_vocabulary


def _width(X) -> int:
    shape = np.shape(np.asarray(X)) if not sp.issparse(X) else X.shape
    return int(shape[-1]) if len(shape) == 2 else 1


class _HashEmbedder:
    """Deterministic unit vectors per text, as wide as the last data fitted."""

    width = 3

    def embed_text(self, texts):
        out = []
        for text in texts:
            seed = sum((i + 1) * ord(c) for i, c in enumerate(text)) % 2**32
            v = np.random.default_rng(seed).normal(size=max(_HashEmbedder.width, 1))
            out.append(v / np.linalg.norm(v))
        return np.asarray(out)

    def __repr__(self) -> str:
        # (a repr without the object's address: test ids are the same in every process)
        return "_HashEmbedder()"


class _WidthZeroShot(ZeroShotClassifier):
    def fit(self, X, y=None):
        _HashEmbedder.width = _width(X)
        return super().fit(X, y)


class _WidthProjector(ConceptProjector):
    def fit(self, X, y=None):
        given = self.directions
        self.directions = np.ones((1, _width(X)))
        try:
            return super().fit(X, y)
        finally:
            self.directions = given


class _WidthRetriever(ConceptRetriever):
    def fit(self, X, y=None):
        given = self.concepts
        self.concepts = [f"c{i}" for i in range(_width(X))]
        try:
            return super().fit(X, y)
        finally:
            self.concepts = given


def _expected_failed_checks(estimator):
    if isinstance(estimator, ZeroShotClassifier):
        # Zero-shot: the classes are told apart by their names' text embeddings, not
        # learned from y, so the check's accuracy threshold on its random blobs with
        # numbered classes cannot be met (all else of the check runs).
        return {"check_classifiers_train": "zero-shot: y is not learned from"}
    return {}


_STRICT = (
    {"xfail_strict": True}
    if "xfail_strict" in inspect.signature(parametrize_with_checks).parameters
    else {}
)


def _search():
    """A search over the penalty of a transformer whose dictionary is as wide as X."""
    splicer = WidthMatchingSplice(vocabulary=random_vocabulary(30), l1_penalty=0.1, device="cpu")
    return SplicePathSearchCV(make_pipeline(splicer, LogisticRegression()), [0.05, 0.1], cv=2)


@parametrize_with_checks(
    [_WidthProjector(), _WidthRetriever(), _WidthZeroShot(embedder=_HashEmbedder()), _search()],
    expected_failed_checks=_expected_failed_checks,
    **_STRICT,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_retriever_refit_keeps_nothing_of_the_previous_data():
    import pandas as pd

    retriever = ConceptRetriever().fit(pd.DataFrame([[1.0, 0.0]], columns=["dog", "cat"]))
    retriever.set_params(concepts=["x", "y", "z"]).fit(sp.csr_matrix(np.eye(3)))
    assert retriever.n_features_in_ == 3
    assert not hasattr(retriever, "feature_names_in_")
    # columns that are not all strings name nothing (as in scikit-learn)
    with pytest.raises(ValueError, match="carry no concept names"):
        ConceptRetriever().fit(pd.DataFrame([[1.0, 0.0]], columns=[10, 20]))


def test_retriever_refuses_complex_weights():
    with pytest.raises(ValueError, match="Complex data not supported"):
        ConceptRetriever(concepts=["a", "b"]).fit(np.array([[1 + 1j, 0.5], [0.2, 0.3j]]))


def test_retriever_with_a_cloned_transformer_says_how_to_keep_it_fitted():
    splice = SpliceTransformer(
        vocabulary=random_vocabulary(6),
        concept_embeddings=np.random.default_rng(0).normal(size=(6, 3)),
        l1_penalty=0.1,
        device="cpu",
    ).fit(np.random.default_rng(1).normal(size=(20, 3)))
    W = splice.transform(np.random.default_rng(2).normal(size=(4, 3)))
    ConceptRetriever(concepts=splice).fit(W)  # fitted: fine
    with pytest.raises(NotFittedError, match="FrozenEstimator"):
        clone(ConceptRetriever(concepts=splice)).fit(W)
