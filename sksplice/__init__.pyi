# The public names of sksplice and their modules, listed once: type checkers read this
# stub, and sksplice/__init__.py hands it to lazy_loader.attach_stub, which imports each
# name from its module on first access. Only `from .module import name as name` lines.

from ._data import get_data_home as get_data_home
from ._protocols import ImageEmbedder as ImageEmbedder
from ._protocols import TextEmbedder as TextEmbedder
from ._version import __version__ as __version__
from .analysis import concept_profiles as concept_profiles
from .analysis import rank_concepts as rank_concepts
from .analysis import rank_each_class as rank_each_class
from .editing import ConceptEditor as ConceptEditor
from .editing import ConceptProjector as ConceptProjector
from .embedders import CLIPEmbedder as CLIPEmbedder
from .path import SplicePath as SplicePath
from .path import splice_path as splice_path
from .path import splice_validation_curve as splice_validation_curve
from .pipeline import SplicePipeline as SplicePipeline
from .pipeline import make_pipeline as make_pipeline
from .probes import probe_concepts as probe_concepts
from .probes import zero_concept_coefficients as zero_concept_coefficients
from .retrieval import ConceptRetriever as ConceptRetriever
from .search import SplicePathSearchCV as SplicePathSearchCV
from .sentence import SentenceTransformerEmbedder as SentenceTransformerEmbedder
from .shift import compare_datasets as compare_datasets
from .transformer import SpliceTransformer as SpliceTransformer
from .vocabulary import load_image_mean as load_image_mean
from .vocabulary import load_vocabulary as load_vocabulary
from .zero_shot import ZeroShotClassifier as ZeroShotClassifier
