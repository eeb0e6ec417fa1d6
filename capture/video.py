"""The session video: what the browser showed while the page loaded, with a clock drawn on it.

Why this shape:

* Frames come from CDP ``Page.startScreencast`` (JPEG, at most the viewport's pixels). Each
  frame is acknowledged at once (Chromium sends the next only after the ack) and its bytes
  are only queued: the browser's event loop never waits for the encoder.
* Chromium sends a frame only when the picture changes. The video has a constant frame rate
  (``VideoOptions.fps``): at each tick it shows the newest frame received by then, which is
  what the screen showed at that moment. Of several frames within one tick only the newest
  can ever be shown, so only that one is kept: memory is bounded by ``fps × max_seconds``
  frames whatever the page does.
* The clock drawn on every frame (Pillow) is the tick's time on the capture machine's clock,
  UTC and Beijing time, to a tenth of a second; the provenance records the offset of that
  clock to a trusted time-stamp. Drawing it ourselves (rather than FFmpeg's ``drawtext``) keeps
  the text and font the same whatever FFmpeg was built with.
* Encoding runs while the page loads, in a thread of this process, niced below the browser,
  through PyAV (FFmpeg's libraries: libvpx, WebM, VP8 in real-time mode: every browser plays
  it, and it encodes quickly on a small machine). In-process because starting the ``ffmpeg``
  program costs about 85 ms of CPU before its first frame (it links some hundred libraries),
  which on a two-core machine was half of what video added to a capture of a fast page
  (benchmarks/capture.py); PyAV encodes the same four frames in about 45 ms in all. A tick is
  encoded once it is over (plus ``FINAL_AFTER_S``), so that after the load only the last few
  ticks are left; a frame held up for longer than that is not dropped but shown from the next
  tick on. The file is written to a temporary name and renamed only when the encoder
  finished: a half-written video is never evidence. A failed capture stops the encoder and
  leaves no file. ``max_seconds`` bounds the recording and ``max_bytes`` the file; a bound
  that is hit is recorded as ``truncated``. Courts read the file with tools we did not write
  (ffprobe, ffmpeg, any browser); the tests do.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import av
from av.video.stream import VideoStream
from PIL import Image, ImageDraw, ImageFont

from .errors import VideoError
from .types import VideoOptions

__all__ = ["VIDEO_NAME", "ScreencastRecorder", "VideoFacts", "VideoOptions", "check_encoder"]

log = logging.getLogger(__name__)

VIDEO_NAME = "video.webm"
VIDEO_MEDIA_TYPE = "video/webm"
BEIJING = timezone(timedelta(hours=8))
#: Fonts tried for the clock, in order (fonts-wqy-zenhei is in the service's Debian packages).
CLOCK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
)
#: A tick is encoded this long after it ended: frames reach us a few milliseconds after
#: Chromium's timestamp, so by then every frame of the tick has arrived.
FINAL_AFTER_S = 0.15
#: Chromium JPEG-encodes every n-th frame it draws for the screencast. Most of the video's
#: cost on a fast page is that encoding while the page scrolls (benchmarks/capture.py); 3
#: would halve it, but a change drawn on a skipped frame of a page that then stays still
#: would never reach the video: the video would end on a picture the page no longer showed.
EVERY_NTH_FRAME = 1
#: Niceness of the encoder thread: it encodes while the page loads, below the browser.
ENCODER_NICE = 10
#: The encoder: libvpx's VP8 in real-time mode (fast on a small machine), constant quality
#: with a 1 Mbit/s ceiling, one thread (the browser needs the other core).
CODEC = "libvpx"
CODEC_OPTIONS = {"deadline": "realtime", "cpu-used": "8", "crf": "10", "b": "1M"}
#: Longest edge of a frame Chromium is asked for (device pixels): a phone at 3x would
#: otherwise send frames of 1170 × 2532 for nothing a court needs.
MAX_FRAME_EDGE = 1280


@dataclass(frozen=True)
class VideoFacts:
    """What the provenance says of the video (``artifacts.video``)."""

    file: str
    media_type: str
    codec: str
    width: int
    height: int
    fps: int
    frames_received: int
    frames_encoded: int
    duration_s: float
    first_frame_at: str | None
    last_frame_at: str | None
    truncated: list[str]
    bytes: int
    encoder: str
    clock: str

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def check_encoder() -> str:
    """The encoder's description, or a :class:`VideoError` that says what to install: the
    PyAV wheel bundles FFmpeg with libvpx; a PyAV built against a system FFmpeg without it
    cannot make the video."""
    if CODEC not in av.codecs_available:
        raise VideoError(
            "A video of the capture was requested, but this machine's PyAV (the av package) "
            f"has no {CODEC} (VP8) encoder; install the av wheel of requirements/run.lock "
            "(scripts/setup.sh does) or capture without video."
        )
    return _encoder_version()


@functools.cache
def _encoder_version() -> str:
    codec = ".".join(str(n) for n in av.library_versions.get("libavcodec", ()))
    return f"PyAV {av.__version__} (libavcodec {codec}, {CODEC})"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class ScreencastRecorder:
    """Receives ``Page.screencastFrame`` events of one page and encodes them as they become
    final: :meth:`start`, then :meth:`stop` and :meth:`finish` (or :meth:`abort`)."""

    def __init__(
        self,
        send: Callable[..., Awaitable[Any]],
        options: VideoOptions,
        *,
        viewport: tuple[int, int],
        device_scale_factor: float = 1.0,
    ) -> None:
        self._send = send
        self.o = options
        scale = min(device_scale_factor, MAX_FRAME_EDGE / max(viewport))
        # Even sizes: VP8 in yuv420p needs them.
        self.width = max(2, int(viewport[0] * scale) // 2 * 2)
        self.height = max(2, int(viewport[1] * scale) // 2 * 2)
        self._cond = threading.Condition()
        self._pending: list[tuple[int, bytes]] = []  # (tick, JPEG): newest per tick, not encoded
        self.frames_received = 0
        self.frames_encoded = 0
        self.started_at: float | None = None
        self.stopped_at: float | None = None
        self.first_frame_ts: float | None = None
        self.last_frame_ts: float | None = None
        self.truncated: list[str] = []
        self._pending_acks: set[Any] = set()
        self._recording = False
        self._aborted = False
        self._container: Any = None  # av.container.OutputContainer, owned by the thread
        self._stream: VideoStream | None = None
        self._encoder = ""
        self._bytes = 0
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._tmp: Path | None = None
        self._finished = False

    def handlers(self) -> dict[str, Callable[[dict[str, Any]], None]]:
        return {"Page.screencastFrame": self._on_frame}

    async def start(self, out: Path) -> None:
        """Start the encoder (idle until the first frame) and the screencast; ``out`` is where
        :meth:`finish` puts the video."""
        self._out = out
        self._tmp = out.with_name(out.name + ".part")
        self.started_at = time.time()
        self._start_encoder()
        self._recording = True
        await self._send(
            "Page.startScreencast",
            {
                "format": "jpeg",
                "quality": self.o.jpeg_quality,
                "maxWidth": self.width,
                "maxHeight": self.height,
                "everyNthFrame": EVERY_NTH_FRAME,
            },
        )

    async def stop(self) -> None:
        """Stop recording (frames that still arrive are not kept)."""
        if not self._recording:
            return
        self._recording = False
        with self._cond:
            self.stopped_at = time.time()
            self._cond.notify_all()
        with contextlib.suppress(Exception):
            await self._send("Page.stopScreencast")

    def _on_frame(self, params: dict[str, Any]) -> None:
        import asyncio

        # Ack first, whatever happens: Chromium waits for it before sending the next frame.
        ack = asyncio.ensure_future(
            self._send("Page.screencastFrameAck", {"sessionId": params.get("sessionId")})
        )
        self._pending_acks.add(ack)
        ack.add_done_callback(self._ack_done)
        if not self._recording or self.started_at is None:
            return
        ts = float((params.get("metadata") or {}).get("timestamp") or time.time())
        if ts - self.started_at > self.o.max_seconds:
            if "max_seconds" not in self.truncated:
                self.truncated.append("max_seconds")
            return
        self.frames_received += 1
        if self.first_frame_ts is None:
            self.first_frame_ts = ts
        self.last_frame_ts = ts
        tick = max(0, int((ts - self.started_at) * self.o.fps))
        data = base64.b64decode(params.get("data") or "")
        with self._cond:
            if self._pending and self._pending[-1][0] >= tick:
                self._pending[-1] = (self._pending[-1][0], data)  # the newer picture
            else:
                self._pending.append((tick, data))
            self._cond.notify_all()

    def _ack_done(self, fut: Any) -> None:
        self._pending_acks.discard(fut)
        if not fut.cancelled() and fut.exception() is not None:
            log.debug("screencast ack failed: %s", fut.exception())

    def dispose(self) -> None:
        for fut in list(self._pending_acks):
            fut.cancel()
        self._pending_acks.clear()
        if not self._finished:
            self.abort()

    # -- encoding: a thread encodes each tick once its picture is final ----------------------

    def _start_encoder(self) -> None:
        assert self._tmp is not None
        self._encoder = check_encoder()
        container = None
        try:
            container = av.open(str(self._tmp), "w", format="webm")
            container.metadata["creation_time"] = _iso(self.started_at or time.time())
            container.metadata["title"] = "Capture session (clock: capture machine, UTC and UTC+8)"
            stream = container.add_stream(CODEC, rate=self.o.fps, options=dict(CODEC_OPTIONS))
            assert isinstance(stream, VideoStream)
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
            stream.codec_context.thread_count = 1
        except (av.FFmpegError, OSError) as exc:
            if container is not None:
                with contextlib.suppress(Exception):
                    container.close()
            self._tmp.unlink(missing_ok=True)
            raise VideoError(
                f"the video encoder could not be started ({exc}); check the installation."
            ) from exc
        self._container, self._stream = container, stream
        self._thread = threading.Thread(target=self._feed, name="screencast-encoder", daemon=True)
        self._thread.start()

    @property
    def _max_ticks(self) -> int:
        """No tick past ``max_seconds`` is encoded, even while the page still loads."""
        return int(self.o.max_seconds * self.o.fps) + 1

    def _end_tick(self) -> int | None:
        """One past the last tick, once recording stopped; None while it goes on."""
        if self.stopped_at is None or self.started_at is None:
            return None
        end = min(self.stopped_at, self.started_at + self.o.max_seconds)
        return max(1, int((end - self.started_at) * self.o.fps) + 1)

    def _next(self, tick: int | None) -> tuple[int | None, bytes | None, bool]:
        """Wait until ``tick`` is final; (tick, newest new picture or None, done)."""
        assert self.started_at is not None
        with self._cond:
            while True:
                if self._aborted:
                    return tick, None, True
                if tick is None and self._pending:
                    tick = self._pending[0][0]
                end = self._end_tick()
                if tick is None:
                    if end is not None:
                        return None, None, True  # stopped without any frame
                    self._cond.wait()
                    continue
                if (end is not None and tick >= end) or tick >= self._max_ticks:
                    return tick, None, True
                due = self.started_at + (tick + 1) / self.o.fps + FINAL_AFTER_S
                wait = due - time.time()
                if end is None and wait > 0:
                    self._cond.wait(wait)
                    continue
                picture = None
                while self._pending and self._pending[0][0] <= tick:
                    picture = self._pending.pop(0)[1]
                return tick, picture, False

    def _mux(self, packets: Any) -> bool:
        """Write the packets; False once ``max_bytes`` is reached (the file ends there). The
        first packet is always written: a video has at least its first picture."""
        for packet in packets:
            if self._bytes and self._bytes + packet.size > self.o.max_bytes:
                if "max_bytes" not in self.truncated:
                    self.truncated.append("max_bytes")
                return False
            self._bytes += packet.size
            self._container.mux(packet)
        return True

    def _feed(self) -> None:
        assert self.started_at is not None and self._stream is not None
        # Below the browser: the page being captured comes first (Linux: per thread).
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ENCODER_NICE)
        font = _clock_font(self.width, self.height, self.started_at)
        base: Image.Image | None = None
        tick: int | None = None
        try:
            room = True
            while room:
                tick, picture, done = self._next(tick)
                if done or tick is None:
                    break
                if picture is not None or base is None:
                    base = self._canvas(picture) if picture is not None else self._black()
                frame = base.copy()
                _draw_clock(frame, self.started_at + tick / self.o.fps, font)
                video_frame = av.VideoFrame.from_image(frame)
                video_frame.pts = self.frames_encoded
                room = self._mux(self._stream.encode(video_frame))
                if room:
                    self.frames_encoded += 1
                    tick += 1
            if not self._aborted:
                self._mux(self._stream.encode(None))  # what the encoder still holds
        except BaseException as exc:  # reported by finish()
            self._error = exc
        finally:
            with contextlib.suppress(Exception):
                self._container.close()

    def _black(self) -> Image.Image:
        return Image.new("RGB", (self.width, self.height))

    def abort(self) -> None:
        """Stop everything and leave no file (a capture that failed)."""
        self._finished = True
        with self._cond:
            self._aborted = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(10)
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)

    @property
    def encoding(self) -> bool:
        """The encoder thread still runs (tests: nothing is left working after an abort)."""
        return self._thread is not None and self._thread.is_alive()

    def finish(self) -> VideoFacts | None:
        """After :meth:`stop`: the last ticks, then the WebM renamed into place (atomically);
        None when no frame was received. Blocks: run it in a thread."""
        assert self._thread is not None and self._tmp is not None
        with self._cond:
            if self.stopped_at is None:
                self.stopped_at = time.time()
            self._cond.notify_all()
        self._thread.join(120)
        if self._thread.is_alive():
            self.abort()
            raise VideoError("the encoder did not finish the capture's video; retry it.")
        if self.frames_encoded == 0 or self._error is not None:
            error = self._error
            self.abort()
            if error is not None:
                raise VideoError(
                    f"The capture's video could not be made ({error}); retry the capture."
                ) from error
            return None
        tmp = self._tmp
        if not tmp.is_file() or tmp.stat().st_size == 0:
            self.abort()
            raise VideoError(
                "the encoder wrote no video for the capture; the capture is not sealed, retry it."
            )
        self._finished = True
        size = tmp.stat().st_size
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self._out)
        return VideoFacts(
            file=self._out.name,
            media_type=VIDEO_MEDIA_TYPE,
            codec="VP8 (libvpx, real-time), WebM",
            width=self.width,
            height=self.height,
            fps=self.o.fps,
            frames_received=self.frames_received,
            frames_encoded=self.frames_encoded,
            duration_s=round(self.frames_encoded / self.o.fps, 3),
            first_frame_at=_iso(self.first_frame_ts) if self.first_frame_ts else None,
            last_frame_at=_iso(self.last_frame_ts) if self.last_frame_ts else None,
            truncated=list(self.truncated),
            bytes=size,
            encoder=self._encoder,
            clock=(
                "drawn on every frame: the time of that frame on the capture machine's clock "
                "(UTC and Beijing time, UTC+8), from the first screencast frame; each frame "
                "shows the newest picture Chromium had sent by then (CDP Page.startScreencast)"
            ),
        )

    def _canvas(self, jpeg: bytes) -> Image.Image:
        """The frame on a canvas of the video's fixed size (frames may change size, e.g.
        while a full-page screenshot is taken)."""
        try:
            img = Image.open(io.BytesIO(jpeg)).convert("RGB")
        except Exception:  # a damaged frame: show black rather than lose the clock
            return Image.new("RGB", (self.width, self.height))
        if img.size == (self.width, self.height):
            return img
        ratio = min(self.width / img.width, self.height / img.height)
        size = (max(1, round(img.width * ratio)), max(1, round(img.height * ratio)))
        canvas = Image.new("RGB", (self.width, self.height))
        canvas.paste(img.resize(size), (0, 0))
        return canvas


def _clock_font(width: int, height: int, moment: float) -> Any:
    """The largest font (up to 1/40 of the height) whose clock line fits the frame's width:
    a phone's narrow frame gets a smaller clock, never a cut one."""
    size = max(10, min(32, height // 40))
    sample = clock_text(moment)
    while True:
        font = _font(size)
        if size <= 8 or font.getlength(sample) <= width - 24:
            return font
        size -= 1


@functools.lru_cache(maxsize=32)
def _font(size: int) -> Any:
    for path in CLOCK_FONTS:
        if Path(path).is_file():
            with contextlib.suppress(OSError):
                return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def clock_text(moment: float) -> str:
    """The clock line drawn at ``moment`` (seconds since the epoch)."""
    utc = datetime.fromtimestamp(moment, UTC)
    bj = utc.astimezone(BEIJING)
    tenth = utc.microsecond // 100_000
    return f"{bj:%Y-%m-%d %H:%M:%S}.{tenth} UTC+8 (Beijing)   {utc:%H:%M:%S}.{tenth} UTC"


def _draw_clock(frame: Image.Image, moment: float, font: Any) -> None:
    draw = ImageDraw.Draw(frame)
    text = clock_text(moment)
    pad = 4
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    w, h = right - left, bottom - top
    x = max(0, frame.width - w - 2 * pad - 6)
    y = max(0, frame.height - h - 2 * pad - 6)
    draw.rectangle((x, y, x + w + 2 * pad, y + h + 2 * pad), fill=(0, 0, 0))
    draw.text((x + pad - left, y + pad - top), text, font=font, fill=(255, 255, 0))
