"""`seats-eval bench media`: peak memory and wall time of decoding real-sized videos.

Clips of benchmark size are generated once and cached under `<artifacts>/bench-media/`
(H.264 + AAC, see toys/synth.py): 20 min at 640x360 and 60 min at 1280x720, 25 fps. Every
measurement runs in a fresh Python process, because peak RSS is a per-process high-water
mark; the child reports its peak RSS (VmHWM: what an out-of-memory killer sees), its RSS
after imports (torch alone maps ~0.9 GB of libraries here), the peak of its anonymous
memory (sampled every 20 ms: the allocations themselves) and the wall time of the read.
Measured, per clip and max_frames:
- `load_media`: ours, frames + audio (cut at 300 s), the authors' pixel limits;
- `load_frames_pyav`, `load_frames_decord`: ours, frames only, with each reader: the part
  comparable with a bare read;
- `decord_get_batch`: decord's `get_batch` of the same indices in one call, no resize (what
  qwen-omni-utils does before resizing): the time bound of frame-accurate sampling, which
  must decode every group of pictures holding a sampled frame;
- `decord_keyframes`: the keyframe nearest each sampled index, the same count: how much
  faster a read could be that gives up frame accuracy (the file's keyframe spacing decides);
- `old_full_decode` (20-min clip only): the decoder this project had before (every frame
  decoded to RGB, then sampled), kept here as the baseline, run under a memory cap.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLIPS = {  # name -> (seconds, width, height, fps)
    "20min_360p": (20 * 60, 640, 360, 25),
    "60min_720p": (60 * 60, 1280, 720, 25),
}
AUTHORS_PIXELS = {"min_pixels": 128 * 28 * 28, "max_pixels": 144 * 28 * 28, "total_pixels": 24576 * 28 * 28}
AUDIO_SECONDS = 300  # Qwen2.5-Omni's feature extractor keeps 300 s
GB = 1024**3


def ensure_clip(root: Path, name: str) -> Path:
    from ..toys.synth import write_long_clip

    seconds, width, height, fps = CLIPS[name]
    path = root / f"{name}.mp4"
    if not path.exists():
        print(f"bench media: generating {path} ({seconds // 60} min {width}x{height} {fps} fps, once)", flush=True)
        write_long_clip(path, seconds, width=width, height=height, fps=fps, audio=True)
    return path


def keyframe_spacing(path: Path) -> dict[str, float]:
    """Mean and max distance between keyframes (seconds), from the packets alone."""
    import av
    import numpy as np

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        keys = [p.pts for p in c.demux(s) if p.pts is not None and p.is_keyframe]
        tb = float(s.time_base)
    gaps = np.diff(np.sort(np.asarray(keys))) * tb
    return {"keyframes": len(keys), "mean_s": float(gaps.mean()) if len(gaps) else 0.0,
            "max_s": float(gaps.max()) if len(gaps) else 0.0}


# ----------------------------------------------------------------------------- children
def _old_full_decode(path: str, fps: float, max_frames: int) -> Any:
    """The pre-#12 decoder, verbatim in behaviour: decode EVERY frame to RGB, then sample."""
    import av
    import numpy as np

    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    total = len(decoded)
    rate = float(stream.average_rate)
    n = max(4, min(int(round(total / rate * fps)), max_frames, total)) // 2 * 2
    idx = np.linspace(0, total - 1, n).round().astype(int)
    return np.stack([decoded[i] for i in idx])


class _AnonPeak:
    """Peak anonymous resident memory (RssAnon) of this process, sampled by a thread:
    the kernel keeps a high-water mark of all RSS only, libraries included."""

    def __init__(self) -> None:
        import threading

        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def read() -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.read())
            self._stop.wait(0.02)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, self.read())


