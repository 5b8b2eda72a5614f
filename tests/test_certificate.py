"""The duality-gap certificate and dictionaries whose concepts are not of unit norm.

``NonNegLasso`` takes any dictionary. A row it reports at relative gap ``g`` must be
within ``g`` of the optimum: the gaps below are recomputed in float64 over every
concept, independently of the solver.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from sksplice.solvers import NonNegLasso
from sksplice.solvers._common import Problem, gap_from_cmax
from sksplice.solvers._working_set import _certify, _unseen_max

from ._helpers_solvers import exact_gaps, random_dictionary, unit_rows

METHODS = ["working_set", "admm"]


def mixed_norm_problems(wanted: set[int]) -> Iterator[tuple[np.ndarray, np.ndarray, float]]:
    """Problems ``wanted`` of a seeded stream: concepts of norms 1e-3 to 1e3, 20 unit
    targets, a penalty 1e-6 to 1 times the one that zeroes them."""
    rng = np.random.default_rng(123)
    for case in range(max(wanted) + 1):
        c, d = int(rng.integers(5, 150)), int(rng.integers(2, 50))
        D = unit_rows(rng.standard_normal((c, d))) * 10.0 ** rng.uniform(-3, 3, (c, 1))
        V = unit_rows(rng.standard_normal((20, d)))
        lam = float(2 * np.median((V @ D.T).max(1)) * 10 ** rng.uniform(-6, 0))
        if case in wanted:
            yield D, V, lam


@pytest.mark.parametrize("method", METHODS)
def test_mixed_norm_dictionaries_are_solved_and_their_gaps_are_not_understated(method):
    # Three of the first 159 problems of the stream, where rows were reported at gaps of
    # 9.8e-08, 1.2e-10 and 3.5e-08 (certified) whose gaps over every concept were 0.19,
    # 1.4e-03 and 0.99: the certificate recomputed only the concepts strongest before
    # the float64 refinement moved the residual, and a concept of norm 562 had turned
    # into a strong violator; the small solves' ridge, scaled by the largest norm of a
    # set, had swamped its concepts of small norm.
    # (Both gaps are known to the resolution of float64 sums: about 1e-15 ||v|| ||d|| / lam,
    # see ``_GAP_RESOLUTION``; here up to 5e-10.)
    for D, V, lam in mixed_norm_problems({97, 127, 158}):
        codes = NonNegLasso(D, device="cpu").solve(V, lam, solver=method)
        gaps = exact_gaps(D, V, codes.to_dense(), lam)
        resolution = 1e-14 * np.linalg.norm(D, axis=1).max() / lam
        assert codes.converged
        assert gaps.max() <= 1e-6
        np.testing.assert_array_less(gaps, codes.row_gaps + resolution)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("a", [1e-7, 1e-10, 1e-14])
def test_a_concept_of_small_norm_takes_its_exact_weight(method, a):
    # min (1 - a w)^2 + lam w over w >= 0, at lam = 0.1 a: w = (1 - lam / (2 a)) / a.
    # The ridge of the small solves was at least 1e-13 in absolute terms: at a = 1e-7
    # the weight came out 75% too small, and at a = 1e-14 the row was certified (gap 0)
    # with a weight 3e14 times too small, its correlation taken for round-off.
    lam = 0.1 * a
    codes = NonNegLasso(np.array([[a, 0.0]]), device="cpu").solve(
        np.array([[1.0, 0.0]]), lam, solver=method
    )
    assert codes.converged
    np.testing.assert_allclose(codes.to_dense()[0, 0], 0.95 / a, rtol=1e-9)


@pytest.mark.parametrize("scale", [1e-6, 1e3])
def test_scaling_the_dictionary_scales_the_weights(scale):
    # min ||v - w (s D)||^2 + s lam sum(w) is solved by w / s where w solves the
    # unscaled problem: the same supports, weights divided by s.
    rng = np.random.default_rng(5)
    D = random_dictionary(rng, 300, 24)
    V = unit_rows(rng.standard_normal((30, 24)))
    W = NonNegLasso(D, device="cpu").solve(V, 0.2).to_dense()
    Ws = NonNegLasso(scale * D, device="cpu").solve(V, scale * 0.2).to_dense()
    np.testing.assert_array_equal(Ws > 0, W > 0)
    np.testing.assert_allclose(Ws * scale, W, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_whose_products_overflow_are_refused_with_the_scaling_that_helps(dtype):
    # (V of 1e160 gave a NaN gap and "gap of nan > tol on 0 of 1 row(s)"; a dictionary of
    # 1e160 an internal torch assertion from its factorisation)
    rng = np.random.default_rng(2)
    D, V = random_dictionary(rng, 20, 6), unit_rows(rng.standard_normal((2, 6)))
    huge = 1e160 if dtype == "float64" else 1e30
    with pytest.raises(ValueError, match=r"^V holds values up to .*l1_penalty / s are those"):
        NonNegLasso(D, device="cpu", dtype=dtype).solve(V * huge, 0.3 * huge)
    with pytest.raises(ValueError, match=r"^dictionary holds values up to .* overflow above"):
        NonNegLasso(D * huge, device="cpu", dtype=dtype)
    # the largest values accepted give the scaled weights
    scale = 1e150 if dtype == "float64" else 1e16
    W = NonNegLasso(D, device="cpu", dtype=dtype).solve(V, 0.3).to_dense()
    Ws = NonNegLasso(D, device="cpu", dtype=dtype).solve(V * scale, 0.3 * scale).to_dense()
    np.testing.assert_allclose(Ws / scale, W, rtol=1e-5, atol=1e-7)


def _moved_residual_case() -> tuple[Problem, dict]:
    """A refined row whose residual moved towards a concept of norm 100 that was neither
    in its working set nor among its strongest candidates before the refinement: at the
    refined residual its correlation (2.0) is the largest, above the set's (1.0)."""
    D = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 100.0]], dtype=torch.float64)
    r = torch.tensor([[1.0, 0.0, 0.0]])  # the residual of the round (float32)
    r64 = torch.tensor([[1.0, 0.0, 0.02]], dtype=torch.float64)  # after the refinement
    return Problem(D=D.float(), D64=D, lam=2.0), {
        "v64": torch.tensor([[2.0, 0.0, 0.02]], dtype=torch.float64),
        "r64": r64,
        "w": torch.tensor([[1.0]], dtype=torch.float64),
        "lam": torch.tensor([2.0], dtype=torch.float64),
        "idx": torch.tensor([[0]]),
        "c_set": torch.tensor([[1.0]], dtype=torch.float64),
        "top": torch.tensor([[1]]),
        "unseen": torch.tensor([0.0], dtype=torch.float64),  # concept 2's correlation at r
        "r": r,
    }


