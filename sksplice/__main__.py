"""``python -m sksplice`` runs the ``sksplice`` command."""

import sys

from ._console import main

sys.exit(main())
