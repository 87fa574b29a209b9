"""Offline tiny Qwen-Omni thinkers and processors for tests and the demo.

No weights or tokenizers can be downloaded here, so we assemble everything locally:
a randomly initialised thinker with few layers and narrow hidden sizes, but the real
special-token ids, and a processor made of a locally trained byte-level BPE tokenizer,
the stock Qwen2-VL image/video processors and a Whisper feature extractor.
`from_pretrained(DIR)` then works with no network, exactly as for the real checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

# Real Qwen2.5-Omni special tokens and ids (the thinker config's token indices point here).
QWEN25_SPECIAL_TOKENS: dict[str, int] = {
    "<|endoftext|>": 151643,
    "<|im_start|>": 151644,
    "<|im_end|>": 151645,
    "<|AUDIO|>": 151646,
    "<|audio_bos|>": 151647,
    "<|audio_eos|>": 151648,
    "<|box_end|>": 151649,
    "<|quad_start|>": 151650,
    "<|quad_end|>": 151651,
    "<|vision_bos|>": 151652,
    "<|vision_eos|>": 151653,
    "<|vision_pad|>": 151654,
    "<|IMAGE|>": 151655,
    "<|VIDEO|>": 151656,
}
TINY_VOCAB_SIZE = 151680  # just above the special ids, so the embedding stays small-ish

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'text' %}{{ item['text'] }}"
    "{% elif item['type'] == 'video' %}<|vision_bos|><|VIDEO|><|vision_eos|>"
    "{% elif item['type'] == 'image' %}<|vision_bos|><|IMAGE|><|vision_eos|>"
    "{% elif item['type'] == 'audio' %}<|audio_bos|><|AUDIO|><|audio_eos|>"
    "{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    "You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of "
    "perceiving auditory and visual inputs, as well as generating text and speech.",
    "Select the best answer to the following multiple-choice question based on the video.",
    "Answer with the option's letter from the given choices directly.",
    "A. a red square moves right B. a blue circle C. a tone plays D. nothing happens",
    "What is the color of the moving object? What sound is heard? The answer is",
    "Please analyze the video carefully and select the most appropriate answer.",
]


def _train_tokenizer(specials: dict[str, int] | None = None):
    """Byte-level BPE trained on a few sentences, padded with unreachable filler tokens so
    that the special tokens land on their real ids (gaps between them become reserved
    added tokens: added-token ids must be contiguous after the model vocabulary)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    specials = specials or QWEN25_SPECIAL_TOKENS
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    data = json.loads(tok.to_str())
    vocab: dict[str, int] = data["model"]["vocab"]
    first_special = min(specials.values())
    # Filler entries are never produced: no merge rule builds them.
    for i in range(len(vocab), first_special):
        vocab[f"<|filler_{i}|>"] = i
    by_id = {i: t for t, i in specials.items()}
    data["added_tokens"] = [
        {"id": i, "content": by_id.get(i, f"<|reserved_{i}|>"), "single_word": False, "lstrip": False,
         "rstrip": False, "normalized": False, "special": True}
        for i in range(first_special, max(specials.values()) + 1)
    ]
    return Tokenizer.from_str(json.dumps(data))


def build_qwen25_processor():
    """Processor identical in structure to Qwen/Qwen2.5-Omni-7B's, built offline."""
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2_5OmniProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
        WhisperFeatureExtractor,
    )

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={
            "image_token": "<|IMAGE|>",
            "audio_token": "<|AUDIO|>",
            "video_token": "<|VIDEO|>",
            "vision_bos_token": "<|vision_bos|>",
            "vision_eos_token": "<|vision_eos|>",
            "audio_bos_token": "<|audio_bos|>",
            "audio_eos_token": "<|audio_eos|>",
        },
        padding_side="left",
    )
    # Pixel limits of the reference preprocessing: 128-144 merged tokens per temporal grid.
    video_processor = Qwen2VLVideoProcessor(min_pixels=128 * 28 * 28, max_pixels=144 * 28 * 28)
    image_processor = Qwen2VLImageProcessor()
    feature_extractor = WhisperFeatureExtractor(feature_size=128, chunk_length=300)
    return Qwen2_5OmniProcessor(
        image_processor=image_processor,
        video_processor=video_processor,
        feature_extractor=feature_extractor,
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
    )


