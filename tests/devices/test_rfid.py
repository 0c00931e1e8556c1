"""Badge id normalisation and the serial RFID reader codec."""

from __future__ import annotations

from datetime import timedelta
from functools import reduce

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.events import BadgeScan, DecodeError
from devices.rfid import (
    PROTOCOLS,
    RfidReaderCodec,
    badge_from_em4100,
    badge_from_wiegand26,
    normalise_badge,
)
from tests.devices.streams import AT, bytewise, cut_points, feed_chunks, split

# RFID badge readers: the formats devices/rfid.py cites.
RDM6300_FRAME = b"\x020F00C2E0A588\x03"
RDM6300_SUM_NOT_XOR = b"\x022E00AF0EC9B4\x03"
ID12LA_FRAME = b"\x020F00C2E0A588\r\n\x03"
WEDGE_LINE = b"0012771493\r\n"
WIEGAND_90_324 = "00101101000000001010001000"
CARD = "0012771493"  # 0x00C2E0A5 = 12771493, the number printed on the card


def xor(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def em_frame(data: bytes, trailer: bytes = b"") -> bytes:
    """An RDM6300/ID-12LA frame built from the format: STX, hex data, XOR checksum, ETX."""
    return b"\x02" + data.hex().upper().encode() + f"{xor(data):02X}".encode() + trailer + b"\x03"


def wiegand26(facility: int, card: int) -> str:
    """H10301 bits built from the format: even parity, 8+16 data bits, odd parity."""
    data = f"{facility:08b}{card:016b}"
    even = "1" if data[:12].count("1") % 2 else "0"
    odd = "0" if data[12:].count("1") % 2 else "1"
    return even + data + odd


def scans(results: list) -> list[BadgeScan]:
    return [r for r in results if isinstance(r, BadgeScan)]


def errors(results: list) -> list[DecodeError]:
    return [r for r in results if isinstance(r, DecodeError)]


# --- normalise_badge ---------------------------------------------------------------------


def test_vector_frames_agree_with_printed_card_number():
    assert xor(bytes.fromhex("0F00C2E0A5")) == 0x88
    assert 0x00C2E0A5 == 12771493
    assert em_frame(bytes.fromhex("0F00C2E0A5")) == RDM6300_FRAME


def test_vector_sum_checksum_frame_is_not_a_xor():
    data = bytes.fromhex("2E00AF0EC9")
    assert sum(data) & 0xFF == 0xB4
    assert xor(data) == 0x46


@pytest.mark.parametrize(
    "text",
    [
        "0012771493",
        "12771493",
        " 0012771493\r\n",
        "0F00C2E0A5",
        "0f00c2e0a5",
        "0F:00:C2:E0:A5",
        "0f-00-c2-e0-a5",
    ],
)
def test_em_card_written_any_way_normalises_to_printed_number(text):
    assert normalise_badge(text) == CARD


def test_em4100_keeps_only_low_32_bits():
    assert normalise_badge("FF00C2E0A5") == CARD
    assert badge_from_em4100(bytes.fromhex("FF00C2E0A5")) == CARD


def test_wiegand_facility_and_card_make_the_same_badge_as_the_em_frame():
    assert badge_from_wiegand26(194, 57509) == CARD


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("04A1B2C3D4E5F6", "uid:04A1B2C3D4E5F6"),
        ("04:a1:b2:c3:d4:e5:f6", "uid:04A1B2C3D4E5F6"),
        ("04-A1-B2-C3", "uid:04A1B2C3"),
        ("DEADBEEF", "uid:DEADBEEF"),
        ("E004015012345678", "uid:E004015012345678"),
        ("0411223344556677889A", "uid:0411223344556677889A"),
        ("uid:04a1b2c3d4e5f6", "uid:04A1B2C3D4E5F6"),
        ("UID:12345678", "uid:12345678"),
        ("12:34:56:78", "uid:12345678"),
    ],
)
def test_uids_of_other_card_families_get_a_prefixed_upper_case_form(text, expected):
    assert normalise_badge(text) == expected


