"""Zero-shot classification of dense embeddings against text prompts."""

from __future__ import annotations

import string
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._array import l2_normalize, unit_rows
from ._display import OneBlockMixin
from ._names import a_type, close_matches
from ._persistence import VersionStampMixin
from ._protocols import check_text_embedder
from ._set_after_fit import record_params, warn_set_after_fit
from ._stack import warn_user
from ._validation import (
    SKIPPED_ROWS_HINT,
    check_finite_rows,
    check_labels,
    check_number,
    check_y_length,
    checks_parameters,
    float_dtypes,
    refuse_zero_rows,
    restored_on_failure,
    row_labels,
    shown_groups,
    shown_label,
    shown_rows,
    tensor_as_array,
    validated,
    vectors_in_cells,
)

__all__ = ["ZeroShotClassifier"]


def _declared_width(embedder: Any) -> int | None:
    """The width of ``embedder``'s text embeddings if it tells it without embedding.

    Its ``embedding_dim_``, its ``get_embedding_dimension()``, or a
    ``CLIPEmbedder``'s configured width; None when it does not tell (or cannot
    now, e.g. a configuration that cannot be read offline).
    """
    embedders = sys.modules.get("sksplice.embedders")  # (loaded if it made the embedder)
    dim: Any = None
    try:
        if embedders is not None and isinstance(embedder, embedders.CLIPEmbedder):
            dim = embedder._config("known").embed_dim
        else:
            dim = getattr(embedder, "embedding_dim_", None)
            get = getattr(embedder, "get_embedding_dimension", None)
            if dim is None and callable(get):
                dim = get()
    except Exception:  # (its width is checked once the prompts are embedded)
        return None
    if isinstance(dim, int | np.integer) and not isinstance(dim, bool) and dim > 0:
        return int(dim)
    return None


def _recompose() -> str:
    """How concept weights become the embeddings the classifier scores."""
    from .transformer import recompose_advice

    return recompose_advice("classifier")


def _refuse_concept_weights(X: Any) -> None:
    """Refuse concept weights given as ``X`` (see
    :func:`sksplice.transformer.refuse_concept_weights`), and embeddings in cells."""
    from .transformer import refuse_concept_weights

    refuse_concept_weights(X, estimator="ZeroShotClassifier", verb="scores", step="classifier")
    cells = vectors_in_cells(X)
    if cells is not None:
        raise ValueError(cells)


def _check_width(width: int | None, X: np.ndarray) -> None:
    """The text embeddings' ``width`` (None: not known yet) is ``X``'s number of features."""
    if width is not None and width != X.shape[1]:
        weights = f"; if X holds concept weights, recompose them {_recompose()}"
        weights = weights if X.shape[1] > width else ""
        raise ValueError(
            f"the embedder's text embeddings have {width} dimensions but X has "
            f"{X.shape[1]} features; use the text model that matches the embeddings{weights}"
        )


def _warn_classes_alike(class_embeddings: np.ndarray, classes: np.ndarray) -> None:
    """Warn about classes whose prompts the model embeds alike (``'Dog'`` and ``'dog'``
    for a text tower that lower-cases): a score ties them, and every row goes to the
    first of them, never to the others."""
    from .dictionary import duplicate_concepts

    groups = duplicate_concepts(class_embeddings)
    if not groups:
        return
    shown = shown_groups([[str(classes[i]) for i in group] for group in groups])
    firsts = ", ".join(repr(str(classes[group[0]])) for group in groups[:5])
    warn_user(
        f"classes whose prompts the model embeds alike: {shown}. Their scores are "
        f"equal, so predict gives every such row the first of each group ({firsts}) and "
        "never the others. (Text towers lower-case their input, and some strip accents.) "
        "Name the classes so that the model tells them apart (e.g. 'crane bird' and "
        "'crane machine'), or merge them",
        UserWarning,
    )


