"""The prebuilt topic index matches exactly what MQTT's filter rules (paho's matcher) match."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.client import topic_matches_sub

from app.ingest.topic_index import TopicIndex

LEVELS = st.sampled_from(["a", "b", "octoPrint", "event", "", "$SYS", "switch:0"])
TOPICS = st.lists(LEVELS, min_size=1, max_size=4).map("/".join)


@st.composite
def filters(draw: st.DrawFn) -> str:
    levels = draw(st.lists(st.one_of(LEVELS, st.just("+")), min_size=1, max_size=4))
    if draw(st.booleans()):
        levels.append("#")
    return "/".join(levels)


@settings(max_examples=300, deadline=None)
@given(st.lists(filters(), min_size=1, max_size=12, unique=True), st.lists(TOPICS, max_size=12))
def test_index_agrees_with_paho(topic_filters: list[str], topics: list[str]) -> None:
    index = TopicIndex((f, f) for f in topic_filters)
    for topic in topics:
        expected = {f for f in topic_filters if topic_matches_sub(f, topic)}
        assert set(index.match(topic)) == expected, topic


def test_known_cases() -> None:
    index = TopicIndex(
        [
            ("octoPrint/event/+", "octoprint"),
            ("device/X1/report", "bambu"),
            ("lab/#", "lab"),
            ("#", "all"),
        ]
    )
    assert set(index.match("octoPrint/event/PrintDone")) == {"octoprint", "all"}
    assert index.match("octoPrint/event") == ["all"]
    assert set(index.match("device/X1/report")) == {"bambu", "all"}
    assert set(index.match("lab")) == {"lab", "all"}
    assert index.match("$SYS/broker/load") == []


def test_one_value_under_two_filters_is_returned_once() -> None:
    codec = object()
    index = TopicIndex([("a/+", codec), ("a/b", codec)])
    assert index.match("a/b") == [codec]
