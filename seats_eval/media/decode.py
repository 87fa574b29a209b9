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
The processor is then told not to resize again (models/inputs.py).

Readers: decord (`VideoReader.get_batch`, frame-accurate, what qwen-omni-utils uses) and,
when decord cannot open a file, PyAV with keyframe seeking. The PyAV reader first makes a
counted pass over the packets (no decoding, keeps no frames), so containers without a frame
count or with a variable frame rate get exact indices. Audio is decoded once, at 16 kHz
mono, and cut to what the processor will use. Every failure raises MediaError naming the file.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MediaError

AUDIO_SR = 16000
BACKENDS = ("decord", "pyav")
BACKEND_ENV = "SEATS_VIDEO_BACKEND"  # force one reader (tests, debugging); default: decord, else pyav
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


def _chosen_backends(backend: str | None) -> tuple[str, ...]:
    name = backend or os.environ.get(BACKEND_ENV, "").strip().lower() or None
    if name is None:
        return BACKENDS
    if name not in BACKENDS:
        raise ValueError(f"{BACKEND_ENV}/backend must be one of {', '.join(BACKENDS)}, got {name!r}")
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
        out = np.empty((len(indices), size[0], size[1], 3), dtype=np.uint8)
        for s in range(0, len(indices), READ_CHUNK):
            batch = self.vr.get_batch(indices[s:s + READ_CHUNK].tolist()).asnumpy()
            out[s:s + len(batch)] = _resize(batch, size)
        return out

    def close(self) -> None:
        del self.vr


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
        targets = self.pts[indices]
        pending: list[np.ndarray] = []
        slots: list[int] = []
        decoded_up_to: int | None = None  # pts of the last frame decoded
        frames = None
        for slot, target in enumerate(targets.tolist()):
            key = int(self.keys[max(np.searchsorted(self.keys, target, side="right") - 1, 0)]) if len(self.keys) else None
            if frames is None or decoded_up_to is None or (key is not None and key > decoded_up_to) \
                    or target <= decoded_up_to:
                self.container.seek(key if key is not None else int(target), backward=True, any_frame=False,
                                    stream=self.stream)
                frames = self.container.decode(self.stream)
                decoded_up_to = None
            for frame in frames:
                if frame.pts is None:
                    continue
                decoded_up_to = frame.pts
                if frame.pts >= target:
                    pending.append(frame.to_ndarray(format="rgb24"))
                    slots.append(slot)
                    break
            else:
                raise MediaError(self.path, f"frame at pts {target} could not be decoded")
            if len(pending) == READ_CHUNK:
                out[slots] = _resize(np.stack(pending), size)
                pending, slots = [], []
        if pending:
            out[slots] = _resize(np.stack(pending), size)
        return out

    def close(self) -> None:
        self.container.close()


_READERS = {"decord": _DecordReader, "pyav": _PyAVReader}


def open_video(path: str, backend: str | None = None):
    """A reader for `path`: decord, else PyAV (or the one `backend` / $SEATS_VIDEO_BACKEND names)."""
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
    """(frames (T, h, w, 3) uint8 at model size, stream info, source indices)."""
    reader = open_video(path, backend)
    try:
        info = reader.info()
        indices = sample_indices(info.total_frames, info.fps, fps, max_frames, path)
        size = (pixels or PixelBudget()).frame_size(info.height, info.width, len(indices))
        try:
            frames = reader.read(indices, size)
        except MediaError:
            raise
        except Exception as exc:
            raise MediaError(path, f"video decoding failed ({reader.name}: {type(exc).__name__}: {exc})") from exc
    finally:
        reader.close()
    return frames, info, indices


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
