"""Selection algorithms: exact totals, bounds, determinism, hand-checked max-min sets."""

from __future__ import annotations

import random

import pytest
import torch

from seats_eval.errors import ConfigError
from seats_eval.select import (
    allocate_budgets,
    apportion,
    global_topk,
    topk_per_window,
    waterfill,
    weighted_maxmin,
    window_relevance,
)

L = torch.long


def t(*xs, dtype=None) -> torch.Tensor:
    return torch.tensor(xs, dtype=dtype)


# --- apportion -------------------------------------------------------------------------


def test_apportion_hand_examples() -> None:
    big = t(100, 100, 100)
    assert apportion(t(1.0, 2.0, 3.0), 10, big).tolist() == [2, 3, 5]  # 1.67, 3.33, 5
    assert apportion(t(1.0, 1.0, 1.0), 2, big).tolist() == [1, 1, 0]  # tie -> lower index
    assert apportion(t(1.0, 2.0, 3.0), 12, big).tolist() == [2, 4, 6]  # exact proportions
    # cap on the heaviest: the rest re-shares 1:2
    assert apportion(t(1.0, 2.0, 3.0), 10, t(10, 10, 1)).tolist() == [3, 6, 1]
    # floors lift the light entry; the others shrink
    assert apportion(t(0.0, 1.0, 1.0), 4, big, floor=t(2, 0, 0)).tolist() == [2, 1, 1]
    # zero weights only get units once positive ones are full
    assert apportion(t(0.0, 0.0, 1.0), 10, t(3, 10, 2), floor=t(1, 1, 0)).tolist() == [3, 5, 2]
    assert apportion(t(0.0, 0.0, 0.0), 5, big).tolist() == [2, 2, 1]  # uniform
    assert apportion(t(1.0, 1.0), 0, t(5, 5)).tolist() == [0, 0]
    assert apportion(torch.zeros(0), 3, torch.zeros(0, dtype=L)).numel() == 0


def test_apportion_clamps_total() -> None:
    caps, floor = t(2, 3, 4), t(1, 1, 1)
    assert apportion(t(1.0, 1.0, 1.0), 50, caps, floor).tolist() == [2, 3, 4]
    assert apportion(t(1.0, 1.0, 1.0), 1, caps, floor).tolist() == [1, 1, 1]
    assert apportion(t(1.0, 5.0, 1.0), torch.tensor(4), caps, floor).tolist() == [1, 2, 1]


def test_apportion_errors() -> None:
    with pytest.raises(ConfigError, match="floor <= caps"):
        apportion(t(1.0, 1.0), 2, t(1, 1), floor=t(2, 0))
    with pytest.raises(ConfigError, match=">= 0"):
        apportion(t(-1.0, 1.0), 2, t(1, 1))
    with pytest.raises(ConfigError, match="equal shapes"):
        apportion(t(1.0, 1.0), 2, t(1, 1, 1))


def test_apportion_random_property() -> None:
    rng = random.Random(0)
    for _ in range(200):
        W = rng.randint(1, 12)
        caps = torch.tensor([rng.randint(0, 30) for _ in range(W)])
        floor = torch.tensor([rng.randint(0, int(c)) if rng.random() < 0.3 else 0 for c in caps])
        weights = torch.tensor(
            [0.0 if rng.random() < 0.15 else rng.random() ** 3 for _ in range(W)],
            dtype=torch.float64,
        )
        total = rng.randint(0, int(caps.sum()) + 10)
        r = apportion(weights, total, caps, floor)
        assert r.dtype == L
        tgt = max(int(floor.sum()), min(int(caps.sum()), total))
        assert int(r.sum()) == tgt
        assert bool((r >= floor).all()) and bool((r <= caps).all())
        x = waterfill(weights, tgt, floor, caps)
        assert float(x.sum()) == pytest.approx(tgt, abs=1e-6)
        assert bool(((r.double() - x).abs() < 1 + 1e-9).all())  # largest remainder: |r-x| < 1
        if bool((weights > 0).all()) and int(floor.sum()) == 0 and total <= int(caps.min()):
            ideal = total * weights / weights.sum()  # caps cannot bind
            assert bool(((r.double() - ideal).abs() < 1).all())


# --- weighted max-min diversity --------------------------------------------------------


def _points() -> torch.Tensor:
    """Three near-duplicates around x (a1, a2, a3), B on y and C roughly on z."""
    return torch.tensor(
        [
            [1.0, 0.0, 0.0],  # a1
            [1.0, 0.05, 0.0],  # a2
            [1.0, 0.0, 0.02],  # a3
            [0.0, 1.0, 0.0],  # B
            [0.0, -0.3, 1.0],  # C
        ]
    )[None]


