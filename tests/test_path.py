"""splice_path: warm-started solutions along the penalties equal independent solves."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse
from sklearn.base import clone

from sksplice import SplicePath, SpliceTransformer, splice_path

from ._helpers_path import concept_mixtures, count_paths, unit_mean

TOL = 1e-6


@pytest.fixture(scope="module")
def problem():
    splicer, X = concept_mixtures(TOL)
    return splicer.fit(X), X


def objective(splicer, X, W, penalty):
    V = splicer._center(np.asarray(X, dtype=np.float64))
    W = scipy.sparse.csr_matrix(W, dtype=np.float64)
    residual = np.asarray(W @ splicer.dictionary_) - V
    return (residual**2).sum(axis=1) + penalty * np.asarray(W.sum(axis=1)).ravel()


def test_path_equals_independent_solves(problem):
    splicer, X = problem
    penalties = [0.1, 0.4, 0.05, 0.2, 0.3]
    path = splice_path(splicer, X, penalties)
    assert isinstance(path, SplicePath) and len(path) == 5
    np.testing.assert_array_equal(path.l1_penalties, [0.4, 0.3, 0.2, 0.1, 0.05])
    assert (path.worst_gap <= TOL).all()
    for k, penalty in enumerate(path.l1_penalties):
        alone = clone(splicer).set_params(l1_penalty=float(penalty)).fit(X)
        W_alone = alone.transform(X)
        W_path = path.weights[k]
        assert W_path.shape == W_alone.shape and scipy.sparse.isspmatrix_csr(W_path)
        f_path = objective(splicer, X, W_path, penalty)
        f_alone = objective(splicer, X, W_alone, penalty)
        # both certified to a relative gap of TOL: objectives agree to that
        np.testing.assert_allclose(f_path, f_alone, rtol=2 * TOL, atol=0)
        np.testing.assert_allclose(W_path.toarray(), W_alone.toarray(), atol=2e-3)
        assert path.mean_l0[k] == pytest.approx(alone.l0(W_alone), abs=0.1)
        assert path.cosine[k] == pytest.approx(alone.score(X), abs=1e-4)
    # sparser at larger penalties, closer reconstructions at smaller ones
    assert (np.diff(path.mean_l0) >= 0).all() and (np.diff(path.cosine) >= -1e-9).all()
    frame = path.to_frame()
    assert list(frame.columns) == [
        "l1_penalty",
        "mean_l0",
        "cosine",
        "worst_gap",
        "n_iter",
    ]
    assert path.time_s > 0
    np.testing.assert_array_equal(frame["mean_l0"], path.mean_l0)
    assert list(path.concepts) == list(splicer.concepts_)


def test_a_path_shows_itself_as_its_table(problem):
    # (its repr was the dataclass's, one long line of arrays, in a notebook too)
    splicer, X = problem
    path = splice_path(splicer, X[:20], [0.1, 0.3])
    heading = f"SplicePath of 2 penalties (20 rows, {len(splicer.concepts_)} concepts; solved in "
    text = repr(path)
    assert text.startswith(heading) and "array(" not in text
    lines = text.splitlines()
    assert lines[1].split() == ["l1_penalty", "mean_l0", "cosine", "worst_gap", "n_iter"]
    assert [float(line.split()[0]) for line in lines[2:]] == [0.3, 0.1]
    page = path._repr_html_()
    assert page.startswith(f"<p>{heading}") and page.count("<tr") == 3  # (a title row, 2 rows)


def test_an_unfitted_transformer_fitted_by_the_path_says_only_its_own_error():
    # (its error was chained to "This SpliceTransformer instance is not fitted yet")
    rng = np.random.default_rng(0)
    words = [f"concept {i}" for i in range(10)]
    splicer = SpliceTransformer(
        vocabulary=words, concept_embeddings=rng.standard_normal((10, 8)), device="cpu"
    )
    with pytest.raises(ValueError, match="cannot learn the modality centre") as refused:
        splice_path(splicer, rng.standard_normal((1, 8)), [0.1])
    assert refused.value.__context__ is None


def test_a_path_of_a_frame_warns_nothing(problem):
    # The baseline was taken of the frame's values: scikit-learn warned that "X does not
    # have valid feature names" (once a fold in a search over the path).
    import warnings

    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from sksplice import splice_validation_curve

    splicer, X = problem
    frame = pd.DataFrame(X, columns=[f"d{i}" for i in range(X.shape[1])])
    y = np.arange(len(X)) % 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = clone(splicer).fit(frame)
        path = splice_path(fitted, frame, [0.1, 0.3])
        splice_validation_curve(clone(splicer), LogisticRegression(), frame, y, [0.1, 0.3], cv=2)
    said = [str(w.message) for w in caught]
    assert not [m for m in said if "feature names" in m], said
    assert path.baseline_cosine == splice_path(fitted, X, [0.1, 0.3]).baseline_cosine


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_path_weights_have_the_dtype_of_transforms(problem, dtype):
    # float16 rows gave float32 weights from transform and float64 ones from the path
    splicer, X = problem
    X = X.astype(dtype)
    path = splice_path(splicer, X, [0.3, 0.1])
    for k, penalty in enumerate(path.l1_penalties):
        alone = clone(splicer).set_params(l1_penalty=float(penalty)).fit(problem[1])
        W_alone = alone.transform(X)
        assert path.weights[k].dtype == W_alone.dtype
        np.testing.assert_allclose(path.weights[k].toarray(), W_alone.toarray(), atol=2e-3)
        assert path.cosine[k] == pytest.approx(alone.score(X), abs=1e-3)


@pytest.mark.parametrize(("scale", "dtype"), [(1e-13, np.float64), (1e-20, np.float32)])
def test_the_cosines_of_a_path_do_not_depend_on_the_scale_of_the_rows(problem, scale, dtype):
    # The weights of a row scaled by 1e-13 are those of the row; its cosine was 0.
    splicer, X = problem
    path = splice_path(splicer, X.astype(dtype), [0.3, 0.1])
    scaled = splice_path(splicer, (X.astype(np.float64) * scale).astype(dtype), [0.3, 0.1])
    for k in range(2):
        np.testing.assert_allclose(
            scaled.weights[k].toarray(), path.weights[k].toarray(), atol=1e-6
        )
    np.testing.assert_allclose(scaled.cosine, path.cosine, rtol=1e-6)
    assert (path.cosine > 0.5).all()


def test_the_path_is_solved_in_one_batch_with_fewer_rounds(problem, monkeypatch):
    # One call solves every penalty, and carrying each sample's working set from
    # one penalty to the next takes fewer rounds than solving each from scratch.
    splicer, X = problem
    calls = []
    original = SpliceTransformer._solve_path

    def spy(self, V, penalties):
        calls.append(list(penalties))
        return original(self, V, penalties)

    monkeypatch.setattr(SpliceTransformer, "_solve_path", spy)
    penalties = [0.05, 0.1, 0.2, 0.3, 0.4]
    path = splice_path(splicer, X, penalties)
    assert calls == [[0.4, 0.3, 0.2, 0.1, 0.05]]
    V = splicer._center(splicer._validate_X(X, reset=False))
    alone = [splicer._get_lasso().solve(V, p).n_iter for p in path.l1_penalties]
    assert path.n_iter[0] == alone[0]  # the first penalty starts from scratch
    assert path.n_iter[1:].sum() < sum(alone[1:])


def test_violators_at_the_warm_start_seed_the_next_solve(problem):
    # The support of the solution at a larger penalty and the concepts violating the
    # optimality conditions at its residual for the new penalty form the first working
    # sets: for a nearby penalty they hold the new support, so one round certifies.
    splicer, X = problem
    lasso = splicer._get_lasso()
    V = splicer._center(splicer._validate_X(X, reset=False))
    for previous, penalty in [(0.4, 0.3), (0.3, 0.27)]:
        start = lasso.solve(V, previous)
        cold = lasso.solve(V, penalty)
        warm = lasso.solve(V, penalty, warm_start=start.to_csr())
        assert warm.n_iter == 1 < cold.n_iter
        assert warm.converged and warm.gap <= TOL
        np.testing.assert_allclose(warm.to_dense(), cold.to_dense(), atol=1e-3)


def test_unfitted_transformer_is_cloned_and_fitted(problem):
    splicer, X = problem
    unfitted = clone(splicer)
    path = splice_path(unfitted, X, [0.2])
    assert not hasattr(unfitted, "dictionary_")
    W = clone(splicer).set_params(l1_penalty=0.2).fit(X).transform(X)
    np.testing.assert_allclose(path.weights[0].toarray(), W.toarray(), atol=2e-3)


def test_path_weights_are_refused_by_a_transformer_of_other_concepts(problem):
    # transform's weights carry the record of their concepts; the path's had none, so a
    # transformer of the same concepts in another order read them by position
    from sksplice.analysis import concept_profiles

    splicer, X = problem
    order = np.roll(np.arange(len(splicer.concepts_)), 1)
    twin = clone(splicer).set_params(
        vocabulary=[splicer.concepts_[i] for i in order],
        concept_embeddings=np.asarray(splicer.concept_embeddings)[order],
    )
    path = splice_path(twin, X, [0.3, 0.2])
    y = np.arange(len(X)) % 2
    for W in path.weights:
        with pytest.raises(ValueError, match=r"not those of this transformer.* another order"):
            splicer.top_concepts(W, kind="weights")
        with pytest.raises(ValueError, match=r"not those of `concepts`"):
            concept_profiles(W, y, concepts=splicer)
        concept_profiles(W, y, concepts=path.concepts)  # (its own concepts: taken)
    assert list(path.concepts) == [splicer.concepts_[i] for i in order]


@pytest.mark.parametrize(
    ("penalties", "error", "words"),
    [
        (0.2, TypeError, "single number"),
        ([], ValueError, "non-empty"),
        ([[0.1, 0.2]], ValueError, "1-D"),
        ([0.1, -0.2], ValueError, "l1_penalties[1]"),
        ([0.1, np.nan], ValueError, "finite"),
        # (0, least squares, could run for minutes over a wide dictionary in float32)
        ([0.1, 0.0], ValueError, "l1_penalties[1] = 0.0: every penalty must be a positive"),
        # (at 2 or more every weight of every row is zero)
        ([0.1, 2.0], ValueError, "l1_penalties[1] = 2.0: every penalty must be below 2"),
        ([5, 0.1], ValueError, "l1_penalties[0] = 5.0: every penalty must be below 2"),
        (["a"], TypeError, "l1_penalties[0] = 'a' is str, not a number"),
        # (NumPy reads "0.2" as 0.2: the transformer refused it after the dictionary)
        ([0.1, "0.2"], TypeError, "l1_penalties[1] = '0.2' is str, not a number"),
        ([0.1, True], TypeError, "l1_penalties[1] = True is bool"),
        (np.array(["0.1"]), TypeError, "dtype <U3"),
        ("0.1", TypeError, "sequence of numbers"),
        # (GridSearchCV's parameter grid, which SplicePathSearchCV stands in for)
        (
            {"splicetransformer__l1_penalty": [0.1, 0.2]},
            TypeError,
            "got a dict ('splicetransformer__l1_penalty'), a parameter grid perhaps: pass the "
            "penalties themselves",
        ),
    ],
)
def test_bad_penalties_are_refused_before_any_solve(problem, monkeypatch, penalties, error, words):
    splicer, X = problem

    def fail(*args, **kwargs):
        raise AssertionError("solved before validating")

    monkeypatch.setattr(SpliceTransformer, "_solve", fail)
    monkeypatch.setattr(SpliceTransformer, "_solve_path", fail)
    with pytest.raises(error, match=re.escape(words)):
        splice_path(splicer, X, penalties)


def test_bad_transformer_and_inputs(problem):
    splicer, X = problem
    with pytest.raises(TypeError, match="SpliceTransformer"):
        splice_path(object(), X, [0.1])
    with pytest.raises(ValueError, match="features"):
        splice_path(splicer, X[:, :5], [0.1])


def test_validation_curve_equals_scikit_learns_over_the_pipeline(problem):
    # The same splits, fits and scores as validation_curve over
    # make_pipeline(splicer, probe) and its l1_penalty, with the path per fold.
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from sksplice import splice_validation_curve

    splicer, X = problem
    V = splicer._center(np.asarray(X, dtype=np.float64))
    y = (V @ splicer.dictionary_[:3].sum(axis=0) > 0).astype(int)  # depends on 3 concepts
    probe = LogisticRegression(C=10.0, tol=1e-10, max_iter=10_000)
    penalties = [0.3, 0.05, 0.15]
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    train, test = splice_validation_curve(
        clone(splicer), probe, X, y, penalties, cv=cv, scoring="neg_log_loss"
    )
    expected_train, expected_test = sklearn_curve(splicer, probe, X, y, penalties, cv)
    assert train.shape == test.shape == (3, 3)
    # Weights agree to the solvers' tolerance, so the probes' losses agree closely.
    np.testing.assert_allclose(train, expected_train, rtol=1e-4)
    np.testing.assert_allclose(test, expected_test, rtol=1e-4)
    # The curve says something: a sparser decomposition fits the training folds worse.
    assert train[0].mean() < train[1].mean()


def sklearn_curve(splicer, probe, X, y, penalties, cv):
    """scikit-learn's validation_curve over the pipeline's l1_penalty (the reference)."""
    from sklearn.model_selection import validation_curve
    from sklearn.pipeline import make_pipeline

    return validation_curve(
        make_pipeline(clone(splicer), probe),
        X,
        y,
        param_name="splicetransformer__l1_penalty",
        param_range=penalties,
        cv=cv,
        scoring="neg_log_loss",
    )


def test_validation_curve_with_a_fixed_centre_solves_one_path(problem, monkeypatch):
    # With a fixed centre each fold would fit the same transformer: one path over all
    # rows serves every fold, and the scores are validation_curve's.
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold

    from sksplice import splice_validation_curve

    splicer, X = problem
    V = splicer._center(np.asarray(X, dtype=np.float64))
    y = (V @ splicer.dictionary_[:3].sum(axis=0) > 0).astype(int)
    fixed = clone(splicer).set_params(image_mean=unit_mean(X))
    probe = LogisticRegression(C=10.0, tol=1e-10, max_iter=10_000)
    penalties = [0.3, 0.05]
    cv = KFold(4, shuffle=True, random_state=0)
    solved = count_paths(monkeypatch)
    train, test = splice_validation_curve(
        fixed, probe, X, y, penalties, cv=cv, scoring="neg_log_loss"
    )
    assert solved == [len(X)]
    expected_train, expected_test = sklearn_curve(fixed, probe, X, y, penalties, cv)
    np.testing.assert_allclose(train, expected_train, rtol=1e-4)
    np.testing.assert_allclose(test, expected_test, rtol=1e-4)


def _weighted_problem(problem, fixed):
    """Embeddings with labels a probe can learn, far-from-uniform weights; a fixed centre."""
    splicer, X = problem
    V = splicer._center(np.asarray(X, dtype=np.float64))
    y = (V @ splicer.dictionary_[:3].sum(axis=0) > 0).astype(int)
    if fixed:
        splicer = clone(splicer).set_params(image_mean=unit_mean(X) + 0.05)
    w = np.random.default_rng(1).uniform(0.05, 3.0, size=len(y))
    return splicer, X, y, w


@pytest.mark.parametrize("fixed", [False, True], ids=["learned", "fixed"])
def test_validation_curve_passes_fit_params_to_the_probe_as_scikit_learn(problem, fixed):
    # validation_curve's params without metadata routing: cut to each fold's training
    # rows and given to the probe's fit.
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, validation_curve
    from sklearn.pipeline import make_pipeline

    from sksplice import splice_validation_curve

    splicer, X, y, w = _weighted_problem(problem, fixed)
    probe = LogisticRegression(C=10.0, tol=1e-10, max_iter=10_000)
    penalties = [0.3, 0.05]
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    args = (clone(splicer), probe, X, y, penalties)
    train, test = splice_validation_curve(
        *args, cv=cv, scoring="neg_log_loss", params={"sample_weight": w}
    )
    expected_train, expected_test = validation_curve(
        make_pipeline(clone(splicer), probe),
        X,
        y,
        param_name="splicetransformer__l1_penalty",
        param_range=penalties,
        cv=cv,
        scoring="neg_log_loss",
        params={"logisticregression__sample_weight": w},
    )
    np.testing.assert_allclose(train, expected_train, rtol=1e-4)
    np.testing.assert_allclose(test, expected_test, rtol=1e-4)
    _, unweighted = splice_validation_curve(*args, cv=cv, scoring="neg_log_loss")
    assert np.abs(unweighted - test).min() > 1e-3  # the weights changed the fits


def test_validation_curve_refuses_fit_params_the_probe_does_not_take(problem, monkeypatch):
    import sklearn
    from sklearn.linear_model import LogisticRegression

    from sksplice import splice_validation_curve

    splicer, X = problem
    monkeypatch.setattr(SpliceTransformer, "fit", lambda *a, **k: pytest.fail("fitted"))
    y = np.arange(len(X)) % 2
    args = (clone(splicer), LogisticRegression(), X, y, [0.1, 0.3])
    with pytest.raises(TypeError, match=r"'weights'.*LogisticRegression.fit takes no"):
        splice_validation_curve(*args, params={"weights": y})
    with pytest.raises(TypeError, match=r"a dict of name to value, got list"):
        splice_validation_curve(*args, params=["sample_weight"])
    with pytest.raises(ValueError, match=r"'sample_weight' has 10 entries but X has \d+ rows"):
        splice_validation_curve(*args, params={"sample_weight": np.ones(10)})
    with sklearn.config_context(enable_metadata_routing=True):
        # LogisticRegression takes sample_weight but was not told to (set_fit_request)
        with pytest.raises(ValueError, match=r"not explicitly set as requested.*"):
            splice_validation_curve(*args, params={"sample_weight": np.ones(len(y))})
        with pytest.raises(ValueError, match=r"params=\{'groups': groups\}"):
            splice_validation_curve(*args, groups=y)


@pytest.mark.parametrize("fixed", [False, True], ids=["learned", "fixed"])
def test_validation_curve_routes_metadata_as_scikit_learn(problem, fixed):
    # With metadata routing on: sample_weight to the probe and the scorer that request
    # it, groups to the splitter, all through params, as validation_curve routes them.
    import sklearn
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, make_scorer
    from sklearn.model_selection import GroupKFold, validation_curve
    from sklearn.pipeline import make_pipeline

    from sksplice import splice_validation_curve

    splicer, X, y, w = _weighted_problem(problem, fixed)
    penalties = [0.3, 0.05]
    params = {"sample_weight": w, "groups": np.arange(len(y)) % 6}
    with sklearn.config_context(enable_metadata_routing=True):
        probe = LogisticRegression(C=10.0, tol=1e-10, max_iter=10_000)
        probe.set_fit_request(sample_weight=True)
        scorer = make_scorer(log_loss, greater_is_better=False, response_method="predict_proba")
        scorer.set_score_request(sample_weight=True)
        options = dict(cv=GroupKFold(3), scoring=scorer, params=params)
        train, test = splice_validation_curve(clone(splicer), probe, X, y, penalties, **options)
        expected_train, expected_test = validation_curve(
            make_pipeline(clone(splicer), probe),
            X,
            y,
            param_name="splicetransformer__l1_penalty",
            param_range=penalties,
            **options,
        )
        _, unweighted = splice_validation_curve(
            clone(splicer),
            probe,
            X,
            y,
            penalties,
            cv=GroupKFold(3),
            scoring="neg_log_loss",
            params={"groups": params["groups"], "sample_weight": None},
        )
    np.testing.assert_allclose(train, expected_train, rtol=1e-4)
    np.testing.assert_allclose(test, expected_test, rtol=1e-4)
    assert np.abs(unweighted - test).min() > 1e-3  # the weights changed the fits and scores


def test_validation_curve_refuses_bad_penalties_before_fitting(problem, monkeypatch):
    from sklearn.linear_model import LogisticRegression

    from sksplice import splice_validation_curve

    splicer, X = problem

    def fail(*args, **kwargs):
        raise AssertionError("fitted before validating")

    monkeypatch.setattr(SpliceTransformer, "fit", fail)
    with pytest.raises(ValueError, match="finite"):
        splice_validation_curve(splicer, LogisticRegression(), X, np.arange(60) % 2, [0.1, np.inf])
    with pytest.raises(ValueError, match=r"l1_penalties\[1\] = 2.5: .*no concept at all"):
        splice_validation_curve(splicer, LogisticRegression(), X, np.arange(60) % 2, [0.1, 2.5])


def test_validation_curve_folds_in_parallel_give_the_same_scores(problem):
    from sklearn.linear_model import LogisticRegression

    from sksplice import splice_validation_curve

    splicer, X = problem
    y = np.arange(len(X)) % 2
    args = (clone(splicer), LogisticRegression(), X, y, [0.3, 0.1])
    one = splice_validation_curve(*args, cv=3)
    two = splice_validation_curve(*args, cv=3, n_jobs=2)
    np.testing.assert_allclose(two[0], one[0], rtol=1e-6)
    np.testing.assert_allclose(two[1], one[1], rtol=1e-6)
    for bad, error in [(0, ValueError), (True, TypeError), ("2", TypeError), (1.5, TypeError)]:
        with pytest.raises(error, match="n_jobs must be a non-zero integer"):
            splice_validation_curve(*args, cv=3, n_jobs=bad)


@pytest.mark.parametrize("fixed", [False, True], ids=["learned-centre", "fixed-centre"])
def test_validation_curve_takes_folds_as_boolean_masks(problem, fixed):
    # A splitter may give each fold's rows as a boolean mask (as _safe_indexing allows).
    from sklearn.linear_model import LogisticRegression

    from sksplice import splice_validation_curve

    splicer, X = problem
    y = np.arange(len(X)) % 2
    folds = [(np.arange(len(X)) % 3 != k, np.arange(len(X)) % 3 == k) for k in range(3)]
    as_indices = [(np.flatnonzero(tr), np.flatnonzero(te)) for tr, te in folds]
    transformer = clone(splicer)
    if fixed:
        transformer.set_params(image_mean=unit_mean(X))
    args = (transformer, LogisticRegression(), X, y, [0.3, 0.1])
    masks = splice_validation_curve(*args, cv=folds)
    indices = splice_validation_curve(*args, cv=as_indices)
    np.testing.assert_allclose(masks[0], indices[0], rtol=1e-6)
    np.testing.assert_allclose(masks[1], indices[1], rtol=1e-6)


def test_validation_curve_with_a_fixed_centre_solves_only_the_rows_the_folds_use(
    problem, monkeypatch
):
    # Splits that leave rows out: the one path covers the rows the folds use, no more.
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import ShuffleSplit, validation_curve
    from sklearn.pipeline import make_pipeline

    from sksplice import splice_validation_curve

    splicer, X = problem
    y = np.arange(len(X)) % 2
    fixed = clone(splicer).set_params(image_mean=unit_mean(X))
    cv = ShuffleSplit(2, train_size=20, test_size=10, random_state=0)
    used = np.unique(np.concatenate([np.r_[tr, te] for tr, te in cv.split(X)]))
    solved = count_paths(monkeypatch)
    probe = LogisticRegression()
    train, test = splice_validation_curve(fixed, probe, X, y, [0.3, 0.1], cv=cv)
    assert solved == [len(used)] and len(used) < len(X)
    expected = validation_curve(
        make_pipeline(clone(fixed), probe),
        X,
        y,
        param_name="splicetransformer__l1_penalty",
        param_range=[0.3, 0.1],
        cv=cv,
    )
    np.testing.assert_allclose(train, expected[0], rtol=1e-6)
    np.testing.assert_allclose(test, expected[1], rtol=1e-6)


def test_validation_curve_refuses_other_transformers_and_target_l0_before_fitting(
    problem, monkeypatch
):
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from sksplice import splice_validation_curve

    splicer, X = problem
    y = np.arange(len(X)) % 2

    def fail(*args, **kwargs):
        raise AssertionError("fitted before validating")

    monkeypatch.setattr(SpliceTransformer, "fit", fail)
    with pytest.raises(TypeError, match="must be a SpliceTransformer, got PCA"):
        splice_validation_curve(PCA(3), LogisticRegression(), X, y, [0.1], cv=3)
    # (the whole model, as SplicePathSearchCV takes it: the call that works is named)
    pipe = make_pipeline(clone(splicer), LogisticRegression())
    with pytest.raises(TypeError, match=re.escape("splice_validation_curve(pipe[0], pipe[1:], X")):
        splice_validation_curve(pipe, LogisticRegression(), X, y, [0.1], cv=3)
    calibrated = clone(splicer).set_params(target_l0=5)
    with pytest.raises(ValueError, match=r"target_l0=5.*target_l0=None"):
        splice_validation_curve(calibrated, LogisticRegression(), X, y, [0.1], cv=3)
    with pytest.raises(TypeError, match=r"one metric.*list of 2.*SplicePathSearchCV"):
        splice_validation_curve(
            splicer, LogisticRegression(), X, y, [0.1], cv=3, scoring=["accuracy", "roc_auc"]
        )
    with pytest.raises(ValueError, match="error_score must be 'raise' or a number"):
        splice_validation_curve(splicer, LogisticRegression(), X, y, [0.1], cv=3, error_score="x")


def test_validation_curve_refuses_a_scoring_that_returns_several_metrics(problem):
    from sklearn.linear_model import LogisticRegression

    from sksplice import splice_validation_curve

    splicer, X = problem
    y = np.arange(len(X)) % 2

    def two_metrics(probe, W, y):
        return {"a": 1.0, "b": 0.0}

    with pytest.raises(TypeError, match=r"several metrics \(a dict\).*SplicePathSearchCV"):
        splice_validation_curve(
            clone(splicer), LogisticRegression(), X, y, [0.1], cv=3, scoring=two_metrics
        )


def test_validation_curve_failed_fits_get_error_score_as_in_scikit_learn(problem):
    # The sparsest penalty (about 11 concepts per row) fails on every fold.
    from sklearn.exceptions import FitFailedWarning
    from sklearn.model_selection import StratifiedKFold

    from sksplice import splice_validation_curve

    from ._helpers_path import NeedsDenserWeights

    splicer, X = problem
    V = splicer._center(np.asarray(X, dtype=np.float64))
    y = (V @ splicer.dictionary_[:3].sum(axis=0) > 0).astype(int)
    probe = NeedsDenserWeights(C=10.0, max_iter=10_000)
    penalties = [0.3, 0.05, 0.15]
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    with pytest.warns(FitFailedWarning, match=r"3 of the 9 fits of the validation curve"):
        train, test = splice_validation_curve(
            clone(splicer), probe, X, y, penalties, cv=cv, scoring="neg_log_loss"
        )
    expected_train, expected_test = sklearn_curve(splicer, probe, X, y, penalties, cv)
    np.testing.assert_array_equal(np.isnan(test), np.isnan(expected_test))
    np.testing.assert_array_equal(np.isnan(train), np.isnan(expected_train))
    assert np.isnan(test[0]).all() and not np.isnan(test[1:]).any()
    np.testing.assert_allclose(test[1:], expected_test[1:], rtol=1e-4)
    with pytest.raises(ValueError, match="fewer than 15 concepts per row"):
        splice_validation_curve(clone(splicer), probe, X, y, penalties, cv=cv, error_score="raise")


@pytest.mark.parametrize("search", [False, True])
@pytest.mark.parametrize("scaled", [False, True])
def test_missing_targets_are_refused_before_any_path(problem, monkeypatch, search, scaled):
    # Each fold solved its path (as long as a whole search) before every probe fit
    # failed and the search said only "All 15 fits failed".
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sksplice import SplicePathSearchCV, splice_validation_curve

    splicer, X = problem
    solved = count_paths(monkeypatch)
    probe = (
        make_pipeline(StandardScaler(), LogisticRegression()) if scaled else LogisticRegression()
    )
    with pytest.raises(ValueError, match="y is None, but the probe LogisticRegression requires y"):
        if search:
            SplicePathSearchCV(make_pipeline(clone(splicer), probe), [0.1, 0.2], cv=3).fit(X)
        else:
            splice_validation_curve(splicer, probe, X, None, [0.1, 0.2], cv=3)
    assert solved == []


@pytest.mark.parametrize("search", [False, True])
@pytest.mark.parametrize(
    ("missing", "error", "message"),
    [
        (None, ValueError, r"labels `y` are missing \(None or NaN\) at row\(s\) 5, 11"),
        (np.nan, ValueError, r"labels `y` are missing \(None or NaN\) at row\(s\) 5, 11"),
        (3, TypeError, r"labels `y` mix types that cannot be ordered \(int, str\)"),
    ],
)
def test_missing_labels_are_named_by_row_before_any_path(
    problem, monkeypatch, search, missing, error, message
):
    # A None among string labels reached scikit-learn's splitter, which failed with
    # "'<' not supported between instances of 'NoneType' and 'str'", naming no row.
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from sksplice import SplicePathSearchCV, splice_validation_curve

    splicer, X = problem
    y = np.array(["cat", "dog"] * (len(X) // 2) + ["cat"] * (len(X) % 2), dtype=object)
    y[[5, 11]] = missing
    solved = count_paths(monkeypatch)
    with pytest.raises(error, match=message):
        if search:
            pipe = make_pipeline(clone(splicer), LogisticRegression())
            SplicePathSearchCV(pipe, [0.1, 0.2], cv=3).fit(X, list(y))
        else:
            splice_validation_curve(splicer, LogisticRegression(), X, y, [0.1, 0.2], cv=3)
    assert solved == []


def test_one_class_targets_are_left_to_the_probe(problem):
    # as in scikit-learn's validation_curve: a probe that takes one class scores it
    from sklearn.tree import DecisionTreeClassifier

    from sksplice import splice_validation_curve

    splicer, X = problem
    y = np.zeros(len(X), dtype=int)
    _, test = splice_validation_curve(splicer, DecisionTreeClassifier(), X, y, [0.1, 0.2], cv=3)
    assert np.all(test == 1.0)


def test_a_regression_probe_takes_one_valued_targets(problem):
    from sklearn.linear_model import Ridge

    from sksplice import splice_validation_curve

    splicer, X = problem
    train, test = splice_validation_curve(splicer, Ridge(), X, np.ones(len(X)), [0.1, 0.2], cv=3)
    assert train.shape == test.shape == (2, 3)


@pytest.mark.parametrize("search", [False, True])
def test_embeddings_no_fold_can_decompose_are_refused_before_any_fold(problem, monkeypatch, search):
    # An object array holding a dict (scikit-learn's check_dtype_object) made every
    # fold fail, and the search said only "All 6 fits of the search failed"; rows with
    # NaN were named by their place in a fold, not in X.
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from sksplice import SplicePathSearchCV, splice_validation_curve

    splicer, X = problem
    y = np.arange(len(X)) % 2
    solved = count_paths(monkeypatch)

    def run(X):
        if search:
            pipe = make_pipeline(clone(splicer), LogisticRegression())
            SplicePathSearchCV(pipe, [0.1, 0.2], cv=3).fit(X, y)
        else:
            splice_validation_curve(splicer, LogisticRegression(), X, y, [0.1, 0.2], cv=3)

    with_dict = X.astype(object)
    with_dict[4, 0] = {"foo": "bar"}
    with pytest.raises(TypeError, match=r"argument must be a string or a (real )?number"):
        run(with_dict)
    with_nan = X.copy()
    with_nan[[25, 47], 1] = np.nan
    with pytest.raises(ValueError, match=r"^X holds NaN or infinite values in 2 row\(s\): 25, 47$"):
        run(with_nan)
    with pytest.raises(TypeError, match="got sparse data"):
        run(scipy.sparse.csr_matrix(X))
    assert solved == []
    run(X.astype(object))  # (numbers held as objects are taken, as scikit-learn does)


@pytest.mark.parametrize("search", [False, True])
@pytest.mark.parametrize(
    ("params", "error", "words"),
    [
        (
            {"solver": "amdd"},
            ValueError,
            r"^SpliceTransformer: solver must be one of .*got 'amdd'$",
        ),
        (
            {"output": "dens"},
            ValueError,
            r"^SpliceTransformer: output must be 'sparse' or 'dense', got 'dens'; did you mean "
            r"'dense'\?$",
        ),
        ("missing file", FileNotFoundError, r"^Vocabulary file '.*nope\.txt' does not exist"),
        ({"vocabulary_size": 301}, ValueError, r"vocabulary_size=301 is larger than the 300"),
        ("narrow", ValueError, r"^X has 32 features but the concept dictionary has d=7 "),
    ],
)
def test_transformer_settings_no_fold_can_fit_with_are_refused_before_any_fold(
    problem, monkeypatch, tmp_path, search, params, error, words
):
    # Every fold's fit refused them, and the search said only "All 6 fits of the search
    # failed" (a vocabulary file, or the concept embeddings' width, was not looked at
    # before the folds; splice_validation_curve checked no option of the transformer).
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from sksplice import SplicePathSearchCV, splice_validation_curve

    splicer, X = problem
    splicer = clone(splicer)
    if params == "missing file":
        params = {"vocabulary": tmp_path / "nope.txt", "concept_embeddings": None}
    elif params == "narrow":
        params = {"concept_embeddings": np.ones((300, 7))}
    splicer.set_params(**params)
    y = np.arange(len(X)) % 2
    fits = []
    real_fit = SpliceTransformer._fit

    def counted(self, X):
        fits.append(len(X))
        return real_fit(self, X)

    monkeypatch.setattr(SpliceTransformer, "_fit", counted)
    with pytest.raises(error, match=words):
        if search:
            pipe = make_pipeline(splicer, LogisticRegression())
            SplicePathSearchCV(pipe, [0.1, 0.2], cv=3).fit(X, y)
        else:
            splice_validation_curve(splicer, LogisticRegression(), X, y, [0.1, 0.2], cv=3)
    assert fits == []


def test_validation_curve_names_a_probe_that_is_none_and_reads_a_generator_once(problem):
    # splice_validation_curve(transformer, None, ...) failed inside scikit-learn's tags;
    # a generator of penalties passed the check (which read a copy) and then failed in NumPy
    from sksplice import splice_validation_curve

    splicer, X = problem
    y = np.arange(len(X)) % 2
    with pytest.raises(TypeError, match=r"estimator must be the probe .* got None"):
        splice_validation_curve(splicer, None, X, y, [0.1, 0.3], cv=2)
    from sklearn.linear_model import LogisticRegression

    listed = splice_validation_curve(splicer, LogisticRegression(), X, y, [0.3, 0.1], cv=2)
    generated = splice_validation_curve(
        splicer, LogisticRegression(), X, y, (p for p in (0.3, 0.1)), cv=2
    )
    np.testing.assert_array_equal(listed[1], generated[1])


def test_warnings_of_folds_in_worker_processes_reach_the_caller_once_at_its_line(problem):
    # with n_jobs=2 each worker process showed its own copy, naming a line of sksplice,
    # and the caller's catch_warnings saw none
    import warnings

    from sklearn.linear_model import LogisticRegression

    from sksplice import splice_validation_curve
    from sksplice.exceptions import SmallMeanSampleWarning

    splicer, X = problem
    X = X[:120]  # (folds of 60 rows: the centre is learned from fewer than 100)
    y = np.arange(len(X)) % 2
    for n_jobs in (1, 2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            splice_validation_curve(
                splicer, LogisticRegression(), X, y, [0.3, 0.1], cv=2, n_jobs=n_jobs
            )
        small = [w for w in caught if issubclass(w.category, SmallMeanSampleWarning)]
        assert len(small) == 1, (n_jobs, [str(w.message) for w in caught])
        assert small[0].filename == __file__


def test_a_warning_with_attributes_from_a_worker_process_reaches_the_caller_whole():
    # A fold's DuplicateConceptWarning (two concepts embedded alike, as MiniLM embeds
    # "a" and "à") was sent back as its text and rebuilt from it alone, which its class
    # cannot be: SplicePathSearchCV(n_jobs=2) and splice_validation_curve(n_jobs=2)
    # stopped with a TypeError.
    import pickle
    import warnings

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from sksplice import SplicePathSearchCV, SpliceTransformer, splice_validation_curve
    from sksplice.exceptions import DuplicateConceptWarning

    rng = np.random.default_rng(0)
    raw = rng.normal(size=(8, 16))
    raw[5] = 2.0 * raw[4]  # the same direction: a duplicate concept
    concepts = [f"c{i}" for i in range(8)]
    X = raw[rng.integers(0, 8, size=(60, 2))].sum(axis=1) + 0.2 * rng.normal(size=(60, 16))
    y = np.arange(60) % 2
    # (the centre learned on each fold: the folds fit in the worker processes)
    splicer = SpliceTransformer(vocabulary=concepts, concept_embeddings=raw, device="cpu")
    warning = DuplicateConceptWarning("c4 and c5", [("c4", "c5")])
    copy = pickle.loads(pickle.dumps(warning))
    assert (str(copy), copy.groups) == ("c4 and c5", [("c4", "c5")])
    for run in (
        lambda: splice_validation_curve(
            splicer, LogisticRegression(), X, y, [0.3, 0.1], cv=2, n_jobs=2
        ),
        lambda: SplicePathSearchCV(
            make_pipeline(splicer, LogisticRegression()), [0.3, 0.1], cv=2, n_jobs=2
        ).fit(X, y),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run()
        duplicates = [w.message for w in caught if w.category is DuplicateConceptWarning]
        assert duplicates, [str(w.message) for w in caught]
        assert all(message.groups == [("c4", "c5")] for message in duplicates)


def test_a_wrong_transformer_setting_is_told_alike_with_and_without_an_editor():
    # With an editor in the probe, the editor's names were looked up first, and a
    # vocabulary_size of 0 was told as the vocabulary's ("a positive integer or None",
    # leaving 'auto' out) rather than as the transformer's own parameter check.
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from sksplice import (
        ConceptEditor,
        SplicePathSearchCV,
        SpliceTransformer,
        splice_validation_curve,
    )

    rng = np.random.default_rng(0)
    C = rng.normal(size=(30, 16))
    names = [f"c{i}" for i in range(30)]
    X = rng.normal(size=(60, 16)) + 2
    y = np.arange(60) % 2
    splice = SpliceTransformer(
        concept_embeddings=C, vocabulary=names, vocabulary_size=0, device="cpu"
    )
    messages = set()
    for probe in (
        LogisticRegression(),
        make_pipeline(ConceptEditor(remove=["c1"]), LogisticRegression()),
    ):
        with pytest.raises((TypeError, ValueError)) as info:
            splice_validation_curve(splice, probe, X, y, l1_penalties=[0.1, 0.2], cv=2)
        messages.add(str(info.value))
        with pytest.raises((TypeError, ValueError)) as info:
            SplicePathSearchCV(make_pipeline(splice, probe), l1_penalties=[0.1, 0.2], cv=2).fit(
                X, y
            )
        messages.add(str(info.value))
    assert len(messages) == 1 and "'auto'" in messages.pop()
