"""Processor-equivalent Qwen-Omni inputs without media decoding or a video processor.

The bare GPU machine has no av/decord, and perhaps no torchvision (which the stock video
processor needs). These inputs come from the thinker config alone: the chat prompt encoded
by the offline tokenizer of seats_eval.toys.tiny, the placeholder expansion of the stock processors
(Qwen2.5-Omni: video then audio per 2-s chunk; Qwen3-Omni: merged by timestamp), random
patches and log-mel features of the real shapes. tests/test_gpu_inputs.py checks on CPU that
the ids equal the real processor's for the same grid and audio length.
"""

from __future__ import annotations

import numpy as np
import torch

from seats_eval.tasklib.prompts import QWEN_OMNI_SYSTEM_PROMPT
from seats_eval.toys.tiny import QWEN3_SPECIAL_TOKENS, QWEN25_SPECIAL_TOKENS, _train_tokenizer

QUESTION = "What moves in the video? A. a square B. a circle C. a line D. nothing"
_TOKENIZERS: dict[bool, object] = {}


def _is_qwen3(config) -> bool:
    return "qwen3_omni" in str(config.model_type)


def _ids(config) -> dict[str, int]:
    if _is_qwen3(config):
        return {"video": config.video_token_id, "audio": config.audio_token_id}
    return {"video": config.video_token_index, "audio": config.audio_token_index}


def audio_token_count(config, mel_frames: int) -> int:
    """Audio tokens for `mel_frames` feature frames, by the stock processor's own formula."""
    if _is_qwen3(config):
        from transformers.models.qwen3_omni_moe.processing_qwen3_omni_moe import (
            _get_feat_extract_output_lengths,
        )

        return int(_get_feat_extract_output_lengths(np.array(mel_frames), 50))
    from transformers.models.qwen2_5_omni.processing_qwen2_5_omni import _get_feat_extract_output_lengths

    return int(_get_feat_extract_output_lengths(np.array(mel_frames)))


def media_ids(config, grid_thw: tuple[int, int, int], n_audio: int, second_per_grid: float = 1.0) -> list[int]:
    """Token ids that replace the video placeholder (vision bos ... vision eos)."""
    t, h, w = grid_thw
    per_grid = h * w // int(config.vision_config.spatial_merge_size) ** 2
    ids = _ids(config)
    video = np.repeat(np.arange(t), per_grid)  # temporal grid of each video token
    if n_audio == 0:
        body = [ids["video"]] * video.size
    else:
        rate = float(config.position_id_per_seconds)
        v_time = video * second_per_grid * rate  # in position ids; one per audio token
        a_time = np.arange(n_audio, dtype=np.float64)
        if _is_qwen3(config):  # each grid at its start time, audio up to the next grid
            time = np.concatenate([v_time, a_time])
            kind = np.concatenate([np.zeros(video.size), np.ones(n_audio)])  # video first on ties
        else:  # per 2-s chunk: that chunk's video, then its audio
            chunk = rate * 2.0
            time = np.concatenate([v_time // chunk, a_time // chunk])
            kind = np.concatenate([np.zeros(video.size), np.ones(n_audio)])
        order = np.lexsort((np.arange(time.size), kind, time))
        body = [ids["audio"] if kind[i] else ids["video"] for i in order]
        body = [config.audio_start_token_id, *body, config.audio_end_token_id]
    return [config.vision_start_token_id, *body, config.vision_end_token_id]


def _encode(config, text: str) -> list[int]:
    qwen3 = _is_qwen3(config)
    if qwen3 not in _TOKENIZERS:
        _TOKENIZERS[qwen3] = _train_tokenizer(QWEN3_SPECIAL_TOKENS if qwen3 else QWEN25_SPECIAL_TOKENS)
    return _TOKENIZERS[qwen3].encode(text).ids


def omni_inputs(config, *, grid_thw: tuple[int, int, int] = (4, 24, 24), mel_frames: int | None = 403,
                question: str = QUESTION, system_prompt: str = QWEN_OMNI_SYSTEM_PROMPT, seed: int = 0,
                device: torch.device | str = "cpu", encode=None) -> dict[str, torch.Tensor]:
    """What `build_inputs` gives for a clip with this grid (4 x 24 x 24: 8 frames of 2 s
    windows, 288 video tokens per window) and `mel_frames` log-mel frames (None: no audio
    track). `encode` (str -> ids) defaults to the offline tokenizer of seats_eval.toys.tiny."""
    encode = encode or (lambda text: _encode(config, text))
    n_audio = audio_token_count(config, mel_frames) if mel_frames else 0
    prefix = encode(f"<|im_start|>system\n{system_prompt}<|im_end|>\n<|im_start|>user\n")
    suffix = encode(f"{question}<|im_end|>\n<|im_start|>assistant\n")
    ids = prefix + media_ids(config, grid_thw, n_audio) + suffix
    g = torch.Generator().manual_seed(seed)
    vc = config.vision_config
    patch = int(vc.in_channels if hasattr(vc, "in_channels") else 3) * int(vc.temporal_patch_size) * int(vc.patch_size) ** 2
    t, h, w = grid_thw
    out = {
        "input_ids": torch.tensor([ids]),
        "attention_mask": torch.ones(1, len(ids), dtype=torch.long),
        "pixel_values_videos": torch.randn(t * h * w, patch, generator=g),
        "video_grid_thw": torch.tensor([list(grid_thw)]),
        "video_second_per_grid": torch.tensor([1.0]),
    }
    if mel_frames:
        mels = int(config.audio_config.num_mel_bins)
        out["input_features"] = (0.5 * torch.randn(1, mels, mel_frames, generator=g)).clamp(-1.5, 1.5)
        out["feature_attention_mask"] = torch.ones(1, mel_frames, dtype=torch.int32)
    return {k: v.to(device) for k, v in out.items()}
