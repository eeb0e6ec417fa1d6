"""The screencast recorder on its own (no browser): every frame is acknowledged at once, only
the newest frame of each tick waits to be encoded (memory bounded by fps × max_seconds
whatever the page does), the recording stops at max_seconds, the encoder turns ticks into a
real WebM (read back by Debian's ffmpeg, a tool we did not write), and a recording given up
leaves neither a file nor a running encoder."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from capture import VideoOptions
from capture.video import ScreencastRecorder


def _jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (320, 200)) -> str:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return base64.b64encode(out.getvalue()).decode()


async def _quiet(method: str, params: Any = None) -> dict[str, Any]:
    return {}


@contextlib.contextmanager
def _arriving_as_they_would_have(rec: ScreencastRecorder) -> Iterator[None]:
    """Frames a test stamps in the past arrive in a burst, slower than the page would have
    sent them (each JPEG is made on the spot, on a loaded machine). The encoder sees every
    one of their ticks as over and could take a tick before its frames arrived, showing the
    previous picture there: a race of the test, not of the recorder, whose frames arrive
    within ``FINAL_AFTER_S`` of their time stamp. Holding the recorder's lock while they
    arrive makes the burst arrive at once, as the page's frames would have, one by one,
    before each tick was due."""
    with rec._cond:
        yield


def test_frames_are_acked_at_once_and_only_one_per_tick_is_kept(tmp_path: Path) -> None:
    sent: list[tuple[str, Any]] = []
    kept: list[int] = []

    async def send(method: str, params: Any = None) -> dict[str, Any]:
        sent.append((method, params))
        return {}

    async def scenario() -> ScreencastRecorder:
        rec = ScreencastRecorder(send, VideoOptions(fps=10, max_seconds=2.0), viewport=(320, 200))
        await rec.start(tmp_path / "video.webm")
        # As if recording began 3 s ago: every tick below is over, the encoder may take it.
        t0 = rec.started_at = time.time() - 3.0
        # 300 frames in 3 s (a busy page): 100 per second, past max_seconds.
        red, blue = _jpeg((255, 0, 0)), _jpeg((0, 0, 255))
        with _arriving_as_they_would_have(rec):
            for i in range(300):
                rec.handlers()["Page.screencastFrame"](
                    {
                        "data": red if i < 150 else blue,
                        "sessionId": i,
                        "metadata": {"timestamp": t0 + i / 100},
                    }
                )
            kept.append(len(rec._pending))
        await asyncio.sleep(0)  # let the acks go out
        await asyncio.sleep(0)
        await rec.stop()
        return rec

    rec = asyncio.run(scenario())
    acks = [p["sessionId"] for m, p in sent if m == "Page.screencastFrameAck"]
    assert acks == list(range(300))  # every frame, even those past the bound
    assert sent[0][0] == "Page.startScreencast" and sent[-1][0] == "Page.stopScreencast"
    assert rec.frames_received == 201  # t0 .. t0 + 2.0 s
    assert kept[0] == 21  # waiting to be encoded: one per tick of 0.1 s, not 201
    assert rec.truncated == ["max_seconds"]

    facts = rec.finish()
    assert facts is not None and facts.frames_encoded == 21 and facts.duration_s == 2.1
    assert facts.truncated == ["max_seconds"]
    assert not (tmp_path / "video.webm.part").exists()
    # The picture changes where the page did (frame 150 at 1.5 s): red, then blue.
    for at, want in ((0.5, "red"), (1.9, "blue")):
        png = tmp_path / f"{at}.png"
        video = str(tmp_path / "video.webm")
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-ss",
                str(at),
                "-i",
                video,
                "-frames:v",
                "1",
                "-y",
                str(png),
            ],
            check=True,
            timeout=60,
        )
        r, g, b = Image.open(png).convert("RGB").getpixel((20, 20))  # type: ignore[misc]
        assert (r > 200 and b < 60) if want == "red" else (b > 200 and r < 60), (at, r, g, b)


def _colour_at(video: Path, png: Path, *args: str) -> tuple[int, int, int]:
    """The colour of one frame as Debian's ffmpeg decodes it (``args`` choose the frame)."""
    subprocess.run(
        ["ffmpeg", "-v", "error", *args, "-i", str(video), "-frames:v", "1", "-y", str(png)],
        check=True, timeout=60,
    )  # fmt: skip
    return Image.open(png).convert("RGB").getpixel((20, 20))  # type: ignore[return-value]


