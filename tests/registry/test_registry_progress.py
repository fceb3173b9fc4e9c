"""Docker's progress messages: the strings moby writes, and the stream that carries them."""

import asyncio

import pytest

from nbdock.errors import RegistryError
from nbdock.registry import progress


def test_sizes_and_bars_as_dockerd_printed_them():
    # Each expected string was captured from Docker 20.10's pull and push streams.
    assert progress.progress_bar(36445, 3001125) == "[>" + " " * 50 + "]  36.45kB/3.001MB"
    assert progress.progress_bar(187, 187) == "[" + "=" * 50 + ">]     187B/187B"
    assert progress.progress_bar(1906176, 1984234) == "[" + "=" * 48 + ">  ]  1.906MB/1.984MB"
    # A push counts past its total; Docker then shows the count alone.
    assert progress.progress_bar(2129920, 1984234) == "[" + "=" * 50 + ">]   2.13MB"


def test_message_shapes():
    assert progress.status("Pulling from library/alpine", id="latest") == {
        "status": "Pulling from library/alpine",
        "id": "latest",
    }
    assert progress.update("ee9a8e9634a6", "Pull complete") == {
        "status": "Pull complete",
        "progressDetail": {},
        "id": "ee9a8e9634a6",
    }
    downloading = progress.update("ee9a8e9634a6", "Downloading", 187, 187)
    assert downloading["progressDetail"] == {"current": 187, "total": 187}
    assert downloading["progress"].endswith("187B/187B")
    assert progress.aux(Tag="1", Digest="sha256:x", Size=527) == {
        "progressDetail": {},
        "aux": {"Tag": "1", "Digest": "sha256:x", "Size": 527},
    }
    digest = "sha256:4af02aff7641aba4bc79879db9f4b3d9b4139dac45a136caff3c3ba54e44e63b"
    assert progress.short_id(digest) == "4af02aff7641"


def test_stream_yields_messages_before_raising_the_error():
    async def work(emit):
        emit({"status": "one"})
        await asyncio.sleep(0)
        emit({"status": "two"})
        raise RegistryError("broken")

    async def consume():
        received = []
        with pytest.raises(RegistryError, match="broken"):
            async for message in progress.stream(work):
                received.append(message["status"])
        return received

    assert asyncio.run(consume()) == ["one", "two"]


def test_stream_cancels_the_work_when_the_consumer_stops():
    cancelled = []

    async def work(emit):
        emit({"status": "first"})
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def consume_one():
        messages = progress.stream(work)
        first = await messages.__anext__()
        await messages.aclose()
        return first

    assert asyncio.run(consume_one()) == {"status": "first"}
    assert cancelled == [True]
