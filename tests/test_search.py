"""SplicePathSearchCV: GridSearchCV over a pipeline's l1_penalty, one path per fold."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone, is_classifier
from sklearn.exceptions import FitFailedWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from sksplice import CLIPEmbedder, ConceptEditor, SplicePathSearchCV, SpliceTransformer

from ._helpers_path import NeedsDenserWeights, concept_mixtures, count_paths, unit_mean

PENALTIES = [0.3, 0.05, 0.15]  # not sorted: the results keep this order
KEY = "splicetransformer__l1_penalty"


@pytest.fixture(scope="module")
def problem():
    splicer, X = concept_mixtures()
    fitted = clone(splicer).fit(X)
    V = fitted._center(X)
    y = (V @ fitted.dictionary_[:3].sum(axis=0) > 0).astype(int)  # depends on 3 concepts
    return splicer, X, y


def probe():
    return LogisticRegression(C=10.0, tol=1e-10, max_iter=10_000)


def assert_same_results(search, grid, return_train_score):
    """The cv_results_ and best_* of the path search equal GridSearchCV's."""
    results, expected = search.cv_results_, grid.cv_results_
    # the same keys, in the same order (a DataFrame of them has GridSearchCV's columns)
    assert list(results) == list(expected)
    for key in ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time"):
        assert results[key].shape == expected[key].shape and (results[key] >= 0).all(), key
    assert results["params"] == expected["params"]
    param = results[f"param_{KEY}"]
    assert isinstance(param, np.ma.MaskedArray) and not param.mask.any()
    np.testing.assert_array_equal(param, expected[f"param_{KEY}"])
    assert param.dtype == expected[f"param_{KEY}"].dtype
    kinds = ("test", "train") if return_train_score else ("test",)
    for kind in kinds:
        for k in range(grid.n_splits_):
            # Weights agree to the solvers' tolerance, so the probes' scores agree closely.
            key = f"split{k}_{kind}_score"
            np.testing.assert_allclose(results[key], expected[key], rtol=1e-4)
        np.testing.assert_allclose(
            results[f"mean_{kind}_score"], expected[f"mean_{kind}_score"], rtol=1e-4
        )
        np.testing.assert_allclose(
            results[f"std_{kind}_score"], expected[f"std_{kind}_score"], rtol=1e-3, atol=1e-6
        )
    assert results["rank_test_score"].dtype == expected["rank_test_score"].dtype
    np.testing.assert_array_equal(results["rank_test_score"], expected["rank_test_score"])
    assert search.best_index_ == grid.best_index_
    assert search.best_params_ == grid.best_params_
    assert search.best_score_ == pytest.approx(grid.best_score_, rel=1e-4)
    # (NumPy scalars, as GridSearchCV's: code that asks for np.floating or .item() works)
    for attr in ("best_index_", "best_score_"):
        assert type(getattr(search, attr)) is type(getattr(grid, attr)), attr
    assert search.n_splits_ == grid.n_splits_
    assert search.multimetric_ is False


def search_and_grid(problem, **options):
    """SplicePathSearchCV and GridSearchCV over the same pipeline, folds and options."""
    splicer, X, y = problem
    pipe = make_pipeline(clone(splicer), probe())
    options = {"cv": StratifiedKFold(3, shuffle=True, random_state=0), **options}
    search = SplicePathSearchCV(pipe, PENALTIES, **options).fit(X, y)
    grid = GridSearchCV(pipe, {KEY: PENALTIES}, **options).fit(X, y)
    return search, grid


@pytest.mark.parametrize("return_train_score", [False, True])
def test_search_equals_grid_search_over_the_pipeline(problem, return_train_score):
    options = dict(scoring="neg_log_loss", return_train_score=return_train_score)
    search, grid = search_and_grid(problem, **options)
    assert_same_results(search, grid, return_train_score)
    np.testing.assert_array_equal(search.cv_results_[f"param_{KEY}"], PENALTIES)
    # The search says something: the penalties are not all ranked alike.
    assert len(set(search.cv_results_["rank_test_score"])) == 3
    if return_train_score:
        # A sparser decomposition fits the training folds worse.
        train = search.cv_results_["mean_train_score"]
        assert train[0] < train[2] < train[1]


class _NamedConceptsProbe(LogisticRegression):
    """A probe that needs the concepts as DataFrame columns (and records what it got)."""

    def fit(self, X, y):
        assert isinstance(X, pd.DataFrame) and X.columns[0] == "concept 0", type(X)
        self.index_ = list(X.index)
        sparse = isinstance(X.dtypes.iloc[0], pd.SparseDtype)
        return super().fit(X.sparse.to_coo().tocsr() if sparse else X.to_numpy(), y)


@pytest.mark.parametrize("centre", ["learned", "fixed"])
@pytest.mark.parametrize("output", ["sparse", "dense"])
def test_the_probe_gets_the_container_set_output_asks_for(problem, centre, output):
    # With set_output(transform="pandas") the pipeline hands its next step DataFrames
    # with the concepts as columns (a ConceptEditor without splice= reads the names from
    # them): the search hands the probe the same, and agrees with GridSearchCV.
    splicer, X, y = problem
    frame = pd.DataFrame(X, index=[f"row {i}" for i in range(len(X))])
    params = {"output": output, **({"image_mean": unit_mean(X)} if centre == "fixed" else {})}
    pipe = make_pipeline(
        clone(splicer).set_params(**params),
        ConceptEditor(remove=["concept 1"]),
        _NamedConceptsProbe(C=10.0, tol=1e-10, max_iter=10_000),
    ).set_output(transform="pandas")
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    options = dict(cv=cv, scoring="neg_log_loss")
    search = SplicePathSearchCV(pipe, PENALTIES, error_score="raise", **options).fit(frame, y)
    grid = GridSearchCV(pipe, {KEY: PENALTIES}, error_score="raise", **options).fit(frame, y)
    assert_same_results(search, grid, False)
    refit = search.best_estimator_[-1]
    assert refit.index_ == list(frame.index)  # the refit keeps the rows' labels too


@pytest.mark.parametrize("centre", ["learned", "fixed"])
def test_a_linear_probe_scored_by_name_gets_the_sparse_weights_of_a_pandas_pipeline(
    problem, monkeypatch, centre
):
    # With pandas output each fold's weights were made DataFrames of one sparse column
    # per concept, which LogisticRegression made CSR again: 17 to 22 s of a search of
    # 2 s on 10,000 concepts. A linear probe of scikit-learn scored by metric names
    # reads no names: it gets the CSR matrix, with the same scores as GridSearchCV's;
    # a callable scoring, which gets the weights, still gets the DataFrame.
    splicer, X, y = problem
    seen = []
    fit = LogisticRegression.fit

    def spied(self, X, y, **kwargs):
        seen.append(type(X).__name__)
        return fit(self, X, y, **kwargs)

    monkeypatch.setattr(LogisticRegression, "fit", spied)
    params = {"image_mean": unit_mean(X)} if centre == "fixed" else {}
    pipe = make_pipeline(clone(splicer).set_params(**params), probe())
    pipe.set_output(transform="pandas")
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    for scoring in (None, "accuracy", ["accuracy", "neg_log_loss"]):
        refit = "accuracy" if isinstance(scoring, list) else True
        options = dict(cv=cv, scoring=scoring, refit=refit, error_score="raise")
        seen.clear()
        search = SplicePathSearchCV(pipe, PENALTIES, **options).fit(X, y)
        # (the folds' probes, then the refit's, which gets the pipeline's DataFrame)
        assert seen == ["csr_matrix"] * (3 * len(PENALTIES)) + ["DataFrame"], (scoring, seen)
        grid = GridSearchCV(pipe, {KEY: PENALTIES}, **options).fit(X, y)
        if isinstance(scoring, list):
            for metric in scoring:
                np.testing.assert_allclose(
                    search.cv_results_[f"mean_test_{metric}"],
                    grid.cv_results_[f"mean_test_{metric}"],
                    rtol=1e-4,
                )
        else:
            assert_same_results(search, grid, False)
        assert list(search.best_estimator_[-1].feature_names_in_) == list(
            search.best_estimator_[0].get_feature_names_out()
        )
    seen.clear()
    SplicePathSearchCV(pipe, PENALTIES, cv=cv, scoring=_two_metrics, refit="acc").fit(X, y)
    assert set(seen) == {"DataFrame"}
    seen.clear()
    from sksplice import splice_validation_curve

    splice_validation_curve(pipe[0], pipe[-1], X, y, PENALTIES, cv=cv)
    assert set(seen) == {"csr_matrix"}
    # (a linear model holding another estimator may pass the names on to it)
    from sklearn.linear_model import LinearRegression, RANSACRegressor

    from sksplice.path import _reads_names

    assert _reads_names(RANSACRegressor(estimator=make_pipeline(LinearRegression())), "r2")
    assert not _reads_names(RANSACRegressor(), "r2")
    # polars refuses sparse weights in the first fold, before any probe is fitted, as
    # the pipeline does (not in the refit, after every fold)
    seen.clear()
    with pytest.raises(ValueError, match="polars output of sparse weights is not supported"):
        SplicePathSearchCV(
            clone(pipe).set_output(transform="polars"), PENALTIES, cv=cv, error_score="raise"
        ).fit(X, y)
    assert seen == []


