"""The warnings and errors of sksplice, in one place to import them from.

Each class here is the class sksplice raises or emits (the same object, defined
here or, for those of a public module, in the module that uses it), so these are
the names to filter warnings by and to catch errors with::

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
- :class:`TruncatedTextWarning`: texts longer than a CLIP text tower's context
  length, cut to it by its tokenizer; its ``indices`` attribute gives their
  positions.
- :class:`CalibrationStartWarning`: ``l1_penalty`` given with ``target_l0``,
  which calibrates the penalty (``l1_penalty`` is only where that starts).
- :class:`MixedDecompositionWarning`: weights compared or pooled by an analysis
  function (``compare_datasets``, ``rank_concepts``, ...) that SpliceTransformers of
  another dictionary, centre or penalty made; its ``made`` attribute says what differs.

Errors:

- :class:`InvalidParameterError` (both a :class:`ValueError` and a
  :class:`TypeError`, as scikit-learn's own): a parameter of an estimator of the
  wrong type or value, found when it is fitted (or used); the message starts with
  the estimator's class.
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

The classes of public modules are imported on first use (some of those modules
import torch), so ``import sksplice.exceptions`` itself is fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._lazy import lazy_attributes

if TYPE_CHECKING:
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
    "InvalidParameterError",
    "MixedDecompositionWarning",
    "RepeatedConceptWarning",
    "SkippedInput",
    "SkippedInputWarning",
    "SmallMeanSampleWarning",
    "TooFewSamplesWarning",
    "TruncatedTextWarning",
    "WeightsUnavailableError",
]

#: Public name -> the module that defines it.
_DEFINED_IN = {
    "DenseCodesWarning": ".transformer",
    "DictionaryCacheWarning": ".dictionary",
    "DuplicateConceptWarning": ".dictionary",
    "EmptyVocabularyError": ".vocabulary",
    "FigureLayoutWarning": ".plotting",
    "RepeatedConceptWarning": ".vocabulary",
    "SkippedInput": ".embedders",
    "SkippedInputWarning": ".embedders",
    "TooFewSamplesWarning": ".analysis",
}


class SmallMeanSampleWarning(UserWarning):
    """The modality centre was learned from fewer than ``MIN_MEAN_SAMPLES`` rows.

    The learned centre, and with it every decomposition, then depends on which
    other rows were in ``X``; give a published or precomputed mean, or fit on
    more rows.
    """


class CentreMismatchWarning(UserWarning):
    """The image centre given to ``fit`` (published, or an array) does not point where
    the rows of ``X`` lie: the mean direction of its rows has a cosine below
    ``CENTRE_MISMATCH_COSINE`` (0.3) with it.

    Embeddings of a CLIP model lie in a narrow cone around their mean direction,
    which a centre for them shares; the published means of different CLIP weights
    of the same width are nearly orthogonal (``ViT-B-32`` trained on LAION-2B and by
    OpenAI: cosine 0.023). Such a centre leaves the offset of the embeddings in every
    centred row, and the concepts found explain it instead of the image: ``X`` was
    made by other weights than the centre's (OpenAI's ``ViT-B-32``, say, where the
    default is the LAION one), or holds text embeddings. Checked on at least 10 rows
    of ``X``. ``cosine`` holds the cosine, ``n_samples`` the rows it was measured on.
    """

    def __init__(self, message: str, cosine: float, n_samples: int) -> None:
        super().__init__(message)
        self.cosine = cosine
        self.n_samples = n_samples

    def __reduce__(self) -> tuple[Any, ...]:
        text = str(self.args[0]) if self.args else ""
        return (type(self), (text, self.cosine, self.n_samples), self.__dict__)


class InconsistentVersionWarning(UserWarning):
    """An estimator was loaded from a pickle saved by another sksplice release.

    Fitted attributes change between releases (added, renamed, computed
    differently), so such an estimator may fail or give other results than the
    release that saved it. Refit it with the installed release, or load it with
    the release that saved it.

    Parameters
    ----------
    estimator_name : str
        The class name of the loaded estimator.
    original_version : str or None
        The sksplice version that saved the estimator; None for a pickle that
        does not record it (saved by a release before the version was recorded).
    current_version : str
        The installed sksplice version.

    Notes
    -----
    This is not :class:`sklearn.exceptions.InconsistentVersionWarning`, which
    scikit-learn emits when the scikit-learn version differs: its attributes
    are named ``original_sklearn_version`` and ``current_sklearn_version`` and
    its message refers to scikit-learn. Filter both to handle either.
    """

    def __init__(
        self, estimator_name: str, original_version: str | None, current_version: str
    ) -> None:
        # (the arguments are kept in ``args``, so that the warning pickles, e.g. from
        # a Dask worker)
        super().__init__(estimator_name, original_version, current_version)
        self.estimator_name = estimator_name
        self.original_version = original_version
        self.current_version = current_version

    def __str__(self) -> str:
        if self.original_version is None:
            saved = "an unknown version of sksplice (one that did not record its version)"
            use = "the sksplice release that saved it"
        else:
            saved = f"sksplice {self.original_version}"
            use = f"sksplice {self.original_version}, the release that saved it"
        return (
            f"{self.estimator_name} was pickled by {saved} and is loaded by sksplice "
            f"{self.current_version}: its fitted state may not match this release, and "
            f"using it may fail or give wrong results. Refit it with sksplice "
            f"{self.current_version}, or load it with {use}."
        )


class ImageFileWarning(UserWarning):
    """A problem with an image file that did not stop it from being embedded.

    PIL's own warnings about damaged data (``Corrupt EXIF data``, ``Truncated
    File Read`` ...), which do not say which file, and EXIF data that cannot
    be read (the image is embedded as stored, not turned upright), issued once
    per file and message with the file's name first. ``path`` is the file,
    ``text`` the message without it.
    """

    def __init__(self, path: str, text: str) -> None:
        super().__init__(f"{path!r}: {text}")
        self.path = path
        self.text = text
        # (text, category, module, lineno) of the warning of PIL's it stands for, if any
        self._origin: tuple[Any, ...] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # (pickled with its file: a warning of a DataLoader worker process is sent back
        # and issued in the caller's)
        return (type(self), (self.path, self.text), self.__dict__)


class TruncatedTextWarning(UserWarning):
    """Texts longer than the context length of a CLIP text tower, which its tokenizer
    cuts to that length (77 tokens for most): their embeddings read only the beginning.

    The tokenizers of open_clip cut such a text without a word. A caption, a prompt
    or a query of ``ConceptRetriever`` longer than the context is then embedded as
    its first tokens, whatever its end says. ``indices`` holds the positions of the
    texts cut (among those given to one ``embed_text``), ``context_length`` the
    model's context length in tokens.
    """

    def __init__(self, message: str, indices: Sequence[int] = (), context_length: int = 0):
        super().__init__(message)
        self.indices = tuple(indices)
        self.context_length = context_length

    def __reduce__(self) -> tuple[Any, ...]:
        text = str(self.args[0]) if self.args else ""
        return (type(self), (text, self.indices, self.context_length), self.__dict__)


class CalibrationStartWarning(UserWarning):
    """``l1_penalty`` was given with ``target_l0``: ``fit`` calibrates the penalty, and
    ``l1_penalty`` is only where that search starts.

    A grid search over ``l1_penalty`` of a transformer with ``target_l0`` compares
    fits calibrated to one sparsity: each stops at the first penalty whose mean l0
    is within ±10% of the target, which depends on where it started, so their
    scores differ by that tolerance alone and the best ``l1_penalty`` means
    nothing. Where the start is meant (a penalty calibrated before, given to
    calibrate faster), filter this class.
    """


class MixedDecompositionWarning(UserWarning):
    """Weights compared or pooled by an analysis function (``compare_datasets``,
    ``rank_concepts``, ``concept_profiles``, ...) that SpliceTransformers of another
    dictionary, centre or penalty made: their concepts' prevalences then differ by the
    decomposition as well as by the data. Its ``made`` attribute describes what
    differs.

    Known for the bare weights (CSR, arrays) that transformers returned in this process,
    and for copies and rows of them; not for pandas or polars output. Centres within
    25% of their norm of each other count as one (those of the folds of a
    cross-validation over one dataset differ by 10 to 15%), so a subtler shift of the
    centre between collections fitted apart is not warned about; penalties calibrated
    for one ``target_l0`` count as the same.
    """

    def __init__(self, message: str, made: str = "") -> None:
        super().__init__(message)
        self.made = made


class InvalidParameterError(ValueError, TypeError):
    """A parameter of an estimator has the wrong type or value.

    Both a :class:`ValueError` and a :class:`TypeError`, as scikit-learn's
    estimators raise for their parameters: ``except ValueError`` catches a
    misspelt option and a string given for a number alike. The message starts
    with the estimator's class (``"SpliceTransformer: verbose must be 0 (quiet)
    or more, got -1"``), which tells apart the parameters of the same name of
    the steps of a Pipeline.
    """


class InvalidImageError(ValueError):
    """An input item could not be decoded as an image.

    Raised for files that are not images, truncated or corrupt files, files
    that cannot be read, and images above PIL's decompression-bomb limit
    (``PIL.Image.MAX_IMAGE_PIXELS``).
    """


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither cached nor downloadable (offline)."""