def test_eight_digit_string_of_only_digits_is_read_as_decimal():
    assert normalise_badge("12345678") == "0012345678"


def test_largest_32_bit_number_is_a_badge_and_the_next_is_not():
    assert normalise_badge(str(2**32 - 1)) == str(2**32 - 1)
    assert normalise_badge(str(2**32)) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "0F00C2E0A",  # odd number of hex digits
        "0F00C2E0A5B6",  # 6 bytes: no card family has it
        "04:A1-B2:C3",  # mixed separators
        "04::A1:B2:C3",
        "uid:0F00C2E0A5",  # 5 bytes is an EM id, not a UID
        "uid:",
        "-12",
        "+12",
        "1 2",
        "١٢٣",  # digits, but not ASCII ones
        "0" * 65,
    ],
)
def test_text_that_is_no_badge_id_gives_none(text):
    assert normalise_badge(text) is None


@given(st.text(max_size=80))
def test_normalise_never_raises_and_is_idempotent(text):
    badge = normalise_badge(text)
    if badge is not None:
        assert normalise_badge(badge) == badge


@given(st.binary(min_size=5, max_size=5))
def test_em_hex_and_its_decimal_card_number_enrol_as_one_badge(data):
    written = data.hex(":") if data.hex().isdigit() else data.hex()  # bare digits read as decimal
    via_hex = normalise_badge(written)
    assert via_hex == normalise_badge(str(int.from_bytes(data[1:], "big")))


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_decimal_badge_is_ten_digits_of_the_same_number(number):
    badge = normalise_badge(str(number))
    assert badge is not None and len(badge) == 10 and int(badge) == number


# --- RDM6300 and ID-12LA frames -------------------------------------------------------------


def test_rdm6300_vector_frame_gives_one_scan():
    [scan] = RfidReaderCodec("door", "rdm6300").feed(RDM6300_FRAME, AT)
    assert isinstance(scan, BadgeScan)
    assert (scan.reader, scan.badge, scan.at) == ("door", CARD, AT)
    assert len(scan.event_id) == 32


def test_frame_whose_checksum_is_a_sum_is_rejected():
    results = RfidReaderCodec("door", "rdm6300").feed(RDM6300_SUM_NOT_XOR, AT)
    assert scans(results) == []
    [error] = errors(results)
    assert "checksum" in error.reason and error.raw == RDM6300_SUM_NOT_XOR


def test_frame_split_into_single_bytes_still_decodes():
    results = feed_chunks(RfidReaderCodec("door", "rdm6300"), bytewise(RDM6300_FRAME))
    assert [s.badge for s in scans(results)] == [CARD]
    assert errors(results) == []


def test_noise_between_frames_is_reported_and_frames_still_decode():
    other = bytes.fromhex("1A2B3C4D5E")
    stream = b"\xff\x00junk" + RDM6300_FRAME + b"\r\n\x55" + em_frame(other)
    results = RfidReaderCodec("door", "rdm6300").feed(stream, AT)
    assert [s.badge for s in scans(results)] == [CARD, badge_from_em4100(other)]
    assert all(e.reason == "noise outside a frame" for e in errors(results))
    assert b"".join(e.raw for e in errors(results)) == b"\xff\x00junk\r\n\x55"


def test_frame_cut_short_by_a_new_frame_is_dropped_and_the_new_one_decodes():
    stream = RDM6300_FRAME[:6] + RDM6300_FRAME
    results = RfidReaderCodec("door", "rdm6300").feed(stream, AT)
    assert [s.badge for s in scans(results)] == [CARD]
    assert [e.raw for e in errors(results)] == [RDM6300_FRAME[:6]]


def test_rdm6300_wants_etx_right_after_the_checksum():
    results = RfidReaderCodec("door", "rdm6300").feed(ID12LA_FRAME, AT)
    assert scans(results) == []
    assert errors(results)[0].reason == "frame without its end byte"


@pytest.mark.parametrize("trailer", [b"\r\n", b"\r", b"\n", b""])
def test_id12la_frame_decodes_with_or_without_cr_lf(trailer):
    frame = em_frame(bytes.fromhex("0F00C2E0A5"), trailer)
    results = RfidReaderCodec("bench", "id12la").feed(frame, AT)
    assert [s.badge for s in scans(results)] == [CARD]
    assert errors(results) == []