def test_the_global_pandas_output_reaches_the_folds_in_worker_processes(problem):
    # sklearn.config_context(transform_output="pandas") must reach the folds run by
    # n_jobs=2, as GridSearchCV passes it (joblib alone does not)
    import sklearn

    splicer, X, y = problem
    pipe = make_pipeline(
        clone(splicer),
        ConceptEditor(remove=["concept 1"]),
        _NamedConceptsProbe(C=10.0, tol=1e-10, max_iter=10_000),
    )
    with sklearn.config_context(transform_output="pandas"):
        search = SplicePathSearchCV(pipe, PENALTIES, cv=3, n_jobs=2, error_score="raise")
        search.fit(pd.DataFrame(X), y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize(
    "centre", [None, "image_mean", "text_mean"], ids=["learned", "image", "text"]
)
def test_a_fixed_centre_decomposes_every_embedding_once(problem, monkeypatch, centre):
    # A centre learned from the rows makes each fold's transformer its own: a path per
    # fold. With a fixed centre every fold would fit the same transformer, so one
    # path over all rows serves every fold; the results are GridSearchCV's either way.

    splicer, X, y = problem
    mean = unit_mean(X) + 0.05
    params = {
        None: {},
        "image_mean": {"image_mean": mean},
        "text_mean": {"modality": "text", "text_mean": mean},
    }[centre]
    pipe = make_pipeline(clone(splicer).set_params(**params), probe())
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    options = dict(cv=cv, scoring="neg_log_loss", return_train_score=True)
    grid = GridSearchCV(pipe, {KEY: PENALTIES}, **options).fit(X, y)
    solved = count_paths(monkeypatch)
    search = SplicePathSearchCV(pipe, PENALTIES, **options).fit(X, y)
    # One path per fold (its training and test rows together), or one for all folds.
    assert solved == [len(X)] * (3 if centre is None else 1)
    assert_same_results(search, grid, return_train_score=True)


def test_best_estimator_is_the_refit_pipeline_and_methods_delegate(problem):
    splicer, X, y = problem
    pipe = make_pipeline(clone(splicer), probe())
    search = SplicePathSearchCV(pipe, PENALTIES, cv=3)
    assert is_classifier(search)  # so cross_val_score stratifies, as for GridSearchCV
    assert hasattr(search, "predict_proba") and not hasattr(search, "transform")
    with pytest.raises(NotFittedError):
        search.predict(X)
    search.fit(X, y)
    reference = clone(pipe).set_params(**search.best_params_).fit(X, y)
    assert search.best_estimator_ is not pipe
    assert search.best_estimator_.get_params()[KEY] == search.best_params_[KEY]
    np.testing.assert_array_equal(search.predict(X), reference.predict(X))
    np.testing.assert_allclose(search.predict_proba(X), reference.predict_proba(X), rtol=1e-6)
    np.testing.assert_allclose(
        search.predict_log_proba(X), reference.predict_log_proba(X), rtol=1e-6
    )
    np.testing.assert_allclose(
        search.decision_function(X), reference.decision_function(X), rtol=1e-6
    )
    assert search.score(X, y) == pytest.approx(reference.score(X, y))
    np.testing.assert_array_equal(search.classes_, [0, 1])
    assert search.n_features_in_ == X.shape[1]
    assert search.refit_time_ > 0
    # The default scoring (the probe's accuracy) and cv (stratified 3-fold) of GridSearchCV.
    grid = GridSearchCV(pipe, {KEY: PENALTIES}, cv=3).fit(X, y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], grid.cv_results_["mean_test_score"]
    )
    assert search.best_params_ == grid.best_params_


def test_search_with_a_transformer_in_the_probe_equals_grid_search(problem):
    # Several steps after the transformer form the probe; with output="dense" the probe
    # gets dense weights, as in the pipeline (StandardScaler centres only dense input).
    splicer, X, y = problem
    cv = KFold(3, shuffle=True, random_state=1)
    for scaler, output in [
        (StandardScaler(with_mean=False), "sparse"),
        (StandardScaler(), "dense"),
    ]:
        transformer = clone(splicer).set_params(output=output)
        pipe = Pipeline([("splice", transformer), ("scale", scaler), ("probe", probe())])
        options = dict(cv=cv, scoring="neg_log_loss", return_train_score=True)
        search = SplicePathSearchCV(pipe, PENALTIES, **options).fit(X, y)
        grid = GridSearchCV(pipe, {"splice__l1_penalty": PENALTIES}, **options).fit(X, y)
        assert search.best_params_ == grid.best_params_
        assert list(search.best_params_) == ["splice__l1_penalty"]
        for key in ("mean_test_score", "mean_train_score", "split2_test_score"):
            np.testing.assert_allclose(search.cv_results_[key], grid.cv_results_[key], rtol=1e-4)
        np.testing.assert_array_equal(
            search.cv_results_["rank_test_score"], grid.cv_results_["rank_test_score"]
        )
        np.testing.assert_array_equal(
            search.predict(X), clone(pipe).set_params(**search.best_params_).fit(X, y).predict(X)
        )


def test_without_refit_there_is_no_best_estimator(problem):
    splicer, X, y = problem
    pipe = make_pipeline(clone(splicer), probe())
    search = SplicePathSearchCV(pipe, PENALTIES, cv=3, refit=False).fit(X, y)
    assert search.best_params_[KEY] in PENALTIES
    assert not hasattr(search, "best_estimator_") and not hasattr(search, "refit_time_")
    assert not hasattr(search, "classes_")
    # (nor the input's width, which GridSearchCV takes from its refit pipeline)
    grid = GridSearchCV(pipe, {KEY: PENALTIES}, cv=3, refit=False).fit(X, y)
    assert not hasattr(search, "n_features_in_") and not hasattr(grid, "n_features_in_")
    assert SplicePathSearchCV(pipe, PENALTIES, cv=3).fit(X, y).n_features_in_ == X.shape[1]
    # As with GridSearchCV, the AttributeError's cause says why.
    for method in ("predict", "score"):
        with pytest.raises(AttributeError, match=method) as refused:
            getattr(search, method)
        assert "refit=False" in str(refused.value.__cause__)
        assert "best_params_" in str(refused.value.__cause__)


def test_folds_in_parallel_give_the_same_scores(problem):
    splicer, X, y = problem
    pipe = make_pipeline(clone(splicer), probe())
    one = SplicePathSearchCV(pipe, PENALTIES, cv=3, refit=False, return_train_score=True)
    two = clone(one).set_params(n_jobs=2)
    one.fit(X, y)
    two.fit(X, y)
    for key in ("split0_test_score", "mean_test_score", "std_test_score", "mean_train_score"):
        np.testing.assert_allclose(two.cv_results_[key], one.cv_results_[key], rtol=1e-6)
    np.testing.assert_array_equal(
        two.cv_results_["rank_test_score"], one.cv_results_["rank_test_score"]
    )


