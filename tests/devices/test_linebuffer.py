"""The bounded line splitter the serial codecs share."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from devices.linebuffer import LineBuffer, OverlongLine
from tests.devices.streams import bytewise, cut_points, split


def feed_all(buffer: LineBuffer, chunks: list[bytes]) -> list:
    return [item for chunk in chunks for item in buffer.feed(chunk)]


def test_lf_crlf_and_cr_all_end_a_line_and_empty_lines_are_dropped():
    assert LineBuffer(16).feed(b"a\nb\r\nc\rd\n\n\r\n") == [b"a", b"b", b"c", b"d"]


def test_unterminated_tail_waits_for_its_end():
    buffer = LineBuffer(16)
    assert buffer.feed(b"ab") == []
    assert buffer.pending == 2
    assert buffer.feed(b"c\n") == [b"abc"]


def test_overlong_line_is_reported_once_and_skipped_to_its_end():
    buffer = LineBuffer(4)
    assert feed_all(buffer, [b"abcdef", b"ghij", b"kl\nok\n"]) == [OverlongLine(b"abcd"), b"ok"]
    assert buffer.pending == 0


def test_line_of_exactly_the_limit_is_kept():
    assert LineBuffer(4).feed(b"abcd\n") == [b"abcd"]


@given(st.binary(max_size=500), cut_points)
def test_lines_do_not_depend_on_how_the_stream_is_split(data, cuts):
    whole = LineBuffer(8).feed(data)
    assert feed_all(LineBuffer(8), split(data, cuts)) == whole
    assert feed_all(LineBuffer(8), bytewise(data)) == whole


@given(st.lists(st.binary(max_size=100), max_size=20))
def test_pending_bytes_never_exceed_the_limit(chunks):
    buffer = LineBuffer(8)
    for chunk in chunks:
        buffer.feed(chunk)
        assert buffer.pending <= 8