def _reference_maxmin(feats, k, a=None, valid=None) -> set[int]:
    """Naive per-window greedy, written independently for comparison."""
    n = feats.shape[0]
    idx = [i for i in range(n) if valid is None or bool(valid[i])]
    if k >= len(idx):
        return set(idx)
    if k == 0:
        return set()
    f = torch.nn.functional.normalize(feats.float(), dim=-1, eps=1e-8)
    d = (1 - f @ f.T).clamp_min(0)
    w = torch.ones(n) if a is None else a.float()
    first = max(idx, key=lambda j: (w[j] * min(d[i, j] for i in idx if i != j), -j))
    sel = [first]
    while len(sel) < k:
        cand = [j for j in idx if j not in sel]
        sel.append(max(cand, key=lambda j: (w[j] * min(d[s, j] for s in sel), -j)))
    return set(sel)


def _kept(mask: torch.Tensor) -> set[int]:
    return set(torch.nonzero(mask).flatten().tolist())


def test_maxmin_hand_set() -> None:
    p = _points()
    # C is the most isolated (first), B is farthest from C, then a1 (the a's nearest the pair)
    assert _kept(weighted_maxmin(p, t(1))[0]) == {4}
    assert _kept(weighted_maxmin(p, t(2))[0]) == {3, 4}
    kept3 = _kept(weighted_maxmin(p, t(3))[0])
    assert kept3 == {0, 3, 4}
    assert len(kept3 & {0, 1, 2}) == 1  # the max-min set takes one of the duplicates


def test_maxmin_weights_change_choice() -> None:
    p = _points()
    a = torch.tensor([[1e5, 1.0, 1.0, 2.0, 1.0]])
    # a1's huge weight makes it first; B's weight 2 then beats C
    assert _kept(weighted_maxmin(p, t(2), weights=a)[0]) == {0, 3}
    assert _kept(weighted_maxmin(p, t(2), weights=torch.ones(1, 5))[0]) == {3, 4}
    zero = torch.tensor([[0.0, 0.0, 0.0, 0.0, 0.0]])
    assert _kept(weighted_maxmin(p, t(2), weights=zero)[0]) == {0, 1}  # all ties: lowest


def test_maxmin_k_edges_and_padding() -> None:
    p = _points().expand(4, -1, -1).clone()
    valid = torch.ones(4, 5, dtype=torch.bool)
    valid[2, 3:] = False  # window 2 has 3 real tokens
    valid[3, 1:] = False  # window 3 has one
    keep = weighted_maxmin(p, t(0, 9, 5, 1), valid=valid)
    assert keep[0].sum() == 0
    assert bool(keep[1].all())
    assert _kept(keep[2]) == {0, 1, 2}
    assert _kept(keep[3]) == {0}
    # padding never selected and does not change the result
    keep = weighted_maxmin(p, t(2, 2, 2, 2), valid=valid)
    assert _kept(keep[2]) == _reference_maxmin(p[2], 2, valid=valid[2])
    assert _kept(keep[2]) <= {0, 1, 2}
    with pytest.raises(ConfigError):
        weighted_maxmin(p, t(1, 1))


def test_maxmin_batched_equals_per_window_and_reference() -> None:
    g = torch.Generator().manual_seed(0)
    W, n, d = 6, 12, 8
    feats = torch.randn(W, n, d, generator=g)
    a = torch.rand(W, n, generator=g)
    valid = torch.rand(W, n, generator=g) > 0.2
    k = torch.tensor([0, 1, 3, 5, 7, 12])
    batched = weighted_maxmin(feats, k, weights=a, valid=valid)
    for w in range(W):
        single = weighted_maxmin(feats[w : w + 1], k[w : w + 1], a[w : w + 1], valid[w : w + 1])
        assert torch.equal(batched[w], single[0])
        assert _kept(batched[w]) == _reference_maxmin(feats[w], int(k[w]), a[w], valid[w])
        assert int(batched[w].sum()) == min(int(k[w]), int(valid[w].sum()))
    plain = weighted_maxmin(feats, k, valid=valid)
    for w in range(W):
        assert _kept(plain[w]) == _reference_maxmin(feats[w], int(k[w]), None, valid[w])


# --- relevance -------------------------------------------------------------------------


def test_window_relevance() -> None:
    scores = t(1.0, 3.0, 2.0, 2.0, 9.0, 5.0, 100.0)
    window = t(0, 0, 1, 1, 3, 3, -1, dtype=L)
    member = t(True, True, True, True, False, True, False)
    S = window_relevance(scores, window, 4, member, tau=0.5)
    # means: w0 = 2, w1 = 2, w2 empty, w3 = 5 (token 4 is not a member)
    logits = torch.tensor([2.0, 2.0, 5.0]) / 0.5
    expected = torch.softmax(logits, 0)
    assert S[2] == 0
    assert torch.allclose(S[[0, 1, 3]], expected)
    assert float(S.sum()) == pytest.approx(1.0)
    none = window_relevance(scores, window, 4, torch.zeros(7, dtype=torch.bool), 0.1)
    assert none.tolist() == [0.0] * 4
    with pytest.raises(ConfigError, match="tau"):
        window_relevance(scores, window, 4, member, 0.0)


