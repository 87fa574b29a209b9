"""The batched Stage I candidate (select.diversity.maxmin_tiles) keeps what the authors-order
code kept (bench.stage1's reference), on every layout shape the views and the gather path
meet, and `seats-eval bench stage1` reports both on identical tensors."""

from __future__ import annotations

import json

import pytest
import torch

from seats_eval.bench.stage1 import bench_stage1, count_ops
from seats_eval.select.diversity import Tiling, maxmin_tiles, tile_counts, tile_windows
from seats_eval.select.diversity import authors_stage1 as reference_stage1


def _tiling(pos: torch.Tensor, size: int, ratio: float, weights: torch.Tensor | None) -> Tiling:
    sizes = tile_windows(pos.numel(), size)
    return Tiling(pos, sizes, tile_counts(sizes, ratio), weights)


def _interleaved(windows: int, n_v: int, n_a: int, text: int = 5) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Video and audio positions of text + windows x (n_v video, n_a audio) + text."""
    S = text + windows * (n_v + n_a) + text
    v = torch.cat([torch.arange(n_v) + text + i * (n_v + n_a) for i in range(windows)])
    a = torch.cat([torch.arange(n_a) + text + i * (n_v + n_a) + n_v for i in range(windows)])
    return v, a, S


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shape", ["interleaved", "leftover", "scattered"])
def test_new_stage1_keeps_the_reference_sets(seed, shape):
    g = torch.Generator().manual_seed(seed)
    if shape == "interleaved":  # equally spaced runs: strided views, no copy
        v, a, S = _interleaved(4, 24, 10)
        v_size, a_size = 24, 10
    elif shape == "leftover":  # tiles of 2 grids over runs of 1: windows straddle runs; short last tiles
        v, a, S = _interleaved(5, 12, 7)
        v_size, a_size = 24, 10
    else:  # random positions: the gather path
        perm = torch.randperm(200, generator=g)
        v, a, S = perm[:90].sort().values, perm[90:150].sort().values, 200
        v_size, a_size = 16, 9
    d = 8 if seed % 2 else 64  # narrow widths make near ties likely
    embeds = torch.randn(S, d, generator=g)
    embeds[v[3]] = embeds[v[1]]  # an exact twin: self-distance ties
    weights = None if seed % 3 == 0 else torch.rand(S, generator=g) * (10.0 if seed % 3 == 2 else 1.0)
    ratio_v, ratio_a = (0.42, 0.91) if seed < 3 else (0.2, 0.5)
    tiles = [_tiling(v, v_size, ratio_v, weights[v] if weights is not None else None),
             _tiling(a, a_size, ratio_a, weights[a] if weights is not None else None)]
    want = reference_stage1(embeds, tiles)
    got = maxmin_tiles(embeds, tiles)
    assert torch.equal(got, want)
    assert int(got.sum()) == sum(sum(t.counts) for t in tiles)


def test_new_stage1_in_bf16_and_with_whole_windows():
    g = torch.Generator().manual_seed(7)
    v, a, S = _interleaved(3, 16, 6)
    embeds = torch.randn(S, 32, generator=g).to(torch.bfloat16)
    tiles = [Tiling(v, [16, 16, 16], [5, 16, 3]), Tiling(a, [6, 6, 6], [6, 2, 1])]  # k = w: kept whole
    assert torch.equal(maxmin_tiles(embeds, tiles), reference_stage1(embeds, tiles))
    assert bool(maxmin_tiles(embeds, tiles)[v[16:32]].all())


def test_new_stage1_loops_once_for_all_windows():
    """Video and audio windows share one greedy loop as long as the largest count: more audio
    picks (below the video's) cost no op more; the reference's loop per size pays for each."""
    g = torch.Generator().manual_seed(0)
    v, a, S = _interleaved(4, 24, 10)
    embeds = torch.randn(S, 16, generator=g)

    def ops(impl, audio_ratio: float) -> int:
        tiles = [_tiling(v, 24, 0.5, None), _tiling(a, 10, audio_ratio, None)]  # 12 video picks per window
        return count_ops(lambda: impl(embeds, tiles))["non_view_ops"]

    assert ops(maxmin_tiles, 0.8) == ops(maxmin_tiles, 0.2)  # 8 or 2 audio picks: the loop runs 12 times
    assert ops(reference_stage1, 0.8) >= ops(reference_stage1, 0.2) + 4 * 6
    assert ops(maxmin_tiles, 0.8) < ops(reference_stage1, 0.8)


def test_bench_stage1_reports_both_on_identical_tensors(tmp_path):
    from seats_eval.cli import main

    rep = bench_stage1(windows=2, hidden=32, repeats=1, warmup=0)
    assert rep["kept_equal"] and rep["old"]["ops"] > rep["new"]["ops"] > 0
    assert rep["ratio"] > 0 and rep["tiles"][0]["sizes"] == [288]
    assert main(["bench", "stage1", "--windows", "1", "--hidden", "16", "--repeats", "1", "--warmup", "0",
                 "--device", "cpu", "--out", str(tmp_path)]) == 0
    out = json.loads((tmp_path / "bench_stage1_cpu.json").read_text())
    assert out["bench"] == "stage1" and "Ratio new / old" in (tmp_path / "bench_stage1_cpu.md").read_text()
