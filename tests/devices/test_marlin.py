"""Marlin serial codec: job states from printer messages, telemetry, and poll lines."""

from __future__ import annotations

from datetime import timedelta
from functools import reduce

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.events import DecodeError, Ignored, MachineState, RunState
from devices.marlin import (
    POLL_PRINT_TIME,
    POLL_SD_STATUS,
    POLL_TEMPERATURES,
    HeaterReading,
    MarlinCodec,
    checksum_line,
    parse_print_time,
)
from tests.devices.ignores import only_ignores
from tests.devices.streams import AT, bytewise, cut_points, feed_chunks, split

# Marlin firmware: the strings devices/marlin.py cites.
M105_SINGLE = "ok T:210.00 /210.00 B:60.00 /60.00 @:127 B@:0"
M105_MULTI = "T0:199.91 /200.00 B:23.59 /0.00 T0:22.77 /0.00 T1:199.91 /200.00 @:73 B@:0 @0:0 @1:73"
PRUSA_PROGRESS = "NORMAL MODE: Percent done: 21; print time remaining in mins: 33"


def lines(*texts: str, end: str = "\n") -> bytes:
    return "".join(text + end for text in texts).encode()


def states(results: list) -> list[RunState]:
    return [r.state for r in results if isinstance(r, MachineState)]


def events(results: list) -> list[MachineState]:
    return [r for r in results if isinstance(r, MachineState)]


# --- poller helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "command", "expected"),
    [
        (24, "G1 X120.405 Y76.035 E2.23535", b"N24 G1 X120.405 Y76.035 E2.23535*97\n"),
        (3186, "M105", b"N3186 M105*27\n"),
        (0, "M110 N0", b"N0 M110 N0*125\n"),
    ],
)
def test_checksum_line_matches_real_captures(number, command, expected):
    assert checksum_line(number, command) == expected


@given(st.integers(0, 10**9), st.text(alphabet="GMXYZEFST0123456789. -", max_size=40))
def test_checksum_is_the_xor_of_every_byte_before_the_star(number, command):
    line = checksum_line(number, command)
    body, _, tail = line.rstrip(b"\n").partition(b"*")
    assert int(tail) == reduce(lambda a, b: a ^ b, body, 0)
    assert body.startswith(f"N{number} ".encode())


@pytest.mark.parametrize("command", ["M105\nM27", "M105*12", "M117 café"])
def test_checksum_line_refuses_what_cannot_be_one_ascii_line(command):
    with pytest.raises(ValueError):
        checksum_line(1, command)


def test_poll_commands_are_the_marlin_queries():
    assert (POLL_SD_STATUS, POLL_TEMPERATURES, POLL_PRINT_TIME) == (b"M27\n", b"M105\n", b"M31\n")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1h 2m 3s", 3600 + 2 * 60 + 3),
        ("1d 2h 3m 4s", 86400 + 2 * 3600 + 3 * 60 + 4),
        ("59m 59s", 59 * 60 + 59),
        ("59s", 59),
        ("0s", 0),
        ("1y 0d 0h 0m 1s", 365 * 86400 + 1),
    ],
)
def test_m31_durations_read_as_seconds(text, seconds):
    assert parse_print_time(text) == seconds


@pytest.mark.parametrize("text", ["", "2m 1h", "1h 1h", "1h2m", "abc", "5 min"])
def test_m31_durations_out_of_shape_are_refused(text):
    assert parse_print_time(text) is None


# --- a whole print --------------------------------------------------------------------------


def test_fake_sd_print_start_progress_pause_resume_done_and_m31():
    codec = MarlinCodec("mk3")
    log = [
        ("Not SD printing", [RunState.IDLE]),
        ("ok", []),
        ("SD printing byte 1234/56789", [RunState.RUNNING]),
        ("echo:busy: processing", []),
        (M105_SINGLE, []),
        ("SD printing byte 28394/56789", []),
        ("//action:paused", [RunState.PAUSED]),
        ("echo:busy: paused for user", []),
        ("SD printing byte 28394/56789", []),
        ("//action:resumed", [RunState.RUNNING]),
        ("SD printing byte 56789/56789", []),
        ("Done printing file", [RunState.FINISHED]),
        ("echo:Print time: 1h 2m 3s", [RunState.FINISHED]),
        ("Not SD printing", []),
        ("echo:Print time: 1h 2m 3s", []),
    ]
    seen = []
    for step, (text, expected) in enumerate(log):
        results = codec.feed(lines(text), AT + timedelta(seconds=step))
        assert states(results) == expected, text
        seen += events(results)
    started, paused, resumed, finished, timed = seen[1:]
    assert started.progress == round(100 * 1234 / 56789, 2)
    assert paused.progress == round(100 * 28394 / 56789, 2)
    assert resumed.progress == paused.progress
    assert finished.progress == 100
    assert finished.reported_busy_s is None
    assert timed.reported_busy_s == 3600 + 2 * 60 + 3
    assert timed.at == AT + timedelta(seconds=12)
    assert len({e.event_id for e in seen}) == len(seen)
    assert all(e.machine == "mk3" for e in seen)