# --- top-k -----------------------------------------------------------------------------


def test_topk_per_window_basic_and_ties() -> None:
    scores = t(0.5, 0.5, 0.9, 0.1, 0.5, 0.3, 0.7, 0.7)
    window = t(0, 0, 0, 1, 1, 1, -1, 1, dtype=L)
    member = t(True, True, True, True, True, True, False, True)
    keep = topk_per_window(scores, window, t(2, 2, dtype=L), member)
    # window 0: 0.9 then the tie 0.5/0.5 -> lower index 0; window 1: 0.7, 0.5
    assert _kept(keep) == {2, 0, 7, 4}
    keep = topk_per_window(scores, window, t(0, 10, dtype=L), member)
    assert _kept(keep) == {3, 4, 5, 7}  # non-member 6 never kept
    assert not bool(topk_per_window(scores, window, t(0, 0, dtype=L), member).any())


def test_topk_permutation_invariant() -> None:
    g = torch.Generator().manual_seed(1)
    S, W = 200, 7
    scores = torch.rand(S, generator=g)
    window = torch.randint(0, W, (S,), generator=g)
    member = torch.rand(S, generator=g) > 0.1
    budget = torch.randint(0, 40, (W,), generator=g)
    keep = topk_per_window(scores, window, budget, member)
    sizes = torch.bincount(window[member], minlength=W)
    assert torch.equal(torch.bincount(window[keep], minlength=W), torch.minimum(budget, sizes))
    for w in range(W):  # the kept ones are the best of their window
        m = member & (window == w)
        if bool(keep[m].any()) and bool((m & ~keep).any()):
            assert float(scores[keep & m].min()) > float(scores[m & ~keep].max())
    perm = torch.randperm(S, generator=g)
    keep_p = topk_per_window(scores[perm], window[perm], budget, member[perm])
    assert torch.equal(keep_p, keep[perm])


def test_global_topk() -> None:
    scores = t(0.2, 0.9, 0.9, 0.1, 0.8)
    member = t(True, True, True, True, False)
    assert _kept(global_topk(scores, member, 2)) == {1, 2}
    assert _kept(global_topk(scores, member, 1)) == {1}
    assert _kept(global_topk(scores, member, 9)) == {0, 1, 2, 3}


# --- allocation ------------------------------------------------------------------------


def test_allocation_eq1_hand_example() -> None:
    # S_t = (.65, .35); B_t = 120 S_t = (78, 42); Eq. 1 video (69.33, 28) misses 2.67 tokens,
    # re-allocated by S_t: (71.07, 28.93); audio loses the same: (6.93, 13.07).
    S_tv, S_ta = t(0.8, 0.2), t(0.5, 0.5)
    n_v, n_a = t(1000, 1000), t(500, 500)
    B_v, B_a = allocate_budgets(S_tv, S_ta, n_v, n_a, 100, 20)
    assert B_v.tolist() == [71, 29] and B_a.tolist() == [7, 13]
    assert (B_v + B_a).tolist() == [78, 42]


def _random_case(rng: random.Random):
    W = rng.randint(1, 9)
    n_v = torch.tensor([rng.choice([0, 3, 288, 288, 100]) for _ in range(W)])
    n_a = torch.tensor([rng.choice([0, 1, 50, 50]) for _ in range(W)])
    S_tv = torch.softmax(torch.randn(W), 0) * (n_v > 0)
    S_ta = torch.softmax(torch.randn(W), 0) * (n_a > 0)
    K_v = rng.randint(0, int(n_v.sum()) + 5)
    K_a = rng.randint(0, int(n_a.sum()) + 5)
    return S_tv, S_ta, n_v, n_a, K_v, K_a


@pytest.mark.parametrize(
    "switches",
    [
        {},
        {"inter_window": False},
        {"intra_window": False},
        {"coupled": False},
        {"coupled": False, "inter_window": False},
    ],
)
def test_allocation_invariants(switches: dict) -> None:
    rng = random.Random(7)
    torch.manual_seed(7)
    for _ in range(60):
        S_tv, S_ta, n_v, n_a, K_v, K_a = _random_case(rng)
        B_v, B_a = allocate_budgets(S_tv, S_ta, n_v, n_a, K_v, K_a, **switches)
        for B, n, K in ((B_v, n_v, K_v), (B_a, n_a, K_a)):
            assert B.dtype == L
            assert int(B.sum()) == min(K, int(n.sum()))
            assert bool((B >= 0).all()) and bool((B <= n).all())
            if min(K, int(n.sum())) >= int((n > 0).sum()):
                assert bool((B[n > 0] >= 1).all())


