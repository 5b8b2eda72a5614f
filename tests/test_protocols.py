"""The embedder protocols: one definition, one check, the same error everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import sksplice
from sksplice import ImageEmbedder, TextEmbedder
from sksplice._protocols import check_image_embedder, check_text_embedder


class _Texts:
    def embed_text(self, texts):
        rng = np.random.default_rng(len(texts))
        return rng.standard_normal((len(texts), 8)).astype(np.float32)


class _Images:
    def embed_images(self, images):
        return np.ones((len(images), 8), dtype=np.float32)


class _NotCallable:
    embed_text = "not a method"
    embed_images = 3


def test_duck_typed_embedders_satisfy_the_protocols():
    assert isinstance(_Texts(), TextEmbedder)
    assert not isinstance(_Texts(), ImageEmbedder)
    assert isinstance(_Images(), ImageEmbedder)
    assert check_text_embedder(_Texts()).embed_text(["a"]).shape == (1, 8)
    assert check_image_embedder(_Images()) is not None


def test_the_package_embedders_satisfy_the_protocols():
    from sksplice import CLIPEmbedder, SentenceTransformerEmbedder

    clip = CLIPEmbedder("ViT-B-32", pretrained=None)  # nothing is loaded before use
    assert isinstance(clip, TextEmbedder)
    assert isinstance(clip, ImageEmbedder)
    assert isinstance(SentenceTransformerEmbedder("unused"), TextEmbedder)


@pytest.mark.parametrize("bad", [None, object(), "ViT-B-32", _Images(), _NotCallable()])
def test_check_names_the_parameter_and_the_type(bad):
    with pytest.raises(TypeError, match=r"`splice.embedder` must have an embed_text.*to embed x"):
        check_text_embedder(bad, param="splice.embedder", purpose="to embed x")
    with pytest.raises(TypeError, match=rf"got {type(bad).__name__ if bad is not None else None}"):
        check_text_embedder(bad)


@pytest.mark.parametrize("bad", [None, object(), _Texts(), _NotCallable()])
def test_image_check_refuses_non_image_embedders(bad):
    with pytest.raises(TypeError, match="`embedder` must have an embed_images method"):
        check_image_embedder(bad)


def _concepts(n=12):
    return [f"concept {i}" for i in range(n)]


def test_every_estimator_refuses_a_non_embedder_the_same_way():
    """Each estimator taking an `embedder` raises the protocol's TypeError, before any work."""
    from sksplice import ConceptProjector, SpliceTransformer, ZeroShotClassifier

    X = np.random.default_rng(0).standard_normal((4, 8))
    message = r"`embedder` must have an embed_text\(list\[str\]\) method.*got object"
    with pytest.raises(TypeError, match=message):
        SpliceTransformer(embedder=object(), vocabulary=_concepts()).fit(X)
    with pytest.raises(TypeError, match=message):
        ZeroShotClassifier(object(), classes=["cat", "dog"]).fit(X)
    with pytest.raises(TypeError, match=message):
        ConceptProjector(object(), concepts=["cat"]).fit(X)
    from sksplice.dictionary import embed_vocabulary

    with pytest.raises(TypeError, match=message):
        embed_vocabulary(object(), _concepts())


def test_dask_image_path_uses_the_image_protocol():
    pytest.importorskip("dask")
    from sksplice.distributed import embed_images_dask

    with pytest.raises(TypeError, match="`embedder` must have an embed_images method; got _Texts"):
        embed_images_dask(_Texts(), ["a.jpg"], n_features=8)


def test_nothing_else_probes_for_the_embedder_methods():
    """The protocol is checked in one place: no module looks for the methods by name."""
    package = Path(sksplice.__file__).parent
    probe = re.compile(r"""(hasattr|getattr)\([^)]*["'](embed_text|embed_images)["']""")
    offenders = [
        f"{path.relative_to(package)}:{n}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "_protocols.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if probe.search(line)
    ]
    assert offenders == []
