"""The authors' Stage II allocation on the device (select/allocation.py `allocate_combined`,
closed form, no host read) equals their one-token-at-a-time host loop
(tests/authors_allocation.py, the code the product ran before issue 28) bit for bit, on
random cases built to hit every branch: ties (equal scores), caps (windows smaller than
their share), absent modalities (per window and per sample), surplus and deficit of every
size, W = 1, 2 and large W; and padding windows (`present`) change nothing."""

from __future__ import annotations

import random

import pytest
import torch

from seats_eval.select.allocation import allocate_combined

from .authors_allocation import allocate


def _case(rng: random.Random, g: torch.Generator, W: int):
    n_max_v, n_max_a = rng.choice([1, 2, 5, 50, 300]), rng.choice([1, 2, 5, 50])
    n_v = torch.randint(0, n_max_v + 1, (W,), generator=g)
    n_a = torch.randint(0, n_max_a + 1, (W,), generator=g)
    kind = rng.random()
    if kind < 0.15:
        n_a.zero_()  # no audio in the sample
    elif kind < 0.25:
        n_v.zero_()
    elif kind < 0.45:
        n_v[rng.randrange(W)] = 0  # a window without video
    N_v, N_a = int(n_v.sum()), int(n_a.sum())
    K_v = rng.randint(min(1, N_v), N_v) if rng.random() < 0.7 else min(N_v, rng.randint(0, 3))
    K_a = rng.randint(min(1, N_a), N_a) if rng.random() < 0.7 else min(N_a, rng.randint(0, 3))
    scores = rng.random()
    if scores < 0.3:  # every window ties
        p_v, p_a = torch.zeros(W), torch.zeros(W)
    elif scores < 0.5:  # a few distinct values: many ties
        p_v = torch.randint(0, 3, (W,), generator=g).float() * 0.01
        p_a = torch.randint(0, 3, (W,), generator=g).float() * 0.01
    else:
        p_v, p_a = torch.rand(W, generator=g) * 0.1, torch.rand(W, generator=g) * 0.1
    p_v, p_a = torch.where(n_v > 0, p_v, 0.0), torch.where(n_a > 0, p_a, 0.0)  # mean of no tokens: 0
    return p_v, p_a, n_v, n_a, K_v, K_a, rng.choice([0.01, 0.1, 0.3, 1.0])


@pytest.mark.parametrize("W", [1, 2, 3, 4, 8, 33, 200])
def test_device_allocation_equals_the_authors_loop(W):
    rng, g = random.Random(W), torch.Generator().manual_seed(W)
    cases = 60 if W == 200 else 300
    branches = set()
    for _ in range(cases):
        p_v, p_a, n_v, n_a, K_v, K_a, tau = _case(rng, g, W)
        want = allocate(p_v, p_a, n_v, n_a, K_v, K_a, tau)
        got = allocate_combined(p_v, p_a, n_v, n_a, K_v, K_a, tau)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1]), (p_v, p_a, n_v, n_a, K_v, K_a, tau)
        wv, wa = torch.softmax(p_v / max(tau, 1e-4), 0), torch.softmax(p_a / max(tau, 1e-4), 0)
        B = torch.minimum(((wv + wa) / 2 * (K_v + K_a)).round().long().clamp(min=1), n_v + n_a)
        branches.add(int((B.sum() - (K_v + K_a)).sign()))
    if W >= 2:  # the loop's both directions met (and no fixing at all where that is not rare)
        assert {-1, 1} <= branches and (0 in branches or W > 33)


def test_the_closed_form_on_the_loops_hard_cases():
    # deficit onto the smallest below its cap, a window reaching its cap mid-way, first index on ties
    p = torch.tensor([0.0, 0.0, 0.0, 0.0])
    n_v, n_a = torch.tensor([1, 3, 10, 10]), torch.tensor([0, 0, 0, 0])
    for K in range(1, 25):
        assert torch.equal(allocate_combined(p, p, n_v, n_a, K, 0, 0.1)[0], allocate(p, p, n_v, n_a, K, 0, 0.1)[0])
    # surplus: more windows than tokens (every window keeps its 1, the loop stops early)
    n = torch.full((6,), 5)
    got, want = allocate_combined(p[:1].expand(6), p[:1].expand(6), n, n, 1, 1, 0.1), allocate(
        p[:1].expand(6), p[:1].expand(6), n, n, 1, 1, 0.1)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1]) and int(got[0].sum() + got[1].sum()) == 12


@pytest.mark.parametrize("seed", range(40))
def test_padding_windows_change_nothing(seed):
    rng, g = random.Random(1000 + seed), torch.Generator().manual_seed(seed)
    W, pad = rng.choice([2, 5, 17]), rng.choice([1, 3, 10])
    p_v, p_a, n_v, n_a, K_v, K_a, tau = _case(rng, g, W)
    z, zl = torch.zeros(pad), torch.zeros(pad, dtype=torch.long)
    present = torch.cat([torch.ones(W, dtype=torch.bool), torch.zeros(pad, dtype=torch.bool)])
    got = allocate_combined(torch.cat([p_v, z + 0.5]), torch.cat([p_a, z + 0.5]), torch.cat([n_v, zl]),
                            torch.cat([n_a, zl]), K_v, K_a, tau, present=present)
    want = allocate(p_v, p_a, n_v, n_a, K_v, K_a, tau)
    assert torch.equal(got[0], torch.cat([want[0], zl])) and torch.equal(got[1], torch.cat([want[1], zl]))