def test_id12la_vector_frame_decodes():
    assert [s.badge for s in scans(RfidReaderCodec("bench", "id12la").feed(ID12LA_FRAME, AT))] == [
        CARD
    ]


def test_endless_garbage_never_grows_the_buffer():
    codec = RfidReaderCodec("door", "rdm6300")
    for _ in range(200):
        results = codec.feed(b"\x55" * 1000, AT)
        assert all(isinstance(r, DecodeError) for r in results)
    assert len(codec._buffer) < 64
    assert [s.badge for s in scans(codec.feed(RDM6300_FRAME, AT))] == [CARD]


# --- debounce and event ids ---------------------------------------------------------------


def test_held_card_repeating_its_frame_is_one_scan():
    codec = RfidReaderCodec("door", "rdm6300", debounce_s=2.0)
    results = []
    for tenth in range(30):  # 3 s of repeats, 0.1 s apart: each within 2 s of the one before
        results += codec.feed(RDM6300_FRAME, AT + timedelta(seconds=tenth / 10))
    assert len(scans(results)) == 1


def test_card_presented_again_after_the_debounce_time_scans_again():
    codec = RfidReaderCodec("door", "rdm6300", debounce_s=2.0)
    first = scans(codec.feed(RDM6300_FRAME, AT))
    too_soon = scans(codec.feed(RDM6300_FRAME, AT + timedelta(seconds=1.9)))
    later = scans(codec.feed(RDM6300_FRAME, AT + timedelta(seconds=4)))
    assert (len(first), len(too_soon), len(later)) == (1, 0, 1)
    assert later[0].at == AT + timedelta(seconds=4)
    assert later[0].event_id != first[0].event_id


def test_another_card_is_not_held_back_by_the_first():
    other = em_frame(bytes.fromhex("1A2B3C4D5E"))
    codec = RfidReaderCodec("door", "rdm6300")
    results = codec.feed(RDM6300_FRAME + other + RDM6300_FRAME, AT)
    assert [s.badge for s in scans(results)] == [
        CARD,
        badge_from_em4100(bytes.fromhex("1A2B3C4D5E")),
    ]


def test_identical_frames_at_the_same_time_get_distinct_ids_without_debounce():
    results = RfidReaderCodec("door", "rdm6300", debounce_s=0).feed(RDM6300_FRAME * 3, AT)
    ids = [s.event_id for s in scans(results)]
    assert len(ids) == 3 and len(set(ids)) == 3


def test_same_stream_on_a_fresh_codec_gives_the_same_ids():
    stream = RDM6300_FRAME + em_frame(bytes.fromhex("1A2B3C4D5E"))
    first = RfidReaderCodec("door", "rdm6300").feed(stream, AT)
    second = RfidReaderCodec("door", "rdm6300").feed(stream, AT)
    assert first == second


def test_naive_receive_time_is_taken_as_utc():
    [scan] = RfidReaderCodec("door", "rdm6300").feed(RDM6300_FRAME, AT.replace(tzinfo=None))
    assert scan.at == AT and scan.at.tzinfo is not None


# --- keyboard wedge and Wiegand -----------------------------------------------------------


@pytest.mark.parametrize("line", [WEDGE_LINE, b"0012771493\n", b"0012771493\r", b"12771493\r\n"])
def test_wedge_line_gives_the_printed_card_number(line):
    results = RfidReaderCodec("desk", "wedge").feed(line, AT)
    assert [s.badge for s in scans(results)] == [CARD]


def test_wedge_cr_and_lf_in_separate_reads_make_no_extra_line():
    results = feed_chunks(RfidReaderCodec("desk", "wedge"), [b"0012771493\r", b"\n"])
    assert len(results) == 1


def test_wedge_line_that_is_no_badge_is_an_error_and_the_next_line_decodes():
    results = RfidReaderCodec("desk", "wedge").feed(b"hello\r\n0012771493\r\n", AT)
    assert [type(r) for r in results] == [DecodeError, BadgeScan]


