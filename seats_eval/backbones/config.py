"""Backbone configs: `model_configs/<name>.yaml` loaded once into a typed, validated object.

One `BackboneConfig` per backbone is the single source of what the code assumes about it:
the window geometry (tokens per 2-s window and modality) that budgets, tables and the
runtime's TokenLayout all read, the SEATS hyper-parameters (boundaries, lam, tau), the media
settings (fps, the most frames it reads, pixel limits) and the LLM geometry for FLOPs and the
benchmark thinkers. It is checked once when loaded (internal consistency) and once against
the checkpoint when a model loads (`check_thinker`), so a YAML that disagrees with the model
fails at load, not as wrong counts later.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .families import FAMILIES


@dataclass(frozen=True)
class WindowGeometry:
    """How the processor interleaves one video with its audio track: per `seconds`-long
    window, the window's video grids, then `audio_tokens` audio tokens (TokenLayout)."""

    seconds: float
    audio_tokens: int  # audio tokens per window (after the encoder's pooling)


@dataclass(frozen=True)
class AuthorsCode:
    """What the authors' code uses where the paper's 2-s windows are not (profile=official,
    docs/profiles.md): Stage II tau, the Stage I tiling (grids per video window, tokens per
    audio window), VisionZip-om's groups, and the audio windows of the encoder statistics
    (None: the encoder's own attention chunks)."""

    tau: float
    stage1_video_grids: int = 2
    stage1_audio_tokens: int = 50
    visionzip_video_grids: int = 1
    visionzip_audio_tokens: int = 50
    signal_audio_frames: int | None = None
    # Whether the processor is told the sampling fps. The authors' Qwen3 wrapper never
    # passes it, so the processor's default (1.0 in transformers 5.23: 2 s per temporal
    # grid) sets the M-RoPE times and the audio interleave.
    tell_fps: bool = True


@dataclass(frozen=True)
class LLMGeometry:
    """The thinker LLM's widths (text_config of the released checkpoint)."""

    hidden_size: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int  # dense MLP width; per expert for an MoE
    vocab_size: int
    num_experts: int = 0  # 0: dense
    num_experts_per_tok: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)  # rope and MoE details for the bench thinker

    @property
    def moe(self) -> bool:
        return self.num_experts > 0


@dataclass(frozen=True)
class BackboneConfig:
    name: str  # e.g. "qwen2.5-omni-7b", "tiny"
    family: str  # which adapter runs it: a key of families.FAMILIES
    pretrained: str
    num_layers: int
    window: WindowGeometry
    video_tokens_per_window: int  # n_v at the pixel cap (2 grids x 144 merged tokens): budgets' unit
    boundaries: tuple[int, int, int, int]  # (L_s, L_m1, L_m2, L_l), 1-based (Table 2)
    lam: float
    tau: float
    fps: float
    max_frames: int  # the most frames the backbone reads per video; a task may ask fewer (`frame_cap`)
    min_pixels: int | None = None
    max_pixels: int | None = None
    total_pixels: int | None = None
    llm: LLMGeometry | None = None
    vision: Mapping[str, Any] = field(default_factory=dict)  # encoder configs of the bench thinker
    audio: Mapping[str, Any] = field(default_factory=dict)
    both_gamma: float | None = None  # budgets.both_selected_rule's exponent for untabulated R (None: 1)
    # Table 7's hand-set both-selected pairs of the paper: R -> (R_v, R_a) (budgets.split_budget)
    both_selected: Mapping[float, tuple[float, float]] = field(default_factory=dict)
    device_map: str | None = None  # e.g. "auto": spread the thinker over the visible GPUs
    authors_code_block: AuthorsCode | None = None  # the YAML's `authors_code:`; None: its defaults
    path: str = ""

    @property
    def authors_code(self) -> AuthorsCode:
        """What profile=official uses: the YAML's `authors_code:` block, or its defaults with
        the paper's tau."""
        return self.authors_code_block if self.authors_code_block is not None else AuthorsCode(tau=self.tau)

    @property
    def audio_tokens_per_window(self) -> int:
        """n_a (Sec. 5.1)."""
        return self.window.audio_tokens

    def frame_cap(self, task_cap: int | None) -> int:
        """Frames sampled per video: the task's cap (its YAML's `lmms_eval_specific_kwargs`
        `max_frames`, carried on the video item of its messages) within the backbone's own;
        the backbone's when the task names none. So a benchmark's protocol (128 frames for
        WorldSense) lives with the benchmark, and a backbone that reads fewer (Qwen3-Omni:
        196) is never asked for more."""
        return self.max_frames if task_cap is None else min(int(task_cap), self.max_frames)

    def check_depth(self, num_layers: int) -> None:
        """Refuse a checkpoint of another depth (its interleaving is checked by the adapter)."""
        if num_layers != self.num_layers:
            raise ConfigError(f"backbone config {self.name} ({self.path}) is for {self.num_layers} layers but the "
                              f"checkpoint has {num_layers}; pass backbone_config matching the checkpoint")