def test_the_certificate_takes_every_correlation_where_the_residual_moved_far():
    prob, row = _moved_residual_case()
    gap = _certify(prob, **row)
    v64, r64, w, lam = row["v64"], row["r64"], row["w"], row["lam"]
    true_max = (r64 @ prob.D64.T).amax(dim=1)
    assert float(true_max) == pytest.approx(2.0)
    assert torch.equal(gap, gap_from_cmax(v64, r64, w.sum(dim=1), lam, true_max))
    # the recomputed concepts alone (as the certificate did before) understate the gap
    understated = gap_from_cmax(v64, r64, w.sum(dim=1), lam, torch.tensor([1.0]).double())
    assert float(understated) < 0.5 * float(gap)
    # and a residual that did not move is certified from the recomputed concepts
    still = dict(row, r64=row["r"].double(), v64=row["v64"] - torch.tensor([[0, 0, 0.02]]))
    assert float(_certify(prob, **still)) == float(
        gap_from_cmax(still["v64"], still["r64"], w.sum(dim=1), lam, torch.tensor([1.0]).double())
    )


@pytest.mark.parametrize("n_cand", [4, 8, 9, 16])
def test_the_concepts_not_recomputed_are_bounded_by_the_next_candidate(n_cand):
    # The working set's correlations (columns 0 and 2 refined), and the candidates
    # outside it, strongest first: the first 8 are recomputed, the rest are bounded by
    # the next one; with 8 or fewer, by the last (the concepts beyond the candidates).
    mem_val = torch.tensor([[0.9, 0.7, 0.95, -torch.inf]])
    cand_val = torch.linspace(0.8, 0.1, n_cand).unsqueeze(0).double()
    unseen = _unseen_max(mem_val, torch.tensor([[0, 2]]), cand_val)
    beyond = float(cand_val[0, min(8, n_cand - 1)])
    assert float(unseen) == pytest.approx(max(0.7, beyond))
