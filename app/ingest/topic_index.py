"""A prebuilt index from MQTT topic filters to values: one trie walk per topic.

Filters follow MQTT: `+` matches one level, a trailing `#` matches the rest
(including none), and a topic starting with `$` is matched by no wildcard at
its first level. Looking a topic up costs its number of levels, whatever the
number of filters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass
class _Node(Generic[V]):
    children: dict[str, _Node[V]] = field(default_factory=dict)
    here: list[V] = field(default_factory=list)
    rest: list[V] = field(default_factory=list)


class TopicIndex(Generic[V]):
    """Topic filters and their values, indexed by level."""

    def __init__(self, entries: Iterable[tuple[str, V]] = ()) -> None:
        self._root: _Node[V] = _Node()
        self._exact: dict[str, list[V]] = {}
        for topic_filter, value in entries:
            self.add(topic_filter, value)

    def add(self, topic_filter: str, value: V) -> None:
        """Index `value` under `topic_filter`."""
        if "+" not in topic_filter and "#" not in topic_filter:
            self._exact.setdefault(topic_filter, []).append(value)
            return
        node = self._root
        levels = topic_filter.split("/")
        for position, level in enumerate(levels):
            if level == "#" and position == len(levels) - 1:
                node.rest.append(value)
                return
            node = node.children.setdefault(level, _Node())
        node.here.append(value)

    def match(self, topic: str) -> list[V]:
        """Every value whose filter matches `topic`, each once, in the order they were added."""
        found = list(self._exact.get(topic, ()))
        if self._root.children or self._root.rest:
            self._walk(self._root, topic.split("/"), 0, found, topic.startswith("$"))
        return _unique(found) if len(found) > 1 else found

    def _walk(
        self, node: _Node[V], levels: list[str], depth: int, found: list[V], system: bool
    ) -> None:
        wildcard_ok = not (system and depth == 0)
        if wildcard_ok:
            found.extend(node.rest)
        if depth == len(levels):
            found.extend(node.here)
            return
        exact = node.children.get(levels[depth])
        if exact is not None:
            self._walk(exact, levels, depth + 1, found, system)
        plus = node.children.get("+") if wildcard_ok else None
        if plus is not None:
            self._walk(plus, levels, depth + 1, found, system)


def _unique(values: list[V]) -> list[V]:
    """The values in order, each object once (one codec may need two matching filters)."""
    seen: set[int] = set()
    kept: list[V] = []
    for value in values:
        if id(value) not in seen:
            seen.add(id(value))
            kept.append(value)
    return kept