def test_allocation_single_window_and_missing_audio() -> None:
    B_v, B_a = allocate_budgets(t(1.0), t(1.0), t(288), t(50), 100, 20)
    assert (B_v.tolist(), B_a.tolist()) == ([100], [20])
    B_v, B_a = allocate_budgets(t(1.0), t(0.0), t(288), t(0), 500, 20)
    assert (B_v.tolist(), B_a.tolist()) == ([288], [0])
    # window 2 has no audio: it gets none, and the audio total still lands exactly
    S_tv, S_ta = t(0.3, 0.3, 0.4), t(0.5, 0.5, 0.0)
    B_v, B_a = allocate_budgets(S_tv, S_ta, t(288, 288, 288), t(50, 50, 0), 300, 40)
    assert B_a[2] == 0 and int(B_a.sum()) == 40 and int(B_v.sum()) == 300


def _case():
    """Three equal windows; no cap or zero bound binds, which isolates each switch.

    Default: S_t = (.4, .3, .3), B_t = (120, 90, 90); Eq. 1 video (104.3, 72, 60) is 3.65
    short, moved from audio to video in proportion to S_t (window totals kept).
    """
    S_tv = t(0.5, 0.3, 0.2)
    S_ta = t(0.3, 0.3, 0.4)
    n = t(1000, 1000, 1000), t(1000, 1000, 1000)
    return S_tv, S_ta, n[0], n[1], 240, 60


def test_allocation_inter_window_switch() -> None:
    S_tv, S_ta, n_v, n_a, K_v, K_a = _case()
    B_v, B_a = allocate_budgets(S_tv, S_ta, n_v, n_a, K_v, K_a)
    U_v, U_a = allocate_budgets(S_tv, S_ta, n_v, n_a, K_v, K_a, inter_window=False)
    tot, utot = (B_v + B_a).tolist(), (U_v + U_a).tolist()
    assert max(utot) - min(utot) <= 1  # equal windows: equal budgets
    assert tot == [120, 90, 90]  # relevance-driven by default
    # intra-window split still follows S_tv / S_ta
    frac = U_v.double() / (U_v + U_a)
    assert frac[0] > frac[1] > frac[2]


def test_allocation_intra_window_switch() -> None:
    S_tv, S_ta, n_v, n_a, K_v, K_a = _case()
    B_v, B_a = allocate_budgets(S_tv, S_ta, n_v, n_a, K_v, K_a)
    I_v, I_a = allocate_budgets(S_tv, S_ta, n_v, n_a, K_v, K_a, intra_window=False)
    # window totals (inter-window level) unchanged ...
    assert all(
        abs(x - y) <= 1 for x, y in zip((B_v + B_a).tolist(), (I_v + I_a).tolist(), strict=True)
    )
    # ... but the split follows K_v : K_a = 4 : 1 in every window
    frac = I_v.double() / (I_v + I_a)
    assert bool(((frac - 0.8).abs() < 0.02).all())
    assert not torch.equal(B_v, I_v)


def test_allocation_decoupled_switch() -> None:
    S_tv, S_ta, n_v, n_a, K_v, K_a = _case()
    D_v, D_a = allocate_budgets(S_tv, S_ta, n_v, n_a, K_v, K_a, coupled=False)
    assert D_v.tolist() == apportion(S_tv, K_v, n_v).tolist() == [120, 72, 48]
    assert D_a.tolist() == apportion(S_ta, K_a, n_a).tolist() == [18, 18, 24]
    # decoupled video ignores audio relevance; coupled does not
    S_ta2 = t(0.7, 0.2, 0.1)
    assert torch.equal(allocate_budgets(S_tv, S_ta2, n_v, n_a, K_v, K_a, coupled=False)[0], D_v)
    assert not torch.equal(
        allocate_budgets(S_tv, S_ta2, n_v, n_a, K_v, K_a)[0],
        allocate_budgets(S_tv, S_ta, n_v, n_a, K_v, K_a)[0],
    )


def test_allocation_clamps_and_errors() -> None:
    B_v, B_a = allocate_budgets(t(0.5, 0.5), t(0.5, 0.5), t(10, 10), t(2, 2), 1000, 1000)
    assert (B_v.tolist(), B_a.tolist()) == ([10, 10], [2, 2])
    with pytest.raises(ConfigError, match="one entry per window"):
        allocate_budgets(t(0.5, 0.5), t(1.0), t(10, 10), t(2, 2), 5, 1)
    with pytest.raises(ConfigError, match=">= 0"):
        allocate_budgets(t(1.0), t(1.0), t(10), t(2), -1, 1)