def _refusals(splicer):
    lr = LogisticRegression()
    pipe = make_pipeline(splicer, lr)
    return [
        ("not a pipeline", lr, PENALTIES, {}, TypeError, "must be a Pipeline.*LogisticRegression"),
        ("transformer alone", splicer, PENALTIES, {}, TypeError, "SpliceTransformer alone"),
        ("no probe", make_pipeline(splicer), PENALTIES, {}, ValueError, "add the probe"),
        (
            "passthrough probe",
            Pipeline([("s", splicer), ("p", "passthrough")]),
            PENALTIES,
            {},
            ValueError,
            "ends with its SpliceTransformer 's'",
        ),
        (
            "embedder first",
            make_pipeline(CLIPEmbedder(device="cpu"), splicer, lr),
            PENALTIES,
            {},
            ValueError,
            "'clipembedder' \\(CLIPEmbedder\\) comes before.*embed the images once",
        ),
        (
            "no transformer",
            make_pipeline(StandardScaler(), lr),
            PENALTIES,
            {},
            TypeError,
            "first step 'standardscaler' is StandardScaler, not a SpliceTransformer",
        ),
        (
            "target_l0",
            make_pipeline(clone(splicer).set_params(target_l0=5), lr),
            PENALTIES,
            {},
            ValueError,
            "target_l0=5.*target_l0=None",
        ),
        ("infinite penalty", pipe, [0.1, np.inf], {}, ValueError, "finite"),
        ("zero penalty", pipe, [0.1, 0.0], {}, ValueError, r"l1_penalties\[1\] = 0.0.*positive"),
        # (every weight of every row is zero from 2 on: each candidate scored the same)
        (
            "penalty of two",
            pipe,
            [0.1, 2.0, 3],
            {},
            ValueError,
            r"l1_penalties\[1\] = 2.0: every penalty must be below 2.*no concept at all",
        ),
        ("text penalty", pipe, ["0.1", "0.2"], {}, TypeError, r"l1_penalties\[0\] = '0.1' is str"),
        (
            "bad transformer option",
            make_pipeline(clone(splicer).set_params(solver="bogus"), lr),
            PENALTIES,
            {},
            ValueError,
            "solver",
        ),
        (
            "polars output of sparse weights",
            make_pipeline(clone(splicer).set_output(transform="polars"), lr),
            PENALTIES,
            {},
            ValueError,
            "polars output of sparse weights is not supported",
        ),
        (
            "refit of another type",
            pipe,
            PENALTIES,
            {"refit": 1.5},
            TypeError,
            "refit must be True, False, the name of a metric in scoring or a callable",
        ),
        ("one penalty", pipe, 0.1, {}, TypeError, "sequence of penalties"),
        ("n_jobs 0", pipe, PENALTIES, {"n_jobs": 0}, ValueError, "n_jobs must be"),
        ("n_jobs float", pipe, PENALTIES, {"n_jobs": 1.5}, TypeError, "n_jobs must be"),
        (
            "several metrics, refit=True",
            pipe,
            PENALTIES,
            {"scoring": ["accuracy", "roc_auc"]},
            ValueError,
            "several metrics in scoring \\('accuracy', 'roc_auc'\\).*e.g. refit='accuracy'",
        ),
        (
            "refit not among the metrics",
            pipe,
            PENALTIES,
            {"scoring": {"a": "accuracy", "b": "roc_auc"}, "refit": "accuracy"},
            ValueError,
            "refit='accuracy' is not one of the metrics in scoring: 'a', 'b'",
        ),
        ("empty scoring", pipe, PENALTIES, {"scoring": []}, ValueError, "empty list"),
        ("unknown scoring", pipe, PENALTIES, {"scoring": "no_such"}, ValueError, "no_such"),
        (
            "unknown scoring in a list",
            pipe,
            PENALTIES,
            {"scoring": ["accuracy", "no_such"], "refit": "accuracy"},
            ValueError,
            "no_such",
        ),
        (
            "refit string with one metric",
            pipe,
            PENALTIES,
            {"refit": "accuracy"},
            ValueError,
            "refit='accuracy' names a metric, but scoring is one metric \\(None\\)",
        ),
        (
            "error_score",
            pipe,
            PENALTIES,
            {"error_score": "skip"},
            ValueError,
            "error_score must be 'raise' or a number",
        ),
        (
            "train score",
            pipe,
            PENALTIES,
            {"return_train_score": 1},
            TypeError,
            "return_train_score must be",
        ),
    ]


REFUSALS = [case[0] for case in _refusals(SpliceTransformer())]


@pytest.mark.parametrize("name", REFUSALS)
def test_refusals_name_the_problem_before_any_fit(problem, monkeypatch, name):
    splicer, X, y = problem
    cases = {case[0]: case[1:] for case in _refusals(clone(splicer))}
    estimator, penalties, options, error, match = cases[name]

    def fail(*args, **kwargs):
        raise AssertionError("fitted before validating")

    monkeypatch.setattr(SpliceTransformer, "fit", fail)
    monkeypatch.setattr(LogisticRegression, "fit", fail)
    with pytest.raises(error, match=match):
        SplicePathSearchCV(estimator, penalties, cv=3, **options).fit(X, y)


@pytest.mark.parametrize(
    "penalties",
    [np.array([0.3, 0.1], dtype=np.float32), [1, 1.5], [1], [np.float32(0.3), 0.1]],
    ids=str,
)
def test_the_penalty_column_keeps_the_type_of_the_grid_as_in_grid_search(problem, penalties):
    # It was always float64: GridSearchCV keeps a float32 grid's float32, integers' int64.
    splicer, X, y = problem
    pipe = make_pipeline(clone(splicer), probe())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # (rows without a concept at 1.5)
        search = SplicePathSearchCV(pipe, penalties, cv=2).fit(X, y)
        grid = GridSearchCV(pipe, {KEY: penalties}, cv=2).fit(X, y)
    column, expected = search.cv_results_[f"param_{KEY}"], grid.cv_results_[f"param_{KEY}"]
    assert column.dtype == expected.dtype and not column.mask.any()
    np.testing.assert_array_equal(column, expected)
    assert search.cv_results_["params"] == grid.cv_results_["params"]


def test_a_misspelt_scoring_is_refused_in_the_name_of_the_caller(problem):
    # It named scikit-learn's check_scoring ("The 'scoring' parameter of check_scoring
    # must be ..."), a function the user did not call; GridSearchCV names itself. Then
    # it listed scikit-learn's 50 scorers in no order (1,387 characters), without the
    # close match.
    from sksplice import splice_validation_curve
    from sksplice.exceptions import InvalidParameterError

    splicer, X, y = problem
    pipe = make_pipeline(clone(splicer), probe())
    with pytest.raises(ValueError, match=r"The 'scoring' parameter of GridSearchCV must"):
        GridSearchCV(pipe, {KEY: PENALTIES}, scoring="acuracy").fit(X, y)
    said = (
        "{}: scoring 'acuracy' is not the name of a scikit-learn scorer; did you mean "
        "'accuracy' or 'top_k_accuracy'? (sklearn.metrics.get_scorer_names() lists them all)"
    )
    with pytest.raises(InvalidParameterError) as info:
        SplicePathSearchCV(pipe, PENALTIES, scoring="acuracy").fit(X, y)
    assert str(info.value) == said.format("SplicePathSearchCV")
    with pytest.raises(InvalidParameterError) as info:
        splice_validation_curve(clone(splicer), probe(), X, y, PENALTIES, scoring="acuracy")
    assert str(info.value) == said.format("splice_validation_curve")
    # (one of several metrics)
    with pytest.raises(InvalidParameterError, match=r"'f1_macroo' .*did you mean 'f1_macro'"):
        SplicePathSearchCV(pipe, PENALTIES, scoring=["accuracy", "f1_macroo"]).fit(X, y)


def test_arguments_of_another_length_and_a_cv_string_are_named(problem):
    # "Found input variables with inconsistent numbers of samples: [120, 10]" named
    # neither y nor groups; cv="5" was said as "Got 5.", its quotes lost.
    from sksplice import splice_validation_curve

    splicer, X, y = problem
    pipe = make_pipeline(clone(splicer), probe())
    n = len(y)
    with pytest.raises(ValueError, match=rf"^y has 10 labels for the {n} rows of X: give one"):
        SplicePathSearchCV(pipe, PENALTIES).fit(X, y[:10])
    with pytest.raises(ValueError, match=rf"^groups has 5 groups for the {n} rows of X"):
        SplicePathSearchCV(pipe, PENALTIES, cv=GroupKFold(2)).fit(X, y, groups=np.arange(5))
    with pytest.raises(
        ValueError, match=r"^cv='5' is a string: give the number of folds as an int \(cv=5\)"
    ):
        SplicePathSearchCV(pipe, PENALTIES, cv="5").fit(X, y)
    with pytest.raises(ValueError, match=rf"^y has 10 labels for the {n} rows of X"):
        splice_validation_curve(clone(splicer), probe(), X, y[:10], PENALTIES)
    with pytest.raises(ValueError, match=r"^cv='3' is a string"):
        splice_validation_curve(clone(splicer), probe(), X, y, PENALTIES, cv="3")


