"""A small decomposition problem shared by the path and path-search tests."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import sksplice.path as path_module
from sksplice import SpliceTransformer


def concept_mixtures(tol: float = 1e-6) -> tuple[SpliceTransformer, np.ndarray]:
    """An unfitted transformer over 300 random concepts (32-d) and 60 noisy sparse mixtures."""
    rng = np.random.default_rng(0)
    n_concepts, d = 300, 32
    emb = rng.standard_normal((n_concepts, d))
    words = [f"concept {i}" for i in range(n_concepts)]
    mix = rng.random((60, n_concepts)) * (rng.random((60, n_concepts)) < 0.03)
    X = mix @ emb + 0.3 * rng.standard_normal((60, d))
    splicer = SpliceTransformer(vocabulary=words, concept_embeddings=emb, device="cpu", tol=tol)
    return splicer, X


def unit_mean(X: np.ndarray) -> np.ndarray:
    """The mean of the L2-normalised rows of ``X``: a centre a transformer accepts."""
    X = np.asarray(X, dtype=np.float64)
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).mean(axis=0)


def count_paths(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the number of rows of every ``splice_path`` the searches run (a spy)."""
    solved: list[int] = []
    real = path_module.splice_path

    def spy(transformer, rows, penalties):
        solved.append(len(rows))
        return real(transformer, rows, penalties)

    monkeypatch.setattr(path_module, "splice_path", spy)
    return solved


class NeedsDenserWeights(LogisticRegression):
    """A probe that refuses training weights with fewer than 15 concepts per row."""

    def fit(self, X, y, sample_weight=None):
        if X.getnnz() / X.shape[0] < 15:
            raise ValueError("fewer than 15 concepts per row")
        return super().fit(X, y, sample_weight=sample_weight)
