"""The Engine API's stream formats and how the console shows them."""

import io
import struct

import pytest

from nbdock.client.console import Console
from nbdock.client.errors import CommandError
from nbdock.client.streams import STDERR, STDOUT, json_messages, read_frames


def frame(stream, payload):
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def test_multiplexed_frames_are_taken_apart():
    data = frame(1, b"out\n") + frame(2, b"err\n") + frame(1, b"")
    assert list(read_frames(io.BytesIO(data), tty=False)) == [(STDOUT, b"out\n"), (STDERR, b"err\n"), (STDOUT, b"")]


def test_a_tty_stream_is_raw():
    assert list(read_frames(io.BufferedReader(io.BytesIO(b"\x01\x00raw")), tty=True)) == [(STDOUT, b"\x01\x00raw")]


def test_systemerr_frame_is_an_error():
    with pytest.raises(CommandError, match="daemon broke"):
        list(read_frames(io.BytesIO(frame(3, b"daemon broke")), tty=False))


def test_json_messages_split_across_chunks():
    chunks = [b'{"status": "a"}\n{"sta', b'tus": "b"}\n', {"status": "c"}]
    assert [m["status"] for m in json_messages(iter(chunks))] == ["a", "b", "c"]


def test_console_progress_on_a_non_terminal_hides_progress_bars():
    out = io.StringIO()
    console = Console(out, io.StringIO())
    aux = console.progress(iter([
        {"status": "Pulling from library/busybox", "id": "latest"},
        {"status": "Downloading", "id": "a1", "progressDetail": {"current": 1, "total": 2}, "progress": "[=>  ]"},
        {"status": "Pull complete", "id": "a1", "progressDetail": {}},
        {"stream": "Step 1/1 : FROM busybox\n"},
        {"aux": {"ID": "sha256:abc"}},
    ]))
    assert out.getvalue() == "latest: Pulling from library/busybox\na1: Pull complete\nStep 1/1 : FROM busybox\n"
    assert aux == [{"ID": "sha256:abc"}]


def test_console_progress_stops_at_an_error_with_its_code():
    console = Console(io.StringIO(), io.StringIO())
    with pytest.raises(CommandError) as error:
        console.progress(iter([{"errorDetail": {"message": "The command 'x' returned a non-zero code: 3", "code": 3},
                                "error": "The command 'x' returned a non-zero code: 3"}]))
    assert error.value.exit_code == 3


def test_binary_output_refuses_a_terminal(tmp_path):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    with pytest.raises(CommandError, match="cowardly refusing"):
        Console(Terminal(), io.StringIO()).binary_output([b"tar"])