def test_search_without_targets_equals_grid_search(problem):
    # An unsupervised probe (y=None): KMeans scored by its own score (minus the inertia).
    from sklearn.cluster import KMeans

    splicer, X, _ = problem
    pipe = make_pipeline(clone(splicer), KMeans(2, n_init=1, random_state=0))
    cv = KFold(2, shuffle=True, random_state=0)
    search = SplicePathSearchCV(pipe, PENALTIES, cv=cv).fit(X)
    grid = GridSearchCV(pipe, {KEY: PENALTIES}, cv=cv).fit(X)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], grid.cv_results_["mean_test_score"], rtol=1e-4
    )
    assert search.best_params_ == grid.best_params_
    assert not hasattr(search, "classes_")
    np.testing.assert_array_equal(search.transform(X), grid.transform(X))


def test_ranks_follow_scikit_learn_with_ties_and_missing_scores():
    from sksplice.search import _store_scores

    results = {}
    scores = np.array([[np.nan, 1.0], [0.5, 0.5], [0.7, 0.7], [0.5, 0.5]])
    _store_scores(results, "test", scores, rank=True)
    # Ties share the lowest rank; a candidate without a score ranks last.
    np.testing.assert_array_equal(results["rank_test_score"], [4, 2, 1, 2])
    assert results["rank_test_score"].dtype == np.int32
    np.testing.assert_array_equal(results["split1_test_score"], [1.0, 0.5, 0.7, 0.5])
    np.testing.assert_allclose(results["std_test_score"][1:], 0.0)
    _store_scores(results, "train", np.full((2, 2), np.nan), rank=True)
    np.testing.assert_array_equal(results["rank_train_score"], [1, 1])


def with_centre(problem, centre):
    """The problem's transformer with a learned centre, or a fixed one (a shared path)."""
    splicer, X, y = problem
    if centre == "fixed":
        splicer = clone(splicer).set_params(image_mean=unit_mean(X) + 0.05)
    return splicer, X, y


def sample_weights(n):
    """Weights far enough from uniform to change the probes' fits."""
    return np.random.default_rng(1).uniform(0.05, 3.0, size=n)


@pytest.mark.parametrize("centre", ["learned", "fixed"])
@pytest.mark.parametrize("scaled", [False, True], ids=["probe", "scaler_and_probe"])
def test_fit_parameters_reach_the_probe_steps_as_in_grid_search(problem, centre, scaled):
    # As GridSearchCV passes them without metadata routing: cut to each fold's training
    # rows for the search, whole for the refit (from the shared path with a fixed centre).
    splicer, X, y = with_centre(problem, centre)
    steps = [StandardScaler(with_mean=False)] if scaled else []
    pipe = make_pipeline(clone(splicer), *steps, probe())
    w = sample_weights(len(y))
    params = {"logisticregression__sample_weight": w}
    if scaled:
        params["standardscaler__sample_weight"] = w
    options = dict(cv=StratifiedKFold(3, shuffle=True, random_state=0), scoring="neg_log_loss")
    search = SplicePathSearchCV(pipe, PENALTIES, **options).fit(X, y, **params)
    grid = GridSearchCV(pipe, {KEY: PENALTIES}, **options).fit(X, y, **params)
    assert_same_results(search, grid, return_train_score=False)
    expected = grid.best_estimator_[-1].coef_
    np.testing.assert_allclose(search.best_estimator_[-1].coef_, expected, rtol=1e-4, atol=1e-6)
    # The weights changed the fits (so the comparison above says they were passed on).
    plain = SplicePathSearchCV(pipe, PENALTIES, **options).fit(X, y)
    changed = np.abs(plain.cv_results_["mean_test_score"] - search.cv_results_["mean_test_score"])
    assert changed.max() > 1e-3
    unweighted = plain.best_estimator_[-1].coef_
    assert np.abs(unweighted - search.best_estimator_[-1].coef_).max() > 1e-2


@pytest.mark.parametrize(
    "key, match",
    [
        ("sample_weight", r"'sample_weight'.*'step__parameter'.*'splicetransformer'"),
        ("svc__sample_weight", r"'svc__sample_weight'.*'step__parameter'"),
        ("splicetransformer__sample_weight", r"'splicetransformer'.*takes none"),
        ("logisticregression__weights", r"LogisticRegression.fit takes no parameter 'weights'"),
        ("routing", r"logisticregression__sample_weight.*not routed to any object"),
        ("short", r"'logisticregression__sample_weight' has 10 entries but X has \d+ rows"),
        ("logisticregression__y", r"'y' is the data LogisticRegression.fit is given"),
    ],
)
def test_fit_parameters_no_step_takes_are_refused_before_any_fit(problem, monkeypatch, key, match):
    import sklearn

    splicer, X, y = problem
    monkeypatch.setattr(SpliceTransformer, "fit", lambda *a, **k: pytest.fail("fitted"))
    search = SplicePathSearchCV(make_pipeline(clone(splicer), probe()), PENALTIES, cv=3)
    w = np.ones(len(y))
    routing = sklearn.config_context(enable_metadata_routing=key == "routing")
    params = {"logisticregression__sample_weight" if key == "routing" else key: w}
    if key == "short":
        params = {"logisticregression__sample_weight": w[:10]}
    error = ValueError if key == "short" else TypeError
    with routing, pytest.raises(error, match=match):
        search.fit(X, y, **params)


def weighted_log_loss():
    """A scorer that requests the sample weights (metadata routing)."""
    from sklearn.metrics import log_loss, make_scorer

    scorer = make_scorer(log_loss, greater_is_better=False, response_method="predict_proba")
    return scorer.set_score_request(sample_weight=True)


@pytest.mark.parametrize("centre", ["learned", "fixed"])
@pytest.mark.parametrize("scaled", [False, True], ids=["probe", "scaler_and_probe"])
def test_metadata_is_routed_by_request_as_in_grid_search(problem, centre, scaled):
    # With metadata routing on: sample_weight to the steps that request it and to the
    # scorer, groups to the splitter, as GridSearchCV routes them.
    import sklearn
    from sklearn.model_selection import GroupKFold

    splicer, X, y = with_centre(problem, centre)
    w, groups = sample_weights(len(y)), np.arange(len(y)) % 6
    with sklearn.config_context(enable_metadata_routing=True):
        steps = [StandardScaler(with_mean=False).set_fit_request(sample_weight=True)]
        final = probe().set_fit_request(sample_weight=True)
        pipe = make_pipeline(clone(splicer), *(steps if scaled else []), final)
        options = dict(cv=GroupKFold(3), scoring=weighted_log_loss())
        search = SplicePathSearchCV(pipe, PENALTIES, **options)
        search.fit(X, y, sample_weight=w, groups=groups)
        grid = GridSearchCV(pipe, {KEY: PENALTIES}, **options)
        grid.fit(X, y, sample_weight=w, groups=groups)
        assert_same_results(search, grid, return_train_score=False)
        expected = grid.best_estimator_[-1].coef_
        np.testing.assert_allclose(search.best_estimator_[-1].coef_, expected, rtol=1e-4)
        assert search.score(X, y, sample_weight=w) == pytest.approx(
            grid.score(X, y, sample_weight=w), rel=1e-4
        )
        # The weights changed the fits and the scores (so they were passed on).
        plain = SplicePathSearchCV(pipe, PENALTIES, cv=GroupKFold(3), scoring="neg_log_loss")
        plain.fit(X, y, groups=groups, sample_weight=None)
    changed = np.abs(plain.cv_results_["mean_test_score"] - search.cv_results_["mean_test_score"])
    assert changed.max() > 1e-3
    assert np.abs(plain.best_estimator_[-1].coef_ - expected).max() > 1e-2


