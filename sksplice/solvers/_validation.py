"""Input checks shared by the solvers: each error names what is at fault."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch

from .._validation import check_number


def resolve_dtype(dtype: Any, source_dtype: torch.dtype, device: torch.device) -> torch.dtype:
    """Storage dtype of the dictionary (precision of the large products)."""
    if dtype is None:
        if device.type == "cpu" and source_dtype == torch.float64:
            return torch.float64
        return torch.float32
    if isinstance(dtype, str):
        mapping = {"float32": torch.float32, "float64": torch.float64}
        if dtype not in mapping:
            raise ValueError(f"dtype={dtype!r} is not supported; use 'float32' or 'float64'")
        return mapping[dtype]
    if dtype in (torch.float32, np.float32):
        return torch.float32
    if dtype in (torch.float64, np.float64, float):
        return torch.float64
    raise ValueError(f"dtype={dtype!r} is not supported; use torch.float32 or torch.float64")


def shared_tensor(arr: np.ndarray) -> torch.Tensor:
    """``torch.from_numpy(arr)``: a tensor sharing ``arr``'s memory, read-only arrays included.

    The solvers never write to their inputs (the dictionary, the targets): every
    in-place operation is on a tensor they made. A read-only array (a fitted
    transformer's ``dictionary_`` memory-mapped by ``joblib.load(..., mmap_mode="r")``,
    embeddings a joblib worker received memory-mapped, ``X`` with
    ``X.flags.writeable = False``) is therefore shared as it is, without torch's
    warning that writing to it would be undefined: copying it to make it writable
    would copy the dictionary on every call.
    """
    if arr.flags.writeable:
        return torch.from_numpy(arr)
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="The given NumPy array is not writable", category=UserWarning
        )
        return torch.from_numpy(arr)


def as_tensor_2d(x: Any, name: str) -> torch.Tensor:
    """Convert an array-like to a 2-D floating tensor (on its current device)."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        if hasattr(x, "toarray") and callable(x.toarray):
            x = x.toarray()
        try:
            arr = np.asarray(x)
        except Exception as exc:  # pragma: no cover - exotic inputs
            raise TypeError(f"{name} must be an array or tensor, got {type(x).__name__}") from exc
        if arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_
        ):
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        if np.iscomplexobj(arr):
            raise TypeError(f"{name} must hold real numbers, got complex dtype {arr.dtype}")
        t = shared_tensor(np.ascontiguousarray(arr))
    if t.is_complex():
        raise TypeError(f"{name} must hold real numbers, got complex dtype {t.dtype}")
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got an array of shape {tuple(t.shape)}")
    return t


def check_penalty(l1_penalty: Any) -> float:
    """Validate the l1 penalty: a finite, non-negative real number (or a one-element array)."""
    if isinstance(l1_penalty, torch.Tensor):
        if l1_penalty.numel() != 1:
            raise ValueError(
                f"l1_penalty must be a scalar, got a tensor of shape {tuple(l1_penalty.shape)}"
            )
        l1_penalty = l1_penalty.item()
    if isinstance(l1_penalty, np.ndarray) and l1_penalty.size == 1:
        l1_penalty = l1_penalty.item()
    return check_number(l1_penalty, "l1_penalty", low=0.0, closed="left")


def check_magnitude(t: torch.Tensor, name: str, dtype: torch.dtype, scaled: str) -> None:
    """Refuse values whose products overflow ``dtype`` (a sum of ``d`` squares must stay
    finite); ``scaled`` says how the solution of the scaled-down problem relates."""
    low, high = torch.aminmax(t)
    largest = max(-float(low), float(high))
    limit = math.sqrt(torch.finfo(dtype).max / (4 * max(1, t.shape[1])))
    if largest > limit:
        raise ValueError(
            f"{name} holds values up to {largest:.3g} in absolute value: the products of "
            f"the solver ({str(dtype).removeprefix('torch.')}) overflow above about "
            f"{limit:.2g}; scale it down ({scaled})"
        )
