"""CLIPEmbedder text path: shortened sequences where exact, full length elsewhere."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sksplice import _models, _text_encoder, embedders
from sksplice.embedders import CLIPEmbedder

TESTS_DATA = Path(__file__).resolve().parent / "data"

# (MIXED_TEXTS holds a text longer than the context: its warning is tested on its own)
pytestmark = pytest.mark.filterwarnings("ignore::sksplice.exceptions.TruncatedTextWarning")

#: Texts of mixed token lengths (one beyond the context length, one empty), not sorted.
MIXED_TEXTS = [
    "a photo of a big red dog running on the beach in the summer",
    "cat",
    "",
    "an astronaut riding a horse on the moon",
    "the " * 100,
    "snow",
    "a b c d e f g h",
    "dog",
    "bicycle in the rain",
    "x" * 300,
    "tree",
]

#: Text-tower variants of the tiny test model: name -> (text_cfg changes, custom_text, exact).
VARIANTS = {
    "sksplice-test-text-wide": ({"width": 96, "heads": 3, "layers": 3}, False, True),
    "sksplice-test-text-ctx16": ({"context_length": 16, "heads": 4}, False, True),
    "sksplice-test-text-custom": ({"width": 48, "heads": 2, "layers": 1}, True, True),
    "sksplice-test-text-eos": ({"pool_type": "eos", "eos_id": 49407}, True, True),
    "sksplice-test-text-bidirectional": ({"no_causal_mask": True}, False, False),
    "sksplice-test-text-last": ({"pool_type": "last"}, False, False),
    "sksplice-test-text-cls": ({"embed_cls": True}, True, False),
}


@pytest.fixture(scope="module")
def text_variants(tiny_clip_model, tmp_path_factory):
    """Register the variants with open_clip; return the names of all configs under test."""
    import open_clip

    base = json.loads((TESTS_DATA / f"{tiny_clip_model}.json").read_text())
    folder = tmp_path_factory.mktemp("text-variants")
    for name, (changes, custom_text, _) in VARIANTS.items():
        config = json.loads(json.dumps(base))
        config["text_cfg"].update(changes)
        if custom_text:
            config["custom_text"] = True
        path = folder / f"{name}.json"
        path.write_text(json.dumps(config))
        if name not in open_clip.list_models():
            open_clip.add_model_config(path)
    return tiny_clip_model


def make(model: str, **params) -> CLIPEmbedder:
    params.setdefault("pretrained", None)
    params.setdefault("device", "cpu")
    params.setdefault("modality", "text")
    return CLIPEmbedder(model=model, **params)


def full_length_reference(embedder: CLIPEmbedder, texts: list[str]) -> np.ndarray:
    """What open_clip gives on padded, full-context tokens, one call, input order."""
    loaded = _models._load_model(embedder._config())
    with torch.inference_mode():
        features = loaded.model.encode_text(loaded.tokenizer(texts))
    return torch.nn.functional.normalize(features.float(), dim=-1).numpy()


def _eos_pooling() -> bool:
    """Whether open_clip pools a text tower at its ``eos_id`` (``pool_type="eos"``, 3.1)."""
    import open_clip

    major, minor = (int(part) for part in open_clip.__version__.split(".")[:2])
    return (major, minor) >= (3, 1)


def exact_names() -> list[str]:
    return [name for name, (_, _, exact) in VARIANTS.items() if exact]


def fallback_names() -> list[str]:
    return [name for name, (_, _, exact) in VARIANTS.items() if not exact]


@pytest.mark.parametrize(
    ("variant", "batch_size"),
    [(None, 1), (None, 3), (None, 64)] + [(name, 3) for name in exact_names()],
)
def test_shortened_sequences_equal_the_full_length_pass(text_variants, variant, batch_size):
    if variant == "sksplice-test-text-eos" and not _eos_pooling():
        pytest.skip("open_clip before 3.1 has no pooling at the end-of-text id ('eos')")
    model = variant or text_variants
    embedder = make(model, batch_size=batch_size)
    loaded = _models._load_model(embedder._config())
    assert _text_encoder._short_text_encoder(loaded.model) is not None
    got = embedder.embed_text(MIXED_TEXTS)
    expected = full_length_reference(embedder, MIXED_TEXTS)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    # rows stay in input order: each row is closest to its own reference row
    assert (np.argmax(got @ expected.T, axis=1) == np.arange(len(MIXED_TEXTS))).all()


@pytest.mark.parametrize("variant", fallback_names())
def test_other_text_towers_run_at_full_length(text_variants, variant):
    embedder = make(variant, batch_size=4)
    loaded = _models._load_model(embedder._config())
    assert _text_encoder._short_text_encoder(loaded.model) is None
    lengths = []
    transformer = getattr(loaded.model, "text", loaded.model).transformer
    hook = transformer.register_forward_pre_hook(lambda _m, args: lengths.append(args[0].shape))
    try:
        got = embedder.embed_text(MIXED_TEXTS)
    finally:
        hook.remove()
    np.testing.assert_allclose(got, full_length_reference(embedder, MIXED_TEXTS), atol=1e-6)
    context = loaded.model.context_length
    assert [shape[0] for shape in lengths] == [4, 4, 3]  # batch_size texts per batch, in order
    assert {shape[1] for shape in lengths} == {context + (variant == "sksplice-test-text-cls")}


def test_subclasses_of_clip_run_at_full_length(text_variants):
    """A subclass may override encode_text: only the exact open_clip classes are shortened."""
    loaded = _models._load_model(make(text_variants)._config())

    class Subclass(type(loaded.model)):
        pass

    model = loaded.model
    model.__class__ = Subclass
    try:
        assert _text_encoder._short_text_encoder(model) is None
    finally:
        model.__class__ = Subclass.__bases__[0]
    assert _text_encoder._short_text_encoder(model) is not None


def test_batches_run_at_their_longest_sequence_within_the_token_budget(text_variants):
    words = ["cat", "dog", "tree", "a red bicycle", "snow", "a photo of a dog on a beach"] * 30
    embedder = make(text_variants, batch_size=8)
    loaded = _models._load_model(embedder._config())
    shapes = []
    hook = loaded.model.transformer.register_forward_pre_hook(
        lambda _m, args: shapes.append(tuple(args[0].shape[:2]))
    )
    try:
        got = embedder.embed_text(words)
    finally:
        hook.remove()
    np.testing.assert_allclose(got, full_length_reference(embedder, words), atol=1e-5)
    context = loaded.model.context_length
    assert sum(n for n, _ in shapes) == len(words)
    assert all(n * length <= 8 * context for n, length in shapes)
    token_lengths = loaded.tokenizer(words).argmax(dim=-1) + 1
    assert max(length for _, length in shapes) == int(token_lengths.max()) < context
    assert [length for _, length in shapes] == sorted(length for _, length in shapes)
    # short words share large batches: far fewer forward passes than len(words) / 8
    assert len(shapes) <= 3


def test_token_budget_batches():
    lengths = np.array([2, 2, 3, 3, 3, 5, 9, 20, 40])
    bounds = _text_encoder._token_budget_batches(lengths, 12)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(lengths)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    for start, stop in bounds:
        assert stop > start
        assert (stop - start) * lengths[stop - 1] <= 12 or stop - start == 1
    assert bounds == [(0, 4), (4, 6), (6, 7), (7, 8), (8, 9)]


def test_long_inputs_are_tokenized_in_chunks_and_keep_their_order(text_variants, monkeypatch):
    monkeypatch.setattr(embedders, "TEXT_SORT_CHUNK", 4)
    embedder = make(text_variants, batch_size=2)
    got = embedder.embed_text(MIXED_TEXTS)
    np.testing.assert_allclose(got, full_length_reference(embedder, MIXED_TEXTS), atol=1e-5)


def test_image_paths_given_as_texts_are_warned_about(tiny_clip_model, tmp_path):
    # A text embedder embedded the file names of images as text, without a word (the
    # reverse mistake, texts given to an image embedder, is an error).
    import warnings

    from PIL import Image

    paths = []
    for i in range(2):
        paths.append(str(tmp_path / f"{i}.PNG"))
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(paths[-1], format="png")
    embedder = make(tiny_clip_model)
    with pytest.warns(UserWarning, match=r"the texts name image files .*modality='image'"):
        Z = embedder.transform(paths)
    assert Z.shape[0] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        embedder.transform(["a photo of a dog", "snow.png"])  # (not every text a file name)
        embedder.transform(["missing.png", "gone.jpg"])  # (no such files)


def test_texts_longer_than_the_context_are_warned_about_with_their_positions(
    text_variants, monkeypatch
):
    # open_clip's tokenizer cuts them without a word: a long caption or query was
    # embedded as its beginning
    from sksplice.exceptions import TruncatedTextWarning

    monkeypatch.setattr(embedders, "TEXT_SORT_CHUNK", 4)  # (positions across chunks)
    texts = [*MIXED_TEXTS, "a dog and " * 30]
    embedder = make(text_variants, batch_size=2)
    pattern = (
        r"^2 of 12 texts \(4: 'the the the .*'\.\.\.; 11: 'a dog and a dog .*'\.\.\.\) are "
        rf"longer than the context of {text_variants}'s text tower \(77 tokens\) and cut to it"
    )
    with pytest.warns(TruncatedTextWarning, match=pattern) as got:
        embedder.embed_text(texts)
    (warning,) = [w.message for w in got if isinstance(w.message, TruncatedTextWarning)]
    assert warning.indices == (4, 11) and warning.context_length == 77
    assert got[0].filename == __file__  # (the caller's line)
    # the warning the command line gives before the model is loaded is the same
    before = embedders.texts_cut_by(text_variants, texts)
    assert str(before) == str(warning) and before.indices == (4, 11)


@pytest.mark.parametrize(("words", "cut"), [(75, False), (76, True)])
def test_a_text_is_warned_about_only_if_it_does_not_fit_the_context(text_variants, words, cut):
    import warnings

    from sksplice.exceptions import TruncatedTextWarning

    # 75 tokens, with the start and end of text, fill the 77 places exactly: not cut
    text = " ".join(["word"] * words)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        make(text_variants).embed_text([text])
    said = [str(w.message) for w in seen if issubclass(w.category, TruncatedTextWarning)]
    assert said == (
        [
            "the text 'word word word word word word word word '... is longer "
            f"than the context of {text_variants}'s text tower (77 tokens) and cut to it by its "
            "tokenizer: the embedding reads only the beginning; shorten or split it"
        ]
        if cut
        else []
    )
    assert (embedders.texts_cut_by(text_variants, [text]) is not None) == cut
    # (a model of the Hugging Face Hub, or one open_clip does not know: not known early,
    # and no download or error for an early warning)
    assert embedders.texts_cut_by("hf-hub:nobody/nothing", [text]) is None
    assert embedders.texts_cut_by("no-such-model", [text]) is None
