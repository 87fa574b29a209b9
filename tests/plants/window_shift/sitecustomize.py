"""A PLANTED BUG, subtler than least_relevant (docs/regression.md): never a user option. Put
this folder first on PYTHONPATH and SEATS' Stage II window budgets (the authors' allocation,
seats_eval/select/allocation.py `allocate_combined`, profile=official) are shifted by one
window: window t gets the (B_v, B_a) computed for window t - 1, the first window the last
one's (over the real windows, not the padding the device version carries). Totals are
unchanged and the selection inside each window still takes the most relevant tokens, so only
the split over time is wrong (an off-by-one in a window index)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from plant_hook import patch_on_import  # noqa: E402


def _plant(module) -> None:
    allocate = module.allocate_combined

    def shifted(*args, present=None, **kwargs):
        b_v, b_a = allocate(*args, present=present, **kwargs)
        n = b_v.numel() if present is None else int(present.sum())  # the real windows come first
        return (torch.cat([b_v[:n].roll(1), b_v[n:]]), torch.cat([b_a[:n].roll(1), b_a[n:]]))

    module.allocate_combined = shifted
    print("seats-eval PLANTED BUG: SEATS' Stage II window budgets shifted by one window", file=sys.stderr)


patch_on_import("seats_eval.select.allocation", _plant)