def _class_embeddings(embedder: Any, prompts: list[str], n_templates: int) -> np.ndarray:
    """The class embeddings of ``prompts`` (``n_templates`` consecutive prompts per
    class): each prompt's unit embedding, averaged over its class's templates and made
    unit again, float64.

    Held in memory by the embedder's ``cache_key()`` (the model and its weights) and the
    prompts, as concept dictionaries are: the folds of a search clone the classifier, and
    each fit embedded every prompt again (a grid of 3 candidates and 5 folds: 16 times).
    What is held is the class embeddings (1,000 classes of 80 templates: 1,000 rows, not
    the 80,000 of the prompts). An embedder without a cache key is asked every time.
    """
    from .dictionary import _memory_get, _memory_key, _memory_put

    key_fn = getattr(embedder, "cache_key", None)
    key = key_fn() if callable(key_fn) else None
    memory_key = None
    if key is not None:
        memory_key = ("class prompts", n_templates, _memory_key(embedder, str(key), prompts))
        found = _memory_get(memory_key)
        if found is not None:
            return found.copy()  # (each classifier its own: a fitted attribute is writable)
    emb = np.asarray(embedder.embed_text(prompts), dtype=np.float64)
    if emb.ndim != 2 or emb.shape[0] != len(prompts):
        raise ValueError(
            f"the embedder returned shape {emb.shape} for {len(prompts)} prompts; "
            f"expected ({len(prompts)}, d)"
        )
    what = f"the output of {type(embedder).__name__}.embed_text for the prompts"
    check_finite_rows(emb, what, prompts)
    # (a class of it would score 0 against every row, and win where all else is < 0)
    refuse_zero_rows(
        emb,
        f"the embedding of the prompt {{}} by {type(embedder).__name__}.embed_text",
        prompts,
        why="which has no direction to compare embeddings with; check the embedder (its "
        "output for this text)",
    )
    n_classes = len(prompts) // n_templates
    classes = l2_normalize(l2_normalize(emb).reshape(n_classes, n_templates, -1).mean(axis=1))
    if memory_key is not None and np.isfinite(classes).all():
        held = classes.copy()
        held.setflags(write=False)
        _memory_put(memory_key, held)
    return classes


