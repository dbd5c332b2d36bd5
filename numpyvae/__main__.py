"""``python -m numpyvae``: the same as the ``numpyvae`` command."""
import sys

from .app import main

sys.exit(main())