def check_boundaries(boundaries: Sequence[int], num_layers: int | None = None) -> tuple[int, ...]:
    """The SEATS block boundaries (L_s, L_m1, L_m2, L_l), 1-based, checked against depth L."""
    b = tuple(int(x) for x in boundaries)
    if len(b) != 4:
        raise ConfigError(f"boundaries must be (L_s, L_m1, L_m2, L_l), got {boundaries!r}")
    L_s, L_m1, L_m2, L_l = b
    top = num_layers if num_layers is not None else L_l
    # L_m1 >= L_s + 2: sub-block (L_s, L_m1) is open, so it needs a layer of its own;
    # otherwise two drops would fall after the same layer.
    if not (1 <= L_s and L_s + 1 < L_m1 < L_m2 < L_l <= top):
        raise ConfigError(
            f"boundaries {b} must satisfy 1 <= L_s, L_s + 1 < L_m1 < L_m2 < L_l <= L (L={num_layers})"
        )
    return b

# ----------------------------------------------------------------------------- loading
_REQUIRED = ("num_layers", "video_tokens_per_window", "audio_tokens_per_window", "boundaries", "lam", "tau")
_KNOWN = set(_REQUIRED) | {
    "backbone", "family", "pretrained", "audio_tokens_per_second", "window_seconds", "fps", "max_frames",
    "min_pixels", "max_pixels", "total_pixels", "llm", "vision", "audio", "both_gamma", "device_map",
    "calibration",  # provenance written by `seats-eval calibrate`; not read
    "both_selected",
    "authors_code",
}
_OFFICIAL_INT = ("stage1_video_grids", "stage1_audio_tokens", "visionzip_video_grids", "visionzip_audio_tokens",
                 "signal_audio_frames")
_LLM_FIELDS = ("hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim", "intermediate_size",
               "vocab_size")


def config_dirs() -> list[Path]:
    """Directories searched for backbone YAMLs: $SEATS_MODEL_CONFIGS first, then the
    project's model_configs/ (seats_eval/io/resources.py: the checkout's, or the installed copy)."""
    from ..io.resources import resource

    dirs: list[Path] = []
    env = os.environ.get("SEATS_MODEL_CONFIGS")
    if env:
        dirs.extend(Path(p) for p in env.split(os.pathsep) if p)
    dirs.append(resource("model_configs"))
    return dirs


def normalise_name(name: str) -> str:
    """'Qwen2.5-Omni-7B' -> 'qwen2_5_omni_7b' (the YAML file stem)."""
    return name.strip().lower().replace(".", "_").replace("-", "_").replace("/", "_")


def available_backbones() -> list[str]:
    """File stems of every backbone YAML found on the search path (for error messages)."""
    names: set[str] = set()
    for d in config_dirs():
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.yaml"))
    return sorted(names)


