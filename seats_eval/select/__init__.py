"""Pure tensor token-selection algorithms (no model imports), batched over windows.

apportion: exact-total proportional integer budgets; diversity: (weighted) max-min
DivPrune and the official Stage I tiles; relevance: window-query relevance softmax; allocation: top-down window/modality
budgets; topk: per-window and global top-k keep masks.
"""

from seats_eval.select.allocation import allocate_budgets
from seats_eval.select.apportion import apportion, waterfill
from seats_eval.select.diversity import cosine_distance, weighted_maxmin
from seats_eval.select.relevance import masked_softmax, segment_mean, window_relevance
from seats_eval.select.topk import global_topk, topk_per_window

__all__ = [
    "allocate_budgets",
    "apportion",
    "cosine_distance",
    "global_topk",
    "masked_softmax",
    "segment_mean",
    "topk_per_window",
    "waterfill",
    "weighted_maxmin",
    "window_relevance",
]
