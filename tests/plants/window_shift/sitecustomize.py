"""A PLANTED BUG, subtler than least_relevant (docs/regression.md): never a user option. Put
this folder first on PYTHONPATH and SEATS' Stage II window budgets (the authors' allocation,
seats_eval/select/official.py `allocate`, profile=official) are shifted by one window: window
t gets the (B_v, B_a) computed for window t - 1, the first window the last one's. Totals are
unchanged and the selection inside each window still takes the most relevant tokens, so only
the split over time is wrong (an off-by-one in a window index)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from plant_hook import patch_on_import  # noqa: E402


def _plant(module) -> None:
    allocate = module.allocate

    def shifted(*args, **kwargs):
        b_v, b_a = allocate(*args, **kwargs)
        return b_v.roll(1), b_a.roll(1)

    module.allocate = shifted
    print("seats-eval PLANTED BUG: SEATS' Stage II window budgets shifted by one window", file=sys.stderr)


patch_on_import("seats_eval.select.official", _plant)
