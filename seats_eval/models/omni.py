"""The lmms-eval model class behind every model id (`*_qwen25omni`, `*_qwen3omni`).

One class: the id fixes the method (`method_id`); `--model_args` carry the common options
(pretrained, max_frames, fps, attn_implementation, ...) and the method's own (R, mode, ...).
Setups are checked before any weights load: options, the backbone config, and that the
record directory and lmms-eval's `--output_path` are writable.
A sample whose own data is unusable (errors.DataError: missing or corrupt media, ...) is
logged with the file name, answered with a visible failure marker that scores 0 and is
counted by the tasks' `sample_failures` metric, and written to `failures.jsonl` when a record
directory is configured; the run goes on. Any other exception is a bug: it propagates (with
`seats-eval eval`, the run exits non-zero with its traceback). Per-sample prune records
(tokens per layer and modality, FLOPs, timings, media facts) go to `records.jsonl`.
The sample itself is the driver's (seats_eval/driver/): the encoder turns the video and the
question into inputs and features (with the feature cache), the pipeline runs it; this class
keeps lmms-eval's plumbing: options, requests, record and failure rows, result objects.
Data parallel (`accelerate launch`): each rank on its own device, rows written per rank and
merged by rank 0 at the end; with prefix sharing, a video's requests are computed on one rank
and the answers exchanged back (models/parallel.py).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from lmms_eval.api.instance import GenerationOutput, Instance
from lmms_eval.api.model import lmms
from loguru import logger
from tqdm import tqdm

from ..adapters import load_thinker
from ..backbones.config import load_backbone_config
from ..driver import SamplePipeline
from ..driver.encoder import SampleEncoder
from ..driver.inputs import pixel_budget
from ..errors import ConfigError, DataError
from ..io.runs import run_id
from ..methods import build_method
from ..methods.options import check_arg_string
from ..methods.options import model_args as split_model_args
from ..runtime.decoding import GREEDY, Decoding
from ..runtime.prefix import SharedPrefix
from ..tasklib import prompts
from ..tasklib.scoring import FAILURE_MARKER
from . import efficiency, parallel


def check_writable(path: Path, what: str) -> None:
    """Create `path` and write a probe file in it: a run must not find out at the end that
    it cannot save (lmms-eval logs that at INFO and exits 0)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".seats-write-test.{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{what} {path} is not writable ({type(exc).__name__}: {exc})") from exc


def cli_arg(argv: list[str], flag: str) -> str | None:
    """The value of an lmms-eval flag (`--output_path`, `--model_args`) when this process was
    started by its CLI."""
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
    return None


def check_cli(argv: list[str]) -> None:
    """The checks that need lmms-eval's own command line (this process started by its CLI):
    `--model_args` repeating a key (R=0.1,R=0.35: lmms-eval would keep the last silently),
    and `--output_path` writable (lmms-eval finds out only at the end)."""
    model_args = cli_arg(argv, "--model_args")
    if model_args is not None:
        check_arg_string(model_args)
    output = cli_arg(argv, "--output_path")
    if output is not None:
        check_writable(Path(output), "lmms-eval's --output_path")


def _default_attn() -> str:
    if torch.cuda.is_available():
        try:
            import flash_attn  # noqa: F401

            return "flash_attention_2"
        except ImportError:
            pass
    return "sdpa"


def tiny_backbone(pretrained: str) -> str | None:
    """The model_configs name of a tiny model written by `seats-eval make-tiny` or `train-tiny`
    (its marker names the config: the trained ones have their own frame and layer rules)."""
    marker = Path(pretrained) / "seats_tiny.json"
    if not marker.exists():
        return None
    info = json.loads(marker.read_text())
    if info.get("backbone_config"):
        return str(info["backbone_config"])
    return {"tiny": "tiny", "tiny-qwen3": "tiny-qwen3"}.get(info.get("backbone"), "tiny")


