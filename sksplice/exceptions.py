"""The warnings and errors of sksplice, in one place to import them from.

Each class here is the class sksplice raises or emits (the same object, defined
in the module that uses it), so these are the names to filter warnings by and
to catch errors with::

    import warnings

    from sksplice.exceptions import SmallMeanSampleWarning

    warnings.filterwarnings("ignore", category=SmallMeanSampleWarning)

Warnings (subclasses of :class:`UserWarning`):

- :class:`SmallMeanSampleWarning`: a modality centre learned from fewer than
  100 rows.
- :class:`CentreMismatchWarning`: an image centre given to ``fit`` (published,
  or an array) that does not point where the rows of ``X`` lie (embeddings of
  other CLIP weights, or of texts); its ``cosine`` attribute holds how far.
- :class:`DictionaryCacheWarning`: a cached concept dictionary was unusable
  (rebuilt) or could not be written.
- :class:`DuplicateConceptWarning`: concepts of a vocabulary with the same
  embedding (a weight of exactly equal ones split equally); its ``groups`` attribute lists
  them.
- :class:`RepeatedConceptWarning`: a vocabulary file or list that names a
  concept more than once (only the first is kept); its ``repeats`` attribute
  gives their positions.
- :class:`TooFewSamplesWarning`: classes or collections too small for any
  concept to be significant, whatever the counts; its ``groups`` attribute
  names them with their sizes and the smallest p-value the test can give.
- :class:`SkippedInputWarning`: inputs skipped with ``on_error="skip"``; its
  ``skipped`` attribute lists them as :class:`SkippedInput` records.
- :class:`InconsistentVersionWarning`: an estimator loaded from a pickle saved
  by another sksplice release (or by one that did not record its version).
- :class:`ImageFileWarning`: an image file embedded despite a problem (damaged
  EXIF data, PIL's warnings about damaged data), once per file and message;
  its ``path`` attribute names the file.
- :class:`FigureLayoutWarning`: texts of axes given to a plot that do not fit
  where the figure is drawn (issued when it is drawn, naming the plot's line).
- :class:`DenseCodesWarning`: codes of ``transform`` that keep more concepts
  than half the dimensions of the embeddings on average (a penalty far below
  the useful range); its ``mean_l0`` attribute holds that mean.
- :class:`CalibrationStartWarning`: ``l1_penalty`` given with ``target_l0``,
  which calibrates the penalty (``l1_penalty`` is only where that starts).
- :class:`MixedDecompositionWarning`: weights compared or pooled by an analysis
  function (``compare_datasets``, ``rank_concepts``, ...) that SpliceTransformers of
  another dictionary, centre or penalty made; its ``made`` attribute says what differs.

Errors:

- :class:`InvalidImageError` (a :class:`ValueError`): an input that cannot be
  decoded as an image.
- :class:`WeightsUnavailableError` (a :class:`RuntimeError`): pretrained weights
  neither cached nor downloadable.
- :class:`CheckpointFormatError` (a :class:`RuntimeError`): a ``pretrained``
  file that is not a checkpoint of the model.
- :class:`DeviceUnavailableError` (a :class:`ValueError`): a ``device`` torch
  understands that this machine does not have (``"cuda"`` where torch sees no
  GPU); its ``instead`` attribute names the device to use.
- :class:`EmptyVocabularyError` (a :class:`ValueError`): a vocabulary file or list
  that holds no concept (empty, or blank lines only).
- :class:`DataFetchError` (an :class:`OSError`): a published data file
  (vocabulary, image mean) neither cached nor downloadable, and its subclass
  :class:`DigestMismatchError`: a download without the pinned SHA-256 digest.

The classes are imported on first use (some of their modules import torch), so
``import sksplice.exceptions`` itself is fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._calibration import CalibrationStartWarning
    from ._device import DeviceUnavailableError
    from ._download import DataFetchError, DigestMismatchError
    from ._images import ImageFileWarning, InvalidImageError
    from ._means import CentreMismatchWarning, SmallMeanSampleWarning
    from ._models import CheckpointFormatError, WeightsUnavailableError
    from ._persistence import InconsistentVersionWarning
    from ._provenance import MixedDecompositionWarning
    from .analysis import TooFewSamplesWarning
    from .dictionary import DictionaryCacheWarning, DuplicateConceptWarning
    from .embedders import SkippedInput, SkippedInputWarning
    from .plotting import FigureLayoutWarning
    from .transformer import DenseCodesWarning
    from .vocabulary import EmptyVocabularyError, RepeatedConceptWarning

__all__ = [
    "CalibrationStartWarning",
    "CentreMismatchWarning",
    "CheckpointFormatError",
    "DataFetchError",
    "DenseCodesWarning",
    "DeviceUnavailableError",
    "DictionaryCacheWarning",
    "DigestMismatchError",
    "DuplicateConceptWarning",
    "EmptyVocabularyError",
    "FigureLayoutWarning",
    "ImageFileWarning",
    "InconsistentVersionWarning",
    "InvalidImageError",
    "MixedDecompositionWarning",
    "RepeatedConceptWarning",
    "SkippedInput",
    "SkippedInputWarning",
    "SmallMeanSampleWarning",
    "TooFewSamplesWarning",
    "WeightsUnavailableError",
]

#: Public name -> the module that defines it.
_DEFINED_IN = {
    "CalibrationStartWarning": "._calibration",
    "CentreMismatchWarning": "._means",
    "CheckpointFormatError": "._models",
    "DataFetchError": "._download",
    "DenseCodesWarning": ".transformer",
    "DeviceUnavailableError": "._device",
    "DictionaryCacheWarning": ".dictionary",
    "DigestMismatchError": "._download",
    "DuplicateConceptWarning": ".dictionary",
    "EmptyVocabularyError": ".vocabulary",
    "FigureLayoutWarning": ".plotting",
    "ImageFileWarning": "._images",
    "InconsistentVersionWarning": "._persistence",
    "InvalidImageError": "._images",
    "MixedDecompositionWarning": "._provenance",
    "RepeatedConceptWarning": ".vocabulary",
    "SkippedInput": ".embedders",
    "SkippedInputWarning": ".embedders",
    "SmallMeanSampleWarning": "._means",
    "TooFewSamplesWarning": ".analysis",
    "WeightsUnavailableError": "._models",
}


__getattr__, __dir__ = lazy_attributes(__name__, _DEFINED_IN, globals(), __all__)