def build_qwen25_thinker_config(num_layers: int = 8, hidden: int = 64):
    """A Qwen2.5-Omni thinker config with the real token ids and tiny widths."""
    from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import (
        Qwen2_5OmniThinkerConfig,
    )

    heads, kv_heads = 4, 2
    head_dim = hidden // heads
    config = Qwen2_5OmniThinkerConfig(
        audio_config={
            "num_mel_bins": 128, "encoder_layers": 2, "encoder_attention_heads": 2,
            "encoder_ffn_dim": 64, "d_model": 32, "output_dim": hidden,
            "max_source_positions": 1500, "n_window": 100,
        },
        vision_config={
            "depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2,
            "out_hidden_size": hidden, "fullatt_block_indexes": [1], "window_size": 112,
            "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
        },
        text_config={
            "vocab_size": TINY_VOCAB_SIZE, "hidden_size": hidden, "intermediate_size": 2 * hidden,
            "num_hidden_layers": num_layers, "num_attention_heads": heads,
            "num_key_value_heads": kv_heads, "head_dim": head_dim,
            "rope_parameters": {
                "rope_type": "default", "rope_theta": 1000000.0,
                "mrope_section": [head_dim // 8, head_dim // 8 + head_dim // 16,
                                  head_dim // 2 - head_dim // 8 - head_dim // 8 - head_dim // 16],
            },
            "max_position_embeddings": 32768, "tie_word_embeddings": False,
            "eos_token_id": QWEN25_SPECIAL_TOKENS["<|im_end|>"],
            "pad_token_id": QWEN25_SPECIAL_TOKENS["<|endoftext|>"],
        },
        audio_token_index=QWEN25_SPECIAL_TOKENS["<|AUDIO|>"],
        image_token_index=QWEN25_SPECIAL_TOKENS["<|IMAGE|>"],
        video_token_index=QWEN25_SPECIAL_TOKENS["<|VIDEO|>"],
        audio_start_token_id=QWEN25_SPECIAL_TOKENS["<|audio_bos|>"],
        audio_end_token_id=QWEN25_SPECIAL_TOKENS["<|audio_eos|>"],
        position_id_per_seconds=25,
        seconds_per_chunk=2,
    )
    # The released checkpoint's thinker config carries these too; get_rope_index reads them.
    config.vision_start_token_id = QWEN25_SPECIAL_TOKENS["<|vision_bos|>"]
    config.vision_end_token_id = QWEN25_SPECIAL_TOKENS["<|vision_eos|>"]
    config.vision_token_id = QWEN25_SPECIAL_TOKENS["<|vision_pad|>"]
    return config


def build_tiny_thinker(backbone: str = "qwen2.5-omni", seed: int = 0, num_layers: int = 8):
    """The tiny random thinker of `make_tiny`, in memory (fp32, CPU, eval mode): needs only
    transformers, no processor (so no torchvision), e.g. for tests on a bare GPU machine.
    `backbone`: a family ("qwen3-omni") or its released backbone ("qwen3-omni-30b-a3b")."""
    import torch

    from ..backbones.families import get_family

    fam = get_family(backbone)
    config = fam.load("tiny_config")(num_layers=num_layers)
    torch.manual_seed(seed)
    model = fam.thinker_class()(config).eval()
    with torch.no_grad():  # larger random weights make attention less uniform, so selection matters
        for name, p in model.named_parameters():
            if p.dim() >= 2 and "embed" not in name:
                p.mul_(4.0)
    return model


def make_tiny(out_dir: str | Path, backbone: str = "qwen2.5-omni", seed: int = 0,
              num_layers: int = 8) -> Path:
    """Write a tiny random thinker + offline processor to `out_dir` and return the path."""
    from ..backbones.families import get_family

    model = build_tiny_thinker(backbone, seed=seed, num_layers=num_layers)
    fam = get_family(backbone)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    fam.load("tiny_processor")().save_pretrained(out)
    (out / "seats_tiny.json").write_text(json.dumps({"backbone": fam.tiny_backbone, "seed": seed}))
    return out


# Qwen3-Omni: same base vocabulary; its own audio/vision ids (released thinker config).
QWEN3_SPECIAL_TOKENS: dict[str, int] = {
    "<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645,
    "<|vision_start|>": 151652, "<|vision_end|>": 151653, "<|image_pad|>": 151655, "<|video_pad|>": 151656,
    "<|audio_start|>": 151669, "<|audio_end|>": 151670, "<|audio_pad|>": 151675,
}
QWEN3_CHAT_TEMPLATE = (
    CHAT_TEMPLATE.replace("<|vision_bos|><|VIDEO|><|vision_eos|>", "<|vision_start|><|video_pad|><|vision_end|>")
    .replace("<|vision_bos|><|IMAGE|><|vision_eos|>", "<|vision_start|><|image_pad|><|vision_end|>")
    .replace("<|audio_bos|><|AUDIO|><|audio_eos|>", "<|audio_start|><|audio_pad|><|audio_end|>")
)


def build_qwen3_processor():
    """Qwen3-Omni-MoE processor built offline (patch 16: pixel limits use 32 x 32 units)."""
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
        Qwen3OmniMoeProcessor,
        WhisperFeatureExtractor,
    )

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(QWEN3_SPECIAL_TOKENS),
        eos_token="<|im_end|>", pad_token="<|endoftext|>", padding_side="left",
        extra_special_tokens={
            "image_token": "<|image_pad|>", "audio_token": "<|audio_pad|>", "video_token": "<|video_pad|>",
            "vision_bos_token": "<|vision_start|>", "vision_eos_token": "<|vision_end|>",
            "audio_bos_token": "<|audio_start|>", "audio_eos_token": "<|audio_end|>",
        },
    )
    video_processor = Qwen2VLVideoProcessor(min_pixels=128 * 32 * 32, max_pixels=144 * 32 * 32, patch_size=16,
                                            temporal_patch_size=2, merge_size=2)
    image_processor = Qwen2VLImageProcessor(patch_size=16, merge_size=2)
    feature_extractor = WhisperFeatureExtractor(feature_size=128, chunk_length=300)
    return Qwen3OmniMoeProcessor(image_processor=image_processor, video_processor=video_processor,
                                 feature_extractor=feature_extractor, tokenizer=tokenizer,
                                 chat_template=QWEN3_CHAT_TEMPLATE)