def _find(raw: str) -> Path:
    path = Path(raw)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"backbone config {raw!r}: no such file")
        return path
    # also hub ids: "Qwen/Qwen3-Omni-30B-A3B-Instruct" -> qwen3_omni_30b_a3b
    last = normalise_name(raw.rstrip("/").rsplit("/", 1)[-1])
    stems = dict.fromkeys([normalise_name(raw), last, last.removesuffix("_instruct")])
    for d in config_dirs():
        for st in stems:
            if (d / f"{st}.yaml").is_file():
                return d / f"{st}.yaml"
    raise ConfigError(f"unknown backbone {raw!r}: expected a YAML path or one of "
                      f"{', '.join(available_backbones()) or '(no model_configs found)'}")


def _pretrained(value: Any) -> str:
    """A config's checkpoint: a hub id or path as written, except a project-relative path of a
    committed model (`seats_eval/data/tiny_trained/...`), made absolute where it is now (a
    checkout or the installed package: seats_eval/io/resources.py), so it loads from any folder."""
    from ..io.resources import locate

    text = str(value or "")
    found = locate(text) if text and not os.path.isabs(text) else None
    return str(found) if found is not None else text


def _number(path: Path, raw: Mapping[str, Any], key: str, kind: type = float, default: Any = None) -> Any:
    value = raw.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise ConfigError(f"{path}: {key} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
    return kind(value)


def _llm(path: Path, raw: Any) -> LLMGeometry | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or any(k not in raw for k in _LLM_FIELDS):
        raise ConfigError(f"{path}: llm must be a mapping with {', '.join(_LLM_FIELDS)}")
    dims = {k: _number(path, raw, k, int) for k in _LLM_FIELDS}
    experts = {k: _number(path, raw, k, int, 0) for k in ("num_experts", "num_experts_per_tok")}
    extra = {k: v for k, v in raw.items() if k not in dims and k not in experts}
    return LLMGeometry(**dims, **experts, extra=extra)


def _authors_code(path: Path, raw: Any, tau: float) -> AuthorsCode | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or set(raw) - {"tau", "tell_fps", *_OFFICIAL_INT}:
        raise ConfigError(f"{path}: authors_code must be a mapping with keys among tau, tell_fps, "
                          f"{', '.join(_OFFICIAL_INT)}")
    tell_fps = raw.get("tell_fps", True)
    if not isinstance(tell_fps, bool):
        raise ConfigError(f"{path}: authors_code.tell_fps must be true or false, got {tell_fps!r}")
    ints = {k: _number(path, raw, k, int) for k in _OFFICIAL_INT if raw.get(k) is not None}
    if any(v < 1 for v in ints.values()):
        raise ConfigError(f"{path}: authors_code window sizes must be >= 1, got {ints}")
    t = _number(path, raw, "tau", float, tau)
    if t <= 0:
        raise ConfigError(f"{path}: authors_code.tau must be > 0, got {t}")
    return AuthorsCode(tau=t, tell_fps=tell_fps, **ints)


def _both_selected(path: Path, raw: Any) -> dict[float, tuple[float, float]]:
    if raw is None:
        return {}
    bad = f"{path}: both_selected must map R to [R_v, R_a], each in (0, 1], got {raw!r}"
    if not isinstance(raw, Mapping):
        raise ConfigError(bad)
    out: dict[float, tuple[float, float]] = {}
    for R, pair in raw.items():
        values = [R, *pair] if isinstance(pair, (list, tuple)) and len(pair) == 2 else []
        if not values or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1
                             for v in values):
            raise ConfigError(bad)
        out[float(R)] = (float(pair[0]), float(pair[1]))
    return out