PREFIX_SHARING = True  # the default of the `prefix_sharing` model arg (tests/test_prefix_sharing.py)


class QwenOmniModel(lmms):
    """Qwen2.5-Omni thinker + a token-selection method (set by the subclass for each id)."""

    # A chat model: lmms-eval hands it the task's `doc_to_messages`, whose system turn the
    # task YAML picks (tasklib/prompts.py), so no task name is matched here.
    is_simple = False
    method_id = "full"
    backbone = "qwen2.5-omni-7b"

    def __init__(self, **options: Any) -> None:
        super().__init__()
        # Every option checked before any weights load (methods/options.py): a typo fails in seconds.
        check_cli(sys.argv)
        opts, method_options = split_model_args(f"{self.method_id} model args", options)
        device, device_map, dtype = opts.get("device"), opts.get("device_map"), opts.get("dtype", "auto")
        self.pretrained = opts.get("pretrained") or load_backbone_config(self.backbone).pretrained
        backbone_config = opts.get("backbone_config") or tiny_backbone(self.pretrained)
        self.cfg = load_backbone_config(backbone_config or self.backbone)
        self.method = build_method(self.method_id, self.cfg, method_options)
        self.run_id = run_id()
        self.record_dir = self._open_record_dir(opts.get("record_dir") or os.environ.get("SEATS_RECORD_DIR"))
        cache_root = opts.get("feature_cache", os.environ.get("SEATS_ENCODER_CACHE"))
        if cache_root and str(cache_root).lower() not in ("off", "none", "false", "0"):
            check_writable(Path(cache_root), "the encoder feature cache folder")
        else:
            cache_root = None
        acc = parallel.make_accelerator()  # data parallel (models/parallel.py); None in one process
        if acc is not None:
            if device_map is not None:
                raise ConfigError("device_map under data parallel: each process holds a whole replica on "
                                  "its own device; use one process with device_map=auto instead")
            self.accelerator = acc  # lmms-eval's evaluator gathers and waits through it
            self._device = parallel.rank_device(acc, device)
        else:
            if device is None or (str(device).startswith("cuda") and not torch.cuda.is_available()):
                device = "cuda" if torch.cuda.is_available() else "cpu"
            if device_map is None and self.cfg.device_map and torch.cuda.device_count() > 1:
                device_map = self.cfg.device_map  # e.g. the 30B MoE thinker spans GPUs
            self._device = torch.device(device)
        if dtype == "auto":
            dtype = torch.bfloat16 if self._device.type == "cuda" else torch.float32
        else:
            dtype = getattr(torch, dtype)
        self.thinker = load_thinker(self.pretrained, dtype, device_map, opts.get("attn_implementation") or _default_attn())
        if device_map is None:
            self.thinker.to(self._device)
        else:  # inputs go where the embeddings live
            self._device = self.thinker.get_input_embeddings().weight.device
        self.pipeline = SamplePipeline(self.thinker, self.cfg.window)  # refuses another interleaving
        self.cfg.check_depth(self.pipeline.adapter.num_layers)
        from transformers import AutoProcessor

        self.processor = AutoProcessor.from_pretrained(self.pretrained)
        self.max_frames = opts.get("max_frames")
        pixels = pixel_budget(self.processor, self.cfg, min_pixels=opts.get("min_pixels"),
                              max_pixels=opts.get("max_pixels"), total_pixels=opts.get("total_pixels"))
        self.encoder = SampleEncoder(self.pipeline.adapter, self.processor, self.cfg, self.method,
                                     fps=float(opts.get("fps") or self.cfg.fps), pixels=pixels,
                                     cache=self._open_feature_cache(cache_root), device=self._device,
                                     dtype=self.thinker.dtype)
        # prefix sharing (runtime/prefix.py): a video's questions run together, its media prefix prefilled once
        self.shared = SharedPrefix() if opts.get("prefix_sharing", PREFIX_SHARING) else None
        self.system_prompt = opts.get("system_prompt", "auto")
        self.max_new_tokens = opts.get("max_new_tokens")
        tok = self.processor.tokenizer
        self.eos_ids = sorted({i for i in (tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>"),
                                           tok.convert_tokens_to_ids("<|endoftext|>")) if isinstance(i, int)})
        self.failures: list[dict[str, Any]] = []
        self.records: list[dict[str, Any]] = []
        self._rank, self._world_size = (0, 1) if acc is None else (acc.process_index, acc.num_processes)
        logger.info(f"seats-eval: {self.method_id} on {self.pretrained} ({self.method.describe()})")

    def _open_feature_cache(self, root: str | None) -> Any:
        """The cache at `root` (`feature_cache=DIR` or $SEATS_ENCODER_CACHE, set by sweeps; None:
        off, which __init__ decided from off / none / false / 0)."""
        if root is None:
            return None
        from ..driver.feature_cache import FeatureCache, model_identity

        logger.info(f"seats-eval: encoder feature cache at {root}")
        return FeatureCache(root, model_identity(self.pretrained, self.thinker))

    def _open_record_dir(self, folder: str | None) -> Path | None:
        """The record folder, checked writable; one that already holds an earlier run's rows
        is refused, so that two runs' rows never mix in one file."""
        if not folder:
            return None
        path = Path(folder)
        check_writable(path, "the record directory")
        old = sorted(p.name for pattern in ("records*.jsonl", "failures*.jsonl") for p in path.glob(pattern))
        if old:
            raise ConfigError(f"the record directory {path} already holds {', '.join(old)} of an earlier run; "
                              "give each run its own record_dir (or move those files away)")
        return path

    def provenance(self) -> dict[str, Any]:
        """What every record row says about the run that wrote it."""
        about = self.method.describe()
        return {"run_id": self.run_id, "model": type(self).__name__.removeprefix("Model_"),
                "pretrained": self.pretrained, "method": self.method_id, "R": about.get("R"),
                "profile": self.method.profile}

    # lmms-eval plumbing ------------------------------------------------------------------
    @property
    def model(self):
        return self.thinker

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    @property
    def device(self):
        return self._device

    @property
    def batch_size(self) -> int:
        return 1

    @property
    def rank(self) -> int:
        return self._rank

    @property
    def world_size(self) -> int:
        return self._world_size

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        raise NotImplementedError("seats-eval models answer generation tasks only")

    def generate_until_multi_round(self, requests: list[Instance]) -> list[str]:
        raise NotImplementedError("seats-eval models answer single-round tasks only")

    # per-task settings ---------------------------------------------------------------------
    def max_frames_for(self, task_cap: int | None) -> int:
        """The `max_frames` model arg, else the task's cap (carried by its messages) within
        the backbone's limit (BackboneConfig.frame_cap)."""
        if self.max_frames is not None:
            return int(self.max_frames)
        return self.cfg.frame_cap(task_cap)

    def system_prompt_for(self, task_system: str | None) -> str:
        """The system text sent: the `system_prompt` model arg unless "auto" (a preset name
        or literal text; "" is an empty system turn), else the task's system turn, else
        Qwen's default prompt (a chat request from a task with no system turn)."""
        if self.system_prompt != "auto":
            return prompts.resolve_system_prompt(self.system_prompt) or ""
        if task_system is not None:
            return task_system
        return prompts.PRESETS[prompts.DEFAULT_SYSTEM]

    # the work --------------------------------------------------------------------------------
    def generate_until(self, requests: list[Instance]) -> list[GenerationOutput]:
        """Answers, each with its token counts (lmms-eval's `efficiency` block); the run's
        token and cost figures go to lmms-eval's `throughput` block (models/efficiency.py)."""
        # every distinct --gen_kwargs checked before the first sample runs
        decodings = {id(req): Decoding.from_gen_kwargs(dict(req.args[2]), torch.initial_seed()) for req in requests}
        start, draws, repeat = len(self.records), Counter(), []
        for req in requests:  # the n-th copy of a repeated request draws anew
            repeat.append(draws[req.args[3:6]])
            draws[req.args[3:6]] += 1
        if self.shared is not None and self.world_size > 1:  # a video's requests on one rank
            out = self._generate_spread(requests, decodings, repeat)
        else:
            out = self._generate_here(requests, decodings, repeat)
        parallel.finish(getattr(self, "accelerator", None), self.rank, self.world_size, self.record_dir,
                        list(dict.fromkeys(req.args[4] for req in requests)))
        efficiency.log_run(self.records[start:])
        self._flush_summary()
        return out

    def _generate_here(self, requests: list[Instance], decodings: dict[int, Decoding],
                       repeat: list[int]) -> list[Any]:
        """This process runs the requests it was given (with prefix sharing, one video's
        together: answers still in request order)."""
        groups = (parallel.video_groups([self._video_of(req) for req in requests]) if self.shared is not None
                  else [[i] for i in range(len(requests))])
        out: list[Any] = [None] * len(requests)
        bar = tqdm(total=len(requests), desc=f"{self.method_id}", disable=self.rank != 0)
        for group in groups:
            for i in group:
                req = requests[i]
                _, doc_to_messages, gen_kwargs, doc_id, task, split = req.args
                answer, rec = self._answer(doc_to_messages, dict(gen_kwargs), doc_id, task, split,
                                           record=not parallel.is_padding(req),
                                           decoding=replace(decodings[id(req)], draw=repeat[i]))
                out[i] = efficiency.result(answer, rec)
                bar.update()
            if self.shared is not None:
                self.shared.clear()  # one video's prefix in memory at a time
        bar.close()
        return out

    def _generate_spread(self, requests: list[Instance], decodings: dict[int, Decoding],
                         repeat: list[int]) -> list[Any]:
        """Data parallel with prefix sharing: the ranks exchange their requests' descriptions,
        compute the video groups `parallel.assign` gives them (rows written by the rank that
        computed them), then exchange the answers; each rank returns its own requests',
        in its order (padding copies: their original's)."""
        from accelerate.utils import gather_object

        mine = [parallel.Work(self.rank, i, req.args[4], req.args[5], req.args[3], dict(req.args[2]),
                              repeat[i], decodings[id(req)].seed,
                              None if parallel.is_padding(req) else self._video_of(req), parallel.is_padding(req))
                for i, req in enumerate(requests)]
        # lmms-eval hands the task's own doc_to_messages with every request: one per task
        messages_of: dict[str, Any] = {}
        for req in requests:
            if messages_of.setdefault(req.args[4], req.args[1]) != req.args[1]:
                raise RuntimeError(f"two doc_to_messages for task {req.args[4]} on rank {self.rank}")
        works = gather_object(mine)
        done: list[tuple[int, int, Any]] = []
        plan = parallel.assign(works, self.world_size)[self.rank]
        bar = tqdm(total=sum(map(len, plan)), desc=f"{self.method_id}", disable=self.rank != 0)
        for group in plan:
            for w in group:
                decoding = replace(Decoding.from_gen_kwargs(dict(w.gen_kwargs), w.seed), draw=w.draw)
                answer, rec = self._answer(messages_of[w.task], dict(w.gen_kwargs), w.doc_id, w.task, w.split,
                                           decoding=decoding)
                done.append((w.rank, w.index, efficiency.result(answer, rec)))
                bar.update()
            self.shared.clear()  # one video's prefix in memory at a time
        bar.close()
        answers = {index: res for rank, index, res in gather_object(done) if rank == self.rank}
        for index, source in parallel.padding_sources(mine).items():
            answers[index] = answers[source]
        if sorted(answers) != list(range(len(requests))):
            raise RuntimeError(f"rank {self.rank}: {len(answers)} answers for {len(requests)} requests")
        return [answers[i] for i in range(len(requests))]

    def _video_of(self, req: Instance) -> tuple[str, str, str] | None:
        """(task, split, video path) of a request; None when its messages name no usable video
        (`_answer` reports that sample)."""
        _, doc_to_messages, _, doc_id, task, split = req.args
        try:
            _, visuals, _ = prompts.read_messages(doc_to_messages(self.task_dict[task][split][doc_id]))
        except DataError:
            return None
        return (task, split, str(visuals[0])) if visuals else None

    def _answer(self, doc_to_messages, gen_kwargs, doc_id, task, split, record: bool = True,
                decoding: Decoding = GREEDY) -> tuple[str, dict[str, Any] | None]:
        """(the answer, its record row; None when the sample failed)."""
        from ..bench.flops import prefill_flops

        sample = f"{task}/{split}/{doc_id}"
        path = ""
        try:
            messages = doc_to_messages(self.task_dict[task][split][doc_id])
            task_system, visuals, context = prompts.read_messages(messages)
            if not visuals:
                raise DataError(f"{sample}: the task returned no video")
            path = str(visuals[0])
            max_frames = self.max_frames_for(prompts.frame_cap(messages))
            system_prompt = self.system_prompt_for(task_system)
            enc = self.encoder.encode(path, context, system_prompt, max_frames, sample)
            max_new = int(self.max_new_tokens or gen_kwargs.get("max_new_tokens", 32))
            t0 = time.perf_counter()
            res = self.pipeline.run(enc.inputs, enc.features, self.method, encode_s=enc.encode_s,
                                    max_new_tokens=max_new, eos_token_ids=self.eos_ids, sample=sample,
                                    decoding=decoding, shared=self.shared)
            answer = self.processor.tokenizer.decode(
                [t for t in res.tokens if t not in self.eos_ids], skip_special_tokens=True
            ).strip()
            rec = res.record.as_log()
            text_config = self.thinker.config.text_config
            rec.update({"task": task, "doc_id": doc_id, "video": path, **enc.media_info,
                        "system_prompt": system_prompt, "encoder_cache": enc.cache_hit,
                        "shared_prefix_tokens": res.extras["shared_tokens"],
                        "tflops": prefill_flops(text_config, res.record.layer_counts) / 1e12,
                        "tflops_true": prefill_flops(text_config, res.record.layer_counts, "true") / 1e12,
                        "seconds": time.perf_counter() - t0, "answer": answer, "output_tokens": len(res.tokens),
                        **decoding.describe()})
            if record:  # not a rank-padding copy (models/parallel.py)
                self._write("records", rec)
                self.records.append(rec)
            return answer, rec
        except DataError as exc:  # the sample's own data; anything else is a bug and propagates
            msg = f"{sample} ({path or 'no video'}): {type(exc).__name__}: {exc}"
            logger.error(f"seats-eval: sample failed: {msg}")
            fail = {"task": task, "doc_id": doc_id, "video": path, "error": f"{type(exc).__name__}: {exc}"}
            if record:
                self.failures.append(fail)
                self._write("failures", fail)
            return f"{FAILURE_MARKER} {msg}", None

    def _write(self, name: str, row: dict[str, Any]) -> None:
        if self.record_dir is None:
            return
        self.record_dir.mkdir(parents=True, exist_ok=True)
        with open(self.record_dir / parallel.row_file(name, self.rank, self.world_size), "a") as f:
            f.write(json.dumps({**self.provenance(), **row}, default=str) + "\n")

    def _flush_summary(self) -> None:
        n = len(self.records)
        mean = f", mean prefill {sum(r['tflops'] for r in self.records) / n:.3f} TFLOPs" if n else ""
        logger.info(f"seats-eval: {n} samples answered{mean}, {len(self.failures)} failed")
        if self.failures:
            logger.warning(f"seats-eval: {len(self.failures)} failed sample(s): "
                           + "; ".join(f["video"] or str(f["doc_id"]) for f in self.failures[:5]))
