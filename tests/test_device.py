"""The one rule for ``device``: sksplice._device.resolve_device and everything that uses it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sksplice._device import resolve_device
from sksplice.embedders import CLIPEmbedder
from sksplice.sentence import SentenceTransformerEmbedder
from sksplice.solvers import NonNegLasso
from sksplice.transformer import SpliceTransformer


@pytest.fixture
def fake_cuda(monkeypatch):
    """A machine with two CUDA devices, device 1 current (nothing is run on it)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        ("cpu", "cpu"),
        ("cpu:0", "cpu:0"),
        (torch.device("cpu"), "cpu"),
        ("auto", "cpu"),
    ],
)
def test_accepted_without_cuda(no_cuda, device, expected):
    assert resolve_device(device) == expected


@pytest.mark.parametrize("device", ["meta", torch.device("meta")])
def test_the_meta_device_is_refused_before_any_work(device):
    # fit accepted it, then transform failed with torch's "Tensor.item() cannot be
    # called on meta tensors"
    import numpy as np

    from sksplice import SpliceTransformer

    with pytest.raises(ValueError, match=r"meta device holds shapes, not numbers"):
        resolve_device(device)
    E = np.random.default_rng(0).normal(size=(5, 8))
    splice = SpliceTransformer(vocabulary=list("abcde"), concept_embeddings=E, device=device)
    with pytest.raises(ValueError, match=r"device='meta': torch's meta device"):
        splice.fit(E)


@pytest.fixture
def no_mps_no_xpu(monkeypatch):
    """A machine without the MPS and XPU backends, whatever this one has."""
    _backends(monkeypatch, False)


def _backends(monkeypatch, available):
    def is_available():
        return available

    # (torch._dynamo, imported with open_clip, reads mps.is_available.__wrapped__)
    is_available.__wrapped__ = is_available
    monkeypatch.setattr(torch.backends.mps, "is_available", is_available)
    monkeypatch.setattr(torch.xpu, "is_available", is_available)


@pytest.mark.parametrize(
    ("device", "words"),
    [
        ("mps", r"device='mps' but MPS is not available \(torch.backends.mps.is_available\(\) "),
        ("mps:0", r"device='mps:0' but MPS is not available"),
        ("xpu", r"device='xpu' but XPU is not available \(torch.xpu.is_available\(\) is False"),
        (torch.device("xpu", 1), r"device='xpu:1' but XPU is not available"),
        # no is_available() to ask: an empty tensor placed there tells
        ("xla", r"device='xla' but XLA is not available \(NotImplementedError: "),
    ],
)
def test_other_device_types_without_their_backend_are_refused(no_mps_no_xpu, device, words):
    # They passed, and the first transform failed with torch's RuntimeError.
    with pytest.raises(ValueError, match=words + r".*use device='cpu'"):
        resolve_device(device)


def test_other_device_types_with_their_backend_are_accepted(monkeypatch):
    _backends(monkeypatch, True)
    assert resolve_device("mps") == "mps"
    assert resolve_device("xpu:1") == "xpu:1"


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        ("auto", "cuda:1"),
        ("cuda", "cuda:1"),  # the current device, so that "cuda" and "cuda:1" share caches
        ("cuda:0", "cuda:0"),
        ("cuda:1", "cuda:1"),
        (torch.device("cuda"), "cuda:1"),
        (torch.device("cuda", 0), "cuda:0"),
        ("cpu", "cpu"),
    ],
)
def test_accepted_with_cuda(fake_cuda, device, expected):
    assert resolve_device(device) == expected


@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda", 1)])
def test_cuda_without_cuda_is_refused(no_cuda, device):
    with pytest.raises(ValueError, match=r"CUDA is not available; use device='cpu'"):
        resolve_device(device)


def test_the_refusal_pickles_with_its_attributes(no_cuda):
    # (it could not be pickled: raised in a worker process, it reached the caller as a
    # BrokenProcessPool)
    import copy
    import pickle

    from sksplice.exceptions import DeviceUnavailableError

    with pytest.raises(DeviceUnavailableError) as refused:
        resolve_device("cuda")
    for again in (pickle.loads(pickle.dumps(refused.value)), copy.copy(refused.value)):
        assert type(again) is DeviceUnavailableError
        assert str(again) == str(refused.value)
        assert (again.why, again.instead) == (refused.value.why, refused.value.instead)


@pytest.mark.parametrize("device", ["cuda:2", "cuda:7", torch.device("cuda", 2)])
def test_cuda_index_beyond_the_devices_is_refused(fake_cuda, device):
    with pytest.raises(ValueError, match=r"but torch sees 2 CUDA devices \(cuda:0 to cuda:1\)"):
        resolve_device(device)


def test_cuda_index_beyond_a_single_device_is_refused(fake_cuda, monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert resolve_device("cuda") == "cuda:0"
    with pytest.raises(
        ValueError, match=r"device='cuda:1' but torch sees 1 CUDA device \(cuda:0\)"
    ):
        resolve_device("cuda:1")


@pytest.mark.parametrize("device", ["gpu:0", "", "cuda:x", "CPU", "auto "])
def test_unknown_device_strings_are_refused(device):
    with pytest.raises(ValueError, match=r"is not a device torch understands"):
        resolve_device(device)


@pytest.mark.parametrize("device", [None, 0, 1.0, b"cpu", ["cpu"]])
def test_non_strings_are_refused(device):
    with pytest.raises(TypeError, match=r"device must be a string"):
        resolve_device(device)


def _calls():
    """Every entry point that takes ``device``, checking it before any work."""
    rng = np.random.default_rng(0)
    D = rng.normal(size=(4, 3))

    def never_loaded():
        raise AssertionError("the model must not be loaded before the device is checked")

    return {
        "CLIPEmbedder": lambda device: CLIPEmbedder(device=device).fit(),
        "SentenceTransformerEmbedder": lambda device: SentenceTransformerEmbedder(
            never_loaded, device=device
        ).embed_text(["a"]),
        "SpliceTransformer": lambda device: SpliceTransformer(
            vocabulary=list("abcd"), concept_embeddings=D, device=device
        ).fit(rng.normal(size=(5, 3))),
        "NonNegLasso": lambda device: NonNegLasso(D, device=device),
    }


@pytest.mark.parametrize("entry", sorted(_calls()))
@pytest.mark.parametrize(
    ("device", "error", "words"),
    [
        (None, TypeError, "device must be a string"),
        (0, TypeError, "device must be a string"),
        ("gpu", ValueError, "'gpu' is not a device torch understands"),
        ("cuda", ValueError, "CUDA is not available"),
        ("mps", ValueError, "device='mps' but MPS is not available"),
        ("xpu", ValueError, "device='xpu' but XPU is not available"),
    ],
)
def test_every_entry_point_applies_the_same_rule(
    no_cuda, no_mps_no_xpu, entry, device, error, words
):
    with pytest.raises(error, match=words):
        _calls()[entry](device)


def test_solver_holds_a_torch_device(no_cuda):
    solver = NonNegLasso(np.eye(3), device="auto")
    assert solver.device == torch.device("cpu")
    assert solver.dictionary.device.type == "cpu"
