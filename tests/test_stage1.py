"""The official Stage I (select.diversity.official_stage1, the product path) computes the
authors' distance matrices bit for bit (torch.equal against `authors_distances` on the
windows the authors' order gathers) and keeps what their order keeps (`authors_stage1`, the
oracle), on every layout shape the views and the gather path meet, fp32 and bf16, and
`seats-eval bench stage1` reports both on identical tensors."""

from __future__ import annotations

import json

import pytest
import torch

from seats_eval.bench.stage1 import bench_stage1, count_ops, stage1_inputs
from seats_eval.select.diversity import (
    Tiling,
    authors_distances,
    authors_stage1,
    official_stage1,
    stage1_groups,
    tile_counts,
    tile_windows,
)


def _tiling(pos: torch.Tensor, size: int, ratio: float, weights: torch.Tensor | None) -> Tiling:
    sizes = tile_windows(pos.numel(), size)
    return Tiling(pos, sizes, tile_counts(sizes, ratio), weights)


def _interleaved(windows: int, n_v: int, n_a: int, text: int = 5, last: tuple[int, int] | None = None,
                 ) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Video and audio positions of text + windows x (n_v video, n_a audio) + text; `last`:
    the last window's (video, audio) counts when shorter."""
    runs = [(n_v, n_a)] * windows if last is None else [(n_v, n_a)] * (windows - 1) + [last]
    v, a, s = [], [], text
    for nv, na in runs:
        v.append(torch.arange(nv) + s)
        a.append(torch.arange(na) + s + nv)
        s += nv + na
    return torch.cat(v), torch.cat(a), s + text


def _case(shape: str, seed: int, dtype: torch.dtype) -> tuple[torch.Tensor, list[Tiling]]:
    g = torch.Generator().manual_seed(seed)
    if shape == "interleaved":  # equally spaced runs: strided views, no gather; short last tiles
        v, a, S = _interleaved(5, 24, 10, last=(13, 4))
        v_size, a_size = 24, 10
    elif shape == "leftover":  # tiles of 2 grids over runs of 1: windows straddle runs (gather)
        v, a, S = _interleaved(5, 12, 7)
        v_size, a_size = 24, 10
    else:  # random positions: the gather path
        perm = torch.randperm(200, generator=g)
        v, a, S = perm[:90].sort().values, perm[90:150].sort().values, 200
        v_size, a_size = 16, 9
    d = 8 if seed % 2 else 64  # narrow widths make near ties likely
    embeds = torch.randn(S, d, generator=g)
    embeds[v[3]] = embeds[v[1]]  # an exact twin: self-distance ties
    embeds = embeds.to(dtype)
    weights = None if seed % 3 == 0 else torch.rand(S, generator=g) * (10.0 if seed % 3 == 2 else 1.0)
    ratio_v, ratio_a = (0.42, 0.91) if seed < 3 else (0.05, 0.5)  # 0.05: k = 1 in every video tile
    tiles = [_tiling(v, v_size, ratio_v, weights[v] if weights is not None else None),
             _tiling(a, a_size, ratio_a, weights[a] if weights is not None else None)]
    return embeds, tiles


def _assert_authors_distances(embeds: torch.Tensor, tiles: list[Tiling]) -> int:
    """Every group's distances equal, bit for bit, the authors' on the same windows: their
    gather of the modality's rows, then of the windows' (`idx`, local to the modality)."""
    _, _, groups = stage1_groups(embeds, tiles)
    for grp in groups:
        t = next(t for t in tiles if bool(torch.isin(grp.rows, t.positions).all()))
        idx = torch.searchsorted(t.positions, grp.rows)
        want = authors_distances(embeds[t.positions][idx], t.weights[idx] if t.weights is not None else None)
        assert grp.dist.dtype == want.dtype == torch.float32
        assert torch.equal(grp.dist, want), f"distances of the ({tuple(grp.rows.shape)}, k={grp.k}) windows differ"
    return len(groups)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shape", ["interleaved", "leftover", "scattered"])
def test_official_stage1_has_the_authors_distances_and_kept_sets(shape, seed, dtype):
    embeds, tiles = _case(shape, seed, dtype)
    assert _assert_authors_distances(embeds, tiles) >= 2  # several (w, k) groups, both modalities
    want = authors_stage1(embeds, tiles)
    got = official_stage1(embeds, tiles)
    assert torch.equal(got, want)
    assert int(got.sum()) == sum(sum(t.counts) for t in tiles)


