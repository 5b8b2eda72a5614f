"""``python -m sksplice.cli``: the ``sksplice`` command."""

import sys

from .._console import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
