"""What tests of codecs assert about messages that yield no event."""

from __future__ import annotations

from devices.events import Ignored, Result


def only_ignores(results: list[Result]) -> bool:
    """True when a message yielded no event and no error, only counted ignores (at least one)."""
    return bool(results) and all(isinstance(r, Ignored) for r in results)


def without_ignores(results: list[Result]) -> list[Result]:
    """The events and errors among results."""
    return [r for r in results if not isinstance(r, Ignored)]
