"""One home for parameter and input checks: one rule per mistake, one type per kind."""

from __future__ import annotations

import re
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.linear_model import LogisticRegression

import sksplice._weights as weights_module
import sksplice.solvers._lasso as lasso_module
import sksplice.transformer as transformer_module
from sksplice import (
    CLIPEmbedder,
    ConceptEditor,
    ConceptRetriever,
    SentenceTransformerEmbedder,
    SpliceTransformer,
    ZeroShotClassifier,
    load_vocabulary,
    probe_concepts,
)
from sksplice._validation import (
    Flag,
    Integer,
    Number,
    Options,
    check_finite_rows,
    check_flag,
    check_int,
    check_number,
    check_option,
    validate_params,
)
from sksplice.analysis import rank_concepts
from sksplice.dictionary import embed_vocabulary
from sksplice.editing import concept_neighbors
from sksplice.solvers import NonNegLasso
from sksplice.vocabulary import authors_index_to_concept

from ._helpers_transformer import CountingEmbedder

DIM = 8
N_CONCEPTS = 20


def _fitted(**kwargs):
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(N_CONCEPTS, DIM))
    X = rng.normal(size=(120, DIM)) + 0.5
    splice = SpliceTransformer(
        vocabulary=[f"concept {i}" for i in range(N_CONCEPTS)],
        concept_embeddings=raw,
        l1_penalty=0.05,
        device="cpu",
        **kwargs,
    )
    return splice.fit(X), X


