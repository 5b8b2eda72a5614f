"""Reference computations for the solver tests (plain NumPy / scikit-learn)."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import Lasso


def unit_rows(a: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm."""
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def random_dictionary(rng: np.random.Generator, c: int, d: int) -> np.ndarray:
    """Random unit-norm dictionary, centred and renormalised like SpLiCE's."""
    D = unit_rows(rng.standard_normal((c, d)))
    return unit_rows(D - D.mean(axis=0))


def clustered_dictionary(
    rng: np.random.Generator, n_clusters: int, per_cluster: int, d: int, spread: float = 0.3
) -> np.ndarray:
    """Groups of strongly correlated concepts (like synonyms in a vocabulary)."""
    centres = unit_rows(rng.standard_normal((n_clusters, d)))
    noise = rng.standard_normal((n_clusters, per_cluster, d)) * spread / np.sqrt(d)
    return unit_rows((centres[:, None, :] + noise).reshape(-1, d))


def objective(D: np.ndarray, v: np.ndarray, w: np.ndarray, lam: float) -> float:
    """SpLiCE objective ``||D^T w - v||^2 + lam * ||w||_1`` of one row."""
    r = v - D.T @ w
    return float(r @ r + lam * np.abs(w).sum())


def sklearn_reference(D: np.ndarray, V: np.ndarray, lam: float) -> np.ndarray:
    """Per-sample scikit-learn Lasso with the SpLiCE scaling (alpha = lam / (2 d))."""
    d = D.shape[1]
    out = np.zeros((V.shape[0], D.shape[0]))
    for i, v in enumerate(V):
        model = Lasso(
            alpha=lam / (2 * d),
            positive=True,
            fit_intercept=False,
            tol=1e-10,
            max_iter=200_000,
        )
        out[i] = model.fit(D.T, v).coef_
    return out


def kkt_violation(D: np.ndarray, v: np.ndarray, w: np.ndarray, lam: float) -> float:
    """Largest violation of the optimality conditions at ``w``.

    At the optimum ``2 (D r)_j = lam`` where ``w_j > 0`` and
    ``2 (D r)_j <= lam`` elsewhere, with ``r = v - D^T w``.
    """
    g = 2.0 * D @ (v - D.T @ w)
    on = w > 0
    viol_on = np.abs(g[on] - lam).max(initial=0.0)
    viol_off = np.maximum(g[~on] - lam, 0.0).max(initial=0.0)
    return float(max(viol_on, viol_off))


def brute_force_optimum(D: np.ndarray, v: np.ndarray, lam: float, n_iter: int = 20_000) -> float:
    """Optimal objective by plain projected gradient (slow, independent check)."""
    L = 2.0 * np.linalg.norm(D, 2) ** 2
    w = np.zeros(D.shape[0])
    y = w.copy()
    t = 1.0
    for _ in range(n_iter):
        grad = -2.0 * D @ (v - D.T @ y) + lam
        w_next = np.maximum(y - grad / L, 0.0)
        t_next = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        y = w_next + (t - 1.0) / t_next * (w_next - w)
        w, t = w_next, t_next
    return objective(D, v, w, lam)


def exact_gaps(D: np.ndarray, V: np.ndarray, W: np.ndarray, lam: float) -> np.ndarray:
    """Relative duality gap of each row of ``W`` (float64), the dual point scaled by the
    largest correlation over every concept (independent of the solver; the formula of
    ``sksplice/solvers/_common.py``). Also used by ``benchmarks/bench_certificate.py``."""
    R = V - W @ D
    rr, rv, vv = (R * R).sum(1), (R * V).sum(1), (V * V).sum(1)
    primal = rr + lam * W.sum(1)
    cmax = (R @ D.T).max(1)
    scale = np.where(rr > 0, rv / np.where(rr > 0, rr, 1.0), 0.0).clip(min=0.0)
    scale = np.where(cmax > 0, np.minimum(scale, 0.5 * lam / np.where(cmax > 0, cmax, 1.0)), scale)
    gap = np.maximum(primal - (2 * scale * rv - scale**2 * rr), 0.0)
    return gap / np.maximum(primal, 1e-12 * vv)
