"""Test helper: import the worked examples of docs/examples as modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``docs/examples/<name>.py`` (cached in ``sys.modules``)."""
    key = f"sksplice_docs_example_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


def assert_png(path: Path) -> None:
    """The file exists, is a PNG and is not trivially small."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert len(data) > 2000, f"{path} is suspiciously small"