def test_overlong_wedge_line_is_one_error_then_reading_goes_on():
    results = RfidReaderCodec("desk", "wedge").feed(b"9" * 5000 + b"\n0012771493\n", AT)
    assert [type(r) for r in results] == [DecodeError, BadgeScan]


def test_wiegand_vector_gives_facility_90_card_324():
    assert wiegand26(90, 324) == WIEGAND_90_324
    results = RfidReaderCodec("lab", "wiegand26").feed(WIEGAND_90_324.encode() + b"\n", AT)
    assert [s.badge for s in scans(results)] == [f"{90 << 16 | 324:010d}"]


def test_wiegand_reading_of_the_em_card_gives_the_same_badge_as_its_frame():
    line = wiegand26(194, 57509).encode() + b"\r\n"
    results = RfidReaderCodec("lab", "wiegand26").feed(line, AT)
    assert [s.badge for s in scans(results)] == [CARD]


@pytest.mark.parametrize("flip", [0, 5, 20, 25])
def test_wiegand_with_a_flipped_bit_fails_parity(flip):
    bits = list(WIEGAND_90_324)
    bits[flip] = "1" if bits[flip] == "0" else "0"
    results = RfidReaderCodec("lab", "wiegand26").feed("".join(bits).encode() + b"\n", AT)
    assert scans(results) == [] and len(errors(results)) == 1


@pytest.mark.parametrize(
    "line", [WIEGAND_90_324[:-1], WIEGAND_90_324 + "0", "0010110100000000101000100x"]
)
def test_wiegand_line_of_the_wrong_shape_is_an_error(line):
    results = RfidReaderCodec("lab", "wiegand26").feed(line.encode() + b"\n", AT)
    assert scans(results) == [] and len(errors(results)) == 1


@given(st.integers(0, 255), st.integers(0, 65535))
def test_any_wiegand_reading_decodes_to_facility_and_card(facility, card):
    line = wiegand26(facility, card).encode() + b"\n"
    [scan] = RfidReaderCodec("lab", "wiegand26").feed(line, AT)
    assert scan.badge == f"{facility << 16 | card:010d}"


def test_unknown_protocol_is_refused_at_construction():
    with pytest.raises(ValueError, match="protocol"):
        RfidReaderCodec("door", "em4200")


# --- properties over arbitrary streams ----------------------------------------------------

FRAME_PARTS = st.sampled_from(
    [
        RDM6300_FRAME,
        ID12LA_FRAME,
        RDM6300_SUM_NOT_XOR,
        em_frame(bytes.fromhex("1A2B3C4D5E"), b"\r\n"),
        WEDGE_LINE,
        b"04A1B2C3D4E5F6\n",
        WIEGAND_90_324.encode() + b"\r\n",
        b"\r",
        b"\x02",
        b"\x03",
    ]
) | st.binary(max_size=40)


@given(st.sampled_from(PROTOCOLS), st.binary(max_size=600), cut_points)
def test_arbitrary_bytes_never_raise_and_the_buffer_stays_bounded(protocol, data, cuts):
    codec = RfidReaderCodec("r", protocol)
    results = feed_chunks(codec, split(data, cuts))
    assert all(isinstance(r, BadgeScan | DecodeError) for r in results)
    assert len(codec._buffer) < 64 + 16
    assert codec._lines.pending <= 64


@given(st.sampled_from(PROTOCOLS), st.lists(FRAME_PARTS, max_size=12), cut_points)
def test_results_do_not_depend_on_how_the_stream_is_split(protocol, parts, cuts):
    stream = b"".join(parts)
    whole = RfidReaderCodec("r", protocol, debounce_s=0).feed(stream, AT)
    pieces = feed_chunks(RfidReaderCodec("r", protocol, debounce_s=0), split(stream, cuts))
    one_by_one = feed_chunks(RfidReaderCodec("r", protocol, debounce_s=0), bytewise(stream))
    assert pieces == whole
    assert one_by_one == whole
