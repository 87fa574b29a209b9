"""On-disk cache of decoded media and encoder outputs, per (video, sampling, model).

A sweep asks the same videos the same questions under many methods and R values; the
decode, the processor's pixel work and the vision/audio encoders give the same result every
time. One entry keeps what a later run needs to skip all three: the processor's expansion
of the video placeholder (token ids), the media tensors besides pixels (grid, seconds per
grid, audio mask), the encoder outputs and the raw Stage I signals. The question is not
part of the key: a new prompt is tokenised and the cached expansion spliced in at its
placeholder (tests check the splice against the processor, token for token).

Keys hash the cache format version, the model's identity (config and weight files, dtype,
attention implementation, device type), the video file's identity (path, size, mtime) and
the sampling settings; any change gives a new key, so stale features are never served.
Every byte of an entry file is covered by a checksum: the file is a one-line header holding
the SHA-256 of the rest (torch.save's bytes: tensors, token ids, media facts, the pickled
structure and the zip container, whose CRCs torch.load does not check), verified before
anything is unpickled, on load and by `seats-eval cache info`. An entry that fails it, or is
unreadable, of another version or key, is reported, deleted and recomputed, never used.
Tensors are saved compact (a view is cloned, so a slice never drags its parent buffer along).
Entries are written atomically (seats_eval/io/atomic.py), so a reader never sees half an
entry. Writes and deletions of one key take that key's lock (`flock` on `<key>.lock`
beside the entry; NFS v4 and Lustre honour it), so that concurrent workers (data-parallel
ranks, Slurm array tasks sharing one cache) are safe: a worker that found an entry bad deletes it only if it is still the very file it read (a
concurrent writer's fresh entry is read instead, never deleted); concurrent fills of one key
leave one whole entry (identical content: the last rename wins). A cache never changes
results: with R=1 and the cache on, logits equal the uncached run's
(tests/test_feature_cache.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from loguru import logger

from ..adapters.features import EncoderFeatures
from ..errors import SeatsError
from ..io.atomic import write_bytes_atomic

CACHE_VERSION = 4  # 2: frames sized by the reference pixel rule, tensor hashes; 3: audio pooling stored;
# 4: one checksum over the whole file
HEADER = b"seats-eval feature cache; sha256 of the rest: "
_HEX = 64
MEDIA_KEYS = ("video_grid_thw", "video_second_per_grid", "feature_attention_mask")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class CorruptEntry(SeatsError):
    """A stored entry that must not be used (unreadable, foreign, or failing its hashes)."""


def _compact(t: torch.Tensor) -> torch.Tensor:
    """A CPU tensor owning exactly its bytes: torch.save writes a view's whole storage."""
    t = t.detach().cpu()
    if not t.is_contiguous() or t.untyped_storage().nbytes() != t.numel() * t.element_size():
        t = t.clone(memory_format=torch.contiguous_format)
    return t


def seal(body: bytes) -> bytes:
    """An entry file's bytes: the header with the SHA-256 of `body`, then `body`."""
    return HEADER + _sha256(body).encode() + b"\n" + body


def unseal(data: bytes) -> bytes:
    """The body of an entry file whose checksum holds; CorruptEntry otherwise."""
    head = len(HEADER) + _HEX + 1
    if len(data) < head or not data.startswith(HEADER) or data[head - 1:head] != b"\n":
        raise CorruptEntry("not a seats-eval cache file (its header is missing or damaged)")
    body = data[head:]
    if _sha256(body).encode() != data[len(HEADER):head - 1]:
        raise CorruptEntry(f"does not match its checksum (sha256 over its {len(body)} bytes)")
    return body


