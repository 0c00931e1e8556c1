"""Database outages logged once when they start and once when they end.

The ingest worker and the interlock driver retry every second or so while the
database is away; a traceback per retry buries the one line that matters. An
`OutageLog` turns a connection failure into one warning, stays quiet while it
lasts, and says when the database answers again. Other errors are not its
business: the caller logs them as before.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import OperationalError


class OutageLog:
    """Remembers whether one component's database is away, so it is said once."""

    def __init__(self, log: logging.Logger, component: str) -> None:
        self._log = log
        self._component = component
        self.down = False

    def quiet(self, exc: BaseException) -> bool:
        """True when `exc` is the database being unreachable (logged on the first only)."""
        if not isinstance(exc, OperationalError):
            return False
        if not self.down:
            self.down = True
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            self._log.warning(
                "%s: the database is unavailable (%s); retrying until it answers",
                self._component,
                reason,
            )
        return True

    def answered(self) -> None:
        """Note a success: logs the end of an outage once."""
        if self.down:
            self.down = False
            self._log.warning("%s: the database answers again", self._component)