def test_default_scoring_takes_metadata_by_the_probe_score_request(problem, monkeypatch):
    # scoring=None scores as the pipeline's score does: by the probe's score request
    # (GridSearchCV's Pipeline.score refuses an unset request), not whatever is given.
    import sklearn
    from sklearn.exceptions import UnsetMetadataPassedError
    from sklearn.metrics import accuracy_score, make_scorer

    splicer, X, y = with_centre(problem, "fixed")
    w = sample_weights(len(y))
    options = dict(cv=StratifiedKFold(3, shuffle=True, random_state=0))
    with sklearn.config_context(enable_metadata_routing=True):
        unset = make_pipeline(clone(splicer), probe().set_fit_request(sample_weight=True))
        # (also behind another step: the probe is then a pipeline that routes by itself,
        # only when it scores, after every fit)
        scaled = make_pipeline(
            clone(splicer),
            StandardScaler(with_mean=False).set_fit_request(sample_weight=False),
            probe().set_fit_request(sample_weight=True),
        )
        for pipe in (unset, scaled):
            with monkeypatch.context() as patched:
                patched.setattr(SpliceTransformer, "fit", lambda *a, **k: pytest.fail("fitted"))
                with pytest.raises(UnsetMetadataPassedError, match=r"LogisticRegression\.score"):
                    SplicePathSearchCV(pipe, PENALTIES, **options).fit(X, y, sample_weight=w)
        # (a probe of several steps none of which takes sample_weight in score fails in
        # scikit-learn's own Pipeline.score, as in GridSearchCV: not compared)
        for requested, steps in ((False, 1), (True, 1), (True, 2)):
            final = probe().set_fit_request(sample_weight=True)
            between = ["passthrough"]  # (a step that routing leaves out)
            pipe = make_pipeline(
                clone(splicer),
                *between[: steps - 1],
                final.set_score_request(sample_weight=requested),
            )
            search = SplicePathSearchCV(pipe, PENALTIES, **options).fit(X, y, sample_weight=w)
            scorer = make_scorer(accuracy_score).set_score_request(sample_weight=requested)
            explicit = SplicePathSearchCV(pipe, PENALTIES, scoring=scorer, **options)
            explicit.fit(X, y, sample_weight=w)
            np.testing.assert_allclose(
                search.cv_results_["mean_test_score"], explicit.cv_results_["mean_test_score"]
            )


@pytest.mark.parametrize(
    "case, error, match",
    [
        ("unrequested", ValueError, r"sample_weight.*not explicitly set as requested"),
        ("unknown", TypeError, r"unexpected argument\(s\) \{'weights'\}.*not routed"),
        ("short", ValueError, r"'sample_weight' has 10 entries but X has \d+ rows"),
    ],
)
def test_metadata_nothing_takes_is_refused_before_any_fit(problem, monkeypatch, case, error, match):
    import sklearn

    splicer, X, y = problem
    monkeypatch.setattr(SpliceTransformer, "fit", lambda *a, **k: pytest.fail("fitted"))
    with sklearn.config_context(enable_metadata_routing=True):
        final = probe() if case == "unrequested" else probe().set_fit_request(sample_weight=True)
        search = SplicePathSearchCV(make_pipeline(clone(splicer), final), PENALTIES, cv=3)
        params = {"weights" if case == "unknown" else "sample_weight": np.ones(len(y))}
        if case == "short":
            params = {"sample_weight": np.ones(10)}
        with pytest.raises(error, match=match):
            search.fit(X, y, **params)


def test_score_metadata_needs_routing(problem):
    splicer, X, y = problem
    search = SplicePathSearchCV(make_pipeline(clone(splicer), probe()), PENALTIES, cv=3)
    search.fit(X, y)
    # ValueError, as GridSearchCV.score raises it
    with pytest.raises(ValueError, match=r"\['sample_weight'\].*enable_metadata_routing=True"):
        search.score(X, y, sample_weight=np.ones(len(y)))


def test_groups_reach_the_splitter_and_a_fitted_search_pickles(problem):
    import pickle

    from sklearn.model_selection import GroupKFold

    splicer, X, y = problem
    groups = np.arange(len(y)) % 6
    pipe = make_pipeline(clone(splicer), probe())
    search = SplicePathSearchCV(pipe, PENALTIES, cv=GroupKFold(3)).fit(X, y, groups=groups)
    grid = GridSearchCV(pipe, {KEY: PENALTIES}, cv=GroupKFold(3)).fit(X, y, groups=groups)
    for k in range(3):
        np.testing.assert_allclose(
            search.cv_results_[f"split{k}_test_score"],
            grid.cv_results_[f"split{k}_test_score"],
            atol=1e-4,
        )
    # Without the groups the folds differ, and so do the scores.
    plain = SplicePathSearchCV(pipe, PENALTIES, cv=3).fit(X, y)
    first = "split0_test_score"
    assert not np.allclose(plain.cv_results_[first], search.cv_results_[first])
    again = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(again.predict(X), search.predict(X))
    assert again.best_params_ == search.best_params_


def test_score_samples_go_to_the_best_pipeline(problem):
    from sklearn.mixture import GaussianMixture

    splicer, X, _ = problem
    pipe = make_pipeline(
        clone(splicer).set_params(output="dense"),
        GaussianMixture(2, covariance_type="diag", random_state=0),
    )
    search = SplicePathSearchCV(pipe, PENALTIES, cv=3).fit(X)
    np.testing.assert_allclose(search.score_samples(X), search.best_estimator_.score_samples(X))
    assert not hasattr(search, "inverse_transform")  # the mixture has none