def save_state(state: dict[str, Any]) -> bytes:
    """An entry file's bytes for a state dict (torch.save, sealed)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    return seal(buf.getvalue())


def load_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state dict of an entry file, only after its checksum held."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CorruptEntry(f"unreadable: {type(exc).__name__}: {exc}") from exc
    try:
        return torch.load(io.BytesIO(unseal(data)), map_location="cpu", weights_only=True)
    except CorruptEntry:
        raise
    except Exception as exc:  # torch raises many error types for foreign files
        raise CorruptEntry(f"unreadable: {type(exc).__name__}: {exc}") from exc


def file_identity(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path).resolve()
    st = p.stat()
    return {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def model_identity(pretrained: str, thinker: Any) -> dict[str, Any]:
    """What fixes the encoders' output: config, weights, dtype, attention kernel, device type."""
    cfg = thinker.config
    ident: dict[str, Any] = {
        "pretrained": pretrained,
        "config": _sha256(cfg.to_json_string(use_diff=False).encode()),
        "commit": getattr(cfg, "_commit_hash", None),
        "dtype": str(thinker.dtype),
        "device": thinker.device.type,
        "attn": {name: getattr(getattr(cfg, name, None), "_attn_implementation", None)
                 for name in ("vision_config", "audio_config")},
    }
    root = Path(pretrained)
    if root.is_dir():  # local checkpoints: processor configs by content, weights by size + mtime
        ident["json"] = {p.name: _sha256(p.read_bytes()) for p in sorted(root.glob("*.json"))}
        ident["weights"] = [file_identity(p) for p in sorted(root.iterdir()) if p.name.endswith(WEIGHT_SUFFIXES)]
    return ident


def expand_placeholder(template_ids: list[int], expanded_ids: list[int], prompt_ids: list[int],
                       placeholder_id: int, sample: str = "") -> list[int]:
    """`prompt_ids` with its media placeholder expanded the way the processor expanded it in
    `template_ids` -> `expanded_ids` (another prompt on the same video).

    The expansion is the span where template and expansion differ (after their common
    prefix and suffix, both bounded by the placeholder); the same unexpanded span is found
    around the placeholder of the new prompt and replaced.
    """
    if template_ids.count(placeholder_id) != 1 or prompt_ids.count(placeholder_id) != 1:
        raise SeatsError(f"{sample}: expected exactly one video placeholder (id {placeholder_id}) in the prompt")
    ph = template_ids.index(placeholder_id)
    pre = 0
    while pre < ph and template_ids[pre] == expanded_ids[pre]:
        pre += 1
    suf = 0
    max_suf = len(template_ids) - ph - 1
    while suf < max_suf and template_ids[-1 - suf] == expanded_ids[-1 - suf]:
        suf += 1
    span = template_ids[pre:len(template_ids) - suf]
    expansion = expanded_ids[pre:len(expanded_ids) - suf]
    start = prompt_ids.index(placeholder_id) - (ph - pre)
    if start < 0 or prompt_ids[start:start + len(span)] != span:
        raise SeatsError(f"{sample}: the prompt's video placeholder is not in the form the cached entry "
                         "was built from; clear the feature cache or run without it")
    return prompt_ids[:start] + expansion + prompt_ids[start + len(span):]


