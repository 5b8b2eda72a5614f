"""sksplice: Sparse Linear Concept Embeddings (SpLiCE) for CLIP, as scikit-learn estimators.

The public names are imported lazily, on first attribute access, so that
``import sksplice`` and the command line's ``--help`` stay fast; torch and
open_clip are only imported when an estimator is used. The names and their
modules are listed once, in ``__init__.pyi``, which type checkers read and
``lazy_loader`` turns into ``__getattr__``, ``__dir__`` and ``__all__``
(scientific-Python SPEC 1). ``EAGER_IMPORT=1`` imports them all at once.
A Ctrl-C during such an import (torch's, seconds long) is raised once it is
done, so that it leaves no module half imported (see ``_interrupt``).
"""

from typing import Any

import lazy_loader as lazy

from ._interrupt import interrupt_deferred

_lazy_getattr, __dir__, __all__ = lazy.attach_stub(__name__, __file__)


def __getattr__(name: str) -> Any:
    with interrupt_deferred():
        return _lazy_getattr(name)
