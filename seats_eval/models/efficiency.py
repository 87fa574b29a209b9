"""Per-sample cost figures handed to lmms-eval through its own channels, so its results JSON
carries them whether the run was started by `lmms-eval` or `seats-eval eval`:

- each answer is a `GenerationResult` with `TokenCounts` (tokens of the full prompt in, tokens
  generated out): lmms-eval sums them into the results' `efficiency` block;
- each `generate_until` call logs its means through `log_metrics`: lmms-eval puts them in the
  results' `throughput` block as `avg_<name>` (media tokens in / entering the LLM / mean per
  layer / at the last layer, prefill TFLOPs in the paper's and the true convention, encoder,
  selection and prefill milliseconds).

`records.jsonl` keeps the same figures per sample.
"""

from __future__ import annotations

from typing import Any

from lmms_eval.api.instance import GenerationResult, TokenCounts


def _media(counts: list[int]) -> int:
    return int(sum(counts[1:]))  # (text, video, audio): video + audio


def result(answer: str, rec: dict[str, Any] | None) -> GenerationResult:
    """The answer with its token counts (none for a failed sample: it never ran)."""
    if rec is None:
        return GenerationResult(text=answer)
    return GenerationResult(text=answer, token_counts=TokenCounts(input_tokens=int(sum(rec["input_counts"])),
                                                                  output_tokens=int(rec["output_tokens"])))


def sample_figures(rec: dict[str, Any]) -> dict[str, float]:
    """One sample's cost figures (the names of the `throughput` block, without `avg_`)."""
    layers = rec["layer_counts"] or [rec["llm_input_counts"]]
    timings = rec["timings"]
    return {
        "media_tokens_in": _media(rec["input_counts"]),
        "media_tokens_llm_input": _media(rec["llm_input_counts"]),
        "media_tokens_per_layer": sum(_media(c) for c in layers) / len(layers),
        "media_tokens_last_layer": _media(layers[-1]),
        "prefill_tflops": float(rec["tflops"]),
        "prefill_tflops_true": float(rec["tflops_true"]),
        "encode_ms": 1e3 * timings.get("encode_s", 0.0),
        "select_ms": 1e3 * (timings.get("pre_llm_s", 0.0) + timings.get("inner_select_s", 0.0)),
        "prefill_ms": 1e3 * timings.get("prefill_s", 0.0),
    }


def run_figures(recs: list[dict[str, Any]]) -> dict[str, float]:
    """Means over the samples that ran (failed ones have no figures)."""
    rows = [sample_figures(r) for r in recs]
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]} if rows else {}


def log_run(recs: list[dict[str, Any]]) -> None:
    """Hand one `generate_until` call's figures to lmms-eval's throughput summary."""
    if not recs:
        return
    from lmms_eval.models.model_utils.gen_metrics import log_metrics

    seconds = sum(r["seconds"] for r in recs)
    out_tokens = sum(int(r["output_tokens"]) for r in recs)
    log_metrics(total_elapsed_time=seconds, total_gen_tokens=out_tokens,
                avg_speed=out_tokens / seconds if seconds > 0 else 0.0,
                additional_metrics={"total_requests": len(recs), **run_figures(recs)})
