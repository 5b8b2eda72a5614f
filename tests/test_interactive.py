"""What a user of an interactive session (a Jupyter notebook, IPython) meets: an
interrupted cell, a cell run twice, a failed fit followed by the next cell."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from sksplice import (
    ConceptEditor,
    SentenceTransformerEmbedder,
    SpliceTransformer,
)

from ._helpers_transformer import KeylessEmbedder, random_vocabulary
from .conftest import REPO_ROOT, TESTS_DATA, TINY_MODEL


def _fresh_python(code: str, tmp_path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "SKSPLICE_MODEL_CONFIGS": str(TESTS_DATA / f"{TINY_MODEL}.json"),
        "SKSPLICE_CACHE": str(tmp_path / "cache"),
        "SKSPLICE_DATA": str(tmp_path / "data"),
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("EAGER_IMPORT", None)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_interrupt_during_the_first_model_load_leaves_the_session_usable(tmp_path):
    # The interrupt button of a notebook during the first fit, while open_clip (and
    # timm, transformers, sympy...) is being imported: the KeyboardInterrupt must come
    # once the import is done, not halfway through it, which would leave modules half
    # initialised and every later fit failing until the kernel is restarted.
    code = f"""
        import signal, sys
        from sksplice import CLIPEmbedder

        class InterruptOnImport:
            def find_spec(self, name, path=None, target=None):
                if name.startswith("open_clip."):  # (a Ctrl-C halfway through the import)
                    sys.meta_path.remove(self)
                    signal.raise_signal(signal.SIGINT)
                return None

        hook = InterruptOnImport()
        sys.meta_path.insert(0, hook)
        embedder = CLIPEmbedder({TINY_MODEL!r}, pretrained=None, modality="text", device="cpu")
        try:
            embedder.fit_transform(["a dog"])
        except KeyboardInterrupt:
            print("interrupted", "open_clip" in sys.modules)
        print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        print(embedder.fit_transform(["a dog", "a cat"]).shape)
        """
    result = _fresh_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["interrupted True", "True", "(2, 32)"], result.stdout


def test_interrupt_is_not_held_back_where_sigint_has_another_handler():
    import signal

    from sksplice._interrupt import interrupt_deferred

    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        with interrupt_deferred():
            signal.raise_signal(signal.SIGINT)
            assert received == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("sigint_interrupts")
def test_a_held_interrupt_is_raised_also_when_the_import_failed():
    # The Ctrl-C was lost where the import raised: a caller catching ImportError (an
    # optional dependency looked for) went on as if nothing had been pressed.
    import signal

    from sksplice._interrupt import interrupt_deferred

    with pytest.raises(KeyboardInterrupt) as caught:
        try:
            with interrupt_deferred():
                signal.raise_signal(signal.SIGINT)
                raise ImportError("no module named 'optional'")
        except ImportError:
            pass
    assert isinstance(caught.value.__context__, ImportError)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.usefixtures("sigint_interrupts")
def test_a_sigint_handler_installed_during_the_import_is_kept():
    # A library imported in the block that installs its own handler lost it to Python's
    # default; one that calls on the handler it found (the held one) still interrupts.
    import signal

    from sksplice._interrupt import interrupt_deferred

    found = []

    def own(signum, frame):
        found[0](signum, frame)

    try:
        with interrupt_deferred():
            found.append(signal.getsignal(signal.SIGINT))
            signal.signal(signal.SIGINT, own)
        assert signal.getsignal(signal.SIGINT) is own
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _splice(embedder, **params) -> SpliceTransformer:
    params = {"vocabulary": random_vocabulary(40), "l1_penalty": 0.1, **params}
    return SpliceTransformer(embedder=embedder, image_mean=None, **params)


def test_an_unknown_output_set_after_fit_is_refused_not_ignored():
    # (set_params in a later cell: fit checked the output it was given, transform reads
    # the one set since)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 16))
    splice = _splice(KeylessEmbedder()).fit(X)
    splice.set_params(output="pandas")
    # (as fit says it: the class first, and where a DataFrame of weights comes from)
    with pytest.raises(
        ValueError,
        match=r"^SpliceTransformer: output must be 'sparse' or 'dense', got 'pandas'; weights in "
        r"a DataFrame are set_output\(transform='pandas'\)",
    ):
        splice.transform(X)
    with pytest.raises(ValueError, match=r"^SpliceTransformer: output must be .* set_output"):
        _splice(KeylessEmbedder(), output="pandas").fit(X)
    with pytest.raises(ValueError, match="output must be"):
        splice.transform_with_stats(X)
    splice.set_params(output="sparse")
    editor = ConceptEditor(remove=["concept001"], splice=splice).fit(splice.transform(X))
    editor.set_params(output="embeddings")
    with pytest.raises(ValueError, match="output must be 'weights' or 'embedding'"):
        editor.transform(splice.transform(X))


class _FakeSentenceModel:
    """A sentence model of width 8 (``encode``, ``get_embedding_dimension``)."""

    def encode(self, texts, **kwargs):
        return np.ones((len(texts), 8), dtype=np.float32) / np.sqrt(8)

    def get_embedding_dimension(self):
        return 8


def _display_shows_output_features() -> bool:
    """Whether scikit-learn's HTML display counts the output features of a fitted
    transformer (scikit-learn 1.8 and later)."""
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils import estimator_html_repr

    return "2 features" in estimator_html_repr(StandardScaler().fit(np.eye(3, 2)))


def test_an_estimator_among_the_parameters_is_not_drawn_as_a_stage():
    # scikit-learn drew SpliceTransformer(embedder=CLIPEmbedder(...)) as a stage of the
    # pipeline holding a second CLIPEmbedder, as if the images were embedded twice, and
    # an editor's splice as a second decomposition.
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.utils import estimator_html_repr

    from sksplice import CLIPEmbedder, ConceptRetriever, ZeroShotClassifier

    clip = CLIPEmbedder(TINY_MODEL, pretrained=None, device="cpu")
    splice = SpliceTransformer(embedder=clip, vocabulary=["a dog", "a cat"])
    editor = ConceptEditor(remove=["a dog"], splice=FrozenEstimator(splice))
    pipe = make_pipeline(clip, splice, editor, LogisticRegression())
    html = estimator_html_repr(pipe)
    assert "embedder: CLIPEmbedder" not in html and "splice: FrozenEstimator" not in html
    assert html.count(">CLIPEmbedder<") == 1 and html.count(">SpliceTransformer<") == 1
    assert "embedder__model" in html and "splice__estimator" in html  # (its parameters)
    for holder in (
        ZeroShotClassifier(clip, ["dog", "cat"]),
        ConceptRetriever(splice=splice),
        splice,
    ):
        html = estimator_html_repr(holder)
        assert f">{type(holder).__name__}<" in html and ": CLIPEmbedder" not in html
        assert ": SpliceTransformer" not in html


def test_showing_a_sentence_embedder_in_a_notebook_loads_no_model():
    # A notebook shows an estimator with scikit-learn's HTML display, which asks every
    # step that counts as fitted (an embedder always does) for its output names.
    from sklearn.utils import estimator_html_repr

    loads = []

    def load_model():
        loads.append(1)
        return _FakeSentenceModel()

    embedder = SentenceTransformerEmbedder(load_model, device="cpu", name="fake-sentence-8")
    splice = SpliceTransformer(embedder=embedder, vocabulary=["a", "b"], modality="text")
    for shown in (embedder, splice, make_pipeline(embedder, splice)):
        html = estimator_html_repr(shown)
        assert "SentenceTransformerEmbedder" in html
        assert "8 features" not in html
    assert loads == []
    # once the model is loaded (by its first use), the display shows its width
    embedder.transform(["a dog"])
    assert loads == [1]
    assert ("8 features" in estimator_html_repr(embedder)) == _display_shows_output_features()
    assert embedder.get_feature_names_out().shape == (8,)


def test_showing_a_clip_embedder_in_a_notebook_imports_no_open_clip(tmp_path):
    code = f"""
        import sys
        from sklearn.utils import estimator_html_repr
        from sksplice import CLIPEmbedder

        embedder = CLIPEmbedder({TINY_MODEL!r}, pretrained=None, modality="image", device="cpu")
        html = estimator_html_repr(embedder)
        print("CLIPEmbedder" in html, "32 features" in html, "open_clip" in sys.modules)
        print(embedder.get_feature_names_out().shape)
        print("32 features" in estimator_html_repr(embedder))
        """
    result = _fresh_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    shown = str(_display_shows_output_features())
    # (the width read from open_clip's files: shown where scikit-learn shows it)
    assert result.stdout.split("\n")[:3] == [f"True {shown} False", "(32,)", shown], result.stdout
