"""Decode a video file into frames sampled at a fixed fps and its audio track at 16 kHz.

Frame sampling follows the reference preprocessing (qwen-omni-utils): n = duration * fps
frames, clipped to [4, max_frames] and floored to an even count (two frames per temporal
grid), at evenly spaced indices. Audio is decoded with PyAV itself, so no torchcodec or
ffmpeg binary is needed. Every failure raises MediaError naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MediaError

MIN_FRAMES = 4
FRAME_FACTOR = 2
AUDIO_SR = 16000


@dataclass
class Media:
    """Decoded inputs of one sample."""

    path: str
    frames: np.ndarray  # (T, H, W, 3) uint8, T even
    fps: float  # sampling rate actually used for the frames
    audio: np.ndarray | None  # mono float32 at AUDIO_SR, None if the file has no audio stream
    duration: float


def num_frames_for(duration: float, fps: float, max_frames: int, total: int) -> int:
    n = int(round(duration * fps))
    n = max(MIN_FRAMES, min(n, max_frames))
    n = min(n, max(total, MIN_FRAMES))
    return max(FRAME_FACTOR, n // FRAME_FACTOR * FRAME_FACTOR)


def _open(path: str):
    import av

    p = Path(path)
    if not p.exists():
        raise MediaError(path, "file does not exist")
    if p.stat().st_size == 0:
        raise MediaError(path, "file is empty")
    try:
        return av.open(str(p))
    except Exception as exc:  # av raises many error types for corrupt containers
        raise MediaError(path, f"cannot open container ({type(exc).__name__}: {exc})") from exc


def has_audio_stream(path: str) -> bool:
    with _open(path) as container:
        return any(s.type == "audio" for s in container.streams)


def load_frames(path: str, fps: float, max_frames: int) -> tuple[np.ndarray, float, float]:
    """Return (frames, effective fps, duration in seconds)."""
    with _open(path) as container:
        if not container.streams.video:
            raise MediaError(path, "no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        except Exception as exc:
            raise MediaError(path, f"video decoding failed ({type(exc).__name__}: {exc})") from exc
    total = len(decoded)
    if total == 0:
        raise MediaError(path, "video stream has no decodable frames")
    rate = float(stream.average_rate) if stream.average_rate else fps
    duration = total / rate
    n = num_frames_for(duration, fps, max_frames, total)
    idx = np.linspace(0, total - 1, n).round().astype(int)
    frames = np.stack([decoded[i] for i in idx])
    return frames, n / duration if duration > 0 else fps, duration


def load_audio(path: str, sr: int = AUDIO_SR) -> np.ndarray | None:
    """Mono float32 waveform at `sr`, or None when the file has no audio stream."""
    import av

    with _open(path) as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
        chunks = []
        try:
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except Exception as exc:
            raise MediaError(path, f"audio decoding failed ({type(exc).__name__}: {exc})") from exc
    if not chunks:
        raise MediaError(path, "audio stream has no decodable samples")
    return np.concatenate(chunks).astype(np.float32)


def load_media(path: str, fps: float = 2.0, max_frames: int = 768, use_audio: bool = True) -> Media:
    frames, eff_fps, duration = load_frames(path, fps, max_frames)
    audio = load_audio(path) if use_audio else None
    return Media(path=str(path), frames=frames, fps=eff_fps, audio=audio, duration=duration)
