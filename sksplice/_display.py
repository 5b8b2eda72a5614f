"""How the estimators of sksplice show themselves in scikit-learn's HTML display."""

from __future__ import annotations

from typing import Any


def visual_block_class() -> Any:
    """scikit-learn's ``_VisualBlock``, the description of an estimator's diagram (private
    to scikit-learn: where it cannot be imported, the display's own default is used)."""
    try:
        from sklearn.utils._repr_html.estimator import _VisualBlock
    except ImportError:  # (scikit-learn before 1.7)
        from sklearn.utils._estimator_html_repr import (  # type: ignore[no-redef]
            _VisualBlock,
        )
    return _VisualBlock


class OneBlockMixin:
    """Drawn as one block, the estimators among its parameters listed with the others.

    scikit-learn draws an estimator held as a parameter as a stage the data passes
    through: a pipeline's ``SpliceTransformer(embedder=CLIPEmbedder(...))`` read as a
    second embedding of the images after the first step's (the embedder embeds the
    concepts, not the rows), a ``ConceptEditor(splice=...)`` as a second decomposition.
    """

    def _sk_visual_block_(self) -> Any:
        # (an error here is scikit-learn's cue to draw the same single block itself)
        return visual_block_class()(
            "single", self, names=type(self).__name__, name_details=str(self)
        )
