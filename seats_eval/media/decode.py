"""Decode the frames a model will see and the audio it will hear, bounded by what is kept.

Real benchmark videos run 1-90 minutes at 720p/1080p: decoding every frame to RGB needs
tens to hundreds of GB. Here only the sampled frames are ever materialised, and each is
resized to its final size as soon as it is decoded, so peak memory is about `max_frames`
frames at model resolution plus one small batch at source resolution.

Sampling and sizing are those of the reference preprocessing, qwen-omni-utils (whose
functions are called, not re-written): n = smart_nframes(duration * fps clipped to
[4, max_frames], even) frames at rounded linspace indices over the container's frame
count, each resized (bicubic, antialiased) to smart_resize() under the per-video pixel
cap max(min(768 tokens, total_pixels / n * 2), 1.05 * min_pixels), capped by max_pixels.
The processor is then told not to resize again (driver/inputs.py).

Readers, frame-accurate and tested equal to qwen-omni-utils' frames: PyAV with keyframe
seeking (the default; `av` is a dependency), then, when installed (the extras
`seats-eval[torchcodec]` / `seats-eval[decord]`), torchcodec's `VideoDecoder.get_frames_at`
and decord's `VideoReader.get_batch` (the readers qwen-omni-utils prefers, in its order:
torchcodec, then decord), tried in that order when a reader fails on a file. One reader is
forced with `backend=` or $SEATS_VIDEO_BACKEND; naming one that is not installed is a
ConfigError naming it and its extra. The PyAV reader is our own because decord, on a
60-min 720p file at 768 frames, holds about 1 GB more and takes 1.3x longer (its decoder
thread converts and queues frames it then skips; results/efficiency/bench_media_cpu.md).
It first makes a counted pass over the packets (no decoding, keeps no frames), so
containers without a frame count or with a variable frame rate get exact indices, then
decodes only the groups of pictures that hold a sampled frame. Audio is decoded once, at
16 kHz mono, and cut to what the processor will use. Every failure raises MediaError
naming the file.
"""

from __future__ import annotations

import functools
import importlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, MediaError

AUDIO_SR = 16000
BACKENDS = ("pyav", "torchcodec", "decord")  # tried in this order, those installed
BACKEND_ENV = "SEATS_VIDEO_BACKEND"  # force one reader (tests, debugging)
# reader -> (module imported to use it, pip extra that installs it)
_READER_MODULES = {"pyav": ("av", "av"), "torchcodec": ("torchcodec.decoders", "seats-eval[torchcodec]"),
                   "decord": ("decord", "seats-eval[decord]")}
READ_CHUNK = 8  # source-resolution frames decoded and resized at once (8 x 1080p RGB = 50 MB)


@dataclass(frozen=True)
class PixelBudget:
    """Per-frame pixel limits of the reference preprocessing (qwen-omni-utils `fetch_video`).

    `None` fields take the library's own defaults. `factor` = patch size x spatial merge
    (28 for Qwen2.5-Omni, 32 for Qwen3-Omni).
    """

    min_pixels: int | None = None
    max_pixels: int | None = None
    total_pixels: float | None = None
    factor: int = 28

    def frame_size(self, height: int, width: int, nframes: int) -> tuple[int, int]:
        """(height, width) every frame of an `nframes` video is resized to."""
        from qwen_omni_utils.v2_5 import vision_process as qv

        f = self.factor
        min_px = self.min_pixels if self.min_pixels is not None else qv.VIDEO_MIN_TOKEN_NUM * f * f
        total = self.total_pixels if self.total_pixels is not None else qv.MODEL_SEQ_LEN * f * f * 0.9
        # The per-video cap is inline in the library's fetch_video (no function to call): the
        # same expression here, checked against fetch_video in tests/test_media.py.
        cap = max(min(qv.VIDEO_MAX_TOKEN_NUM * f * f, total / nframes * qv.FRAME_FACTOR), int(min_px * 1.05))
        if self.max_pixels is not None:
            cap = min(self.max_pixels, cap)
        return qv.smart_resize(height, width, factor=f, min_pixels=min_px, max_pixels=cap)

    def as_dict(self) -> dict[str, Any]:
        return {"min_pixels": self.min_pixels, "max_pixels": self.max_pixels,
                "total_pixels": self.total_pixels, "factor": self.factor}