def test_host_action_start_and_cancel_make_a_cancelled_job():
    codec = MarlinCodec("ender")
    results = codec.feed(lines("//action:start", "//action:pause", "//action:cancel"), AT)
    assert states(results) == [RunState.RUNNING, RunState.PAUSED, RunState.CANCELLED]
    assert states(codec.feed(lines("Done printing file", "Not SD printing"), AT)) == []


def test_resume_request_and_resumed_report_both_mean_running():
    codec = MarlinCodec("ender")
    results = codec.feed(lines("//action:start", "//action:pause", "//action:resume"), AT)
    assert states(results) == [RunState.RUNNING, RunState.PAUSED, RunState.RUNNING]


def test_pause_while_idle_is_not_a_job():
    codec = MarlinCodec("ender")
    results = codec.feed(lines("Not SD printing", "//action:paused", "//action:resumed"), AT)
    assert states(results) == [RunState.IDLE]


def test_job_that_stops_short_of_the_end_without_done_is_interrupted():
    codec = MarlinCodec("ender")
    results = codec.feed(lines("SD printing byte 100/1000", "Not SD printing"), AT)
    assert states(results) == [RunState.RUNNING, RunState.INTERRUPTED]


def test_job_at_the_last_byte_that_stops_without_done_is_finished():
    codec = MarlinCodec("ender")
    results = codec.feed(lines("SD printing byte 1000/1000", "Not SD printing"), AT)
    assert states(results) == [RunState.RUNNING, RunState.FINISHED]


def test_printer_halted_during_a_job_fails_it():
    codec = MarlinCodec("ender")
    results = codec.feed(lines("//action:start", "Error:Printer halted. kill() called!"), AT)
    assert states(results) == [RunState.RUNNING, RunState.FAILED]
    assert codec.last_error == "Printer halted. kill() called!"


def test_printer_rebooting_during_a_job_fails_it():
    codec = MarlinCodec("ender")
    results = codec.feed(lines("SD printing byte 5/10", "start", "echo:Marlin 2.1.2"), AT)
    assert states(results) == [RunState.RUNNING, RunState.FAILED]


def test_m31_after_an_end_the_codec_saw_without_its_start_is_still_reported():
    codec = MarlinCodec("ender")
    results = codec.feed(lines("Done printing file", "echo:Print time: 59s"), AT)
    assert states(results) == [RunState.FINISHED, RunState.FINISHED]
    assert events(results)[1].reported_busy_s == 59


def test_m31_during_a_job_is_telemetry_only():
    codec = MarlinCodec("ender")
    results = codec.feed(lines("//action:start", "echo:Print time: 5m 1s"), AT)
    assert states(results) == [RunState.RUNNING]
    assert codec.print_time_s == 301


def test_unreadable_m31_is_a_decode_error():
    results = MarlinCodec("ender").feed(lines("echo:Print time: soon"), AT)
    assert [type(r) for r in results] == [DecodeError]


def test_sd_position_past_the_end_is_a_decode_error():
    results = MarlinCodec("ender").feed(lines("SD printing byte 5/3"), AT)
    assert [type(r) for r in results] == [DecodeError]


def test_empty_file_reports_running_without_progress():
    [event] = MarlinCodec("ender").feed(lines("SD printing byte 0/0"), AT)
    assert isinstance(event, MachineState)
    assert (event.state, event.progress) == (RunState.RUNNING, None)


# --- telemetry ------------------------------------------------------------------------------


def test_m105_answer_is_kept_as_temperatures_not_an_event():
    codec = MarlinCodec("ender")
    assert only_ignores(codec.feed(lines(M105_SINGLE), AT))
    assert codec.temperatures == {
        "T": HeaterReading(210.0, 210.0),
        "B": HeaterReading(60.0, 60.0),
    }
    assert codec.state is None


def test_auto_report_without_ok_reads_like_the_m105_answer():
    with_ok, without_ok = MarlinCodec("a"), MarlinCodec("b")
    with_ok.feed(lines(M105_SINGLE), AT)
    without_ok.feed(lines(" " + M105_SINGLE.removeprefix("ok ")), AT)
    assert without_ok.temperatures == with_ok.temperatures != {}


