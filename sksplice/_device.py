"""The ``device`` parameter of every estimator, embedder and solver: one rule.

``"auto"`` is CUDA when torch sees a CUDA device, else the CPU; any other
string (or ``torch.device``) is what torch makes of it. ``"cuda"`` without an
index is the current CUDA device, so that ``"cuda"`` and ``"cuda:<current>"``
name the same device (and share cached models and solvers). Asking for CUDA
where there is none, or a CUDA index beyond the devices torch sees, is
refused at once; so is any other device type (``"mps"``, ``"xpu"``, ...)
whose backend torch does not have here (told by its ``is_available()``, or
where it has none by placing an empty tensor there), rather than at the
first computation.
"""

from __future__ import annotations

from typing import Any

import torch

from .exceptions import DeviceUnavailableError

__all__ = ["DeviceUnavailableError", "resolve_device"]


def resolve_device(device: Any) -> str:
    """The torch device string that ``device`` stands for.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` (CUDA when available, else ``"cpu"``), or any device torch
        understands, such as ``"cpu"``, ``"cuda"`` or ``"cuda:1"``.

    Returns
    -------
    str
        The device, e.g. ``"cpu"`` or ``"cuda:0"`` (CUDA always with its index).

    Raises
    ------
    TypeError
        If ``device`` is neither a string nor a ``torch.device`` (None included).
    ValueError
        If torch does not understand the string, CUDA is asked for but not
        available, the CUDA index is not below ``torch.cuda.device_count()``,
        or another device type (``"mps"``, ``"xpu"``, ...) is not available.

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    >>> resolve_device("auto").split(":")[0] in ("cpu", "cuda")
    True
    """
    device, parsed = _parsed(device)
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                f"device={device!r} but CUDA is not available; use device='cpu'",
                "CUDA is not available on this machine",
                "cpu",
            )
        if parsed.index is None:  # "cuda" and "cuda:<current>" share one cached model
            parsed = torch.device("cuda", torch.cuda.current_device())
        count = torch.cuda.device_count()
        if parsed.index >= count:
            which = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
            sees = f"torch sees {count} CUDA device{'' if count == 1 else 's'} ({which})"
            raise DeviceUnavailableError(
                f"device={device!r} but {sees}; use an index below {count}",
                f"{sees} on this machine",
                f"cuda:{count - 1}",
            )
    elif parsed.type != "cpu":
        _check_available(device, parsed)
    return str(parsed)


def check_device_name(device: Any) -> None:
    """Refuse a ``device`` that is no device torch understands (of the wrong type
    included), without asking whether it is available on this machine.

    A model set up for ``"cuda"`` may still be fitted on a machine without one when
    it is never loaded there (its concept embeddings given or cached).

    Raises
    ------
    TypeError, ValueError
        As :func:`resolve_device` does for the type and the form of ``device``.
    """
    _parsed(device)


def _parsed(device: Any) -> tuple[str, torch.device]:
    """``device`` as a string (``"auto"`` resolved) and as torch parses it."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(
            f"device must be a string such as 'auto', 'cpu' or 'cuda:0', got "
            f"{type(device).__name__}"
        )
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(
            f"device={device!r} is not a device torch understands (try 'auto', 'cpu' or 'cuda')"
        ) from exc
    if parsed.type == "meta":  # (accepted by fit, then torch's error in transform)
        raise ValueError(
            f"device={device!r}: torch's meta device holds shapes, not numbers: nothing can "
            "be embedded or solved there; use 'auto', 'cpu' or 'cuda'"
        )
    return device, parsed


def _check_available(device: str, parsed: torch.device) -> None:
    """Refuse a device whose backend this torch lacks (not CUDA: see resolve_device)."""
    kind = parsed.type
    name = "torch.backends.mps" if kind == "mps" else f"torch.{kind}"
    backend = torch.backends.mps if kind == "mps" else getattr(torch, kind, None)
    is_available = getattr(backend, "is_available", None)
    reason = None
    if callable(is_available):  # (as for CUDA, the backend's word is taken)
        try:
            if not is_available():
                reason = f"{name}.is_available() is False"
        except Exception as exc:  # (a backend module that cannot tell)
            reason = f"{name}.is_available() failed: {type(exc).__name__}: {exc}"
    else:
        try:  # what the first computation would do, on nothing
            torch.empty(0, device=parsed)
        except Exception as exc:
            # (the first sentence: torch goes on with a list of every backend it has)
            words = str(exc).strip().split("\n")[0].split(". ")[0][:200]
            reason = f"{type(exc).__name__}: {words}" if words else type(exc).__name__
    if reason is not None:
        auto = "cuda" if torch.cuda.is_available() else "cpu"
        raise DeviceUnavailableError(
            f"device={device!r} but {kind.upper()} is not available ({reason}); use "
            f"device='cpu', or 'auto' ({auto} here)",
            f"{kind.upper()} is not available on this machine ({reason})",
            "cpu",
        )
