"""Shared fixtures: tiny random Qwen-Omni thinkers and synthetic clips, built offline once
per test session (or reused from SEATS_TEST_ARTIFACTS).

`spine` is the one fixture the backbone-independent tests take (identity, mask oracle, seams):
it is parametrized over every backbone family of the family record
(seats_eval/backbones/families.py), as transformers' ModelTesterMixin runs one test body per
model, so a new family gets every spine test by adding its record."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# The reference pixel limits per backbone (media/decode.py: PixelBudget), factor = patch x merge.
PIXELS = {"min_pixels": 128 * 28 * 28, "max_pixels": 144 * 28 * 28, "factor": 28}
EOS = [151645, 151643]


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> Path:
    root = os.environ.get("SEATS_TEST_ARTIFACTS")
    return Path(root) if root else tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def tiny_dir(artifacts) -> Path:
    from seats_eval.toys.tiny import make_tiny

    d = artifacts / "tiny-qwen25omni"
    if not (d / "config.json").exists():
        make_tiny(d)
    return d


@pytest.fixture(scope="session")
def clips_dir(artifacts) -> Path:
    from seats_eval.toys.synth import make_clips

    d = artifacts / "clips"
    if not (d / "corrupt.mp4").exists():
        make_clips(d)
    return d


@pytest.fixture(scope="session")
def processor(tiny_dir):
    from transformers import Qwen2_5OmniProcessor

    return Qwen2_5OmniProcessor.from_pretrained(tiny_dir)


def _load(tiny_dir, impl):
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    return Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(
        tiny_dir, dtype=torch.float32, attn_implementation=impl
    ).eval()


@pytest.fixture(scope="session")
def thinker(tiny_dir):
    return _load(tiny_dir, "sdpa")


@pytest.fixture(scope="session")
def thinker_eager(tiny_dir):
    return _load(tiny_dir, "eager")


@pytest.fixture(scope="session")
def make_inputs(processor, clips_dir):
    from seats_eval.driver.inputs import build_inputs
    from seats_eval.media.decode import PixelBudget, load_media

    cache = {}

    def make(name: str, text: str = "What moves in the video? A. a square B. a circle C. a line D. nothing"):
        if (name, text) not in cache:
            media = load_media(str(clips_dir / name), pixels=PixelBudget(**PIXELS))
            cache[(name, text)] = build_inputs(processor, media, text)
        return cache[(name, text)]

    return make


PIXELS_QWEN3 = {"min_pixels": 128 * 32 * 32, "max_pixels": 144 * 32 * 32, "factor": 32}


@pytest.fixture(scope="session")
def tiny3_dir(artifacts) -> Path:
    from seats_eval.toys.tiny import make_tiny

    d = artifacts / "tiny-qwen3omni"
    if not (d / "config.json").exists():
        make_tiny(d, backbone="qwen3-omni")
    return d


@pytest.fixture(scope="session")
def thinker3(tiny3_dir):
    from transformers import Qwen3OmniMoeThinkerForConditionalGeneration

    return Qwen3OmniMoeThinkerForConditionalGeneration.from_pretrained(
        tiny3_dir, dtype=torch.float32, attn_implementation="sdpa").eval()


@pytest.fixture(scope="session")
def make_inputs3(tiny3_dir, clips_dir):
    from transformers import AutoProcessor

    from seats_eval.driver.inputs import build_inputs
    from seats_eval.media.decode import PixelBudget, load_media

    proc = AutoProcessor.from_pretrained(tiny3_dir)
    cache = {}

    def make(name: str, text: str = "What moves? A. a square B. a circle C. a line D. nothing"):
        if (name, text) not in cache:
            media = load_media(str(clips_dir / name), pixels=PixelBudget(**PIXELS_QWEN3))
            cache[(name, text)] = build_inputs(proc, media, text)
        return cache[(name, text)]

    return make


# --------------------------------------------------------------------------- the spine, per family
@dataclass
class Spine:
    """One backbone family's tiny model as the spine tests see it."""

    family: str
    cfg: Any  # the family's tiny backbone config (BackboneConfig)
    model_dir: Path
    make_inputs: Callable[..., dict]  # clip name (+ question) -> processor inputs
    _thinkers: dict[str, Any]

    def thinker(self, impl: str = "sdpa"):
        """The tiny thinker under `impl` attention (loaded once per session)."""
        if impl not in self._thinkers:
            from seats_eval.backbones.families import get_family

            self._thinkers[impl] = get_family(self.family).thinker_class().from_pretrained(
                self.model_dir, dtype=torch.float32, attn_implementation=impl).eval()
        return self._thinkers[impl]


_SPINES: dict[str, Spine] = {}


def _spine(family: str, artifacts: Path, clips_dir: Path) -> Spine:
    if family not in _SPINES:
        from transformers import AutoProcessor

        from seats_eval.backbones.config import load_backbone_config
        from seats_eval.backbones.families import get_family
        from seats_eval.driver.inputs import build_inputs, pixel_budget
        from seats_eval.media.decode import load_media
        from seats_eval.toys.tiny import make_tiny

        fam = get_family(family)
        d = artifacts / f"tiny-{fam.suffix}"
        if not (d / "config.json").exists():
            make_tiny(d, backbone=family)
        cfg = load_backbone_config(fam.tiny_backbone)
        proc = AutoProcessor.from_pretrained(d)
        pixels = pixel_budget(proc, cfg)
        cache: dict[tuple[str, str], dict] = {}

        def make(name: str, text: str = "What moves in the video? A. a square B. a circle C. a line D. nothing"):
            if (name, text) not in cache:
                cache[(name, text)] = build_inputs(proc, load_media(str(clips_dir / name), pixels=pixels), text)
            return cache[(name, text)]

        _SPINES[family] = Spine(family, cfg, d, make, {})
    return _SPINES[family]


def _families() -> list[str]:
    from seats_eval.backbones.families import FAMILIES

    return list(FAMILIES)


@pytest.fixture(scope="session", params=_families())
def spine(request, artifacts, clips_dir) -> Spine:
    return _spine(request.param, artifacts, clips_dir)
