"""``python -m nbdock ...``: the same as the ``nbdock`` command."""

import sys

from nbdock.cli import main

sys.exit(main())
