"""Attributes of a module imported on first use, from the modules that define them."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    module: str, defined_in: Mapping[str, str], namespace: dict[str, Any], names: list[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``module`` (PEP 562) for attributes defined
    elsewhere: ``defined_in`` maps each name to its module, relative to ``module``'s
    package (``"._models"``), imported on first use; the value is then kept in
    ``namespace`` (the module's globals), so it is imported once. ``names`` is the
    module's ``__all__``."""
    package = module if namespace.get("__path__") is not None else module.rpartition(".")[0]

    def __getattr__(name: str) -> Any:
        if name in defined_in:
            value = getattr(importlib.import_module(defined_in[name], package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return __getattr__, __dir__