def test_several_metrics_equal_grid_search(problem):
    """Several metrics: the same cv_results_ keys, values and best_* as GridSearchCV."""
    _, X, y = problem
    metrics = {"ll": "neg_log_loss", "acc": "accuracy"}
    search, grid = search_and_grid(problem, scoring=metrics, refit="ll", return_train_score=True)
    results, expected = search.cv_results_, grid.cv_results_
    assert list(results) == list(expected)  # (timings included, GridSearchCV's order)
    for name in metrics:
        for kind in ("test", "train"):
            for stat in ("mean", "std"):
                key = f"{stat}_{kind}_{name}"
                np.testing.assert_allclose(results[key], expected[key], rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(results[f"rank_test_{name}"], expected[f"rank_test_{name}"])
    # Each metric is ranked on its own (here accuracy ties where the log-loss does not).
    assert not np.array_equal(results["rank_test_ll"], results["rank_test_acc"])
    assert search.multimetric_ is grid.multimetric_ is True
    assert search.best_index_ == grid.best_index_
    assert search.best_params_ == grid.best_params_
    assert search.best_score_ == pytest.approx(grid.best_score_, rel=1e-4)
    assert set(search.scorer_) == {"ll", "acc"}
    assert search.score(X, y) == pytest.approx(grid.score(X, y), rel=1e-6)
    # Without refit there is no best candidate, as in GridSearchCV.
    plain = clone(search).set_params(refit=False).fit(X, y)
    assert not hasattr(plain, "best_index_") and not hasattr(plain, "best_params_")
    with pytest.raises(AttributeError, match="predict") as refused:
        plain.predict(X)
    assert "refit=False" in str(refused.value.__cause__)


def _sparsest_close_to_the_best(results):
    """The largest penalty whose mean score is within 0.03 of the best one."""
    means = results["mean_test_score"]
    ok = np.flatnonzero(means >= means.max() - 0.03)
    penalties = np.asarray(results[f"param_{KEY}"], dtype=float)
    return int(ok[np.argmax(penalties[ok])])


def test_a_callable_refit_picks_the_candidate_as_in_grid_search(problem):
    _, X, y = problem
    options = dict(scoring="neg_log_loss", refit=_sparsest_close_to_the_best)
    search, grid = search_and_grid(problem, **options)
    assert search.best_index_ == grid.best_index_
    assert search.best_params_ == grid.best_params_
    # The rule chose a sparser penalty (0.3) than the best mean score (0.05) would.
    assert search.best_params_[KEY] == 0.3
    assert search.best_index_ != int(np.argmax(search.cv_results_["mean_test_score"]))
    assert not hasattr(search, "best_score_") and not hasattr(grid, "best_score_")
    assert search.best_estimator_[0].l1_penalty == search.best_params_[KEY]
    np.testing.assert_array_equal(search.predict(X), grid.predict(X))
    # A callable that does not return a candidate's index is refused, naming what it gave.
    for bad, error, match in [
        (lambda r: 1.0, TypeError, "returned 1.0, not the integer index"),
        (lambda r: 3, IndexError, "returned 3, out of range for the 3 candidates"),
    ]:
        with pytest.raises(error, match=match):
            clone(search).set_params(refit=bad).fit(X, y)


def test_a_refit_that_names_the_one_metric_is_refit_true(problem):
    """``scoring="accuracy", refit="accuracy"`` (common GridSearchCV code) works."""
    splicer, X, y = problem
    pipe = make_pipeline(clone(splicer), probe())
    named = SplicePathSearchCV(pipe, PENALTIES, cv=3, scoring="accuracy", refit="accuracy")
    plain = clone(named).set_params(refit=True)
    named.fit(X, y)
    plain.fit(X, y)
    assert named.best_params_ == plain.best_params_
    assert named.best_score_ == plain.best_score_
    assert named.score(X, y) == plain.score(X, y)


def test_failed_fits_get_error_score_with_a_warning_as_in_grid_search(problem):
    """The sparsest penalty (about 11 concepts per row) fails on every fold."""
    splicer, X, y = problem
    pipe = make_pipeline(clone(splicer), NeedsDenserWeights(C=10.0, max_iter=10_000))
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        search = SplicePathSearchCV(pipe, PENALTIES, cv=cv, return_train_score=True).fit(X, y)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        grid = GridSearchCV(pipe, {KEY: PENALTIES}, cv=cv, return_train_score=True).fit(X, y)
    assert any(
        issubclass(w.category, FitFailedWarning)
        and re.search(r"3 of the 9 fits.*l1_penalty=0.3 \(3 fit", str(w.message), re.S)
        for w in ours
    )
    # and, as GridSearchCV, that the means it ranks hold nan (the test and train scores)
    non_finite = [str(w.message).split(":")[0] for w in ours if "non-finite" in str(w.message)]
    assert non_finite == [
        str(w.message).split(":")[0] for w in theirs if "non-finite" in str(w.message)
    ]
    assert non_finite == [
        "One or more of the test scores are non-finite",
        "One or more of the train scores are non-finite",
    ]
    for key in ("mean_test_score", "mean_train_score", "split0_test_score"):
        np.testing.assert_array_equal(
            np.isnan(search.cv_results_[key]), np.isnan(grid.cv_results_[key])
        )
        assert (
            np.isnan(search.cv_results_[key][0]) and not np.isnan(search.cv_results_[key][1:]).any()
        )
    np.testing.assert_array_equal(
        search.cv_results_["rank_test_score"], grid.cv_results_["rank_test_score"]
    )
    assert search.best_params_ == grid.best_params_
    # A number instead of nan, and 'raise' for the probe's own error.
    with pytest.warns(FitFailedWarning, match="error_score=-1"):
        low = SplicePathSearchCV(pipe, PENALTIES, cv=cv, error_score=-1).fit(X, y)
    np.testing.assert_array_equal(low.cv_results_["split1_test_score"][0], -1.0)
    with pytest.raises(ValueError, match="fewer than 15 concepts per row"):
        SplicePathSearchCV(pipe, PENALTIES, cv=cv, error_score="raise").fit(X, y)
    # When nothing can be fitted the search says so rather than choosing among nans.
    with pytest.raises(ValueError, match=r"(?s)All 6 fits of the search failed.*fewer than 15"):
        SplicePathSearchCV(pipe, [0.3, 0.25], cv=cv).fit(X, y)


def test_a_fold_whose_transformer_fails_scores_error_score_for_every_penalty(problem, monkeypatch):
    import sksplice.path as path_module

    splicer, X, y = problem
    pipe = make_pipeline(clone(splicer), probe())
    real = path_module.splice_path
    calls = []

    def second_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the second fold's path")
        return real(*args, **kwargs)

    monkeypatch.setattr(path_module, "splice_path", second_fails)
    failed = r"3 of the 9 fits.*every l1_penalty of the fold \(the transformer\) \(3 fit"
    with pytest.warns(FitFailedWarning, match=failed):
        search = SplicePathSearchCV(pipe, PENALTIES, cv=3, refit=False).fit(X, y)
    assert np.isnan(search.cv_results_["split1_test_score"]).all()
    assert not np.isnan(search.cv_results_["split0_test_score"]).any()
    assert np.isnan(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("folds", ["all rows", "some rows"])
def test_a_fixed_centre_refits_from_the_shared_path_without_a_solve(problem, monkeypatch, folds):
    # With a fixed centre the path over the rows the folds use holds the refit's weights
    # at the best penalty, so the refit solves nothing; a row in no fold needs the solve.
    splicer, X, y = problem
    fixed = clone(splicer).set_params(image_mean=unit_mean(X) + 0.05)
    pipe = make_pipeline(fixed, StandardScaler(with_mean=False), probe())
    if folds == "all rows":
        cv = StratifiedKFold(3, shuffle=True, random_state=0)
    else:
        # Rows 0 and 1 are in no fold (neither trained on nor tested).
        cv = [(train + 2, test + 2) for train, test in KFold(3).split(X[2:])]
    transforms = []
    real = SpliceTransformer._weights

    def counting(self, X_valid):
        transforms.append(len(X_valid))
        return real(self, X_valid)

    monkeypatch.setattr(SpliceTransformer, "_weights", counting)
    search = SplicePathSearchCV(pipe, PENALTIES, cv=cv, scoring="neg_log_loss").fit(X, y)
    assert transforms == ([] if folds == "all rows" else [len(X)])
    reference = clone(pipe).set_params(**search.best_params_).fit(X, y)
    best = search.best_estimator_
    assert [type(step) for _, step in best.steps] == [type(step) for _, step in pipe.steps]
    np.testing.assert_array_equal(best[0].mean_, reference[0].mean_)
    # The path's weights and a transform's are the same certified solutions.
    np.testing.assert_allclose(
        best[0].transform(X).toarray(), reference[0].transform(X).toarray(), atol=1e-5
    )
    np.testing.assert_allclose(search.predict_proba(X), reference.predict_proba(X), atol=1e-4)
    np.testing.assert_array_equal(search.predict(X), reference.predict(X))
    assert best[1].n_features_in_ == len(splicer.vocabulary)


@pytest.mark.parametrize("case", ["memory", "dense pandas output"])
def test_a_fixed_centre_refit_fits_as_the_pipeline_would(problem, tmp_path, case):
    # A pipeline that caches its steps fits clones of them, and dense weights are wrapped
    # by set_output: the refit then fits the pipeline itself, as GridSearchCV would.
    splicer, X, y = problem
    fixed = clone(splicer).set_params(image_mean=unit_mean(X) + 0.05)
    if case == "memory":
        steps = [("splicetransformer", fixed), ("scale", StandardScaler(with_mean=False))]
        pipe = Pipeline([*steps, ("probe", probe())], memory=str(tmp_path))
    else:
        fixed.set_params(output="dense").set_output(transform="pandas")
        pipe = make_pipeline(fixed, probe())
    search = SplicePathSearchCV(pipe, PENALTIES, cv=3, scoring="neg_log_loss").fit(X, y)
    reference = clone(pipe).set_params(**search.best_params_).fit(X, y)
    # (With memory, the scaler of best_estimator_ itself was not fitted before.)
    np.testing.assert_allclose(search.predict_proba(X), reference.predict_proba(X), atol=1e-4)
    if case == "dense pandas output":
        # The probe saw the concept names, as in the pipeline's own fit.
        names = search.best_estimator_[-1].feature_names_in_
        np.testing.assert_array_equal(names, reference[-1].feature_names_in_)


def _two_metrics(probe, W, y):
    """A callable scoring that returns two metrics."""
    from sklearn.metrics import accuracy_score, log_loss

    return {"acc": accuracy_score(y, probe.predict(W)), "ll": -log_loss(y, probe.predict_proba(W))}


def test_a_callable_scoring_with_several_metrics_refits_by_name(problem):
    # GridSearchCV calls scoring with the pipeline and X, this search with the probe and
    # the weights: the same probe predictions either way, hence the same scores.
    _, X, y = problem
    search, grid = search_and_grid(problem, scoring=_two_metrics, refit="ll")
    assert search.multimetric_ is grid.multimetric_ is True
    for key in ("mean_test_ll", "mean_test_acc"):
        np.testing.assert_allclose(search.cv_results_[key], grid.cv_results_[key], rtol=1e-4)
    assert search.best_index_ == grid.best_index_
    assert search.best_score_ == pytest.approx(grid.best_score_, rel=1e-4)
    # A name that the callable does not return is refused once its metrics are known.
    with pytest.raises(ValueError, match="refit='auc' is not one of the metrics in scoring"):
        clone(search).set_params(refit="auc").fit(X, y)
    # Several metrics and a callable refit: score does not know which metric to give.
    picked = clone(search).set_params(refit=lambda results: 1).fit(X, y)
    assert picked.best_index_ == 1 and not hasattr(picked, "best_score_")
    with pytest.raises(ValueError, match="score needs refit to name the metric"):
        picked.score(X, y)


def test_a_pipeline_given_whole_to_the_validation_curve_is_told_what_to_give(problem):
    # splice_validation_curve(pipe, X, y, penalties), as SplicePathSearchCV takes the
    # pipeline, met only Python's "missing 1 required positional argument"
    from sksplice import splice_validation_curve

    splicer, X, y = problem
    pipe = make_pipeline(clone(splicer), probe())
    with pytest.raises(TypeError, match=r"got a Pipeline: pass its SpliceTransformer"):
        splice_validation_curve(pipe, X, y, PENALTIES, cv=3)
    with pytest.raises(TypeError, match=r"got a Pipeline: pass its SpliceTransformer"):
        splice_validation_curve(pipe, X, y, l1_penalties=PENALTIES, cv=3)
    with pytest.raises(TypeError, match=r"^splice_validation_curve\(\) needs l1_penalties: "):
        splice_validation_curve(splicer, probe(), X, y, cv=3)
    with pytest.raises(TypeError, match=r"^splice_validation_curve\(\) needs l1_penalties: "):
        splice_validation_curve(splicer, probe(), X)


def test_a_negative_or_non_integer_verbose_is_refused_before_any_fit(problem, monkeypatch, capsys):
    # verbose=-1 was taken and, being true, showed every fold although "0 is quiet".
    from sksplice import splice_validation_curve

    splicer, X, y = problem
    pipe = make_pipeline(clone(splicer), probe())

    def fail(*args, **kwargs):
        raise AssertionError("fitted before validating")

    with monkeypatch.context() as m:
        m.setattr(SpliceTransformer, "fit", fail)
        for bad, error, match in [
            (-1, ValueError, r"verbose must be 0 \(quiet\) or more, got -1$"),
            (np.int64(-2), ValueError, r"verbose must be 0 \(quiet\) or more, got "),
            ("yes", TypeError, r"verbose must be a bool or an int, got 'yes' \(str\)$"),
            (0.5, TypeError, r"verbose must be a bool or an int, got 0.5 \(float\)$"),
        ]:
            # (the estimator's named: each step of a Pipeline may have a verbose)
            with pytest.raises(error, match="^SplicePathSearchCV: " + match):
                SplicePathSearchCV(pipe, PENALTIES, cv=3, verbose=bad).fit(X, y)
            with pytest.raises(error, match="^" + match):
                splice_validation_curve(splicer, probe(), X, y, PENALTIES, cv=3, verbose=bad)
    # (as the transformer refuses it)
    with pytest.raises(
        ValueError, match=r"^SpliceTransformer: verbose must be 0 \(quiet\) or more, got -1$"
    ):
        clone(splicer).set_params(verbose=-1).fit(X)
    capsys.readouterr()
    for quiet in (0, False, np.int64(0), np.False_):
        SplicePathSearchCV(pipe, PENALTIES[:1], cv=3, verbose=quiet).fit(X, y)
    assert "SplicePathSearchCV" not in capsys.readouterr().err


@pytest.mark.parametrize("centre", ["learned", "fixed"])
def test_verbose_shows_each_fold_on_standard_error(problem, capsys, monkeypatch, centre):
    # a search of a few thousand rows ran for minutes without a line; stdout stays clean
    import logging

    from sksplice import splice_validation_curve

    monkeypatch.setattr(logging.root, "handlers", [])  # (as in a plain script)
    splicer, X, y = problem
    splicer = clone(splicer)
    if centre == "fixed":
        splicer.set_params(image_mean=clone(splicer).fit(X).mean_)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    pipe = make_pipeline(splicer, probe())
    quiet = SplicePathSearchCV(pipe, PENALTIES, cv=cv).fit(X, y)
    assert capsys.readouterr() == ("", "")
    loud = SplicePathSearchCV(pipe, PENALTIES, cv=cv, verbose=1).fit(X, y)
    out, err = capsys.readouterr()
    assert out == ""
    lines = [line for line in err.splitlines() if "SplicePathSearchCV" in line]
    assert [line.split(": fold ")[1].split(" (")[0] for line in lines[1:]] == [
        "1 of 3 scored",
        "2 of 3 scored",
        "3 of 3 scored",
    ]
    first = "one path over" if centre == "fixed" else "3 folds, each decomposed along one path"
    assert first in lines[0]
    np.testing.assert_array_equal(
        loud.cv_results_["mean_test_score"], quiet.cv_results_["mean_test_score"]
    )
    splice_validation_curve(splicer, probe(), X, y, PENALTIES, cv=cv, verbose=1)
    out, err = capsys.readouterr()
    assert out == "" and "splice_validation_curve: fold 3 of 3 scored" in err


class _CountingEmbedder:
    """Unit text embeddings seeded by the text, counting the texts embedded (class-wide:
    clone() copies the embedder)."""

    n_texts = 0

    def embed_text(self, texts):
        type(self).n_texts += len(texts)
        seeds = [sum(map(ord, t)) for t in texts]
        E = np.stack([np.random.default_rng(s).normal(size=16) for s in seeds])
        return E / np.linalg.norm(E, axis=1, keepdims=True)


@pytest.mark.parametrize("who", ["search", "curve"])
@pytest.mark.parametrize("probe_steps", ["editor_and_probe", "editor_then_pipeline", "frozen"])
def test_a_misspelt_editor_concept_is_refused_before_the_vocabulary_is_embedded(who, probe_steps):
    """A ConceptEditor after the transformer names its concepts: a typo fails every
    fold, so it is refused before anything is fitted or embedded, naming the step.
    An editor with its own frozen transformer was left to its fit in every fold."""
    from sklearn.frozen import FrozenEstimator

    from sksplice import splice_validation_curve

    embedder = _CountingEmbedder()
    words = ["dog", "do", "cat", "snow", "grass", "sky", "red", "car"]
    rng = np.random.default_rng(0)
    X = embedder.embed_text(words) @ rng.random((16, 16)) + 0.1 * rng.normal(size=(16,))
    X = np.vstack([X, X + 0.05 * rng.normal(size=X.shape)] * 3)
    y = np.arange(len(X)) % 2
    splicer = SpliceTransformer(
        embedder=embedder, vocabulary=words, image_mean=unit_mean(X), device="cpu"
    ).set_output(transform="pandas")
    frozen = FrozenEstimator(clone(splicer).fit(X)) if probe_steps == "frozen" else None
    _CountingEmbedder.n_texts = 0

    def run(remove):
        editor = ConceptEditor(remove=remove, splice=frozen)
        if probe_steps in ("editor_and_probe", "frozen"):
            rest = [editor, probe()]
        else:
            rest = [make_pipeline(editor, StandardScaler(with_mean=False), probe())]
        if who == "search":
            pipe = make_pipeline(clone(splicer), *rest)
            return SplicePathSearchCV(pipe, [0.1, 0.2], cv=2).fit(X, y)
        after = rest[0] if len(rest) == 1 else make_pipeline(*rest)
        return splice_validation_curve(clone(splicer), after, X, y, [0.1, 0.2], cv=2)

    match = r"step 'concepteditor' of the pipeline: concepts in `remove` not in the "
    match += r"vocabulary: 'dgo' \(did you mean 'dog'"
    with pytest.raises(ValueError, match=match):
        run(["dgo", "cat"])
    assert _CountingEmbedder.n_texts == 0
    # An editor that needs `splice` for its neighbours (or to recompose), without one,
    # likewise: it failed every fold ("All 4 fits of the search failed").
    if who == "search" and probe_steps == "editor_and_probe":
        expanding = ConceptEditor(remove=["dog"], n_neighbors=2)
        recomposing = ConceptEditor(remove=["dog"], output="embedding")
        for editor, said in ((expanding, "n_neighbors"), (recomposing, "output='embedding'")):
            pipe = make_pipeline(clone(splicer), editor, probe())
            refused = r"step 'concepteditor' of the pipeline: " + said + r".* needs? `splice`"
            with pytest.raises(ValueError, match=refused):
                SplicePathSearchCV(pipe, [0.1, 0.2], cv=2).fit(X, y)
            after = make_pipeline(clone(editor), probe())
            with pytest.raises(ValueError, match=refused):
                splice_validation_curve(clone(splicer), after, X, y, [0.1, 0.2], cv=2)
            assert _CountingEmbedder.n_texts == 0
        # An editor that names concepts without `splice`, after a transformer whose
        # output names no columns (an array): every fold fitted the transformer, solved
        # its path and failed ("All 4 fits of the search failed", the cause in tracebacks).
        from sksplice import dictionary

        unnamed = SpliceTransformer(
            embedder=embedder, vocabulary=words, image_mean=unit_mean(X), device="cpu"
        )
        refused = r"step 'concepteditor' of the pipeline: the concept weights carry no concept"
        for editor in (ConceptEditor(remove=["dog"]), ConceptEditor(keep=["dog", "cat"])):
            pipe = make_pipeline(clone(unnamed), editor, probe())
            with pytest.raises(ValueError, match=refused):
                SplicePathSearchCV(pipe, [0.1, 0.2], cv=2).fit(X, y)
            after = make_pipeline(clone(editor), probe())
            with pytest.raises(ValueError, match=refused):
                splice_validation_curve(clone(unnamed), after, X, y, [0.1, 0.2], cv=2)
            assert _CountingEmbedder.n_texts == 0
            # (the same pipeline given pandas output as a whole is taken)
            with sklearn.config_context(transform_output="pandas"):
                search = SplicePathSearchCV(clone(pipe), [0.1, 0.2], cv=2).fit(X, y)
            assert np.isfinite(search.best_score_)
            dictionary.clear_memory_cache()  # (what the last lines count: embedded afresh)
            _CountingEmbedder.n_texts = 0
    # Known names go on to the fits, which embed the vocabulary once for all of them
    # (the copies clone makes of the embedder find it); with the frozen transformer,
    # whose fit embedded it already, not at all.
    run(["dog", "cat"])
    assert _CountingEmbedder.n_texts == (0 if probe_steps == "frozen" else len(words))


def test_a_generator_of_penalties_is_refused_by_name(problem):
    # it was read by the check, then failed in NumPy with "float() argument must be ..."
    splicer, X, y = problem
    pipe = make_pipeline(clone(splicer), LogisticRegression())
    with pytest.raises(TypeError, match=r"l1_penalties must be a sequence that can be read more"):
        SplicePathSearchCV(pipe, (p for p in PENALTIES), cv=2).fit(X, y)


class _InterruptedProbe(LogisticRegression):
    """A probe whose fit is interrupted (Ctrl-C) after the first ``n_fits`` fits."""

    n_fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).n_fits += 1
        if type(self).n_fits > 6:
            raise KeyboardInterrupt
        return super().fit(X, y, sample_weight)


def test_an_interrupted_search_is_left_as_it_was(problem):
    # Ctrl-C during the fits left n_features_in_ alone: predict raised AttributeError
    # ('best_estimator_') instead of NotFittedError; a fitted search kept half new results.
    splicer, X, y = problem
    _InterruptedProbe.n_fits = 0
    search = SplicePathSearchCV(
        make_pipeline(clone(splicer), _InterruptedProbe()), [0.2, 0.3], cv=3
    )
    with pytest.raises(KeyboardInterrupt):
        search.fit(X, y)
    assert not [k for k in vars(search) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        search.predict(X)
    _InterruptedProbe.n_fits = -1000
    search.fit(X, y)
    before = {k: v for k, v in vars(search).items() if k.endswith("_")}
    _InterruptedProbe.n_fits = 0
    with pytest.raises(KeyboardInterrupt):
        search.set_params(cv=4).fit(X, y)
    assert {k: v for k, v in vars(search).items() if k.endswith("_")}.keys() == before.keys()
    assert all(vars(search)[k] is v for k, v in before.items())
    assert search.predict(X).shape == (len(X),)


def test_folds_at_large_penalties_do_not_warn_of_removed_concepts_in_no_row(problem):
    # At the large penalties of a path, a removed concept is in no row of a fold: every
    # fold's editor warned that removing it changed nothing, of a refit that holds it.
    import warnings

    splicer, X, y = problem
    pipe = make_pipeline(
        clone(splicer), ConceptEditor(remove=["concept 0"]), LogisticRegression()
    ).set_output(transform="pandas")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = SplicePathSearchCV(pipe, [0.05, 0.6, 0.9], cv=3, error_score="raise")
        search.fit(pd.DataFrame(X), y)
    assert search.best_params_ == {"splicetransformer__l1_penalty": 0.05}
    said = [str(w.message) for w in caught if "named in `remove`" in str(w.message)]
    assert said == []
    held = search.best_estimator_[0].transform(pd.DataFrame(X))["concept 0"]
    assert (held != 0).any()  # (the refit holds the concept)


@pytest.mark.parametrize("who", ["search", "curve"])
@pytest.mark.parametrize("nested", [False, True])
def test_an_invalid_probe_parameter_is_refused_before_the_vocabulary_is_embedded(who, nested):
    """LogisticRegression(solver="lbgfs") failed at the probe's first fit, after the
    vocabulary was embedded and the first fold decomposed: now before anything."""
    import time

    from sklearn.utils._param_validation import InvalidParameterError

    from sksplice import splice_validation_curve

    embedder = _CountingEmbedder()
    words = ["dog", "cat", "snow", "grass", "sky", "red", "car", "tree"]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 16))
    y = np.arange(24) % 2
    _CountingEmbedder.n_texts = 0
    splicer = SpliceTransformer(
        embedder=embedder, vocabulary=words, image_mean=unit_mean(X), device="cpu"
    )
    bad = LogisticRegression(solver="lbgfs")
    after = make_pipeline(StandardScaler(), bad) if nested else bad
    start = time.perf_counter()
    with pytest.raises(InvalidParameterError, match=r"'solver' parameter of LogisticRegression"):
        if who == "search":
            SplicePathSearchCV(make_pipeline(splicer, after), [0.1, 0.2], cv=2).fit(X, y)
        else:
            splice_validation_curve(splicer, after, X, y, [0.1, 0.2], cv=2)
    assert _CountingEmbedder.n_texts == 0
    assert time.perf_counter() - start < 1.0