@dataclass
class CacheEntry:
    template_ids: list[int]  # unexpanded prompt ids of the sample that filled the entry
    expanded_ids: list[int]  # the processor's input_ids for that prompt
    media: dict[str, torch.Tensor]  # MEDIA_KEYS present in the processor output
    features: EncoderFeatures  # on CPU
    media_info: dict[str, Any]  # what the record says about the decoded media (has_audio, frames, ...)

    @classmethod
    def build(cls, template_ids: list[int], inputs: Any, features: EncoderFeatures,
              media_info: dict[str, Any]) -> CacheEntry:
        media = {k: _compact(inputs[k]) for k in MEDIA_KEYS if inputs.get(k) is not None}
        return cls(list(template_ids), inputs["input_ids"][0].tolist(), media, features.to("cpu"), dict(media_info))

    def inputs_for(self, prompt_ids: list[int], placeholder_id: int, device: torch.device | str,
                   sample: str = "") -> dict[str, torch.Tensor]:
        """Model inputs for a new prompt on the cached video (no pixels, no audio features)."""
        ids = expand_placeholder(self.template_ids, self.expanded_ids, prompt_ids, placeholder_id, sample)
        input_ids = torch.tensor([ids], dtype=torch.long, device=device)
        out = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
        out.update({k: v.to(device) for k, v in self.media.items()})
        return out

    def to_state(self) -> dict[str, Any]:
        f = self.features

        def c(t: Any) -> Any:
            return [_compact(x) for x in t] if isinstance(t, list) else (None if t is None else _compact(t))

        return {"template_ids": self.template_ids, "expanded_ids": self.expanded_ids,
                "media": {k: c(v) for k, v in self.media.items()},
                "media_info": json.dumps(self.media_info, default=str), "features": {
                    "audio": c(f.audio), "video": c(f.video), "deepstack": c(f.deepstack),
                    "vision_recv": c(f.vision_recv), "audio_recv": c(f.audio_recv),
                    "signals_captured": f.signals_captured, "audio_frames_per_token": f.audio_frames_per_token,
                    "audio_window": f.audio_window}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CacheEntry:
        return cls(state["template_ids"], state["expanded_ids"], state["media"],
                   EncoderFeatures(**state["features"]), json.loads(state["media_info"]))


class FeatureCache:
    """A folder of entries named by key; see the module docstring."""

    def __init__(self, root: str | os.PathLike[str], model_id: dict[str, Any]) -> None:
        self.root = Path(root)
        self.model_id = model_id
        self.hits = 0
        self.misses = 0
        self.bad = 0  # entries found bad, deleted and recomputed

    def key_payload(self, video: str, settings: dict[str, Any]) -> dict[str, Any]:
        return {"version": CACHE_VERSION, "model": self.model_id, "video": file_identity(video),
                "settings": settings}

    def key(self, video: str, settings: dict[str, Any]) -> str:
        return _sha256(json.dumps(self.key_payload(video, settings), sort_keys=True, default=str).encode())[:40]

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.pt"

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """The key's exclusive lock (held while its entry is written or deleted)."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(f"{key}.lock"), "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def load(self, key: str) -> CacheEntry | None:
        """The entry under `key`, verified; None on a miss. A bad entry is reported (warning
        naming the file and the cause), deleted (under the key's lock, and only if no other
        worker replaced it since it was read) and counted as a miss."""
        path = self.path(key)
        for _ in range(3):  # a concurrent writer may replace a bad entry while we look at it
            try:
                seen = _identity(path)
            except FileNotFoundError:
                self.misses += 1
                return None
            try:
                entry = read_entry(path, key)
            except CorruptEntry as exc:
                with self.lock(key):
                    try:
                        replaced = _identity(path) != seen
                    except FileNotFoundError:
                        replaced = False
                    if replaced:
                        continue  # another worker wrote a fresh entry: read that one
                    logger.warning(f"seats-eval: feature cache entry {path} is bad ({exc}); "
                                   "deleting it and recomputing")
                    path.unlink(missing_ok=True)
                self.misses += 1
                self.bad += 1
                return None
            self.hits += 1
            return entry
        self.misses += 1
        return None

    def store(self, key: str, entry: CacheEntry, payload: dict[str, Any] | None = None) -> Path:
        path = self.path(key)
        data = save_state({"version": CACHE_VERSION, "key": key, "entry": entry.to_state(),
                           "payload": json.dumps(payload, default=str) if payload else None})
        with self.lock(key):
            return write_bytes_atomic(path, data)


def _identity(path: Path) -> tuple[int, int, int, int]:
    """Which file `path` names now (a rename makes a new one)."""
    st = path.stat()
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def read_entry(path: Path, key: str | None = None) -> CacheEntry:
    """Load and verify one entry file; CorruptEntry says why it must not be used."""
    state = load_state(path)
    if not isinstance(state, dict) or state.get("version") != CACHE_VERSION:
        raise CorruptEntry(f"format version {state.get('version') if isinstance(state, dict) else '?'}, "
                           f"expected {CACHE_VERSION}")
    if key is not None and state.get("key") != key:
        raise CorruptEntry(f"holds key {state.get('key')}, not {key}")
    try:
        return CacheEntry.from_state(state["entry"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptEntry(f"malformed entry: {type(exc).__name__}: {exc}") from exc


def cache_entries(root: str | os.PathLike[str]) -> list[Path]:
    """Entry files under a cache folder (temp files of writes in progress excluded)."""
    return sorted(p for p in Path(root).glob("*/*.pt") if not p.name.startswith("."))