def test_multi_tool_report_keeps_each_tool_and_the_per_tool_fields_win():
    codec = MarlinCodec("idex")
    codec.feed(lines(M105_MULTI), AT)
    assert codec.temperatures == {
        "T0": HeaterReading(22.77, 0.0),
        "B": HeaterReading(23.59, 0.0),
        "T1": HeaterReading(199.91, 200.0),
    }


def test_checksum_error_and_resend_are_kept_for_the_poller():
    codec = MarlinCodec("ender")
    results = codec.feed(lines("Error:checksum mismatch, Last Line: 23", "Resend: 24", "ok"), AT)
    assert results == [Ignored("ender", "no_state_change")] * 3
    assert codec.last_error == "checksum mismatch, Last Line: 23"
    assert codec.resend_requested == 24
    assert codec.take_resend() == 24
    assert codec.take_resend() is None


def test_prusa_progress_line_updates_progress_without_a_state_change():
    codec = MarlinCodec("mk3s")
    codec.feed(lines("SD printing byte 10/1000"), AT)
    assert only_ignores(codec.feed(lines(PRUSA_PROGRESS), AT))
    assert (codec.progress, codec.remaining_min) == (21.0, 33)
    [paused] = codec.feed(lines("//action:paused"), AT)
    assert isinstance(paused, MachineState) and paused.progress == 21.0


def test_busy_keepalive_marks_the_printer_alive_without_a_state_change():
    codec = MarlinCodec("ender")
    later = AT + timedelta(seconds=30)
    assert only_ignores(codec.feed(lines("echo:busy: paused for user"), later))
    assert codec.busy == "paused for user"
    assert codec.last_line_at == later
    assert codec.state is None


def test_notification_text_is_kept():
    codec = MarlinCodec("ender")
    assert only_ignores(codec.feed(lines("//action:notification Heating..."), AT))
    assert codec.notification == "Heating..."


# --- the line layer -------------------------------------------------------------------------


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_every_line_ending_gives_the_same_events(end):
    log = ("Not SD printing", "SD printing byte 1/2", "Done printing file")
    results = MarlinCodec("m").feed(lines(*log, end=end), AT)
    assert results == MarlinCodec("m").feed(lines(*log), AT)
    assert states(results) == [RunState.IDLE, RunState.RUNNING, RunState.FINISHED]


def test_overlong_line_is_one_error_then_reading_goes_on():
    results = MarlinCodec("m").feed(b"echo:" + b"x" * 10_000 + b"\nNot SD printing\n", AT)
    assert [type(r) for r in results] == [DecodeError, MachineState]


MARLIN_LINES = st.sampled_from(
    [
        "Not SD printing",
        "SD printing byte 1234/56789",
        "SD printing byte 56789/56789",
        "Done printing file",
        "//action:start",
        "//action:pause",
        "//action:paused",
        "//action:resume",
        "//action:resumed",
        "//action:cancel",
        "//action:notification hello",
        "echo:busy: processing",
        "echo:Print time: 1h 2m 3s",
        "Error:checksum mismatch, Last Line: 23",
        "Resend: 24",
        "start",
        M105_SINGLE,
        M105_MULTI,
        PRUSA_PROGRESS,
        "ok",
    ]
).map(lambda text: text.encode() + b"\n") | st.binary(max_size=30)


@given(st.binary(max_size=2000), cut_points)
def test_arbitrary_bytes_never_raise_and_the_buffer_stays_bounded(data, cuts):
    codec = MarlinCodec("m")
    results = feed_chunks(codec, split(data, cuts))
    assert all(isinstance(r, MachineState | DecodeError | Ignored) for r in results)
    assert codec._lines.pending <= 256


@given(st.lists(MARLIN_LINES, max_size=25), cut_points)
def test_events_do_not_depend_on_how_the_stream_is_split(parts, cuts):
    stream = b"".join(parts)
    whole = MarlinCodec("m").feed(stream, AT)
    assert feed_chunks(MarlinCodec("m"), split(stream, cuts)) == whole
    assert feed_chunks(MarlinCodec("m"), bytewise(stream)) == whole


@given(st.lists(MARLIN_LINES, max_size=25))
def test_state_events_are_only_changes_or_the_print_time_after_an_end(parts):
    previous = None
    for event in events(MarlinCodec("m").feed(b"".join(parts), AT)):
        assert event.state != previous or event.reported_busy_s is not None
        previous = event.state
