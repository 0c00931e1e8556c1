"""Which ingest slot reads which topic filter: the same answer in every replica.

A slot subscribes to its filters with plain (non-shared) subscriptions, so its
persistent session keeps them, and the messages queued for them, across a
broker restart (Mosquitto does not restore shared-subscription groups). All
filters of one device go to one slot, so a stateful codec (Bambu's merged
report, a plug's power detector) sees its device's whole stream in one
process. Devices that share a filter are kept together for the same reason.
The hash is CRC-32, not Python's `hash()`, which differs between processes.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable


def slot_of(key: str, slots: int) -> int:
    """The slot of one device key (or lone filter) among `slots`."""
    return zlib.crc32(key.encode()) % slots


def partition(groups: Iterable[tuple[str, Iterable[str]]], slots: int) -> dict[int, set[str]]:
    """Each slot's filters, from (device key, its filters) pairs; filters shared join devices."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    owner: dict[str, str] = {}
    members: dict[str, set[str]] = {}
    for key, filters in groups:
        parent.setdefault(key, key)
        members.setdefault(key, set()).update(filters)
        for topic_filter in filters:
            other = owner.setdefault(topic_filter, key)
            a, b = root(other), root(key)
            if a != b:
                parent[max(a, b)] = min(a, b)  # the smallest key names the group everywhere
    slots_filters: dict[int, set[str]] = {slot: set() for slot in range(slots)}
    for key, filters in members.items():
        slots_filters[slot_of(root(key), slots)] |= filters
    return slots_filters
