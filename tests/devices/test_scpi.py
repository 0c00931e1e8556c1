"""SCPI codec: instrument identity and running/idle from polled status answers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.events import DecodeError, Ignored, MachineState, RunState
from devices.scpi import DEFAULT_BUSY_MASK, QUERIES, Idn, ScpiCodec, parse_idn
from tests.devices.ignores import only_ignores, without_ignores
from tests.devices.streams import AT, bytewise, cut_points, feed_chunks, split

# SCPI instruments: IEEE 488.2 and SCPI-99, as devices/scpi.py cites them.
IDN_2450 = "KEITHLEY INSTRUMENTS,MODEL 2450,04321234,1.7.3"


def states(results: list) -> list[RunState]:
    return [r.state for r in results if isinstance(r, MachineState)]


# --- *IDN? ----------------------------------------------------------------------------------


@pytest.mark.parametrize("line", [IDN_2450, IDN_2450 + "\r\n", (IDN_2450 + "\n").encode()])
def test_idn_vector_reads_as_maker_model_serial_firmware(line):
    assert parse_idn(line) == Idn("KEITHLEY INSTRUMENTS", "MODEL 2450", "04321234", "1.7.3")


@pytest.mark.parametrize("line", ["", "1", "A,B,C", "A,B,C,D,E", ",MODEL,1,2", "MAKER,,1,2"])
def test_idn_without_four_fields_and_a_maker_and_model_is_none(line):
    assert parse_idn(line) is None


def test_idn_answer_fed_to_the_codec_is_kept_not_refused():
    codec = ScpiCodec("smu")
    assert only_ignores(codec.feed((IDN_2450 + "\n").encode(), AT))
    assert codec.idn is not None and codec.idn.model == "MODEL 2450"


# --- polling --------------------------------------------------------------------------------


@pytest.mark.parametrize("query", QUERIES)
def test_poll_sends_the_query_with_a_newline(query):
    assert ScpiCodec("smu", query=query).poll() == query.encode() + b"\n"


def test_long_and_lower_case_forms_of_the_query_are_accepted():
    assert ScpiCodec("smu", query="status:operation:condition?").poll() == b"STAT:OPER:COND?\n"
    assert ScpiCodec("smu", query="*opc?").poll() == b"*OPC?\n"


def test_unsupported_query_is_refused_at_construction():
    with pytest.raises(ValueError, match="query"):
        ScpiCodec("smu", query="MEAS:VOLT?")


def test_busy_mask_without_any_bit_is_refused():
    with pytest.raises(ValueError):
        ScpiCodec("smu", busy_mask=0)


# --- answers --------------------------------------------------------------------------------


def test_opc_one_is_idle_zero_is_busy_and_only_changes_are_emitted():
    codec = ScpiCodec("smu", query="*OPC?")
    results = codec.feed(b"1\n0\n0\n0\n1\n1\n", AT)
    assert states(results) == [RunState.IDLE, RunState.RUNNING, RunState.IDLE]
    events = without_ignores(results)
    assert all(r.machine == "smu" and r.at == AT for r in events)
    assert len({r.event_id for r in events}) == 3
    assert results.count(Ignored("smu", "unchanged")) == 3


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("128", RunState.RUNNING),
        ("136", RunState.RUNNING),
        ("8", RunState.IDLE),
        ("0", RunState.IDLE),
    ],
)
def test_stb_bit_7_is_the_busy_bit(answer, expected):
    assert states(ScpiCodec("smu", query="*STB?").feed(answer.encode() + b"\n", AT)) == [expected]


def test_default_mask_is_sweeping_measuring_and_program_running():
    assert DEFAULT_BUSY_MASK == (1 << 3) | (1 << 4) | (1 << 14)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (1 << 4, RunState.RUNNING),  # MEASuring
        (1 << 3, RunState.RUNNING),  # SWEeping
        (1 << 14, RunState.RUNNING),  # PROGram running
        (1 << 5, RunState.IDLE),  # waiting for TRIGger
        (0, RunState.IDLE),
    ],
)
def test_oper_condition_is_busy_when_a_default_mask_bit_is_set(condition, expected):
    results = ScpiCodec("smu").feed(f"{condition}\n".encode(), AT)
    assert states(results) == [expected]


def test_vendor_busy_mask_is_honoured():
    codec = ScpiCodec("smu", busy_mask=1 << 9)
    assert states(codec.feed(b"16\n512\n", AT)) == [RunState.IDLE, RunState.RUNNING]


def test_every_terminator_is_understood_even_mixed():
    codec = ScpiCodec("smu", query="*OPC?")
    results = codec.feed(b"1\r0\r\n1\n0\r", AT)
    assert states(results) == [RunState.IDLE, RunState.RUNNING, RunState.IDLE, RunState.RUNNING]


@pytest.mark.parametrize(
    ("answer", "busy"), [("+0", True), ("+1", False), ("+1.000000E+00", False)]
)
def test_signed_and_real_forms_of_an_integer_are_read(answer, busy):
    [event] = ScpiCodec("smu", query="*OPC?").feed(answer.encode() + b"\n", AT)
    assert event.state == (RunState.RUNNING if busy else RunState.IDLE)


@pytest.mark.parametrize(
    ("query", "answer"),
    [
        ("*OPC?", '-113,"Undefined header"'),
        ("*OPC?", "2"),
        ("*OPC?", "0.5"),
        ("*STB?", "256"),
        ("*STB?", "-1"),
        ("STAT:OPER:COND?", "busy"),
        ("STAT:OPER:COND?", "1e999"),
    ],
)
def test_bad_answers_are_decode_errors(query, answer):
    results = ScpiCodec("smu", query=query).feed(answer.encode() + b"\n", AT)
    assert [type(r) for r in results] == [DecodeError]


def test_overlong_answer_is_one_error_then_reading_goes_on():
    results = ScpiCodec("smu", query="*OPC?").feed(b"1" * 10_000 + b"\n0\n", AT)
    assert [type(r) for r in results] == [DecodeError, MachineState]


# --- properties -----------------------------------------------------------------------------

ANSWERS = st.sampled_from([b"0", b"1", b"128", b"16", b"+1", IDN_2450.encode(), b"x"]).flatmap(
    lambda answer: st.sampled_from([b"\n", b"\r\n", b"\r"]).map(lambda end: answer + end)
) | st.binary(max_size=12)


@given(st.sampled_from(QUERIES), st.binary(max_size=1000), cut_points)
def test_arbitrary_bytes_never_raise_and_the_buffer_stays_bounded(query, data, cuts):
    codec = ScpiCodec("smu", query=query)
    results = feed_chunks(codec, split(data, cuts))
    assert all(isinstance(r, MachineState | DecodeError | Ignored) for r in results)
    assert codec._lines.pending <= 256


@given(st.sampled_from(QUERIES), st.lists(ANSWERS, max_size=20), cut_points)
def test_events_do_not_depend_on_how_the_stream_is_split(query, parts, cuts):
    stream = b"".join(parts)
    whole = ScpiCodec("smu", query=query).feed(stream, AT)
    assert feed_chunks(ScpiCodec("smu", query=query), split(stream, cuts)) == whole
    assert feed_chunks(ScpiCodec("smu", query=query), bytewise(stream)) == whole
