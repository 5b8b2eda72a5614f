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

from typing import Any

from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.pipeline import make_pipeline as _make_pipeline
from sklearn.utils.metaestimators import available_if

__all__ = ["SplicePipeline", "check_steps", "make_pipeline"]


def check_steps(pipeline: Pipeline) -> None:
    """Check the options of every step of ``pipeline`` that its ``fit`` checks without
    the data, in the order of the steps; nothing is fitted, loaded or embedded.

    - :class:`~sksplice.CLIPEmbedder`: its model, weights, device and other options
      (as its ``fit`` does, reading open_clip's configurations, loading no weights);
    - :class:`~sksplice.SpliceTransformer`: its parameters, its vocabulary (a name, a
      file read, or a list) and, where the width of the concepts is known without
      embedding them, a centre given or published and ``target_l0`` against it;
    - :class:`~sksplice.ConceptEditor`: its parameters and, right after a
      ``SpliceTransformer``, the names it removes or keeps against its vocabulary;
    - :class:`~sksplice.ZeroShotClassifier` and
      :class:`~sksplice.sentence.SentenceTransformerEmbedder`: their parameters;
    - any other estimator with scikit-learn's declared parameter constraints
      (``LogisticRegression(C=-1)``, a misspelt ``solver``), and those it holds.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        The pipeline; a pipeline among its steps is checked the same way.

    Raises
    ------
    TypeError, ValueError
        The error the step's ``fit`` would raise, before any step's work.
    """
    from .editing import ConceptEditor
    from .embedders import CLIPEmbedder
    from .path import _check_editor_names, _check_probe_params
    from .sentence import SentenceTransformerEmbedder
    from .transformer import SpliceTransformer
    from .zero_shot import ZeroShotClassifier

    previous: Any = None
    for name, step in pipeline.steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        if isinstance(step, Pipeline):
            check_steps(step)
        elif isinstance(step, CLIPEmbedder):
            step._config("known")
        elif isinstance(step, SpliceTransformer):
            checked = clone(step)
            checked._check_params()
            concepts, _ = checked._resolve_concepts()
            checked._checked_without_samples(concepts)
        elif isinstance(step, ConceptEditor):
            step._check_params()
            if isinstance(previous, SpliceTransformer):
                _check_editor_names(previous, step, name)
        elif isinstance(step, ZeroShotClassifier | SentenceTransformerEmbedder):
            clone(step)._check_params()
        else:
            _check_probe_params(step, f"step {name!r}")
        previous = step


def _final_has(method: str) -> Any:
    def check(self: Pipeline) -> bool:
        final = self._final_estimator
        return final == "passthrough" or hasattr(final, method)

    return check


class SplicePipeline(Pipeline):
    """A :class:`sklearn.pipeline.Pipeline` that checks every step before fitting one.

    Its ``fit``, ``fit_transform`` and ``fit_predict`` first run
    :func:`~sksplice.pipeline.check_steps`, so that a wrong option of any step (a
    misspelt vocabulary, an ``l1_penalty`` of 5, ``LogisticRegression(C=-1)``) is
    refused before the first step embeds the images, then fit as
    :class:`~sklearn.pipeline.Pipeline` does; everything else is scikit-learn's
    Pipeline (parameters, ``clone``, grid search, metadata routing,
    ``set_output``). Build one with :func:`make_pipeline`, or as a Pipeline, from a
    list of ``(name, estimator)`` steps.

    Parameters
    ----------
    steps, transform_input, memory, verbose
        As for :class:`sklearn.pipeline.Pipeline`.

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
    ...     SpliceTransformer(vocabulary=words, concept_embeddings=emb, l1_penalty=5),
    ...     LogisticRegression(),
    ... )
    >>> pipe.fit(np.ones((4, 8)), [0, 1, 0, 1])
    Traceback (most recent call last):
    ...
    sksplice.exceptions.InvalidParameterError: SpliceTransformer: l1_penalty must be below 2...
    """

    def fit(self, X: Any, y: Any = None, **params: Any) -> SplicePipeline:
        """Check every step (:func:`~sksplice.pipeline.check_steps`), then fit as
        :meth:`sklearn.pipeline.Pipeline.fit` does."""
        check_steps(self)
        super().fit(X, y, **params)
        return self

    @available_if(_final_has("fit_transform"))
    def fit_transform(self, X: Any, y: Any = None, **params: Any) -> Any:
        """Check every step (:func:`~sksplice.pipeline.check_steps`), then as
        :meth:`sklearn.pipeline.Pipeline.fit_transform`."""
        check_steps(self)
        return super().fit_transform(X, y, **params)

    @available_if(_final_has("fit_predict"))
    def fit_predict(self, X: Any, y: Any = None, **params: Any) -> Any:
        """Check every step (:func:`~sksplice.pipeline.check_steps`), then as
        :meth:`sklearn.pipeline.Pipeline.fit_predict`."""
        check_steps(self)
        return super().fit_predict(X, y, **params)


def make_pipeline(*steps: Any, **kwargs: Any) -> SplicePipeline:
    """:func:`sklearn.pipeline.make_pipeline`, as a :class:`SplicePipeline`: its fit
    checks the options of every step before the first one's work.

    Parameters
    ----------
    *steps : list of estimators
        The steps, named after their classes in lower case.
    **kwargs
        ``memory``, ``transform_input`` and ``verbose``, as for
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
    built = _make_pipeline(*steps, **kwargs)
    return SplicePipeline(**built.get_params(deep=False))