def parse_backbone_config(raw: Mapping[str, Any], path: Path) -> BackboneConfig:
    """Validate a YAML mapping; every inconsistency is a ConfigError naming the file."""
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise ConfigError(f"{path}: missing keys {missing}; required: {list(_REQUIRED)}")
    unknown = sorted(set(raw) - _KNOWN)
    if "official" in unknown:  # the block's name before it was renamed
        raise ConfigError(f"{path}: the `official:` block is now called `authors_code:` (same keys); rename it")
    if unknown:
        raise ConfigError(f"{path}: unknown keys {unknown}; allowed: {sorted(_KNOWN)}")
    family = str(raw.get("family", "qwen2.5-omni"))
    if family not in FAMILIES:
        raise ConfigError(f"{path}: family {family!r}; allowed: {', '.join(FAMILIES)}")
    seconds = _number(path, raw, "window_seconds", float, 2.0)
    n_a = _number(path, raw, "audio_tokens_per_window", int)
    per_second = _number(path, raw, "audio_tokens_per_second", float)
    if per_second is not None and per_second * seconds != n_a:
        raise ConfigError(f"{path}: audio_tokens_per_window {n_a} != audio_tokens_per_second {per_second:g} x "
                          f"window_seconds {seconds:g}")
    boundaries = raw["boundaries"]
    if not isinstance(boundaries, (list, tuple)) or len(boundaries) != 4:
        raise ConfigError(f"{path}: boundaries must be 4 layers (L_s, L_m1, L_m2, L_l), got {boundaries!r}")
    if isinstance(raw.get("max_frames"), Mapping):
        raise ConfigError(f"{path}: max_frames is the backbone's own frame limit (one integer); per-task caps "
                          "go in the task YAML (lmms_eval_specific_kwargs: default: max_frames: N)")
    frames = _number(path, raw, "max_frames", int, 768)
    if frames < 1:
        raise ConfigError(f"{path}: max_frames must be >= 1, got {frames}")
    cfg = BackboneConfig(
        name=str(raw.get("backbone", path.stem)), family=family, pretrained=_pretrained(raw.get("pretrained", "")),
        num_layers=_number(path, raw, "num_layers", int),
        window=WindowGeometry(seconds, n_a), video_tokens_per_window=_number(path, raw, "video_tokens_per_window", int),
        boundaries=tuple(int(b) for b in boundaries),  # type: ignore[arg-type]
        lam=_number(path, raw, "lam"), tau=_number(path, raw, "tau"), fps=_number(path, raw, "fps", float, 2.0),
        max_frames=frames,
        min_pixels=_number(path, raw, "min_pixels", int), max_pixels=_number(path, raw, "max_pixels", int),
        total_pixels=_number(path, raw, "total_pixels", int), llm=_llm(path, raw.get("llm")),
        vision=dict(raw.get("vision") or {}), audio=dict(raw.get("audio") or {}),
        both_gamma=_number(path, raw, "both_gamma"), both_selected=_both_selected(path, raw.get("both_selected")),
        device_map=None if raw.get("device_map") is None else str(raw["device_map"]),
        authors_code_block=_authors_code(path, raw.get("authors_code"), _number(path, raw, "tau")), path=str(path),
    )
    try:
        check_boundaries(cfg.boundaries, cfg.num_layers)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if cfg.lam <= 0 or cfg.tau <= 0:
        raise ConfigError(f"{path}: lam and tau must be > 0, got lam={cfg.lam}, tau={cfg.tau}")
    return cfg


def load_backbone_config(name_or_path: str | os.PathLike[str] | BackboneConfig) -> BackboneConfig:
    """A backbone's config by name ("qwen2.5-omni-7b", "qwen3-omni-30b-a3b", "tiny"; case,
    '.', '-' insensitive; a hub id such as "Qwen/Qwen2.5-Omni-7B" works too) or YAML path.
    Names are looked up in $SEATS_MODEL_CONFIGS (os.pathsep-separated) and then in the
    repo's model_configs/. Only `yaml.safe_load` is used. A config passes through unchanged."""
    if isinstance(name_or_path, BackboneConfig):
        return name_or_path
    import yaml  # local: keep `import seats_eval.backbones.config` free of optional deps

    path = _find(os.fspath(name_or_path))
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a YAML mapping, got {type(raw).__name__}")
    return parse_backbone_config(raw, path)
