"""``python -m labbridge``: the same as the `labbridge` command."""

import sys

from labbridge.cli import main

sys.exit(main())