# ------------------------------------------------------------------ the rules
@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (True, TypeError, "n must be a positive integer, got True (bool)"),
        (
            np.True_,
            TypeError,
            f"n must be a positive integer, got {np.True_!r} ({type(np.True_).__name__})",
        ),
        (2.0, TypeError, "n must be a positive integer, got 2.0 (float)"),
        ("3", TypeError, "n must be a positive integer, got '3' (str)"),
        (None, TypeError, "n must be a positive integer, got None (NoneType)"),
        (0, ValueError, "n must be a positive integer, got 0"),
        (-4, ValueError, "n must be a positive integer, got -4"),
    ],
)
def test_integer_rule_bad_type_is_typeerror_bad_value_is_valueerror(value, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        check_int(value, "n")


def test_integer_rule_accepts_integers_and_none_when_allowed():
    assert check_int(3, "n") == 3
    assert type(check_int(np.int64(3), "n")) is int
    assert check_int(0, "n", low=0) == 0
    assert check_int(None, "n", allow_none=True) is None
    with pytest.raises(ValueError, match=r"^n must be an integer >= 2 or None, got 1$"):
        check_int(1, "n", low=2, allow_none=True)
    with pytest.raises(ValueError, match=r"^n must be a non-negative integer, got -1$"):
        check_int(-1, "n", low=0)


@pytest.mark.parametrize(
    ("value", "error", "shown"),
    [
        (True, TypeError, "True (bool)"),
        ("0.1", TypeError, "'0.1' (str)"),
        (None, TypeError, "None (NoneType)"),
        (0.0, ValueError, "0.0"),
        (-1, ValueError, "-1"),
        (float("nan"), ValueError, "nan"),
        (float("inf"), ValueError, "inf"),
    ],
)
def test_number_rule_bad_type_is_typeerror_bad_value_is_valueerror(value, error, shown):
    message = f"tol must be a positive finite number, got {shown}"
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        check_number(value, "tol", low=0.0, closed="neither")


def test_number_rule_intervals_and_their_words():
    assert check_number(np.float32(0.5), "x", low=0.0, closed="neither") == 0.5
    assert check_number(0, "x", low=0.0, closed="left") == 0.0
    assert check_number(-1, "x", low=-1.0, high=1.0) == -1.0
    assert check_number(None, "x", low=0.0, allow_none=True) is None
    for value, kwargs, words in [
        (1.5, {"low": -1.0, "high": 1.0}, "a number in [-1, 1]"),
        (1.0, {"low": 0.0, "high": 1.0, "closed": "neither"}, "a number in (0, 1)"),
        (-0.5, {"low": 0.0, "closed": "left"}, "a finite non-negative number"),
        (float("inf"), {}, "a finite number"),
    ]:
        with pytest.raises(ValueError, match=f"^x must be {re.escape(words)}, got"):
            check_number(value, "x", **kwargs)


def test_option_and_flag_rules():
    assert check_option("dense", "output", ("sparse", "dense")) == "dense"
    with pytest.raises(ValueError, match=r"^output must be 'sparse' or 'dense', got 'csr'$"):
        check_option("csr", "output", ("sparse", "dense"))
    with pytest.raises(TypeError, match=r"^output must be 'sparse' or 'dense', got 3 \(int\)$"):
        check_option(3, "output", ("sparse", "dense"))
    with pytest.raises(ValueError, match=r"^solver must be one of \('a', 'b', 'c'\), got 'd'$"):
        check_option("d", "solver", ("a", "b", "c"))
    # a misspelt option is told the closest, as misspelt vocabularies and means are
    with pytest.raises(ValueError, match=r"got 'admn'; did you mean 'admm'\?$"):
        check_option("admn", "solver", ("auto", "admm", "working_set"))
    assert check_flag(np.False_, "centered") is np.False_
    assert check_flag(2, "verbose", int_ok=True) == 2
    with pytest.raises(TypeError, match=r"^centered must be a bool, got 1 \(int\)$"):
        check_flag(1, "centered")
    with pytest.raises(TypeError, match=r"^verbose must be a bool or an int, got 'yes' \(str\)$"):
        check_flag("yes", "verbose", int_ok=True)
    # a negative level is true, so it would not be quiet: refused, as scikit-learn does
    with pytest.raises(ValueError, match=r"^verbose must be 0 \(quiet\) or more, got -1$"):
        check_flag(-1, "verbose", int_ok=True)
    assert check_flag(0, "verbose", int_ok=True) == 0


def test_validate_params_checks_every_rule_of_the_table():
    class Owner:
        size, tol, kind, flag = 3, 0.5, "a", True

    rules = {
        "size": Integer(),
        "tol": Number(low=0.0, closed="neither"),
        "kind": Options(("a", "b")),
        "flag": Flag(),
    }
    owner = Owner()
    validate_params(owner, rules)
    owner.tol = "x"
    with pytest.raises(TypeError, match="tol must be a positive finite number, got 'x'"):
        validate_params(owner, rules)
    owner.tol, owner.kind = 0.5, "c"
    with pytest.raises(ValueError, match="kind must be 'a' or 'b', got 'c'"):
        validate_params(owner, rules)


# ------------------------------------------------------------ finite rows
def test_check_finite_rows_names_the_array_and_rows_in_one_format():
    X = np.ones((9, 3))
    assert check_finite_rows(X, "X") is None
    X[[1, 2, 3, 4, 6, 8], 0] = [np.nan, np.inf, -np.inf, np.nan, np.nan, np.nan]
    expected = "X holds NaN or infinite values in 6 row(s): 1, 2, 3, 4, 6, 8"
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        check_finite_rows(X, "X")
    W = sp.csr_matrix(np.array([[0.0, 1.0], [0.0, 0.0], [np.inf, 0.0]]))
    with pytest.raises(ValueError, match=r"^W holds NaN or infinite values in 1 row\(s\): 2$"):
        check_finite_rows(W, "W")
    V = torch.ones((3, 2))
    V[1, 1] = float("nan")
    with pytest.raises(ValueError, match=r"^V holds NaN or infinite values in 1 row\(s\): 1$"):
        check_finite_rows(V, "V")
    with pytest.raises(ValueError, match=r"in 1 row\(s\): 'cat' \(row 1\)$"):
        check_finite_rows(V.numpy(), "the concepts", labels=["dog", "cat", "car"])
    # the verb agrees with the array's name or phrase (it said "weights holds")
    for name, verb in [
        ("weights", "hold"),
        ("concept_embeddings", "hold"),
        ("concept embeddings", "hold"),
        ("the embeddings of `concepts` by E.embed_text", "hold"),
        ("warm_start", "holds"),
        ("its array", "holds"),
        ("the output of E.embed_text for the prompts", "holds"),
    ]:
        with pytest.raises(ValueError, match=f"^{re.escape(name)} {verb} NaN or infinite"):
            check_finite_rows(V, name)


@pytest.mark.parametrize(
    "run",
    [
        pytest.param(lambda X: _fitted()[0].transform(X), id="SpliceTransformer.transform"),
        pytest.param(lambda X: _fitted()[0].fit(X), id="SpliceTransformer.fit"),
        pytest.param(
            lambda X: NonNegLasso(np.eye(DIM), device="cpu").solve(X, 0.1), id="NonNegLasso.solve"
        ),
        pytest.param(lambda X: NonNegLasso(X, device="cpu"), id="NonNegLasso(dictionary)"),
        pytest.param(
            lambda X: rank_concepts(X, np.arange(4) % 2, 1, concepts=list("abcdefgh")),
            id="rank_concepts",
        ),
        pytest.param(
            lambda X: embed_vocabulary(_NaNEmbedder(X), ["a", "b", "c", "d"]),
            id="embed_vocabulary",
        ),
    ],
)
def test_nan_rows_are_refused_with_the_same_message_everywhere(run):
    X = np.abs(np.random.default_rng(1).normal(size=(4, DIM)))
    X[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"holds? NaN or infinite values in 1 row\(s\): "):
        run(X)


class _NaNEmbedder:
    def __init__(self, X):
        self.X = X

    def embed_text(self, texts):
        return self.X[: len(texts)]


def test_embed_vocabulary_names_the_concept_of_a_nan_row():
    X = np.ones((3, DIM))
    X[1, 0] = np.nan
    with pytest.raises(
        ValueError,
        match=re.escape(
            "the output of _NaNEmbedder.embed_text holds NaN or infinite values in 1 row(s): "
            "'b' (row 1)"
        ),
    ):
        embed_vocabulary(_NaNEmbedder(X), ["a", "b", "c"], disk_cache=False)


# ------------------------------------------- one exception type per mistake
def _clip(**kwargs):
    return CLIPEmbedder(model="ViT-B-32", pretrained=None, device="cpu", **kwargs).fit()


def _sentence(**kwargs):
    return SentenceTransformerEmbedder(model="unused", device="cpu", **kwargs).fit()


def _embed_vocabulary(batch_size):
    CountingEmbedder.reset()
    try:
        embed_vocabulary(CountingEmbedder(), ["a", "b"], batch_size=batch_size, disk_cache=False)
    finally:
        assert CountingEmbedder.n_calls == 0  # refused before any embedding


@pytest.mark.parametrize(
    "check",
    [
        pytest.param(lambda v: _clip(batch_size=v), id="CLIPEmbedder"),
        pytest.param(lambda v: _sentence(batch_size=v), id="SentenceTransformerEmbedder"),
        pytest.param(_embed_vocabulary, id="embed_vocabulary"),
    ],
)
def test_batch_size_same_mistake_same_type_in_every_estimator(check):
    with pytest.raises(TypeError, match=r"batch_size must be a positive integer.*, got True"):
        check(True)
    with pytest.raises(TypeError, match=r"batch_size must be a positive integer.*, got 2.5"):
        check(2.5)
    with pytest.raises(ValueError, match=r"batch_size must be a positive integer.*, got 0$"):
        check(0)


def _splice_fit(**params):
    CountingEmbedder.reset()
    splice = SpliceTransformer(
        embedder=CountingEmbedder(dim=DIM), vocabulary=list("abcdef"), device="cpu", **params
    )
    try:
        splice.fit(np.ones((3, DIM)))
    finally:
        assert CountingEmbedder.n_calls == 0  # checked in fit, before any embedding


@pytest.mark.parametrize(
    ("check", "name", "what", "too_small"),
    [
        pytest.param(
            lambda v: _splice_fit(vocabulary_size=v),
            "SpliceTransformer: vocabulary_size",
            "'auto' or a positive integer",
            0,
            id="Splice",
        ),
        pytest.param(
            lambda v: load_vocabulary(["a", "b"], size=v),
            "size",
            "'auto' or a positive integer",
            0,
            id="load_vocabulary",
        ),
        # the authors' vocabulary_size=-1 (and 0) keeps the whole file, as in their loader
        pytest.param(
            lambda v: authors_index_to_concept(["a", "b"], size=v),
            "size",
            "an integer >= -1",
            -2,
            id="authors_index",
        ),
    ],
)
def test_vocabulary_size_same_mistake_same_type_everywhere(check, name, what, too_small):
    with pytest.raises(TypeError, match=rf"^{name} must be {what}.*, got True \(bool"):
        check(True)
    with pytest.raises(TypeError, match=rf"^{name} must be {what}.*, got '5' \(str"):
        check("5")
    # (0 and less are told what keeps every concept: None, the authors' -1)
    hint = r": None keeps every concept \(what vocabulary_size=-1 does.*" if too_small == 0 else ""
    with pytest.raises(ValueError, match=rf"^{name} must be {what}.*, got {too_small}{hint}$"):
        check(too_small)


@pytest.mark.parametrize(
    ("param", "bad_type", "bad_value"),
    [
        ("l1_penalty", True, 0.0),
        ("target_l0", "4", -1.0),
        ("tol", None, float("nan")),
        ("transform_max_iter", 1.5, 0),
        ("calibration_samples", False, 0),
        ("memory_budget", "1G", -1),
        ("output", 1, "csr"),
        ("modality", None, "audio"),
        ("solver", 3, "lars"),
    ],
)
def test_splice_transformer_parameters_type_vs_value(param, bad_type, bad_value):
    with pytest.raises(
        TypeError, match=rf"^SpliceTransformer: {param} must be .*\({type(bad_type).__name__}\)$"
    ):
        _splice_fit(**{param: bad_type})
    with pytest.raises(
        ValueError,
        match=rf"^SpliceTransformer: {param} must be .*, got {re.escape(repr(bad_value))}$",
    ):
        _splice_fit(**{param: bad_value})


def test_solver_scalars_type_vs_value():
    lasso = NonNegLasso(np.eye(DIM), device="cpu")
    V = np.ones((2, DIM))
    for kwargs in [{"max_iter": True}, {"tol": "1e-6"}, {"memory_budget": 1.0}, {"solver": 1}]:
        with pytest.raises(TypeError, match=f"^{next(iter(kwargs))} must be"):
            lasso.solve(V, 0.1, **kwargs)
    for kwargs in [{"max_iter": 0}, {"tol": -1.0}, {"memory_budget": 0}, {"solver": "lars"}]:
        with pytest.raises(ValueError, match=f"^{next(iter(kwargs))} must be"):
            lasso.solve(V, 0.1, **kwargs)
    with pytest.raises(TypeError, match=r"^l1_penalty must be"):
        lasso.solve(V, True)


def test_k_and_neighbours_type_vs_value_across_modules():
    splice, X = _fitted()
    W = splice.transform(X[:5])
    retriever = ConceptRetriever(concepts=splice.concepts_).fit(W)
    model = LogisticRegression().fit(W.toarray(), np.arange(5) % 2)
    k_users = [
        lambda k: splice.top_concepts(X[:2], k=k),
        lambda k: retriever.search(["concept 1"], k=k),
        lambda k: probe_concepts(model, k=k, concepts=splice.concepts_),
    ]
    for use in k_users:
        with pytest.raises(TypeError, match=r"^k must be a positive integer.*, got True \(bool\)$"):
            use(True)
        with pytest.raises(ValueError, match=r"^k must be a positive integer.*, got 0$"):
            use(0)
    neighbour_users = [
        lambda **kw: ConceptEditor(["concept 1"], splice=splice, **kw).fit(W),
        lambda **kw: concept_neighbors(splice, ["concept 1"], **kw),
        lambda **kw: ConceptRetriever(concepts=splice.concepts_, splice=splice, **kw).fit(W),
    ]
    # (the estimators' messages start with their class, the function's with the parameter)
    for use, of in zip(neighbour_users, ("ConceptEditor: ", "", "ConceptRetriever: ")):
        with pytest.raises(TypeError, match=rf"^{of}n_neighbors must be a non-negative integer"):
            use(n_neighbors=True)
        with pytest.raises(ValueError, match=rf"^{of}n_neighbors must be a non-negative integer"):
            use(n_neighbors=-1)
        threshold = rf"^{of}similarity_threshold must be a number in \[-1, 1\]"
        with pytest.raises(TypeError, match=threshold):
            use(similarity_threshold=True)
        with pytest.raises(ValueError, match=threshold):
            use(similarity_threshold=1.5)


def test_other_scalars_type_vs_value():
    with pytest.raises(
        TypeError, match=r"^ZeroShotClassifier: temperature must be a positive finite number"
    ):
        ZeroShotClassifier(CountingEmbedder(dim=DIM), ["a", "b"], temperature=True).fit(
            np.ones((2, DIM)), ["a", "b"]
        )
    with pytest.raises(
        ValueError, match=r"^ZeroShotClassifier: temperature must be a positive finite number"
    ):
        ZeroShotClassifier(CountingEmbedder(dim=DIM), ["a", "b"], temperature=0).fit(
            np.ones((2, DIM)), ["a", "b"]
        )
    W, y = np.ones((4, 3)), np.arange(4) % 2
    with pytest.raises(TypeError, match=r"^alpha must be a number in \(0, 1\), got True"):
        rank_concepts(W, y, 1, concepts=list("abc"), alpha=True)
    with pytest.raises(ValueError, match=r"^alpha must be a number in \(0, 1\), got 1$"):
        rank_concepts(W, y, 1, concepts=list("abc"), alpha=1)
    with pytest.raises(TypeError, match=r"^min_count must be a positive integer, got 1.0"):
        rank_concepts(W, y, 1, concepts=list("abc"), min_count=1.0)
    with pytest.raises(ValueError, match=r"^min_count must be a positive integer, got 0$"):
        rank_concepts(W, y, 1, concepts=list("abc"), min_count=0)


# ------------------------------------------------------- validated once only
def _count_validation(monkeypatch):
    calls: list[str] = []
    real = check_finite_rows

    def counting(X, name, labels=None, **kwargs):
        calls.append(name)
        return real(X, name, labels, **kwargs)

    monkeypatch.setattr(transformer_module, "check_finite_rows", counting)
    monkeypatch.setattr(lasso_module, "check_finite_rows", counting)
    monkeypatch.setattr(weights_module, "check_finite_rows", counting)
    targets = mock.patch.object(
        NonNegLasso, "_check_targets", autospec=True, side_effect=NonNegLasso._check_targets
    )
    weights = mock.patch.object(
        weights_module, "check_weights", side_effect=weights_module.check_weights
    )
    return calls, targets, weights


@pytest.mark.parametrize(
    "method", ["transform", "transform_with_stats", "cosine_similarity", "score", "l0"]
)
def test_one_call_validates_its_input_once(monkeypatch, method):
    splice, X = _fitted()
    splice._get_lasso()  # the process-wide solver checks the dictionary once, when it is built
    calls, targets, weights = _count_validation(monkeypatch)
    with targets as check_targets, weights as check_weights:
        getattr(splice, method)(X[:7])
    assert calls == ["X"]  # finiteness once, for X, not again for the solver's V
    assert check_targets.call_count == 0  # no second width and finiteness check in the solver
    assert check_weights.call_count == 0  # the weights it just made are not checked again


def test_public_entry_points_still_check_what_they_are_given(monkeypatch):
    splice, X = _fitted()
    splice._get_lasso()
    calls, targets, weights = _count_validation(monkeypatch)
    with targets as check_targets, weights as check_weights:
        W = splice.transform(X[:3])
        splice.inverse_transform(W)
        splice._get_lasso().solve(X[:3], 0.1)
    assert calls == ["X", "weights", "V"]
    assert check_targets.call_count == 1
    assert check_weights.call_count == 1


def test_row_labels_are_shown_as_python_values_also_within_a_tuple():
    # a MultiIndex row was shown as ('dog', np.int64(0)) in the editor's warning
    from sksplice._validation import shown_label, shown_rows

    assert shown_label(("dog", np.int64(0))) == "('dog', 0)"
    assert shown_label(np.float32(1.5)) == "1.5" and shown_label("cap7") == "'cap7'"
    labels = [("dog", np.int64(0)), ("dog", np.int64(1))]
    assert shown_rows(np.array([0, 1]), labels) == "('dog', 0) (row 0), ('dog', 1) (row 1)"


def test_parameter_errors_are_both_value_and_type_errors_and_name_their_estimator():
    # As scikit-learn's InvalidParameterError: `except ValueError` missed a string given
    # for a number (a TypeError only), and in a Pipeline "verbose must be 0 (quiet) or
    # more" did not say whose verbose.
    from sklearn.pipeline import make_pipeline

    from sksplice.exceptions import InvalidParameterError

    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(InvalidParameterError, TypeError)
    for params in ({"l1_penalty": "0.1"}, {"verbose": -1}, {"solver": "lars"}):
        with pytest.raises(ValueError) as caught:
            _splice_fit(**params)
        assert type(caught.value) is InvalidParameterError
        assert str(caught.value).startswith(f"SpliceTransformer: {next(iter(params))} must be")
    pipe = make_pipeline(
        SpliceTransformer(
            embedder=CountingEmbedder(dim=DIM), vocabulary=list("abcdef"), verbose=-1
        ),
        LogisticRegression(),
    )
    with pytest.raises(InvalidParameterError, match=r"^SpliceTransformer: verbose must be"):
        pipe.fit(np.ones((4, DIM)), [0, 1, 0, 1])
    with pytest.raises(InvalidParameterError, match=r"^ConceptEditor: output must be"):
        ConceptEditor(remove=["a"], output=3).fit(np.ones((2, 3)))
    with pytest.raises(InvalidParameterError, match=r"^ZeroShotClassifier: temperature"):
        ZeroShotClassifier(CountingEmbedder(dim=DIM), ["a", "b"], temperature="1").fit(
            np.ones((2, DIM))
        )
    # the errors of a class of their own keep it (a device this machine lacks)
    from sksplice.exceptions import DeviceUnavailableError

    if not torch.cuda.is_available():
        lacking = SpliceTransformer(
            embedder=CountingEmbedder(dim=DIM), vocabulary=list("abcdef"), device="cuda"
        )
        with pytest.raises(DeviceUnavailableError):
            lacking.fit(np.ones((3, DIM)))


def test_a_parameter_message_shows_a_value_on_one_short_line():
    # An estimator given for an integer printed its whole repr (the concept embeddings
    # among its parameters); an array's repr spanned lines.
    from sksplice._validation import _shown_value

    class Bad:
        def __repr__(self):
            raise RuntimeError("no repr")

    shown = _shown_value(np.arange(200.0))
    assert "\n" not in shown and len(shown) <= 80 and shown.endswith(" ...")
    assert _shown_value([1, 2]) == "[1, 2]"
    assert _shown_value("1   0") == "'1   0'"  # (a string's spaces are its own)
    assert _shown_value(Bad()) == "a Bad"
    assert _shown_value(SpliceTransformer()) == "a SpliceTransformer"
    with pytest.raises(TypeError) as info:
        check_int(SpliceTransformer(concept_embeddings=np.eye(3)), "k")
    assert str(info.value) == "k must be a positive integer, got a SpliceTransformer"
