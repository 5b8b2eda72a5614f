"""A scikit-learn Pipeline whose fit checks the options of every step before any work.

A :class:`sklearn.pipeline.Pipeline` fits its steps one after the other, and each step
checks its own parameters when its turn comes: in
``make_pipeline(CLIPEmbedder(), SpliceTransformer(l1_penalty=5), LogisticRegression())``
every image is embedded before the penalty is refused, and a ``LogisticRegression(C=-1)``
after a :class:`~sksplice.SpliceTransformer` is refused only once the vocabulary is
embedded and every row decomposed. No step can see the ones after it, so the check
belongs to the pipeline: :func:`make_pipeline` builds a :class:`SplicePipeline`, whose
``fit``, ``fit_transform`` and ``fit_predict`` first check what each step's own ``fit``
would check without the data (:func:`~sksplice.pipeline.check_steps`), then fit as scikit-learn's
Pipeline does.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, TypeGuard

from sklearn.pipeline import Pipeline
from sklearn.pipeline import make_pipeline as _make_pipeline
from sklearn.utils.metaestimators import available_if

from ._persistence import VersionStampMixin

__all__ = ["SplicePipeline", "check_steps", "make_pipeline"]


def check_steps(pipeline: Pipeline) -> None:
    """Check the options of every step of ``pipeline`` that its ``fit`` checks without
    the data, in the order of the steps; nothing is fitted or embedded, and the steps
    are not changed (a sentence-transformers model may be loaded to learn its width,
    and a published mean read or downloaded, as the step's ``fit`` would first).

    - :class:`~sksplice.CLIPEmbedder`: its model, weights, device and other options
      (as its ``fit`` does, reading open_clip's configurations, loading no weights);
    - :class:`~sksplice.SpliceTransformer`: its parameters, its vocabulary (a name, a
      file read, or a list, of at least two concepts) and, where the width of the
      concepts is known without embedding them, a centre given or published and
      ``target_l0`` against it; right after a :class:`~sksplice.CLIPEmbedder`, that a
      centre it is given, published or of the concepts is one of the modality the
      embedder embeds;
    - :class:`~sksplice.ConceptEditor`: its parameters and, right after a
      ``SpliceTransformer``, the names it removes or keeps against its vocabulary;
    - :class:`~sksplice.ZeroShotClassifier` and
      :class:`~sksplice.sentence.SentenceTransformerEmbedder`: their parameters;
    - a :class:`~sklearn.compose.ColumnTransformer` or a
      :class:`~sklearn.pipeline.FeatureUnion`: its own parameters, then each
      transformer it fits, as a step is checked (a ``SpliceTransformer`` on some
      columns included);
    - any other estimator with scikit-learn's declared parameter constraints
      (``LogisticRegression(C=-1)``, a misspelt ``solver``), and those it holds.

    A :class:`~sklearn.frozen.FrozenEstimator` is not checked: its ``fit`` fits
    nothing.

    Steps that are not ``(name, estimator)`` pairs are left to the Pipeline's own
    checks. Warnings of the checks (a vocabulary file's repeated lines) are given by
    the fits, not here too.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        The pipeline; a pipeline among its steps is checked the same way.

    Raises
    ------
    TypeError, ValueError
        The error the step's ``fit`` would raise, before any step's work.
    """
    steps = getattr(pipeline, "steps", None)
    if not _pairs(steps):
        return  # (the Pipeline's fit says what is wrong with them)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check_sequence(steps, "step")


def _pairs(steps: Any) -> TypeGuard[list[tuple[str, Any]]]:
    """Whether ``steps`` is a list of ``(name, estimator)`` pairs."""
    return isinstance(steps, list) and all(
        isinstance(item, tuple) and len(item) == 2 for item in steps
    )


def _check_sequence(steps: list[tuple[str, Any]], kind: str) -> None:
    """Check each of a pipeline's ``(name, step)`` pairs, and a
    :class:`~sksplice.ConceptEditor`'s names against the
    :class:`~sksplice.SpliceTransformer` right before it."""
    from .editing import ConceptEditor
    from .path import _check_editor_names
    from .transformer import SpliceTransformer

    previous: Any = None
    previous_name = ""
    for name, step in steps:
        _check_step(step, f"{kind} {name!r}")
        if isinstance(step, ConceptEditor) and isinstance(previous, SpliceTransformer):
            _check_editor_names(previous, step, name)
        if isinstance(step, SpliceTransformer):
            _check_modalities(previous, previous_name, step, f"{kind} {name!r}")
        previous, previous_name = step, name


def _check_modalities(embedder: Any, embedder_name: str, splice: Any, what: str) -> None:
    """Refuse a :class:`~sksplice.SpliceTransformer` centring the embeddings of the
    :class:`~sksplice.CLIPEmbedder` before it by a centre of the other modality (given,
    published or of the concepts; a centre learned from what comes is that of its
    modality whatever the transformer's ``modality`` says)."""
    from .embedders import CLIPEmbedder

    embeds = getattr(embedder, "modality", None)
    if not isinstance(embedder, CLIPEmbedder) or embeds not in ("image", "text"):
        return
    if splice.modality == embeds or splice.modality not in ("image", "text"):
        return
    option = f"{splice.modality}_mean"
    given = getattr(splice, option, None)
    if given is None:
        return
    if isinstance(given, str):
        named = repr(given)
    elif isinstance(given, os.PathLike):
        named = repr(os.fspath(given))
    else:
        named = "an array"
    centre = (
        "text_mean=None (learned from the texts) or 'concepts'"
        if embeds == "text"
        else "image_mean=None (learned from the images), 'pretrained' or one of its own"
    )
    raise ValueError(
        f"{what}: SpliceTransformer(modality={splice.modality!r}, {option}={named}) centres "
        f"{splice.modality} embeddings, and the step before it, {embedder_name!r}, embeds "
        f"{embeds}s (CLIPEmbedder(modality={embeds!r})): give the SpliceTransformer "
        f"modality={embeds!r} and {centre} in place of {option} (each modality is centred "
        "by a centre of its own)"
    )


def _check_step(step: Any, what: str) -> None:
    """Check one step (``what`` names it in the errors of scikit-learn estimators)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion

    from .editing import ConceptEditor
    from .embedders import CLIPEmbedder
    from .path import _check_probe_params
    from .sentence import SentenceTransformerEmbedder
    from .transformer import SpliceTransformer
    from .zero_shot import ZeroShotClassifier

    if step is None or (isinstance(step, str) and step in ("passthrough", "drop")):
        return
    # (the steps themselves, not clones: an embedder that is no estimator may hold what
    # cannot be copied, a loaded model; nothing here changes them)
    if isinstance(step, Pipeline):
        if _pairs(step.steps):
            _check_sequence(step.steps, "step")
    elif isinstance(step, CLIPEmbedder):
        step._config("known")
    elif isinstance(step, SpliceTransformer):
        step._check_params()
        step._checked_without_samples()
    elif isinstance(step, ConceptEditor | ZeroShotClassifier | SentenceTransformerEmbedder):
        step._check_params()
    elif isinstance(step, ColumnTransformer | FeatureUnion):
        # (the union's own options, then what it fits on the columns, each as a step:
        # a SpliceTransformer among them checked as one in the pipeline is)
        _check_probe_params(step, what, when=_BEFORE_ANY_STEP, deep=False)
        inner = step.transformers if isinstance(step, ColumnTransformer) else step.transformer_list
        for item in inner if isinstance(inner, list | tuple) else ():
            if isinstance(item, tuple) and len(item) >= 2:
                _check_step(item[1], f"{what}, transformer {item[0]!r}")
        if isinstance(step, ColumnTransformer) and hasattr(step.remainder, "fit"):
            _check_step(step.remainder, f"{what}, remainder")
    else:
        _check_probe_params(step, what, when=_BEFORE_ANY_STEP)


#: When :func:`check_steps` checks, as its errors say it.
_BEFORE_ANY_STEP = "before any step of the pipeline is fitted"


def _can_fit_transform(self: Pipeline) -> bool:
    """As :class:`~sklearn.pipeline.Pipeline` offers ``fit_transform``."""
    final = self._final_estimator
    return (
        (isinstance(final, str) and final == "passthrough")
        or hasattr(final, "transform")
        or hasattr(final, "fit_transform")
    )


def _can_fit_predict(self: Pipeline) -> bool:
    """As :class:`~sklearn.pipeline.Pipeline` offers ``fit_predict``."""
    return hasattr(self._final_estimator, "fit_predict")


class SplicePipeline(VersionStampMixin, Pipeline):
    """A :class:`sklearn.pipeline.Pipeline` that checks every step before fitting one.

    Its ``fit``, ``fit_transform`` and ``fit_predict`` first run
    :func:`~sksplice.pipeline.check_steps`, so that a wrong option of any step (a
    misspelt vocabulary, an ``l1_penalty`` of 5, ``LogisticRegression(C=-1)``) is
    refused before the first step embeds the images, then fit as
    :class:`~sklearn.pipeline.Pipeline` does; everything else is scikit-learn's
    Pipeline (parameters, ``clone``, grid search, metadata routing,
    ``set_output``). Build one with :func:`make_pipeline`, or as a Pipeline, from a
    list of ``(name, estimator)`` steps. Pickled, it records the sksplice version
    that made it, as the other estimators of sksplice do.

    Parameters
    ----------
    steps : list of tuples
        ``(name, estimator)`` pairs, fitted in order, the last an estimator of any
        kind, as for :class:`sklearn.pipeline.Pipeline`.
    transform_input : list of str or None, default=None
        As for :class:`sklearn.pipeline.Pipeline` (metadata routing).
    memory : str, object with the joblib.Memory interface or None, default=None
        As for :class:`sklearn.pipeline.Pipeline`: where fitted transformers are cached.
    verbose : bool, default=False
        As for :class:`sklearn.pipeline.Pipeline`: whether each step's fitting time is
        printed.

    See Also
    --------
    make_pipeline : Build one with the steps named after their classes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sksplice import SpliceTransformer, make_pipeline
    >>> words = [f"concept {i}" for i in range(20)]
    >>> emb = np.random.default_rng(0).normal(size=(20, 8))
    >>> pipe = make_pipeline(
    ...     SpliceTransformer(vocabulary=words, concept_embeddings=emb),
    ...     LogisticRegression(C=-1),
    ... )
    >>> pipe.fit(np.ones((4, 8)), [0, 1, 0, 1])  # (refused before any row is decomposed)
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: step 'logisticregression': The 'C'...
    """

    def fit(self, X: Any, y: Any = None, **params: Any) -> SplicePipeline:
        """Check every step (:func:`~sksplice.pipeline.check_steps`), then fit as
        :meth:`sklearn.pipeline.Pipeline.fit` does.

        Parameters
        ----------
        X : iterable
            Training data, what the first step takes (image paths, texts or
            embeddings).
        y : iterable or None, default=None
            Targets of the last step.
        **params : dict of str -> object
            Fit parameters of the steps, as for :meth:`sklearn.pipeline.Pipeline.fit`.

        Returns
        -------
        self : SplicePipeline
            The fitted pipeline.
        """
        check_steps(self)
        super().fit(X, y, **params)
        return self

    @available_if(_can_fit_transform)
    def fit_transform(self, X: Any, y: Any = None, **params: Any) -> Any:
        """Check every step (:func:`~sksplice.pipeline.check_steps`), then as
        :meth:`sklearn.pipeline.Pipeline.fit_transform`."""
        check_steps(self)
        return super().fit_transform(X, y, **params)

    @available_if(_can_fit_predict)
    def fit_predict(self, X: Any, y: Any = None, **params: Any) -> Any:
        """Check every step (:func:`~sksplice.pipeline.check_steps`), then as
        :meth:`sklearn.pipeline.Pipeline.fit_predict`."""
        check_steps(self)
        return super().fit_predict(X, y, **params)


def make_pipeline(
    *steps: Any,
    memory: Any = None,
    transform_input: list[str] | None = None,
    verbose: bool = False,
) -> SplicePipeline:
    """:func:`sklearn.pipeline.make_pipeline`, as a :class:`SplicePipeline`: its fit
    checks the options of every step before the first one's work.

    Parameters
    ----------
    *steps : list of estimators
        The steps, named after their classes in lower case.
    memory : str, object with the joblib.Memory interface or None, default=None
        Caches the fitted transformers of the pipeline, as for
        :func:`sklearn.pipeline.make_pipeline`.
    transform_input : list of str or None, default=None
        Metadata parameters transformed by the steps before the one that takes
        them, as for :func:`sklearn.pipeline.make_pipeline` (with metadata
        routing).
    verbose : bool, default=False
        Print the time each step takes to fit, as for
        :func:`sklearn.pipeline.make_pipeline`.

    Returns
    -------
    SplicePipeline
        The pipeline, not fitted.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sksplice import CLIPEmbedder, SpliceTransformer, make_pipeline
    >>> pipe = make_pipeline(CLIPEmbedder(), SpliceTransformer(), LogisticRegression())
    >>> [name for name, _ in pipe.steps]
    ['clipembedder', 'splicetransformer', 'logisticregression']
    """
    built = _make_pipeline(*steps, memory=memory, transform_input=transform_input, verbose=verbose)
    return SplicePipeline(**built.get_params(deep=False))