@dataclass(frozen=True)
class VideoInfo:
    """What the container says (or a counted pass found) about the video stream."""

    total_frames: int
    fps: float  # average frame rate of the file
    height: int
    width: int
    backend: str  # the reader that will decode it
    rate_from_timestamps: bool = False  # the header's rate disagreed with the frame timestamps

    @property
    def duration(self) -> float:
        return self.total_frames / self.fps


@dataclass
class Media:
    """Decoded inputs of one sample: frames already at model resolution."""

    path: str
    frames: np.ndarray  # (T, H, W, 3) uint8, T even, H and W multiples of the pixel factor
    fps: float  # sampling rate actually used: T / duration
    audio: np.ndarray | None  # mono float32 at AUDIO_SR (cut), None if the file has no audio stream
    duration: float  # seconds of video
    indices: np.ndarray | None = None  # (T,) source frame index of every kept frame
    backend: str = ""
    audio_seconds: float | None = None  # seconds of the file's audio track (before any cut)
    audio_cut: bool = False  # True when the audio was cut to what the processor uses

    def describe(self) -> dict[str, Any]:
        """The facts a per-sample record keeps."""
        t, h, w = (int(x) for x in self.frames.shape[:3])
        return {"frames": t, "frame_size": [h, w], "video_seconds": round(self.duration, 3),
                "video_backend": self.backend, "audio_seconds": self.audio_seconds,
                "audio_used_seconds": None if self.audio is None else round(len(self.audio) / AUDIO_SR, 3),
                "audio_cut": self.audio_cut}


# ----------------------------------------------------------------------------- sampling
def sample_indices(total_frames: int, video_fps: float, fps: float, max_frames: int, path: str = "") -> np.ndarray:
    """Source frame indices to keep: qwen-omni-utils' count (smart_nframes) at its rounded
    linspace positions."""
    from qwen_omni_utils.v2_5.vision_process import smart_nframes

    try:
        n = smart_nframes({"fps": fps, "max_frames": max_frames}, total_frames=total_frames, video_fps=video_fps)
    except (ValueError, ZeroDivisionError) as exc:
        raise MediaError(path, f"cannot sample {fps} fps from {total_frames} frames at {video_fps} fps ({exc})") from exc
    return np.linspace(0, total_frames - 1, n).round().astype(np.int64)


def _trim_heap() -> None:
    """Hand freed heap memory back to the OS (glibc `malloc_trim`). Each read batch frees
    tens of MB of source frames and float resize buffers; without this, glibc keeps them in
    per-thread arenas and the process grows with the number of batches, not with what is kept."""
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        try:
            import ctypes

            _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc
            _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


_MALLOC_TRIM = None


def _resize(batch: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(n, H, W, 3) uint8 -> (n, h, w, 3) uint8 with the library's resize call (torchvision
    bicubic, antialiased, TCHW). Frames are independent, so batching is exact; a contiguous
    TCHW copy gives the same values as the library's permuted view, 1.5x faster on CPU."""
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as tvf

    video = torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()
    out = tvf.resize(video, list(size), interpolation=InterpolationMode.BICUBIC, antialias=True)
    return out.permute(0, 2, 3, 1).contiguous().numpy()


# ----------------------------------------------------------------------------- readers
def _check_file(path: str) -> None:
    p = Path(path)
    if not p.exists():
        raise MediaError(path, "file does not exist")
    if not p.is_file():
        raise MediaError(path, "not a regular file")
    if p.stat().st_size == 0:
        raise MediaError(path, "file is empty")