def _child(op: str, path: str, max_frames: int, cap_gb: float | None) -> dict[str, Any]:
    if cap_gb:
        resource.setrlimit(resource.RLIMIT_AS, (int(cap_gb * GB), int(cap_gb * GB)))
    import numpy as np

    out: dict[str, Any] = {}
    sampler = _AnonPeak()
    if op.startswith("load_"):
        import torchvision.transforms.functional  # noqa: F401 - imported by the read anyway: count it in base

        from ..media.decode import PixelBudget, load_frames, load_media

        pixels = PixelBudget(**AUTHORS_PIXELS, factor=28)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sampler.start()
        t0 = time.perf_counter()
        if op == "load_media":
            m = load_media(path, fps=2.0, max_frames=max_frames, pixels=pixels, audio_max_seconds=AUDIO_SECONDS)
            frames = m.frames
            out.update(audio_s=round(len(m.audio) / 16000, 1) if m.audio is not None else None, audio_cut=m.audio_cut,
                       backend=m.backend)
        else:
            frames, info, _ = load_frames(path, 2.0, max_frames, pixels, backend=op.rsplit("_", 1)[1])
            out["backend"] = info.backend
    elif op in ("decord_get_batch", "decord_keyframes"):
        import decord

        from ..media.decode import sample_indices

        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sampler.start()
        t0 = time.perf_counter()
        vr = decord.VideoReader(path, num_threads=0)
        idx = sample_indices(len(vr), vr.get_avg_fps(), 2.0, max_frames)
        if op == "decord_keyframes":
            keys = np.asarray(vr.get_key_indices())
            idx = keys[np.abs(keys[None, :] - idx[:, None]).argmin(axis=1)]
            out["distinct_keyframes"] = int(len(np.unique(idx)))
        frames = vr.get_batch(idx.tolist()).asnumpy()
    elif op == "old_full_decode":
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sampler.start()
        t0 = time.perf_counter()
        try:
            frames = _old_full_decode(path, 2.0, max_frames)
        except MemoryError:
            frames = None
            out["error"] = f"MemoryError under the {cap_gb:g} GB address-space cap"
    else:
        raise ValueError(f"unknown op {op}")
    out["wall_s"] = round(time.perf_counter() - t0, 2)
    out["peak_anon_gb"] = round(sampler.stop() / GB, 3)
    out["base_rss_gb"] = round(base * 1024 / GB, 3)
    out["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB, 3)
    if frames is not None:
        out["frames"] = list(frames.shape)
    return out


def _run_child(op: str, path: Path, max_frames: int, cap_gb: float | None = None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "seats_eval.bench.media", op, str(path), str(max_frames), str(cap_gb or 0)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- driver
@dataclass
class MediaBenchConfig:
    artifacts: Path
    clips: tuple[str, ...] = tuple(CLIPS)
    max_frames: tuple[int, ...] = (128, 768)
    old_cap_gb: float = 21.0  # address-space cap of the old decoder's process


def bench_media(cfg: MediaBenchConfig) -> dict[str, Any]:
    import platform

    root = cfg.artifacts / "bench-media"
    rows = []
    clips = {}
    for name in cfg.clips:
        path = ensure_clip(root, name)
        seconds, width, height, fps = CLIPS[name]
        clips[name] = {"seconds": seconds, "size": [height, width], "fps": fps, "bytes": path.stat().st_size,
                       "keyframes": keyframe_spacing(path)}
        for n in cfg.max_frames:
            for op in ("load_media", "load_frames_pyav", "load_frames_decord", "decord_get_batch", "decord_keyframes"):
                print(f"bench media: {name} max_frames={n} {op} ...", flush=True)
                rows.append({"clip": name, "max_frames": n, "op": op, **_run_child(op, path, n)})
                print(f"  {rows[-1]}", flush=True)
        if name == "20min_360p":
            print(f"bench media: {name} old_full_decode (cap {cfg.old_cap_gb:g} GB) ...", flush=True)
            rows.append({"clip": name, "max_frames": cfg.max_frames[0], "op": "old_full_decode",
                         **_run_child("old_full_decode", path, cfg.max_frames[0], cfg.old_cap_gb)})
            print(f"  {rows[-1]}", flush=True)
    for r in rows:  # ratios within the same clip and max_frames
        ref = next((x for x in rows if (x["clip"], x["max_frames"], x["op"]) ==
                    (r["clip"], r["max_frames"], "decord_get_batch")), None)
        if ref and "wall_s" in r and "wall_s" in ref and ref["wall_s"] > 0:
            r["time_vs_decord"] = round(r["wall_s"] / ref["wall_s"], 3)
    return {"bench": "media", "device": f"cpu ({platform.machine()}, {os.cpu_count()} cores)",
            "pixels": AUTHORS_PIXELS, "audio_seconds": AUDIO_SECONDS, "clips": clips, "results": rows}


def markdown(report: dict[str, Any]) -> str:
    lines = [f"Media decoding on {report['device']}: peak RSS of a fresh process and wall time of the "
             "read (seconds); time ratio against a bare decord `get_batch` of the same indices.", ""]
    for name, c in report["clips"].items():
        k = c["keyframes"]
        lines.append(f"- `{name}`: {c['seconds'] // 60} min {c['size'][1]}x{c['size'][0]} {c['fps']} fps, "
                     f"{c['bytes'] / GB:.2f} GB, keyframe every {k['mean_s']:.1f} s on average (max {k['max_s']:.1f} s)")
    lines += ["", "| Clip | max_frames | Read | Frames kept | Peak RSS GB | RSS after imports | Peak anon GB | "
              "Wall s | vs decord |", "|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        shape = "x".join(str(x) for x in r.get("frames", [])) or "-"

        def gb(key: str, row: dict[str, Any] = r) -> str:
            return f"{row[key]:.2f}" if key in row else "-"

        ratio = f"{r['time_vs_decord']:.2f}x" if "time_vs_decord" in r else "-"
        lines.append(f"| {r['clip']} | {r['max_frames']} | {r['op']} | {shape} | {gb('peak_rss_gb')} | "
                     f"{gb('base_rss_gb')} | {gb('peak_anon_gb')} | {r.get('wall_s', '-')} | {ratio} |"
                     + (f" {r['error']}" if r.get("error") else ""))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # the child process of one measurement
    op, path, n, cap = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    print(json.dumps(_child(op, path, n, cap or None)))
