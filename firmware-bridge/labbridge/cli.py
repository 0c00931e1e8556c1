"""The `labbridge` command."""

from __future__ import annotations

import sys

from labbridge import __version__


def main() -> None:
    """Print the version (the agent itself arrives with the live-lab step)."""
    sys.stdout.write(f"labbridge {__version__}\n")