@functools.cache
def _import_error(name: str) -> str | None:
    """None when reader `name` can be used here, else why not (its import failed: not
    installed, or e.g. torchcodec without the FFmpeg libraries it loads)."""
    try:
        importlib.import_module(_READER_MODULES[name][0])
    except Exception as exc:  # ImportError, or the RuntimeError/OSError of a missing shared library
        return f"{type(exc).__name__}: {exc}"
    return None


def available_backends() -> tuple[str, ...]:
    """The readers that can be used here, in the order they are tried."""
    return tuple(name for name in BACKENDS if _import_error(name) is None)


def _chosen_backends(backend: str | None) -> tuple[str, ...]:
    name = backend or os.environ.get(BACKEND_ENV, "").strip().lower() or None
    if name is None:
        found = available_backends()
        if not found:
            raise ConfigError(f"no video reader can be imported ({', '.join(BACKENDS)}); PyAV: "
                              f"{_import_error('pyav')}")
        return found
    if name not in BACKENDS:
        raise ConfigError(f"{BACKEND_ENV}/backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    why = _import_error(name)
    if why is not None:
        raise ConfigError(f"video reader {name!r} (chosen by {'backend=' if backend else BACKEND_ENV}) is not "
                          f"usable here: {why}; install it with `pip install {_READER_MODULES[name][1]}`, or "
                          f"choose one of the installed readers: {', '.join(available_backends()) or 'none'}")
    return (name,)


def _frame_rate(path: str, total: int, meta_fps: float, start_span: float) -> tuple[float, bool]:
    """(rate used for sampling, whether it came from the timestamps). The container's average
    rate, as qwen-omni-utils uses it, unless it is missing or disagrees with the frame
    timestamps by more than 2 frames or 2% of the duration (variable frame rate, a nominal
    rate in the header): then the count over the timestamped span. `start_span` = start of
    the last frame - start of the first."""
    valid = math.isfinite(meta_fps) and meta_fps > 0
    if valid:
        span = start_span + 1.0 / meta_fps
        claimed = total / meta_fps
        if abs(claimed - span) <= max(2.0 / meta_fps, 0.02 * span):
            return meta_fps, False
    else:
        span = start_span * total / (total - 1) if total > 1 else 0.0
    if span <= 0:
        raise MediaError(path, "video stream has neither a usable frame rate nor frame timestamps")
    return total / span, True


def _read_batched(indices: np.ndarray, size: tuple[int, int], get_batch) -> np.ndarray:
    """Frames `indices` at `size`, READ_CHUNK source frames at a time from `get_batch(list of
    indices) -> (n, H, W, 3) uint8` (the batch readers: torchcodec, decord)."""
    out = np.empty((len(indices), size[0], size[1], 3), dtype=np.uint8)
    for s in range(0, len(indices), READ_CHUNK):
        batch = get_batch(indices[s:s + READ_CHUNK].tolist())
        out[s:s + len(batch)] = _resize(batch, size)
        del batch
        _trim_heap()
    return out


class _DecordReader:
    name = "decord"

    def __init__(self, path: str) -> None:
        import decord

        self.path = path
        self.vr = decord.VideoReader(path, num_threads=0)

    def info(self) -> VideoInfo:
        total = len(self.vr)
        if total <= 0:
            raise MediaError(self.path, "video stream has no frames")
        (first, _), (last, _) = self.vr.get_frame_timestamp([0, total - 1]).tolist()
        fps, from_ts = _frame_rate(self.path, total, float(self.vr.get_avg_fps()), last - first)
        h, w = self.vr[0].shape[:2]
        self.vr.seek(0)
        return VideoInfo(total, fps, int(h), int(w), self.name, from_ts)

    def read(self, indices: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return _read_batched(indices, size, lambda idx: self.vr.get_batch(idx).asnumpy())

    def close(self) -> None:
        del self.vr


class _TorchCodecReader:
    """torchcodec's `VideoDecoder` in exact seek mode (frame i is the i-th frame in
    presentation order, as for the other readers)."""

    name = "torchcodec"

    def __init__(self, path: str) -> None:
        from torchcodec.decoders import VideoDecoder

        self.path = path
        self.decoder = VideoDecoder(path, seek_mode="exact", dimension_order="NHWC")

    def info(self) -> VideoInfo:
        meta = self.decoder.metadata
        total = int(meta.num_frames or 0)
        if total <= 0:
            raise MediaError(self.path, "video stream has no frames")
        first, last = self.decoder.get_frames_at([0, total - 1]).pts_seconds.tolist()
        fps, from_ts = _frame_rate(self.path, total, float(meta.average_fps or 0.0), last - first)
        return VideoInfo(total, fps, int(meta.height), int(meta.width), self.name, from_ts)

    def read(self, indices: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return _read_batched(indices, size, lambda idx: self.decoder.get_frames_at(idx).data.numpy())

    def close(self) -> None:
        del self.decoder


class _PyAVReader:
    """PyAV with keyframe seeking. A counted pass over the packets (demux only) gives every
    frame's presentation timestamp and the keyframes, so frame i is the i-th timestamp in
    order, whatever the container's metadata says."""

    name = "pyav"

    def __init__(self, path: str) -> None:
        import av

        self.path = path
        self.container = av.open(path)
        if not self.container.streams.video:
            self.container.close()
            raise MediaError(path, "no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        pts, keys = [], []
        for packet in self.container.demux(self.stream):
            if packet.size == 0 or packet.pts is None:  # flush packets / no timestamp
                continue
            pts.append(packet.pts)
            if packet.is_keyframe:
                keys.append(packet.pts)
        self.pts = np.sort(np.asarray(pts, dtype=np.int64))
        self.keys = np.sort(np.asarray(keys, dtype=np.int64))
        self._frames: Any = None  # the decode generator in use, and the last timestamp it gave
        self._last: int | None = None

    def info(self) -> VideoInfo:
        total = len(self.pts)
        if total == 0:
            raise MediaError(self.path, "video stream has no frames")
        rate = self.stream.average_rate
        span = float((self.pts[-1] - self.pts[0]) * self.stream.time_base)
        fps, from_ts = _frame_rate(self.path, total, float(rate) if rate else 0.0, span)
        ctx = self.stream.codec_context
        return VideoInfo(total, fps, int(ctx.height), int(ctx.width), self.name, from_ts)

    def read(self, indices: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        out = np.empty((len(indices), size[0], size[1], 3), dtype=np.uint8)
        pending: list[np.ndarray] = []
        start = 0
        for target in self.pts[indices].tolist():
            pending.append(self._frame_at(target).to_ndarray(format="rgb24"))
            if len(pending) == READ_CHUNK:
                out[start:start + len(pending)] = _resize(np.stack(pending), size)
                start, pending = start + len(pending), []
                _trim_heap()
        if pending:
            out[start:] = _resize(np.stack(pending), size)
        return out

    def _frame_at(self, target: int) -> Any:
        """The decoded frame whose timestamp is exactly `target` (targets come in increasing
        order). Decoding goes on from where it is unless the target lies past the next
        keyframe: then a seek skips the groups of pictures in between. A seek that lands past
        the target (a poor container index) is retried from earlier keyframes."""
        k = int(np.searchsorted(self.keys, target, side="right")) - 1
        for attempt in range(3):
            key = int(self.keys[max(k - attempt, 0)]) if len(self.keys) else int(self.pts[0])
            if attempt or self._frames is None or self._last is None or self._last >= target or key > self._last:
                self.container.seek(key, backward=True, any_frame=False, stream=self.stream)
                self._frames, self._last = self.container.decode(self.stream), None
            for frame in self._frames:
                if frame.pts is None:
                    continue
                self._last = frame.pts
                if frame.pts == target:
                    return frame
                if frame.pts > target:
                    break
        raise MediaError(self.path, f"cannot decode the frame at timestamp {target} exactly (seeking fails)")

    def close(self) -> None:
        self.container.close()


_READERS = {"decord": _DecordReader, "torchcodec": _TorchCodecReader, "pyav": _PyAVReader}


def open_video(path: str, backend: str | None = None):
    """A reader for `path` (the first installed of BACKENDS that opens it, or the one
    `backend` / $SEATS_VIDEO_BACKEND names)."""
    _check_file(path)
    errors = []
    for name in _chosen_backends(backend):
        try:
            return _READERS[name](path)
        except MediaError:
            raise
        except Exception as exc:  # readers raise many error types for corrupt containers
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    raise MediaError(path, "cannot open video (" + "; ".join(errors) + ")")


def load_frames(path: str, fps: float = 2.0, max_frames: int = 768, pixels: PixelBudget | None = None,
                backend: str | None = None) -> tuple[np.ndarray, VideoInfo, np.ndarray]:
    """(frames (T, h, w, 3) uint8 at model size, stream info, source indices). A reader that
    fails on the file hands over to the next one; the error names every reader's cause."""
    _check_file(path)
    errors = []
    for name in _chosen_backends(backend):
        try:
            reader = _READERS[name](path)
        except Exception as exc:  # readers raise many error types for corrupt containers
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        try:
            info = reader.info()
            indices = sample_indices(info.total_frames, info.fps, fps, max_frames, path)
            size = (pixels or PixelBudget()).frame_size(info.height, info.width, len(indices))
            return reader.read(indices, size), info, indices
        except Exception as exc:
            errors.append(f"{name}: {exc.cause if isinstance(exc, MediaError) else f'{type(exc).__name__}: {exc}'}")
        finally:
            reader.close()
    raise MediaError(path, "cannot decode video (" + "; ".join(errors) + ")")


# ----------------------------------------------------------------------------- audio
@dataclass
class AudioTrack:
    samples: np.ndarray  # mono float32 at AUDIO_SR
    seconds: float | None  # length of the file's track (metadata; decoded length if unknown)
    cut: bool  # samples end at max_seconds although the track goes on


def load_audio(path: str, sr: int = AUDIO_SR, max_seconds: float | None = None) -> AudioTrack | None:
    """Mono float32 waveform at `sr`, decoded once and stopped at `max_seconds` (what the
    processor keeps: its feature extractor's chunk length); None when there is no audio stream."""
    import av

    _check_file(path)
    try:
        container = av.open(path)
    except Exception as exc:
        raise MediaError(path, f"cannot open container ({type(exc).__name__}: {exc})") from exc
    with container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        seconds = float(stream.duration * stream.time_base) if stream.duration else (
            container.duration / 1e6 if container.duration else None)
        limit = None if max_seconds is None else int(round(max_seconds * sr))
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
        chunks: list[np.ndarray] = []
        have = 0
        cut = False
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                    have += chunks[-1].size
                if limit is not None and have > limit:
                    cut = True
                    break
            if not cut:
                for out in resampler.resample(None):
                    chunks.append(out.to_ndarray().reshape(-1))
        except Exception as exc:
            raise MediaError(path, f"audio decoding failed ({type(exc).__name__}: {exc})") from exc
    if not chunks:
        raise MediaError(path, "audio stream has no decodable samples")
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    if limit is not None and samples.size > limit:
        samples, cut = samples[:limit], True
    if seconds is None:
        seconds = samples.size / sr
    return AudioTrack(samples, seconds, cut)


def load_media(path: str, fps: float = 2.0, max_frames: int = 768, use_audio: bool = True, *,
               pixels: PixelBudget | None = None, audio_max_seconds: float | None = None,
               backend: str | None = None) -> Media:
    """Frames (sampled, at model size) and audio (16 kHz mono, cut at `audio_max_seconds`)."""
    path = str(path)
    frames, info, indices = load_frames(path, fps, max_frames, pixels, backend)
    track = load_audio(path, max_seconds=audio_max_seconds) if use_audio else None
    duration = info.duration
    return Media(path=path, frames=frames, fps=len(frames) / duration if duration > 0 else fps,
                 audio=None if track is None else track.samples, duration=duration, indices=indices,
                 backend=info.backend, audio_seconds=None if track is None else track.seconds,
                 audio_cut=bool(track is not None and track.cut))
