"""The json-file log, no root needed: how output becomes entries, and how ``docker logs`` reads them back.

Each expectation is Docker's (20.10) behaviour, checked against the reference
engine when it was written: entries of at most 16 KiB, ``--tail`` then
``--since``, rotation to ``<id>-json.log.1``..., and the messages of its
``--log-opt`` checks.
"""

from __future__ import annotations

import asyncio
import json
import os
import random

import pytest

from nbdock.engine import clock, logs
from nbdock.engine.logs import MAX_LINE, LogOptions, LogReader, LogWriter
from nbdock.errors import InvalidArgument


def records(path: str) -> list[dict]:
    with open(path, "rb") as f:
        return [json.loads(line) for line in f]


def read_all(path: str, options: LogOptions = LogOptions(), writer: LogWriter | None = None, **select) -> list:
    async def collect():
        reader = LogReader(path, options, writer)
        try:
            return [entry async for batch in reader.history(**select) for entry in batch]
        finally:
            reader.close()
    return asyncio.run(collect())


@pytest.fixture
def log_path(tmp_path):
    return str(tmp_path / "c0ffee-json.log")


# ---------------------------------------------------------------------------
# writing: the format and the line splitting


def test_records_are_byte_for_byte_what_json_dumps_writes():
    """The chunk-at-a-time formatter against the obvious one, on text with every kind of escape."""
    pieces = [b"a", b"\\", b'"', b"\t", b"\r", b"\x00", b"\x1b[0m", "é".encode(), b"\xff", b"\xe2\x82", "\u2028".encode(),
              b"<&>", b"/", b" "]
    rng = random.Random(15)
    for _ in range(500):
        lines = [b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) + b"\n" for _ in range(rng.randint(1, 5))]
        expected = b"".join(
            (json.dumps({"log": line.decode("utf-8", "replace"), "stream": "stderr", "time": "T"}, ensure_ascii=False,
                        separators=(",", ":")) + "\n").encode() for line in lines)
        assert logs.format_lines("stderr", b"".join(lines), "T") == expected


def test_a_line_is_logged_once_it_ends_whatever_the_chunks(log_path):
    writer = LogWriter(log_path)
    for chunk in (b"hel", b"lo\nwor", b"ld\n\nand a", b" half"):
        writer.write("stdout", chunk)
    writer.write("stderr", b"oops\n")
    assert [(r["stream"], r["log"]) for r in records(log_path)] == [
        ("stdout", "hello\n"), ("stdout", "world\n"), ("stdout", "\n"), ("stderr", "oops\n")]
    writer.flush()  # the end of output: the unfinished line is an entry, without a newline
    writer.close()
    assert records(log_path)[-1]["log"] == "and a half"
    assert all(r["time"].endswith("Z") and clock.parse_rfc3339(r["time"]) > 0 for r in records(log_path))


@pytest.mark.parametrize("length, pieces", [
    (MAX_LINE - 1, [MAX_LINE]),  # the line and its newline fill one entry
    (MAX_LINE, [MAX_LINE, 1]),  # one byte more: the newline is an entry of its own, as Docker's
    (40_000, [MAX_LINE, MAX_LINE, 40_001 - 2 * MAX_LINE]),
])
@pytest.mark.parametrize("chunk", [1 << 20, 4096, 1000])
def test_long_lines_are_cut_into_16k_entries_sharing_one_time(log_path, length, pieces, chunk):
    data = b"x" * length + b"\n" + b"next\n"
    writer = LogWriter(log_path)
    for start in range(0, len(data), chunk):
        writer.write("stdout", data[start:start + chunk])
    writer.close()
    found = records(log_path)
    assert [len(r["log"]) for r in found] == pieces + [5]
    assert "".join(r["log"] for r in found[:-1]) == "x" * length + "\n"
    assert len({r["time"] for r in found[:-1]}) == 1  # the pieces of one line carry the time of the first


def test_a_character_cut_at_16k_is_replaced_on_both_sides(log_path):
    """Docker cuts bytes, not characters; the json-file's text cannot hold half a character."""
    writer = LogWriter(log_path)
    writer.write("stdout", b"a" * (MAX_LINE - 1) + "é".encode() + b"\n")
    writer.close()
    assert [r["log"] for r in records(log_path)] == ["a" * (MAX_LINE - 1) + "\ufffd", "\ufffd\n"]


# ---------------------------------------------------------------------------
# reading: tail from the end, bounded batches, since/until


def write_lines(path: str, count: int, options: LogOptions = LogOptions(), per_chunk: int = 1000) -> None:
    writer = LogWriter(path, options)
    for start in range(0, count, per_chunk):
        writer.write("stdout", b"".join(b"line %d\n" % n for n in range(start, min(count, start + per_chunk))))
    writer.close()