def test_official_stage1_with_whole_windows_and_single_picks():
    g = torch.Generator().manual_seed(7)
    v, a, S = _interleaved(3, 16, 6)
    for dtype in (torch.float32, torch.bfloat16):
        embeds = torch.randn(S, 32, generator=g).to(dtype)
        tiles = [Tiling(v, [16, 16, 16], [5, 16, 1]), Tiling(a, [6, 6, 6], [7, 2, 1])]  # k >= w: kept whole
        _assert_authors_distances(embeds, tiles)
        keep = official_stage1(embeds, tiles)
        assert torch.equal(keep, authors_stage1(embeds, tiles))
        assert bool(keep[v[16:32]].all()) and bool(keep[a[:6]].all())
        assert int(keep[v[32:]].sum()) == 1 and int(keep[a[12:]].sum()) == 1
    assert not official_stage1(embeds, [Tiling(v, [48], [48])])[a].any()  # nothing to pick: no loop


def test_official_stage1_at_real_width():
    """The backbone's width (3584) on the tiles SEATS cuts from a 4-window synthetic sample."""
    embeds, tiles, _ = stage1_inputs(4, None, 0.35, "qwen2.5-omni-7b", torch.device("cpu"))
    assert embeds.shape[1] == 3584
    assert _assert_authors_distances(embeds, tiles) == 2
    assert torch.equal(official_stage1(embeds, tiles), authors_stage1(embeds, tiles))


def test_official_stage1_loops_once_for_all_windows():
    """Video and audio windows share one greedy loop as long as the largest count: more audio
    picks (below the video's) cost no op more; the authors' loop per size pays for each."""
    g = torch.Generator().manual_seed(0)
    v, a, S = _interleaved(4, 24, 10)
    embeds = torch.randn(S, 16, generator=g)

    def ops(impl, audio_ratio: float) -> int:
        tiles = [_tiling(v, 24, 0.5, None), _tiling(a, 10, audio_ratio, None)]  # 12 video picks per window
        return count_ops(lambda: impl(embeds, tiles))["non_view_ops"]

    assert ops(official_stage1, 0.8) == ops(official_stage1, 0.2)  # 8 or 2 audio picks: the loop runs 12 times
    assert ops(authors_stage1, 0.8) >= ops(authors_stage1, 0.2) + 4 * 6
    assert ops(official_stage1, 0.8) < ops(authors_stage1, 0.8)


def test_bench_stage1_reports_both_on_identical_tensors(tmp_path):
    from seats_eval.cli import main

    rep = bench_stage1(windows=2, hidden=32, repeats=1, warmup=0)
    assert rep["kept_equal"] and rep["old"]["ops"] > rep["new"]["ops"] > 0
    assert rep["ratio"] > 0 and rep["tiles"][0]["sizes"] == [288]
    assert main(["bench", "stage1", "--windows", "1", "--hidden", "16", "--repeats", "1", "--warmup", "0",
                 "--device", "cpu", "--out", str(tmp_path)]) == 0
    out = json.loads((tmp_path / "bench_stage1_cpu.json").read_text())
    assert out["bench"] == "stage1" and "Ratio new / old" in (tmp_path / "bench_stage1_cpu.md").read_text()


def test_bench_stage1_refuses_a_product_path_that_keeps_other_tokens(monkeypatch):
    import seats_eval.bench.stage1 as bench

    def off_by_one(embeds, tiles):
        keep = official_stage1(embeds, tiles)
        keep[tiles[0].positions[0]] ^= True
        return keep

    monkeypatch.setattr(bench, "official_stage1", off_by_one)
    with pytest.raises(RuntimeError, match="1 tokens differently"):
        bench.bench_stage1(windows=1, hidden=16, repeats=1, warmup=0)


def test_bench_select_keeps_its_figures_when_stage1_differs(monkeypatch, tmp_path):
    """`bench select --stage1` (the GPU script's select stage): a Stage I that keeps other tokens
    is an error row and a non-zero exit, and the selection figures are still written."""
    import seats_eval.bench.stage1 as bench
    from seats_eval.cli import main

    def off_by_one(embeds, tiles):
        keep = official_stage1(embeds, tiles)
        keep[tiles[0].positions[0]] ^= True
        return keep

    monkeypatch.setattr(bench, "official_stage1", off_by_one)
    assert main(["bench", "select", "--stage1", "--methods", "seats@0.35", "--windows", "1", "--hidden", "16",
                 "--repeats", "1", "--warmup", "0", "--device", "cpu", "--out", str(tmp_path)]) == 1
    out = json.loads((tmp_path / "bench_select_cpu.json").read_text())
    assert [r["method"] for r in out["results"]] == ["seats", "stage1 (new vs old)"]
    assert "differently" in out["results"][1]["error"] and "error" not in out["results"][0]
    assert "stage1" not in out
