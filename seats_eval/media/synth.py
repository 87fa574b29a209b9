"""Synthetic audio-visual clips for tests and the demo, written with PyAV.

Each clip has a moving pattern (so frames differ and diversity selection has something to
choose) and, where it has audio, a tone whose pitch changes every second (so audio windows
differ). The set covers the edge cases the loaders must handle: no audio stream, a silent
audio stream, a clip shorter than one 2-s window, a partial last window, and a corrupt file.
"""

from __future__ import annotations

from dataclasses import dataclass
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
