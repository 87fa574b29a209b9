"""Synthetic audio-visual clips for tests and the demo, written with PyAV.

Each clip has a moving pattern (so frames differ and diversity selection has something to
choose) and, where it has audio, a tone whose pitch changes every second (so audio windows
differ). The set covers the edge cases the loaders must handle: no audio stream, a silent
audio stream, a clip shorter than one 2-s window, a partial last window, and a corrupt file.
`write_long_clip` writes clips of real size (minutes, 720p, H.264 + AAC) for the media
benchmark and the memory tests, fast: frames are drawn straight in YUV.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ClipSpec:
    name: str
    seconds: float
    audio: str  # "tone" | "silent" | "none"
    color: tuple[int, int, int]


CLIPS: tuple[ClipSpec, ...] = (
    ClipSpec("av_moving.mp4", 4.0, "tone", (220, 40, 40)),
    ClipSpec("av_long.mp4", 9.0, "tone", (40, 200, 60)),
    ClipSpec("video_only.mp4", 4.0, "none", (40, 60, 220)),
    ClipSpec("silent.mp4", 4.0, "silent", (200, 200, 40)),
    ClipSpec("short.mp4", 1.0, "tone", (200, 40, 200)),
)
CORRUPT = "corrupt.mp4"


def _frame(t: float, size: int, color: tuple[int, int, int]) -> np.ndarray:
    """A square moving across a gradient background: position encodes time."""
    yy, xx = np.mgrid[0:size, 0:size]
    img = np.stack([(xx * 255 // size), (yy * 255 // size), np.full_like(xx, 64)], -1)
    img = img.astype(np.uint8)
    side = size // 4
    x0 = int((t * 37) % (size - side))
    y0 = int((t * 23) % (size - side))
    img[y0:y0 + side, x0:x0 + side] = color
    return img


def write_clip(path: Path, spec: ClipSpec, fps: int = 10, size: int = 128, sr: int = 16000) -> None:
    import av

    with av.open(str(path), mode="w") as container:
        vstream = container.add_stream("mpeg4", rate=fps)
        vstream.width = size
        vstream.height = size
        vstream.pix_fmt = "yuv420p"
        astream = None
        if spec.audio != "none":
            astream = container.add_stream("aac", rate=sr)
            astream.layout = "mono"
        n_frames = int(round(spec.seconds * fps))
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(_frame(i / fps, size, spec.color), format="rgb24")
            for packet in vstream.encode(frame):
                container.mux(packet)
        for packet in vstream.encode():
            container.mux(packet)
        if astream is not None:
            n = int(spec.seconds * sr)
            t = np.arange(n) / sr
            if spec.audio == "tone":
                pitch = 220.0 * (1 + np.floor(t))  # a new pitch every second
                wave = 0.3 * np.sin(2 * np.pi * pitch * t)
            else:
                wave = np.zeros(n)
            samples = wave.astype(np.float32)
            chunk = 1024
            for start in range(0, n, chunk):
                block = samples[start:start + chunk][None, :]
                aframe = av.AudioFrame.from_ndarray(block, format="flt", layout="mono")
                aframe.sample_rate = sr
                aframe.pts = start
                for packet in astream.encode(aframe):
                    container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)


def make_clips(out_dir: str | Path) -> list[Path]:
    """Write every synthetic clip (and one corrupt file) into `out_dir`; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in CLIPS:
        path = out / spec.name
        write_clip(path, spec)
        paths.append(path)
    corrupt = out / CORRUPT
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    paths.append(corrupt)
    return paths


def _tone(seconds: float, sr: int) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    pitch = 220.0 * (1 + np.floor(t) % 8)  # a new pitch every second, cycling
    return (0.3 * np.sin(2 * np.pi * pitch * t)).astype(np.float32)


def write_long_clip(path: str | Path, seconds: float, width: int = 640, height: int = 360, fps: float = 25,
                    audio: bool = True, container_format: str | None = None, sr: int = 16000,
                    frame_pts: np.ndarray | None = None) -> Path:
    """An H.264 (+ AAC) clip of real size: a bright block moving over a grey field, drawn in
    YUV 4:2:0 (no RGB conversion per frame), audio interleaved with the video as real files
    are. `container_format` e.g. "matroska" (no frame count in the header); `frame_pts`
    (seconds of each frame) makes a variable-frame-rate file. Written to a temp name, then renamed."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    times = np.arange(int(round(seconds * fps))) / fps if frame_pts is None else np.asarray(frame_pts, float)
    end = float(times[-1] + 1 / fps)
    fmt = container_format or {"mkv": "matroska"}.get(path.suffix.lstrip("."), path.suffix.lstrip("."))
    tmp = path.with_name(f".{path.name}.tmp")
    with av.open(str(tmp), mode="w", format=fmt) as container:
        vstream = container.add_stream("libx264", rate=int(round(fps)), options={"preset": "superfast"})
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.codec_context.time_base = Fraction(1, 1000)
        astream = container.add_stream("aac", rate=sr) if audio else None
        if astream is not None:
            astream.layout = "mono"
        wave = _tone(end, sr) if audio else np.zeros(0, np.float32)
        sent = 0
        base = np.full((height * 3 // 2, width), 96, dtype=np.uint8)
        bh, bw = max(2, height // 6) // 2 * 2, max(2, width // 8) // 2 * 2
        for i, t in enumerate(times.tolist()):
            yuv = base.copy()
            y0 = (i * 4) % (height - bh) // 2 * 2
            x0 = (i * 7) % (width - bw) // 2 * 2
            yuv[y0:y0 + bh, x0:x0 + bw] = 16 + (i * 13) % 220  # luma block, its level changes per frame
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            frame.pts, frame.time_base = int(round(t * 1000)), Fraction(1, 1000)
            for packet in vstream.encode(frame):
                container.mux(packet)
            while astream is not None and sent < min(wave.size, int((t + 1 / fps) * sr)):
                block = wave[None, sent:sent + 1024]
                aframe = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="flt", layout="mono")
                aframe.sample_rate, aframe.pts = sr, sent
                sent += block.shape[1]
                for packet in astream.encode(aframe):
                    container.mux(packet)
        for stream in (vstream, astream):
            if stream is not None:
                for packet in stream.encode():
                    container.mux(packet)
    tmp.replace(path)
    return path
