"""Sweep results -> the paper's Tables 3, 4, 5, 8, 9 (markdown + CSV), beside its numbers.

Our numbers come from each finished job of a sweep (`seats_eval.sweep`): the lmms-eval
results JSON (`<metric>,none`, accuracy on a 0-100 scale) and the job's `records.jsonl`
(mean prefill TFLOPs and timings per sample). The paper's numbers come from
`results/paper/*.csv` (transcribed from the paper, labelled as such there).

Rules, the same for every table:
- a cell of ours is `missing` unless a finished job produced it; nothing is filled in;
- Mean = mean of the five benchmarks, only when all five are present; % = our Mean over our
  full-token Mean x 100 (Tables 3, 4, 8); both from unrounded values;
- rounding: half-up, scores / Mean / % to 1 decimal, TFLOPs to 1 decimal (3 significant
  digits below 1, e.g. the tiny model's), memory to 2, seconds to 3;
- difference = rounded ours - paper, so the three numbers of a cell agree as printed.

`regression.py` compares a finished sweep's per-question outcomes with its stored baseline
(paired test) or a subset cell with the paper's number (sampling band): `seats-eval regression`.
"""

from .build import build_method_table, build_table, build_table4, build_table5, build_table9
from .results import JobResult, load_results
from .table import PAPER_DIR, Column, Row, Table, mean_of, read_paper, round_half_up, write_table

__all__ = [
    "PAPER_DIR", "Column", "JobResult", "Row", "Table", "build_method_table", "build_table", "build_table4",
    "build_table5", "build_table9", "load_results", "mean_of", "read_paper", "round_half_up", "write_table",
]
