"""Media decoding as the reference preprocessing does it, with memory bounded by what is kept.

- Frame indices AND frame pixels equal qwen-omni-utils' `fetch_video` (its decord, else its
  torchcodec reader, whichever is installed) on generated clips of 3 lengths x 2 frame
  rates, with max_frames and total_pixels binding.
- Every installed reader (PyAV with keyframe seeking after a counted pass over the packets,
  the default; torchcodec; decord: optional extras) gives PyAV's frames, also for a container
  without a frame count and a variable-rate file; the tests of a reader that is not
  installed are skipped, saying so. Naming a reader that is not installed is a ConfigError
  naming it and its extra.
- Peak frame memory is about max_frames frames (tracemalloc), not the file's frame count.
- Audio is cut to what the processor keeps, and says so.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

from seats_eval.errors import ConfigError, MediaError
from seats_eval.media import decode
from seats_eval.media.decode import BACKENDS, PixelBudget, load_audio, load_media, open_video
from seats_eval.toys.synth import write_long_clip

AUTHORS = PixelBudget(128 * 28 * 28, 144 * 28 * 28, 24576 * 28 * 28, factor=28)  # xxayt/SEATS' wrapper
LENGTHS, RATES = (3, 23, 75), (25, 30)


def _reader(name: str):
    why = decode._import_error(name)
    return pytest.param(name, marks=pytest.mark.skipif(why is not None, reason=f"video reader {name}: {why}"))


READERS = [_reader(name) for name in BACKENDS]  # pyav, torchcodec, decord
OTHER_READERS = [_reader(name) for name in BACKENDS if name != "pyav"]
# qwen-omni-utils' own readers that the reference may use, in its order of preference
QWEN_READER = next((n for n in ("decord", "torchcodec") if decode._import_error(n) is None), None)


@pytest.fixture(scope="session")
def media_clips(artifacts):
    root = artifacts / "media-clips"
    clips = {}
    for seconds in LENGTHS:
        for fps in RATES:
            p = root / f"c{seconds}s_{fps}fps.mp4"
            if not p.exists():
                write_long_clip(p, seconds, width=480, height=270, fps=fps, audio=seconds == 23)
            clips[(seconds, fps)] = p
    for name, kwargs in {
        "no_count.mkv": {"seconds": 12, "fps": 30},  # Matroska: no frame count in the header
        "vfr.mkv": {"seconds": 0, "fps": 30,  # frame gaps 20-70 ms: the header's 30 fps is wrong
                    "frame_pts": np.cumsum(np.r_[0, np.random.default_rng(0).uniform(0.02, 0.07, 299)])},
        "m30.mp4": {"seconds": 30, "fps": 25, "width": 640, "height": 360},
    }.items():
        p = root / name
        if not p.exists():
            write_long_clip(p, **{"width": 160, "height": 96, **kwargs})
        clips[name] = p
    return clips


def _reference(path, max_frames: int, pixels: PixelBudget, monkeypatch):
    """qwen-omni-utils' own frames (its decord or torchcodec reader) for the same file and settings."""
    from qwen_omni_utils.v2_5 import vision_process as qv

    if QWEN_READER is None:
        pytest.skip("neither decord nor torchcodec is installed: no qwen-omni-utils reader to compare with")
    monkeypatch.setattr(qv, "get_video_reader_backend", lambda: QWEN_READER)
    limits = {"min_pixels": pixels.min_pixels, "max_pixels": pixels.max_pixels, "total_pixels": pixels.total_pixels}
    ele = {"video": str(path), "fps": 2.0, "max_frames": max_frames, **{k: v for k, v in limits.items() if v}}
    video, meta = qv.fetch_video(ele, image_patch_size=pixels.factor // 2, return_video_metadata=True)
    return video, list(meta["frames_indices"])


@pytest.mark.parametrize("seconds", LENGTHS)
@pytest.mark.parametrize("fps", RATES)
@pytest.mark.parametrize("max_frames,total_pixels", [(768, AUTHORS.total_pixels), (16, None), (16, 600_000)])
def test_indices_and_frames_equal_qwen_omni_utils(media_clips, seconds, fps, max_frames, total_pixels, monkeypatch):
    pixels = PixelBudget(AUTHORS.min_pixels, AUTHORS.max_pixels, total_pixels, factor=28)
    path = media_clips[(seconds, fps)]
    ref, ref_idx = _reference(path, max_frames, pixels, monkeypatch)
    media = load_media(str(path), fps=2.0, max_frames=max_frames, pixels=pixels, use_audio=False)
    assert media.indices.tolist() == ref_idx
    ours = torch.from_numpy(media.frames).permute(0, 3, 1, 2).float()
    assert ours.shape == ref.shape
    assert torch.equal(ours, ref)


def test_total_pixels_lowers_the_frame_size_of_long_videos():
    # The authors' limits: at 768 frames the per-video cap binds (24576*28^2 / 768 * 2 px), so a
    # 16:9 video gets 120 merged tokens per grid, not 144; at 128 or 256 frames the 144 cap binds.
    assert AUTHORS.frame_size(720, 1280, 128) == AUTHORS.frame_size(720, 1280, 256) == (252, 448)
    assert AUTHORS.frame_size(720, 1280, 768) == (224, 420)
    assert AUTHORS.frame_size(1080, 1920, 768) == (224, 420)


@pytest.mark.parametrize("backend", OTHER_READERS)
@pytest.mark.parametrize("name", ["no_count.mkv", "vfr.mkv", "m30.mp4"])
def test_every_reader_gives_pyavs_frames(media_clips, name, backend):
    path = str(media_clips[name])
    a = load_media(path, max_frames=64, pixels=AUTHORS, backend=backend, use_audio=False)
    b = load_media(path, max_frames=64, pixels=AUTHORS, backend="pyav", use_audio=False)
    assert a.backend == backend and b.backend == "pyav"
    assert a.indices.tolist() == b.indices.tolist()
    assert np.array_equal(a.frames, b.frames)


@pytest.mark.parametrize("backend", READERS)
def test_lying_metadata_falls_back_to_the_timestamps(media_clips, backend):
    # The VFR file's header says 30 fps; its 300 frames span 14.1 s: sampling must follow the
    # span (28 frames at 2 fps), not 300 / 30 = 10 s (20 frames).
    reader = open_video(str(media_clips["vfr.mkv"]), backend)
    info = reader.info()
    reader.close()
    assert info.rate_from_timestamps and abs(info.duration - 14.08) < 0.05, (backend, info)
    reader = open_video(str(media_clips["no_count.mkv"]), backend)
    info = reader.info()
    reader.close()
    assert (info.total_frames, info.fps, info.rate_from_timestamps) == (360, 30.0, False)
    assert len(load_media(str(media_clips["vfr.mkv"]), use_audio=False, pixels=AUTHORS, backend=backend).frames) == 28


def test_a_reader_that_is_not_installed_is_named_and_skipped(media_clips, monkeypatch):
    # decord (an optional extra) made unimportable: asking for it names it and its extra;
    # the default choice goes on with the installed readers.
    monkeypatch.setitem(decode._READER_MODULES, "decord", ("seats_no_such_reader", "seats-eval[decord]"))
    decode._import_error.cache_clear()
    try:
        path = str(media_clips["m30.mp4"])
        for how in ("argument", "env"):
            if how == "env":
                monkeypatch.setenv(decode.BACKEND_ENV, "decord")
            with pytest.raises(ConfigError, match=r"'decord'.*seats_no_such_reader.*pip install seats-eval\[decord\]"):
                load_media(path, max_frames=8, pixels=AUTHORS, backend="decord" if how == "argument" else None,
                           use_audio=False)
        monkeypatch.delenv(decode.BACKEND_ENV)
        assert "decord" not in decode.available_backends() and decode.available_backends()[0] == "pyav"
        assert load_media(path, max_frames=8, pixels=AUTHORS, use_audio=False).backend == "pyav"
        with pytest.raises(ConfigError, match="must be one of pyav, torchcodec, decord"):
            load_media(path, backend="opencv")
    finally:
        decode._import_error.cache_clear()


@pytest.mark.parametrize("backend", READERS)
def test_peak_frame_memory_is_bounded_by_max_frames(media_clips, backend):
    path = str(media_clips["m30.mp4"])  # 750 frames of 640x360: 518 MB if all were decoded
    native = 640 * 360 * 3
    tracemalloc.start()
    try:
        media = load_media(path, max_frames=8, pixels=AUTHORS, backend=backend, use_audio=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert media.frames.shape[0] == 8
    # what is materialised: at most one read batch (16 source frames) plus the 8 kept ones
    assert native <= peak < 20 * native, peak / native


def test_audio_is_cut_to_what_the_processor_keeps(media_clips):
    path = str(media_clips[(23, 25)])
    full = load_audio(path)
    cut = load_audio(path, max_seconds=5)
    assert not full.cut and abs(full.seconds - 23) < 0.1 and abs(full.samples.size / 16000 - 23) < 0.1
    assert cut.cut and cut.samples.size == 5 * 16000 and abs(cut.seconds - 23) < 0.1
    assert np.array_equal(cut.samples, full.samples[: 5 * 16000])
    media = load_media(path, max_frames=8, pixels=AUTHORS, audio_max_seconds=5)
    info = media.describe()
    assert info["audio_cut"] and info["audio_used_seconds"] == 5.0 and info["frames"] == 8
    assert not load_media(path, max_frames=8, pixels=AUTHORS, audio_max_seconds=300).audio_cut


@pytest.mark.parametrize("backend", [*READERS, None])
def test_bad_files_raise_media_errors_naming_the_file(clips_dir, tmp_path, backend):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for path, cause in ((tmp_path / "missing.mp4", "does not exist"), (empty, "empty"),
                        (clips_dir / "corrupt.mp4", "cannot (open|decode)")):
        with pytest.raises(MediaError, match=cause) as err:
            load_media(str(path), backend=backend)
        assert str(path) in str(err.value)
