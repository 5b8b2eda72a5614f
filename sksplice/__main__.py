"""``python -m sksplice`` runs the ``sksplice`` command."""

import sys

from .cli import main

sys.exit(main())