def test_the_early_probe_check_follows_skip_parameter_validation():
    # sklearn.set_config(skip_parameter_validation=True) turns scikit-learn's checks of
    # parameters off: the early check of the probe is off too, as the probe's fit would
    # not check them either.
    import sklearn
    from sklearn.utils._param_validation import InvalidParameterError

    from sksplice.path import _check_probe_params

    bad = make_pipeline(StandardScaler(), LogisticRegression(C=-1.0))
    with pytest.raises(InvalidParameterError, match=r"'C' parameter of LogisticRegression"):
        _check_probe_params(bad)
    with sklearn.config_context(skip_parameter_validation=True):
        _check_probe_params(bad)  # (nothing refused)


def test_fit_and_score_times_add_up_to_the_time_of_the_folds(problem):
    # cv_results_ had no timings: code written for GridSearchCV that reads
    # mean_fit_time failed with a KeyError. A candidate's fit time is its share of its
    # fold's transformer fit and path plus its probe's fit.
    import time

    splicer, X, y = problem
    pipe = make_pipeline(clone(splicer), probe())
    search = SplicePathSearchCV(pipe, PENALTIES, cv=3, refit=False, return_train_score=True)
    started = time.perf_counter()
    search.fit(X, y)
    elapsed = time.perf_counter() - started
    results = search.cv_results_
    fit, score = results["mean_fit_time"], results["mean_score_time"]
    assert fit.shape == score.shape == (len(PENALTIES),)
    assert (fit > 0).all() and (score > 0).all()
    assert (results["std_fit_time"] >= 0).all() and (results["std_score_time"] >= 0).all()
    total = search.n_splits_ * (fit.sum() + score.sum())
    assert 0.3 * elapsed < total <= elapsed
    frame = pd.DataFrame(results)
    assert list(frame.columns[:4]) == [
        "mean_fit_time",
        "std_fit_time",
        "mean_score_time",
        "std_score_time",
    ]


def test_penalties_far_from_the_useful_range_are_warned_about_as_by_grid_search(problem):
    # GridSearchCV's transforms warned about a penalty that left the rows without a
    # concept, or nearly dense; the path search returned the same scores in silence
    from sksplice.path import splice_validation_curve

    splicer, X, y = problem
    penalties = [0.05, 1.95]
    pipe = make_pipeline(clone(splicer), probe())
    cv = StratifiedKFold(2, shuffle=True, random_state=0)

    def said(run):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run()
        return {
            (type(w.message).__name__, re.sub(r"\d+ of \d+", "N", str(w.message)).split(":")[0])
            for w in caught
            if issubclass(w.category, UserWarning) and "l1_penalty" in str(w.message)
        }

    grid = said(lambda: GridSearchCV(pipe, {KEY: penalties}, cv=cv, refit=False).fit(X, y))
    assert ("UserWarning", "every row of X decomposes to no concept at l1_penalty=1.95") in grid
    assert said(lambda: SplicePathSearchCV(pipe, penalties, cv=cv, refit=False).fit(X, y)) == grid
    curve = said(lambda: splice_validation_curve(clone(splicer), probe(), X, y, penalties, cv=cv))
    assert curve == grid