class ZeroShotClassifier(ClassifierMixin, OneBlockMixin, VersionStampMixin, BaseEstimator):
    """Classify embeddings by cosine similarity to text prompts of the class names.

    ``fit`` embeds one prompt per class and template (``template.format(name)``)
    with the text ``embedder``, averages each class's prompt embeddings over the
    templates and renormalises them: the CLIP zero-shot recipe. Predictions are
    the class whose prompt embedding is most similar to the input embedding.

    Parameters
    ----------
    embedder : object
        Text embedder with ``embed_text(list[str]) -> ndarray (n, d)`` returning
        unit rows in the same space as the embeddings to classify (for CLIP
        image embeddings, the CLIP model's text tower, e.g.
        :class:`sksplice.embedders.CLIPEmbedder`).
    classes : sequence of str or None, default=None
        Class names, used both as labels (``classes_``, sorted) and inside the
        prompts. ``None`` takes the classes from the labels ``y`` given to
        ``fit`` (their string form goes into the prompts).
    templates : sequence of str, default=("a photo of a {}.",)
        Prompt templates, each with one ``{}`` where the class name goes
        (``template.format(name)``: no other field, such as ``{0}`` or ``{x}``;
        a literal brace is written ``{{`` or ``}}``). Every template is checked
        before anything is embedded.
    temperature : float, default=0.01
        Softmax temperature for ``predict_proba``: probabilities are
        ``softmax(cos / temperature)``; 0.01 is CLIP's logit scale of 100.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted (``np.unique`` order) whether they come from
        ``classes`` or from ``y``; the columns of ``predict_proba`` and
        ``decision_function`` follow it.
    class_embeddings_ : ndarray of shape (n_classes, d)
        Unit-norm text embedding of each class (template average), in the
        order of ``classes_``.
    n_features_in_ : int
        Embedding dimension ``d``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of ``X`` when it is a DataFrame with string columns.

    Notes
    -----
    Labels ``y`` are optional: zero-shot classification learns nothing from
    data. When ``classes`` is ``None``, ``classes_`` are the sorted unique
    labels of ``y``, as for any scikit-learn classifier. When ``classes`` is
    given, ``classes_`` holds them sorted too (``np.unique`` order, whatever
    the order given), as scikit-learn's scorers and meta-estimators
    (``roc_auc``, ``neg_log_loss``, ``CalibratedClassifierCV``) expect of the
    columns of ``predict_proba``; every label given to ``fit`` or ``score``
    must be one of them (a typo in a class name, or ``"Dog"`` for ``"dog"``,
    is caught rather than scored as always wrong). scikit-learn's scorers
    (``scoring="accuracy"``) call ``predict`` and never show the labels to
    the classifier; ``cross_val_score`` and ``GridSearchCV`` fit it with the
    training labels, where they are checked, but a scorer applied by hand to
    a classifier fitted without labels checks nothing: use :meth:`score`, or
    fit with the labels.

    ``cross_val_predict(method="predict_proba")`` (or ``"decision_function"``),
    ``VotingClassifier`` and ``StackingClassifier`` fit their classifiers on
    label-encoded ``y`` (integers 0 to k-1), which name no class: with
    ``classes`` given, ``fit`` refuses them, and with ``classes=None`` it warns
    (the prompts would read "a photo of a 0."). Fit the classifier once and
    pass it wrapped in :class:`sklearn.frozen.FrozenEstimator` instead.

    Input rows are L2-normalised before the cosine, so recomposed SpLiCE
    embeddings (``ConceptEditor(output="embedding")``) can be passed as they
    are.

    Examples
    --------
    >>> import numpy as np
    >>> from sksplice.zero_shot import ZeroShotClassifier
    >>> class Toy:
    ...     def embed_text(self, texts):
    ...         return np.array([[1.0, 0.0] if "cat" in t else [0.0, 1.0] for t in texts])
    >>> clf = ZeroShotClassifier(Toy(), classes=["cat", "dog"]).fit(np.zeros((1, 2)))
    >>> clf.predict(np.array([[0.9, 0.1], [0.2, 0.8]])).tolist()
    ['cat', 'dog']
    """

    def __init__(
        self,
        embedder: Any,
        classes: Sequence[Any] | np.ndarray | None = None,
        templates: Sequence[str] = ("a photo of a {}.",),
        temperature: float = 0.01,
    ) -> None:
        self.embedder = embedder
        self.classes = classes
        self.templates = templates
        self.temperature = temperature

    @checks_parameters
    def _check_params(self) -> list[str]:
        check_text_embedder(self.embedder, purpose="to embed the prompts")
        raw = self.templates
        templates = [raw] if isinstance(raw, str) else list(raw)
        if not templates:
            raise ValueError("`templates` is empty; give at least one template such as '{}'")
        for i, template in enumerate(templates):
            if not _one_placeholder(template):
                where = "" if len(templates) == 1 else f" (template {i + 1} of {len(templates)})"
                hint = (
                    "; write a literal brace as '{{' or '}}'" if isinstance(template, str) else ""
                )
                raise ValueError(
                    f"each template must be a string with exactly one '{{}}', got "
                    f"{template!r}{where}{hint}"
                )
        check_number(self.temperature, "temperature", low=0.0, closed="neither")
        return templates

    def fit(self, X: Any, y: Any = None) -> ZeroShotClassifier:
        """Embed the class prompts.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings; only their dimension is used (checked against the
            prompt embeddings).
        y : array-like of shape (n_samples,) or None, default=None
            Labels. Required when ``classes`` is None; otherwise optional and
            checked against ``classes``.

        Returns
        -------
        self : ZeroShotClassifier
            The fitted classifier.

        Raises
        ------
        ValueError
            If classes are missing or fewer than two, a class name is empty,
            blank, None or NaN, a label of ``y`` is not among ``classes`` (for
            integers 0 to k-1, label-encoded by a meta-estimator, the message
            says so and what to do instead), the embedder's dimension
            differs from ``X``'s, or ``X`` holds concept weights
            that a :class:`~sksplice.SpliceTransformer` returned (the message
            says how to recompose them into embeddings).
        TypeError
            If ``X`` is sparse (concept weights, in a pipeline of sksplice;
            the message says how to recompose them into embeddings).

        Notes
        -----
        A fit that raises, or is interrupted (``KeyboardInterrupt``), leaves the
        classifier as it was before the call: fitted as before, or not fitted.
        """
        with restored_on_failure(self):
            return self._fit(X, y)

    def _fit(self, X: Any, y: Any) -> ZeroShotClassifier:
        """:meth:`fit` (the classifier's attributes are put back when it raises)."""
        templates = self._check_params()
        X = tensor_as_array(X)
        _refuse_concept_weights(X)
        self._refuse_non_embeddings(X)
        labels = row_labels(X)
        if y is None:
            X = validated(self, X, dtype=float_dtypes(X), ensure_all_finite=False)
        else:
            check_y_length(X, y, step=False)
            y = check_labels(y)  # (a missing label is no class "nan")
            X, y = validated(self, X, y, dtype=float_dtypes(X), ensure_all_finite=False)
            check_classification_targets(y)
        check_finite_rows(X, "X", labels, nan_rows_hint=SKIPPED_ROWS_HINT)
        if self.classes is None:
            if y is None:
                raise ValueError(
                    "ZeroShotClassifier requires y to be passed, but the target y is None (and "
                    "so is `classes`): give `classes=[...]` or labels `y`"
                )
            classes = np.unique(y)
            _check_enough_classes(classes)
            _check_names(classes, "the labels `y`", templates[0], y)
            if not _names_a_class(classes):
                prompt = templates[0].format(classes[0])
                if _all_integers(classes):
                    advice = (
                        f"integer labels look label-encoded: {_ENCODED} pass labels 0 to "
                        f"{len(classes) - 1} to the classifiers they fit, and "
                        f"ZeroShotClassifier needs the class names. {_INSTEAD}; if the "
                        "integers are the labels themselves, map them to the class names "
                        "(e.g. np.asarray(names)[y])"
                    )
                else:
                    advice = (
                        "give labels that are class names (e.g. 'cat', 'dog'), or the "
                        "names as `classes=[...]` and fit without labels"
                    )
                warn_user(
                    f"the labels {classes.tolist()[:5]} name no class: the prompts read "
                    f"{prompt!r}; {advice}",
                    UserWarning,
                )
        else:
            if isinstance(self.classes, str):
                raise TypeError("`classes` must be a sequence of class names, not one string")
            if isinstance(self.classes, Mapping):
                # (a dict of a prompt per class: its keys were taken, its prompts ignored)
                raise TypeError(
                    "`classes` must be a sequence of class names; got a dict, whose values "
                    f"would be ignored (keys {list(self.classes)[:3]}): give the names, "
                    "classes=list(d), and the wording of the prompts as `templates` "
                    "(e.g. templates=['a photo of a {}.'])"
                )
            given = list(self.classes)
            _check_enough_classes(given)
            _check_names(given, "classes", templates[0])
            kinds = [isinstance(name, str) for name in given]
            if any(kinds) and not all(kinds):
                # (NumPy turns them all into text: an integer label 3 was no class '3')
                i = kinds.index(False)
                odd = given[i]
                as_text = odd.decode(errors="replace") if isinstance(odd, bytes) else str(odd)
                raise TypeError(
                    f"`classes` mixes text with other types: entry {i} is "
                    f"{a_type(odd)} ({odd!r}) among names that are text; give "
                    f"every class as text (e.g. {as_text!r}), and labels alike"
                )
            classes = np.asarray(given)
            if len(set(classes.tolist())) != classes.shape[0]:
                raise ValueError(f"`classes` has duplicate names: {classes.tolist()}")
            if not _names_a_class(classes):
                warn_user(
                    f"`classes` {classes.tolist()[:5]} name no class: the prompts read "
                    f"{templates[0].format(classes[0])!r}; give the class names as text, "
                    "e.g. classes=['cat', 'dog']",
                    UserWarning,
                )
            if y is not None:
                _check_known_labels(y, classes, "`classes`", fitting=True)
            classes = classes[np.argsort(classes, kind="stable")]  # np.unique's order
        prompts = [template.format(str(c)) for c in classes for template in templates]
        # An embedder that tells its width is checked against X before the prompts are
        # embedded (a model run); the width of the others is checked once they are.
        _check_width(_declared_width(self.embedder), X)
        emb = _class_embeddings(self.embedder, prompts, len(templates))
        _check_width(emb.shape[1], X)
        self.classes_ = classes
        self.class_embeddings_ = emb
        _warn_classes_alike(self.class_embeddings_, classes)
        record_params(self, ("embedder", "classes", "templates"))
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # With the class names given, `fit(X)` needs no labels.
        tags.target_tags.required = self.classes is None
        return tags

    def _refuse_non_embeddings(self, X: Any) -> None:
        """Refuse images, file paths, texts or one embedding of one dimension given for
        ``X``, with the advice SpliceTransformer gives (scikit-learn's messages were
        "could not convert string to float" and every number of a 1-D row)."""
        from .transformer import refuse_non_embeddings

        refuse_non_embeddings(
            X,
            estimator="ZeroShotClassifier",
            verb="classifies",
            embedder=self.embedder,
            variable="classifier",
        )

    def _embeddings(self, X: Any) -> np.ndarray:
        """``X`` checked: fitted, its features, finite rows (float64 or float32)."""
        check_is_fitted(self)
        warn_set_after_fit(
            self,
            {},
            "the fitted classes (classes_) and their prompts' embeddings (class_embeddings_)",
        )
        X = tensor_as_array(X)
        _refuse_concept_weights(X)
        self._refuse_non_embeddings(X)
        shape = getattr(X, "shape", None)
        if shape is not None and len(shape) == 2 and shape[1] != self.n_features_in_:
            # (scikit-learn's message says only that the widths differ)
            raise ValueError(
                f"X has {shape[1]} features, but ZeroShotClassifier is expecting "
                f"{self.n_features_in_} features as input: embeddings of its embedder's "
                "model, in which the class prompts were embedded. Embeddings of another "
                "model, or of another tower of another width, perhaps: embed X with the "
                "model of the classifier's embedder"
            )
        labels = row_labels(X)
        X = validated(self, X, dtype=float_dtypes(X), reset=False, ensure_all_finite=False)
        check_finite_rows(X, "X", labels, nan_rows_hint=SKIPPED_ROWS_HINT)
        zero = np.flatnonzero(~X.any(axis=1))
        if zero.size:
            # (an embedding without direction is as close to every class: the first class
            # was predicted, with confidence, without a word)
            rows, are = ("row", "is") if zero.size == 1 else ("rows", "are")
            warn_user(
                f"X {rows} {shown_rows(zero, labels)} {are} all zero: a zero embedding has no "
                "direction, so its cosine with every class is 0, its probabilities are "
                f"uniform and predict gives it the first class, {shown_label(self.classes_[0])}",
                UserWarning,
            )
        return X

    def _cosines(self, X: np.ndarray) -> np.ndarray:
        """Cosine of each row of (checked) ``X`` with each class, in float64.

        Rows of any scale are normalised (a row scaled by 1e-13 has the cosines of the
        unscaled row, as its SpLiCE weights are those of the unscaled row); only an
        all-zero row has cosine 0 with every class.
        """
        return unit_rows(np.asarray(X, dtype=np.float64)) @ self.class_embeddings_.T

    def _blocks(self, n: int) -> range:
        """Starts of the row blocks of ``n`` rows (about 8 MB of float64 scores each)."""
        return range(0, n, max(1, _BLOCK_ELEMENTS // self.class_embeddings_.shape[0]))

    def _similarities(self, X: Any) -> np.ndarray:
        return self._cosines(self._embeddings(X))

    def decision_function(self, X: Any) -> np.ndarray:
        """Cosine similarity of each embedding to each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            Cosine similarities; with two classes, the similarity to
            ``classes_[1]`` minus that to ``classes_[0]`` (scikit-learn's
            binary convention).
        """
        sims = self._similarities(X)
        if sims.shape[1] == 2:
            return sims[:, 1] - sims[:, 0]
        return sims

    def predict_proba(self, X: Any) -> np.ndarray:
        """Softmax of the cosine similarities divided by ``temperature``.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities, columns in the order of ``classes_``.
        """
        out = self.predict_log_proba(X)
        return np.exp(out, out=out)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log class probabilities.
        """
        X = self._embeddings(X)
        # (by blocks of rows: the float64 copy of X, the cosines and the softmax's
        # temporaries are a block's; only the result holds every row)
        out = np.empty((X.shape[0], self.class_embeddings_.shape[0]))
        step = self._blocks(X.shape[0]).step
        for start in self._blocks(X.shape[0]):
            rows = slice(start, start + step)
            out[rows] = log_softmax(self._cosines(X[rows]) / float(self.temperature), axis=1)
        return out

    def predict(self, X: Any) -> np.ndarray:
        """Most similar class for each embedding.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Predicted labels from ``classes_``.

        Notes
        -----
        The predictions are those of the float64 cosines (the first class of a
        tie), whatever the dtype of ``X``. For float32 ``X`` the scores are
        computed in float32 first (twice as fast, half the memory) and a row is
        scored again in float64 when its two best float32 scores are closer than
        their rounding error can be (about ``4 * (d + 2) * 2**-24`` times the
        row's norm, ``d`` the dimension), so that rounding never picks another
        class. Rows are scored in blocks: the scores of all rows and classes are
        never held at once. ``decision_function`` and ``predict_proba`` stay
        float64 for either dtype.
        """
        X = self._embeddings(X)
        C = self.class_embeddings_
        best = np.empty(X.shape[0], dtype=np.intp)
        C32 = C.astype(np.float32) if X.dtype == np.float32 else None
        step = self._blocks(X.shape[0]).step
        for start in self._blocks(X.shape[0]):
            rows = X[start : start + step]
            if C32 is None:
                best[start : start + step] = np.argmax(self._cosines(rows), axis=1)
                continue
            scores = rows @ C32.T
            top = np.argmax(scores, axis=1)
            here = np.arange(len(top))
            first = scores[here, top].astype(np.float64)
            scores[here, top] = -np.inf
            two = np.column_stack([scores.max(axis=1).astype(np.float64), first])
            norms = np.linalg.norm(rows.astype(np.float64), axis=1)
            # Each float32 score is within (d + 2) * u * |x| of the exact one (u = 2**-24:
            # the rounding of the classes to float32 and of the d products and sums);
            # a gap of twice that, doubled for safety, leaves the order of the exact
            # (and float64) scores. Tiny rows are scored by the float64 path.
            bound = 4 * (rows.shape[1] + 2) * float(np.finfo(np.float32).eps / 2) * norms
            recheck = ~(two[:, 1] - two[:, 0] > bound) | ~np.isfinite(two).all(axis=1)
            recheck |= ~(norms >= 1e-12) | ~np.isfinite(norms)
            if recheck.any():
                top[recheck] = np.argmax(self._cosines(rows[recheck]), axis=1)
            best[start : start + step] = top
        return self.classes_[best]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Zero-shot accuracy on embeddings ``X`` with true labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings.
        y : array-like of shape (n_samples,)
            True labels, from ``classes_``.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Sample weights.

        Returns
        -------
        score : float
            Fraction of correctly classified samples (weighted when
            ``sample_weight`` is given).

        Raises
        ------
        ValueError
            With ``classes`` given, if a label of ``y`` is not among them (it
            could never be predicted): the message names it and the closest
            class names. (With the classes taken from the labels of ``fit``, a
            label it did not see is counted wrong, as by scikit-learn's
            classifiers.)
        """
        check_is_fitted(self)
        y = check_labels(y)
        # With the classes named (`classes=`), a label among none of them is a typo.
        # Taken from the labels of fit, a label fit did not see is counted wrong, as by
        # any scikit-learn classifier (a fold of a cross-validation may lack a class).
        if self.classes is not None and (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
            _check_known_labels(y.ravel(), self.classes_, "`classes_`")
        return super().score(X, y, sample_weight=sample_weight)


#: Scores of one block of rows in predict and predict_proba (8 MB of float64).
_BLOCK_ELEMENTS = 1 << 20

#: How many class names and labels a message lists.
_SHOWN = 10


def _listed(values: list[Any]) -> str:
    """``values`` for a message: all of them, or the first few and how many there are."""
    if len(values) <= _SHOWN:
        return str(values)
    return f"{str(values[:_SHOWN])[:-1]}, ...] ({len(values)} in all)"


def _names_a_class(classes: np.ndarray) -> bool:
    """Whether some class is a name (text other than a number), not a number or code."""
    return any(isinstance(c, str) and not c.strip().isdigit() for c in classes.tolist())


def _check_enough_classes(classes: Any) -> None:
    if len(classes) < 2:
        shown = list(classes.tolist() if isinstance(classes, np.ndarray) else classes)
        raise ValueError(
            "zero-shot classification needs at least two classes, got "
            f"{len(shown)} class{'' if len(shown) == 1 else 'es'}: {shown}"
        )


def _one_placeholder(template: Any) -> bool:
    """Whether ``template`` is a string with exactly one replacement field, ``{}``.

    A field with a name or index (``{x}``, ``{0}``), a conversion or a format spec,
    and a stray brace (``}``) are refused; literal braces (``{{``, ``}}``) are text.
    """
    if not isinstance(template, str):
        return False
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError:  # (a single '{' or '}')
        return False
    return fields == [("", "", None)]


def _check_names(classes: Any, what: str, template: str, y: Any = None) -> None:
    """Refuse a class that names nothing: empty or blank text, None, NaN.

    Such a class would make the prompt ``"a photo of a ."`` (or ``"... a None."``).
    ``y``, when the classes are its unique labels, locates the first such label by row.
    """
    for position, name in enumerate(np.asarray(classes, dtype=object).tolist()):
        name = name.item() if isinstance(name, np.generic) else name  # (np.str_(' ') -> ' ')
        if isinstance(name, str) and not name.strip():
            problem = "empty" if not name else f"blank ({name!r})"
        elif name is None or (isinstance(name, (float, np.floating)) and np.isnan(name)):
            problem = f"missing ({name!r})"
        else:
            continue
        if y is None:
            where = f"`{what}[{position}]` is {problem}"
        else:
            row = int(np.flatnonzero(np.asarray(y, dtype=object) == name)[0])
            where = f"{what} name a class that is {problem}, first at row {row}"
        raise ValueError(
            f"{where}: a class name goes into the prompts ({name!r} gives "
            f"{template.format(str(name))!r}); give every class a name"
        )


#: The meta-estimators that fit their classifiers on label-encoded ``y`` (0 to k-1).
_ENCODED = (
    'cross_val_predict(method="predict_proba", "predict_log_proba" or '
    '"decision_function"), VotingClassifier and StackingClassifier'
)

#: What to do instead, for a message.
_INSTEAD = (
    "Fit it once with the class names (it learns nothing from the labels) and pass "
    "FrozenEstimator(classifier) (sklearn.frozen) to cross_val_predict, StackingClassifier "
    'or VotingClassifier(voting="soft"), or use cross_validate(..., return_estimator=True) '
    "and call predict_proba on each fold's estimator, or cross_val_predict(..., "
    'method="predict"), which passes the labels as they are'
)


def _all_integers(values: Any) -> bool:
    """Whether every value is an integer (not a bool), as label encoding makes them."""
    return all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
        for v in np.asarray(values, dtype=object).ravel().tolist()
    )


def _check_known_labels(
    y: np.ndarray, classes: np.ndarray, what: str, *, fitting: bool = False
) -> None:
    """Refuse labels that are no class: they would be scored as always wrong.

    Integer labels among 0 to ``len(classes) - 1`` that name no class look
    label-encoded, as scikit-learn's meta-estimators pass them to ``fit``
    (``fitting``): the message says so and what to do instead.
    """
    known = classes.tolist()
    unknown = sorted(set(np.unique(y).tolist()) - set(known), key=str)
    if not unknown:
        return
    if _all_integers(unknown) and all(0 <= int(v) < len(known) for v in unknown):
        if fitting:
            todo = f"{_ENCODED} pass them to the classifiers they fit. {_INSTEAD}"
        else:
            todo = "score with the class names as labels (e.g. label_encoder.inverse_transform(y))"
        raise ValueError(
            f"labels {_listed(unknown)} in `y` are not among {what} {_listed(known)}: "
            f"integers 0 to {len(known) - 1} in place of the class names look "
            "label-encoded, and ZeroShotClassifier needs the class names (they go into "
            f"its prompts); {todo}"
        )
    hints = []
    # (a class that labels rows of its own is no misspelling of another label: scoring
    # a subset of the classes, 'car' is not 'cat' misspelt where both label rows)
    present = {str(v) for v in np.unique(y).tolist()}
    unused = [str(c) for c in known if str(c) not in present]
    for label in unknown[:_SHOWN]:
        close = close_matches(str(label), unused, n=1)
        if close:
            hints.append(f"{close[0]!r} for {label!r}")
    hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
    raise ValueError(
        f"labels {_listed(unknown)} in `y` are not among {what} {_listed(known)}{hint}: a "
        "label that is no class would be scored as always wrong; "
        "correct the labels or the class names, or keep only the rows of these classes "
        "(rows = np.isin(y, classes); X[rows], y[rows])"
    )