@pytest.mark.parametrize("tail", [1, 5, 99, 100, 101, 1000])
def test_tail_reads_backwards_from_the_end(log_path, monkeypatch, tail):
    monkeypatch.setattr(logs, "TAIL_BLOCK", 100)  # many blocks, lines across their edges
    write_lines(log_path, 100)
    fd = os.open(log_path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        start, found = logs.tail_offset(fd, size, tail)
        assert found == min(tail, 100)
        with open(log_path, "rb") as f:
            lines = f.read().splitlines(keepends=True)
        assert start == size - sum(map(len, lines[-found:]))
    finally:
        os.close(fd)
    assert [e.data for e in read_all(log_path, tail=tail)] == [b"line %d\n" % n for n in range(max(0, 100 - tail), 100)]


def test_tail_reads_only_the_end_of_a_big_log(log_path, monkeypatch):
    write_lines(log_path, 200_000, per_chunk=20_000)
    reads = []
    real_pread = os.pread
    monkeypatch.setattr(os, "pread", lambda fd, n, offset: reads.append(n) or real_pread(fd, n, offset))
    assert [e.data for e in read_all(log_path, tail=3)] == [b"line 199997\n", b"line 199998\n", b"line 199999\n"]
    assert sum(reads) <= 3 * logs.TAIL_BLOCK + logs.READ_BATCH  # kilobytes of a file of megabytes
    assert os.path.getsize(log_path) > 10_000_000


def test_tail_zero_and_all(log_path):
    write_lines(log_path, 10)
    assert read_all(log_path, tail=0) == []
    assert len(read_all(log_path, tail=-1)) == len(read_all(log_path)) == 10


def test_reading_is_in_bounded_batches_in_order(log_path, monkeypatch):
    monkeypatch.setattr(logs, "READ_BATCH", 1000)
    writer = LogWriter(log_path)
    writer.write("stdout", b"".join(b"%d\n" % n for n in range(5000)))
    writer.write("stderr", b"L" * 5000 + b"\n")  # a record longer than a batch is still read whole
    writer.close()

    async def batches():
        reader = LogReader(log_path, LogOptions())
        try:
            return [batch async for batch in reader.history()]
        finally:
            reader.close()
    found = asyncio.run(batches())
    assert len(found) > 300
    assert all(len(batch) <= 1000 // 60 + 1 for batch in found[:-1])  # a record is at least ~60 bytes
    entries = [entry for batch in found for entry in batch]
    assert [e.data for e in entries] == [b"%d\n" % n for n in range(5000)] + [b"L" * 5000 + b"\n"]
    assert entries[-1].stream == "stderr"


@pytest.mark.parametrize("texts", [
    [b"plain\n", "caf\u00e9 \u2603\n".encode(), b"\n"],  # no escapes: the one-scan path
    [b"tab\there\n", b'"quoted"\n', b"back\\slash\n", b"\xff\n", b"no newline"],  # escapes: json.loads
])
def test_parsing_gives_back_what_was_written(log_path, texts):
    writer = LogWriter(log_path)
    for text in texts:
        writer.write("stderr", text)
    writer.flush()
    writer.close()
    blob = open(log_path, "rb").read()
    expected = [logs.LogEntry(r["stream"], r["log"].encode(), r["time"]) for r in map(json.loads, blob.splitlines())]
    assert logs.parse_records(blob) == expected
    assert [e.data for e in expected] == [t.replace(b"\xff", "\ufffd".encode()) for t in texts]


def test_a_torn_last_record_is_left_out(log_path):
    write_lines(log_path, 3)
    with open(log_path, "ab") as f:
        f.write(b'{"log":"crash in the mid')
    assert [e.data for e in read_all(log_path)] == [b"line 0\n", b"line 1\n", b"line 2\n"]
    assert [e.data for e in read_all(log_path, tail=1)] == [b"line 2\n"]


def test_tail_comes_before_since_and_until_stops(log_path):
    """Docker takes the last N lines, then drops those before --since: fewer than N may be left."""
    lines = [(f"2026-01-01T00:00:0{n}Z", f"at {n}\n") for n in range(6)]
    with open(log_path, "w") as f:
        for time, text in lines:
            f.write(json.dumps({"log": text, "stream": "stdout", "time": time}) + "\n")
    since, until = clock.parse_rfc3339("2026-01-01T00:00:03Z"), clock.parse_rfc3339("2026-01-01T00:00:04Z")
    assert [e.data for e in read_all(log_path, since=since)] == [b"at 3\n", b"at 4\n", b"at 5\n"]
    assert [e.data for e in read_all(log_path, tail=4, since=since)] == [b"at 3\n", b"at 4\n", b"at 5\n"]
    assert [e.data for e in read_all(log_path, tail=2, since=since)] == [b"at 4\n", b"at 5\n"]
    assert [e.data for e in read_all(log_path, until=until)] == [b"at 0\n", b"at 1\n", b"at 2\n", b"at 3\n", b"at 4\n"]
    assert [e.data for e in read_all(log_path, since=since, until=until)] == [b"at 3\n", b"at 4\n"]


# ---------------------------------------------------------------------------
# rotation


def test_rotation_keeps_max_file_files_read_oldest_first(log_path):
    options = LogOptions(max_size=1000, max_file=3)
    write_lines(log_path, 100, options, per_chunk=7)
    names = sorted(os.listdir(os.path.dirname(log_path)))
    assert names == ["c0ffee-json.log", "c0ffee-json.log.1", "c0ffee-json.log.2"]
    for rotated in (".1", ".2"):
        size = os.path.getsize(log_path + rotated)
        last = len(open(log_path + rotated, "rb").read().splitlines()[-1]) + 1
        assert size >= 1000 and size - last < 1000  # it ends with the record that took it to max-size
    entries = read_all(log_path, options)
    numbers = [int(e.data.split()[1]) for e in entries]
    assert numbers == list(range(numbers[0], 100)) and numbers[0] > 0  # in order; the oldest files are gone
    assert [e.data for e in read_all(log_path, options, tail=30)] == [b"line %d\n" % n for n in range(70, 100)]


def test_max_file_1_keeps_one_file_to_read(log_path):
    """Docker 20.10 renames the full file to .1 even then, and reads the live file only."""
    options = LogOptions(max_size=500)
    write_lines(log_path, 50, options, per_chunk=3)
    assert os.path.exists(log_path + ".1") and not os.path.exists(log_path + ".2")
    live = [r["log"] for r in records(log_path)]
    assert [e.data.decode() for e in read_all(log_path, options)] == live
    assert live[-1] == "line 49\n" and len(live) < 50


def test_a_writer_reopened_on_a_full_file_rotates_first(log_path):
    options = LogOptions(max_size=200, max_file=2)
    write_lines(log_path, 3, options)  # the first run: one file, at max-size
    write_lines(log_path, 1, options)  # the second run starts a new one
    assert [r["log"] for r in records(log_path)] == ["line 0\n"]
    assert [e.data for e in read_all(log_path, options)] == [b"line 0\n", b"line 1\n", b"line 2\n", b"line 0\n"]


# ---------------------------------------------------------------------------
# following: from history to live output, across rotations


@pytest.mark.parametrize("options", [LogOptions(), LogOptions(max_size=1000, max_file=2), LogOptions(max_size=300)])
def test_follow_switches_from_history_to_live_output_losing_nothing(log_path, options):
    async def scenario():
        writer = LogWriter(log_path, options)
        for n in range(50):
            writer.write("stdout", b"old %d\n" % n)
        reader = LogReader(log_path, options, writer)
        seen = []

        async def follow():
            async for batch in reader.history():
                seen.extend(batch)
                await asyncio.sleep(0)  # the writer gets in between: lines arrive during the history
            async for batch in reader.follow():
                seen.extend(batch)

        task = asyncio.create_task(follow())
        for n in range(200):
            writer.write("stdout", b"new %d\n" % n)
            if options.max_size is not None:
                # Rotating every few lines: a follower that fell more than the kept files behind would
                # lose lines (as with Docker), so this one is let to keep up.
                while not (seen and seen[-1].data == b"new %d\n" % n):
                    await asyncio.sleep(0.0005)
            elif n % 7 == 0:
                await asyncio.sleep(0.001)
        writer.write("stderr", b"no newline")
        writer.flush()
        writer.close()
        await asyncio.wait_for(task, 10)
        reader.close()
        return seen

    seen = asyncio.run(scenario())
    expected_new = [b"new %d\n" % n for n in range(200)] + [b"no newline"]
    got = [e.data for e in seen]
    if options.max_size is None:
        assert got == [b"old %d\n" % n for n in range(50)] + expected_new
    else:
        # History is what the kept files still hold; everything after the snapshot arrives, once, in order.
        assert got[-len(expected_new):] == expected_new
        history = got[:-len(expected_new)]
        assert history == [b"old %d\n" % n for n in range(50 - len(history), 50)]


def test_follow_of_a_stopped_writer_ends_after_the_history(log_path):
    write_lines(log_path, 3)

    async def scenario():
        reader = LogReader(log_path, LogOptions(), None)
        try:
            return [e async for b in reader.history() for e in b] + [e async for b in reader.follow() for e in b]
        finally:
            reader.close()
    assert len(asyncio.run(scenario())) == 3


# ---------------------------------------------------------------------------
# --log-opt, with Docker's messages


@pytest.mark.parametrize("config, expected", [
    ({}, LogOptions()),
    ({"max-size": "10m"}, LogOptions(10_000_000, 1)),
    ({"max-size": "1k", "max-file": "3"}, LogOptions(1000, 3)),
    ({"max-size": "1.5K"}, LogOptions(1500, 1)),
    ({"max-size": "10MiB"}, LogOptions(10_000_000, 1)),
    ({"max-size": "2 gb"}, LogOptions(2_000_000_000, 1)),
    ({"max-size": "1.9"}, LogOptions(1, 1)),
    ({"max-file": "2"}, LogOptions(None, 2)),  # accepted without max-size: nothing rotates
    ({"max-size": "1k", "max-file": "2", "compress": "false"}, LogOptions(1000, 2)),
    ({"mode": "blocking", "tag": "{{.Name}}"}, LogOptions()),
])
def test_log_options(config, expected):
    assert logs.log_options(config) == expected


@pytest.mark.parametrize("config, message", [
    ({"foo": "bar"}, "unknown log opt 'foo' for json-file log driver"),
    ({"max-size": "abc"}, "failed to initialize logging driver: invalid size: 'abc'"),
    ({"max-size": ""}, "failed to initialize logging driver: invalid size: ''"),
    ({"max-size": "-1"}, "failed to initialize logging driver: invalid size: '-1'"),
    ({"max-size": "1.2.3k"}, 'failed to initialize logging driver: strconv.ParseFloat: parsing "1.2.3": invalid syntax'),
    ({"max-size": "0"}, "failed to initialize logging driver: max-size must be a positive number"),
    ({"max-size": "0.5"}, "failed to initialize logging driver: max-size must be a positive number"),
    ({"max-file": "0"}, "failed to initialize logging driver: max-file cannot be less than 1"),
    ({"max-file": "x"}, 'failed to initialize logging driver: strconv.Atoi: parsing "x": invalid syntax'),
    ({"compress": "true"},
     "failed to initialize logging driver: compress cannot be true when max-file is less than 2 or max-size is not set"),
    ({"compress": "yes"}, 'failed to initialize logging driver: strconv.ParseBool: parsing "yes": invalid syntax'),
    ({"max-size": "1k", "max-file": "2", "compress": "true"}, "compress=true is not supported by nbdock"),
    ({"mode": "fast"}, "logger: logging mode not supported: fast"),
    ({"max-buffer-size": "4m"}, "logger: max-buffer-size option is only supported with 'mode=non-blocking'"),
    ({"mode": "non-blocking"}, "mode=non-blocking is not supported by nbdock"),
    ({"labels": "a"}, "--log-opt labels is not supported by nbdock"),
])
def test_bad_log_options_are_refused_with_dockers_messages(config, message):
    with pytest.raises(InvalidArgument) as caught:
        logs.log_options(config)
    assert message in caught.value.message


# ---------------------------------------------------------------------------
# output capture: a slow attached client slows the process, not the daemon's memory


def test_a_backlogged_client_pauses_the_pump_until_it_catches_up(monkeypatch):
    from nbdock.engine import streams

    monkeypatch.setattr(streams, "CLIENT_BACKLOG", 256 * 1024)
    data = b"".join(b"%d\n" % n for n in range(1_000_000))  # ~7 MB

    async def scenario():
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        listeners = streams.Listeners()
        client = listeners.listen()
        logged = []
        pump = streams.OutputPump({read_end: "stdout"}, lambda stream, chunk: (listeners.publish(stream, chunk),
                                                                                  logged.append(chunk)), listeners)

        def produce():
            with open(write_end, "wb") as out:
                out.write(data)
        producer = asyncio.get_running_loop().run_in_executor(None, produce)
        await asyncio.sleep(0.5)  # the client reads nothing meanwhile
        held = client.backlog
        assert held <= 256 * 1024 + len(pump._buffer)  # no more than the limit and one read
        assert not producer.done()  # the process waits on its full pipe
        received = bytearray()
        while len(received) < len(data):
            received += (await client.get())[1]
        await producer
        await pump.done.wait()
        return bytes(received), b"".join(logged)

    received, logged = asyncio.run(scenario())
    assert received == logged == data