class CheckpointFormatError(RuntimeError):
    """A ``pretrained`` file that is not a model checkpoint open_clip can load.

    Raised when reading the file fails as a format error (it does not unpickle,
    torch refuses its content with ``weights_only=True``, it is not a zip archive
    or safetensors file, it holds no state dict), or when what it holds does not
    fit the model (the state dict of another model); other failures of loading a
    checkpoint (out of memory, a read error of the disk) are not this error.
    """


class DeviceUnavailableError(ValueError):
    """A device torch understands that this machine does not have: CUDA where torch sees
    none, a CUDA index beyond the devices it sees, or another type (``"mps"``,
    ``"xpu"``, ...) whose backend it lacks here.

    ``why`` says so (``"MPS is not available on this machine (...)"``), and
    ``instead`` names the device to use instead (``"cpu"``, or the last CUDA device).
    """

    def __init__(self, message: str, why: str, instead: str) -> None:
        super().__init__(message)
        self.why = why
        self.instead = instead

    def __reduce__(self) -> tuple[Any, ...]:
        # (pickled with its attributes: raised in a worker process, it reached the caller
        # as a BrokenProcessPool)
        text = str(self.args[0]) if self.args else ""
        return (type(self), (text, self.why, self.instead), self.__dict__)


class DataFetchError(OSError):
    """A data file is neither cached (with the right digest) nor downloadable."""


class DigestMismatchError(DataFetchError):
    """A downloaded file does not have the pinned SHA-256 digest."""


__getattr__, __dir__ = lazy_attributes(__name__, _DEFINED_IN, globals(), __all__)