def test_a_frame_that_arrives_after_its_tick_was_encoded_shows_from_the_next_tick(
    tmp_path: Path,
) -> None:
    """A frame held up on its way (the browser's event loop busy for longer than
    ``FINAL_AFTER_S``) belongs to a tick the encoder has already written. It is not dropped:
    the next tick shows it, so the video never ends on a picture the page no longer showed."""

    async def scenario() -> ScreencastRecorder:
        rec = ScreencastRecorder(
            _quiet, VideoOptions(fps=10, max_seconds=10.0), viewport=(320, 200)
        )
        await rec.start(tmp_path / "video.webm")
        t0 = rec.started_at = time.time() - 3.0
        with _arriving_as_they_would_have(rec):
            for i in range(10):  # red during the first second
                rec.handlers()["Page.screencastFrame"](
                    {
                        "data": _jpeg((255, 0, 0)),
                        "sessionId": i,
                        "metadata": {"timestamp": t0 + i / 10},
                    }
                )
        deadline = time.monotonic() + 20
        while rec.frames_encoded < 25 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # the encoder writes every tick that is over: 2.5 s of red
        assert rec.frames_encoded >= 25
        # Stamped at 1.5 s, arriving at 3 s and more: its tick (15) is already in the file.
        rec.handlers()["Page.screencastFrame"](
            {"data": _jpeg((0, 0, 255)), "sessionId": 10, "metadata": {"timestamp": t0 + 1.5}}
        )
        await asyncio.sleep(0.3)
        await rec.stop()
        return rec

    rec = asyncio.run(scenario())
    facts = rec.finish()
    assert facts is not None and facts.frames_received == 11
    video = tmp_path / "video.webm"
    r, g, b = _colour_at(video, tmp_path / "early.png", "-ss", "1.0")
    assert r > 200 and b < 60, ("the encoded ticks keep their picture", r, g, b)
    r, g, b = _colour_at(video, tmp_path / "last.png", "-sseof", "-0.1")
    assert b > 200 and r < 60, ("the late frame is the video's last picture", r, g, b)


def test_no_frame_means_no_video(tmp_path: Path) -> None:
    async def scenario() -> ScreencastRecorder:
        rec = ScreencastRecorder(_quiet, VideoOptions(), viewport=(320, 200))
        await rec.start(tmp_path / "video.webm")
        await rec.stop()
        return rec

    rec = asyncio.run(scenario())
    assert rec.finish() is None
    assert not list(tmp_path.iterdir())


def test_an_aborted_recording_leaves_no_file_and_no_encoder_running(tmp_path: Path) -> None:
    async def scenario() -> ScreencastRecorder:
        rec = ScreencastRecorder(_quiet, VideoOptions(), viewport=(320, 200))
        await rec.start(tmp_path / "video.webm")
        t0 = rec.started_at = time.time() - 1.0
        for i in range(10):
            rec.handlers()["Page.screencastFrame"](
                {"data": _jpeg((0, 255, 0)), "sessionId": i, "metadata": {"timestamp": t0 + i / 10}}
            )
        await asyncio.sleep(0.5)  # the encoder is at work
        assert rec.frames_encoded > 0
        rec.dispose()  # the capture failed before finish()
        return rec

    rec = asyncio.run(scenario())
    assert not rec.encoding
    assert not list(tmp_path.iterdir())


def _noise_jpeg(seed: int, size: tuple[int, int] = (320, 200)) -> str:
    """A frame that compresses badly (random pixels): every tick makes a large packet."""
    import random

    rnd = random.Random(seed)
    img = Image.frombytes("RGB", size, rnd.randbytes(size[0] * size[1] * 3))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95)
    return base64.b64encode(out.getvalue()).decode()


def test_max_bytes_ends_the_video_there_and_says_so(tmp_path: Path) -> None:
    """A recording that would outgrow ``max_bytes`` stops growing at the bound: the file is
    still a whole WebM that ffprobe reads, a little over the bound at most (the container's
    own bytes), and the provenance says ``max_bytes``."""
    bound = 200_000  # a few noisy frames (each tens of kB); 30 of them are far more

    async def scenario() -> ScreencastRecorder:
        rec = ScreencastRecorder(
            _quiet, VideoOptions(fps=10, max_seconds=5.0, max_bytes=bound), viewport=(320, 200)
        )
        await rec.start(tmp_path / "video.webm")
        t0 = rec.started_at = time.time() - 3.0
        with _arriving_as_they_would_have(rec):
            for i in range(30):  # a new noisy picture every tick for 3 s
                rec.handlers()["Page.screencastFrame"](
                    {"data": _noise_jpeg(i), "sessionId": i, "metadata": {"timestamp": t0 + i / 10}}
                )
        await rec.stop()
        return rec

    rec = asyncio.run(scenario())
    facts = rec.finish()
    assert facts is not None and facts.truncated == ["max_bytes"]
    assert 0 < facts.frames_encoded < 30
    video = tmp_path / "video.webm"
    assert facts.bytes == video.stat().st_size <= bound + 4096
    entries = "stream=codec_name,nb_read_frames"
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries", entries, "-of", "csv=p=0",
         str(video)],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()  # fmt: skip
    codec, frames = probe.split(",")
    assert codec == "vp8" and 0 < int(frames) <= facts.frames_encoded