def build_qwen3_thinker_config(num_layers: int = 8, hidden: int = 64):
    """A Qwen3-Omni-MoE thinker config: tiny widths, 4 experts (2 active), real token ids."""
    from transformers.models.qwen3_omni_moe.configuration_qwen3_omni_moe import Qwen3OmniMoeThinkerConfig

    heads, kv_heads = 4, 2
    head_dim = hidden // heads
    half = head_dim // 2
    t = QWEN3_SPECIAL_TOKENS
    config = Qwen3OmniMoeThinkerConfig(
        audio_config={"num_mel_bins": 128, "encoder_layers": 2, "encoder_attention_heads": 2, "encoder_ffn_dim": 64,
                      "d_model": 32, "output_dim": hidden, "max_source_positions": 1500, "n_window": 50,
                      "n_window_infer": 800, "conv_chunksize": 500, "downsample_hidden_size": 16},
        vision_config={"depth": 3, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "patch_size": 16,
                       "spatial_merge_size": 2, "temporal_patch_size": 2, "out_hidden_size": hidden,
                       "num_position_embeddings": 2304, "deepstack_visual_indexes": [0, 1]},
        text_config={"vocab_size": TINY_VOCAB_SIZE, "hidden_size": hidden, "intermediate_size": 2 * hidden,
                     "num_hidden_layers": num_layers, "num_attention_heads": heads, "num_key_value_heads": kv_heads,
                     "head_dim": head_dim, "moe_intermediate_size": 32, "num_experts": 4, "num_experts_per_tok": 2,
                     "decoder_sparse_step": 1, "mlp_only_layers": [],
                     "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0,
                                         "mrope_section": [half - 2 * (half // 3), half // 3, half // 3],
                                         "interleaved": True},
                     "eos_token_id": t["<|im_end|>"], "pad_token_id": t["<|endoftext|>"]},
        audio_token_id=t["<|audio_pad|>"], image_token_id=t["<|image_pad|>"], video_token_id=t["<|video_pad|>"],
        audio_start_token_id=t["<|audio_start|>"], position_id_per_seconds=13,
    )
    config.audio_end_token_id = t["<|audio_end|>"]
    config.vision_start_token_id = t["<|vision_start|>"]
    config.vision_end_token_id = t["<|vision_end|>"]
    return config
